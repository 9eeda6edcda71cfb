"""Continuous detection: run the detectors every `DETECT_INTERVAL` seconds over the newest data.

Each run looks back `DETECT_WINDOW_HOURS` and hands only the anomalies stored for the first time
(`run.new`) to the notification service, which also drops anything notified before and applies the
per-subject cooldown. chDB has no async client: the run happens in the service's worker pool.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from loguru import logger

from santiway_anomaly.anomaly import Anomaly
from santiway_anomaly.api.metrics import ANOMALIES_DETECTED, DETECTION_RUNS, LAST_RUN_DURATION, LAST_RUN_FINISHED
from santiway_anomaly.config import Settings
from santiway_anomaly.storage.store import Store


def _detect(store: Store, settings: Settings) -> Any:
    from santiway_anomaly.detectors.runner import run_detection

    return run_detection(store, settings, hours=settings.detect_window_hours)


class DetectionScheduler:
    def __init__(self, settings: Settings, call: Callable[..., Awaitable[Any]],
                 publish: Callable[[Sequence[Anomaly]], Awaitable[None]]) -> None:
        self.settings = settings
        self.call = call
        self.publish = publish
        self.runs = 0

    async def run(self) -> None:
        """Forever: one run, then sleep until the next interval starts (a long run delays the next)."""
        interval = float(self.settings.detect_interval)
        logger.info("continuous detection every {:g} s over the last {:g} h", interval,
                    self.settings.detect_window_hours)
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await self.run_once()
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))

    async def run_once(self) -> list[Anomaly]:
        """One detection run; returns the new anomalies it handed on (never raises but on cancel)."""
        started = time.perf_counter()
        try:
            run = await self.call(_detect, self.settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # store closed or down, detector import failure: try next interval
            DETECTION_RUNS.labels(outcome="failed").inc()
            logger.error("scheduled detection failed: {}", exc)
            return []
        elapsed = time.perf_counter() - started
        self.runs += 1
        LAST_RUN_DURATION.set(elapsed)
        LAST_RUN_FINISHED.set(time.time())
        DETECTION_RUNS.labels(outcome="failed" if run.errors else "ok").inc()
        new: list[Anomaly] = list(run.new)
        for anomaly in new:
            ANOMALIES_DETECTED.labels(anomaly.anomaly_type, anomaly.severity).inc()
        await self.publish(new)
        logger.info("scheduled detection: {} found, {} new, {:.2f} s", len(run.anomalies), len(new), elapsed)
        return new
