"""The webhook to the host application: `POST {DJANGO_URL}/notifications/api/send/` with the notification JSON.

Retried with tenacity as SEED.md's table says for "HTTP to Django" (3 tries, 1 s -> 10 s, on HTTP
errors and time-outs). Every request carries `Idempotency-Key: <anomaly_id>`, so a receiver can drop
a repeat (the outbox re-sends after a crash between sending and recording the delivery).
A 400/413/415/422 answer means the receiver will never take this body: it is not retried.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from loguru import logger
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential

from santiway_anomaly import __version__
from santiway_anomaly.config import Settings
from santiway_anomaly.notify.dispatcher import NOTIFICATIONS

SEND_PATH = "/notifications/api/send/"
# Answers that say "this body is wrong", not "try later": retrying cannot help.
PERMANENT_STATUSES = frozenset({400, 413, 415, 422})


@dataclass(frozen=True)
class Delivery:
    ok: bool
    attempts: int
    error: str = ""
    permanent: bool = False  # the receiver refused the body itself: do not retry


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code not in PERMANENT_STATUSES
    return isinstance(exc, httpx.HTTPError)  # connect errors, time-outs, protocol errors


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from receiver"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Webhook:
    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self.url = settings.django_url.rstrip("/") + SEND_PATH
        self.tries = settings.notify_webhook_tries
        self.wait_min = settings.notify_webhook_wait_min_s
        self.wait_max = settings.notify_webhook_wait_max_s
        headers = {"Content-Type": "application/json", "User-Agent": f"santiway-anomaly/{__version__}"}
        secret = settings.notify_webhook_api_key.get_secret_value()
        if secret:
            headers["X-API-Key"] = secret
        self.client = client or httpx.AsyncClient(timeout=settings.notify_webhook_timeout_s, headers=headers)

    async def deliver(self, body: str, anomaly_id: str, seq: int) -> Delivery:
        """POST one notification, with retries; never raises for a delivery failure."""
        attempts = 0

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            NOTIFICATIONS.labels(channel="webhook", outcome="retried").inc()
            logger.warning("webhook attempt {} for notification {} failed ({}), retrying",
                           state.attempt_number, seq, _describe(exc) if exc else "?")

        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.tries),
                wait=wait_exponential(multiplier=self.wait_min, min=self.wait_min, max=self.wait_max),
                retry=retry_if_exception(_transient),
                before_sleep=before_sleep,
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    response = await self.client.post(
                        self.url,
                        content=body.encode("utf-8"),
                        headers={"Idempotency-Key": anomaly_id, "X-Notification-Id": str(seq)},
                    )
                    response.raise_for_status()
        except httpx.HTTPError as exc:
            permanent = not _transient(exc)
            NOTIFICATIONS.labels(channel="webhook", outcome="rejected" if permanent else "failed").inc()
            logger.error("webhook delivery of notification {} failed after {} attempt(s): {}",
                         seq, attempts, _describe(exc))
            return Delivery(False, attempts, _describe(exc), permanent)
        NOTIFICATIONS.labels(channel="webhook", outcome="delivered").inc()
        logger.info("Anomaly notification sent via Django API: notification {} anomaly {} ({} attempt(s))",
                    seq, anomaly_id, attempts)
        return Delivery(True, attempts)

    async def aclose(self) -> None:
        await self.client.aclose()
