"""The seam between detection and delivery: who hears about a new anomaly.

Detection (API `detect-and-notify`, a scheduled run) hands the *new* anomalies of a run to a
`Dispatcher`. Delivery channels (the WebSocket hub, the webhook to the host application) live
behind this interface; the default one only logs and counts, so the service runs without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from loguru import logger
from prometheus_client import Counter

from santiway_anomaly.anomaly import Anomaly
from santiway_anomaly.config import Settings

# One counter for every channel, so dashboards read deliveries and failures in one place.
NOTIFICATIONS = Counter(
    "anomaly_detection_notifications_total",
    "Anomaly notifications handed to a delivery channel, by channel and outcome",
    ["channel", "outcome"],
)


@runtime_checkable
class Dispatcher(Protocol):
    """Publishes new anomalies. Must not raise for a delivery failure: count it, log it, retry it."""

    async def publish(self, anomalies: Sequence[Anomaly]) -> None: ...

    async def aclose(self) -> None: ...


class LogDispatcher:
    """Default channel: one log line per anomaly, counted as delivered to `log`."""

    channel = "log"

    async def publish(self, anomalies: Sequence[Anomaly]) -> None:
        for anomaly in anomalies:
            logger.info(
                "anomaly {} {} score={:.3f} subject={} folder={}",
                anomaly.severity,
                anomaly.anomaly_type,
                anomaly.score,
                anomaly.subject,
                anomaly.folder,
            )
            NOTIFICATIONS.labels(channel=self.channel, outcome="delivered").inc()

    async def aclose(self) -> None:
        return None


def default_dispatcher(settings: Settings) -> Dispatcher:
    """The dispatcher the service uses when none is given: the notification service (issue 6) with the
    WebSocket hub, and the webhook outbox when DJANGO_URL is set."""
    from santiway_anomaly.notify.service import NotificationService  # imports this module: import late

    return NotificationService(settings)
