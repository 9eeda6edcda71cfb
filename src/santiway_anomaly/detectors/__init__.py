"""Detectors: the one interface (`base`), the rule detectors (`density`, `night`, `stationary`) and the
runner that runs them over a window and stores what they find. Importing this package imports no
detector (torch stays out of the import path of everything that does not need it)."""
