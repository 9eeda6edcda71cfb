"""ML errors that callers catch without importing torch (the API's /health, the detector runner)."""

from __future__ import annotations


class ModelUnavailableError(RuntimeError):
    """No usable model: the file is missing, unreadable, or trained on other features.

    The message says what is wrong and the command that fixes it; the runner skips the ML
    detector with this message as the reason, and the rule detectors still run.
    """


class NotEnoughDataError(RuntimeError):
    """The store holds too little history to train or score (the message says how much is there)."""
