"""Run detectors over a window and store what they find, idempotently.

One failing detector never stops the others: its error is reported in `DetectionRun.errors`. A
detector whose model is not available (the ML one before training) is skipped with its reason. The
detectors of a run share one `DetectionContext` (detectors/context.py): coverage is read once per run.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from loguru import logger

from santiway_anomaly.anomaly import Anomaly
from santiway_anomaly.catalog import DETECTORS
from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.base import REGISTRY, Detector, Window, build
from santiway_anomaly.detectors.context import DetectionContext
from santiway_anomaly.storage.anomalies import save_anomalies
from santiway_anomaly.storage.store import Store, StoreUnavailableError


@dataclass
class DetectionRun:
    window: Window
    anomalies: list[Anomaly] = field(default_factory=list)  # everything found in this run
    new: list[Anomaly] = field(default_factory=list)  # only those stored now (not stored before)
    timings: dict[str, float] = field(default_factory=dict)  # detector name -> seconds
    errors: dict[str, str] = field(default_factory=dict)  # detector name -> message
    skipped: dict[str, str] = field(default_factory=dict)  # detector name -> why it did not run


def load_detectors() -> list[str]:
    """Import every detector module so that it registers itself; return the registered names."""
    for info in DETECTORS:
        if not info.optional:
            importlib.import_module(info.module)
            continue
        try:
            importlib.import_module(info.module)
        except ImportError as exc:
            logger.debug("optional detector module {} not importable: {}", info.module, exc)
    return sorted(REGISTRY)


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    try:
        from santiway_anomaly.ml.errors import ModelUnavailableError
    except ImportError:
        return ()
    return (ModelUnavailableError,)


def run_detection(store: Store, settings: Settings, *, hours: float = 24.0, until: datetime | None = None,
                  detectors: Sequence[str] | None = None, save: bool = True) -> DetectionRun:
    """Run `detectors` (default: every registered one) over the `hours` before `until` (default now)
    and store the anomalies; raises ValueError for an unknown detector name before running any."""
    if hours <= 0:
        raise ValueError(f"hours must be positive, got {hours}")
    available = load_detectors()
    names = list(detectors) if detectors else available
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; choose from {available}")
    window = Window.last_hours(hours, until)
    run = DetectionRun(window=window)
    unavailable = _unavailable_errors()
    # One context for the run: coverage read once for every detector, the density spike hours shared.
    context = DetectionContext(store, settings)
    built: list[tuple[str, Detector]] = []
    for name in names:
        try:
            detector = build(name, settings=settings).using(context)
            context.expect_coverage(detector.coverage_ranges(window))
        except unavailable as exc:
            run.skipped[name] = str(exc)
            logger.warning("detector {} skipped: {}", name, exc)
            continue
        except Exception as exc:  # a detector that cannot be made must not stop the others
            run.errors[name] = f"{type(exc).__name__}: {exc}"
            logger.exception("detector {} could not be made", name)
            continue
        built.append((name, detector))
    for name, detector in built:
        started = time.perf_counter()
        try:
            found = detector.detect(store, window)
        except unavailable as exc:
            run.skipped[name] = str(exc)
            logger.warning("detector {} skipped: {}", name, exc)
            continue
        except StoreUnavailableError:
            # The store stayed away through every retry: the next detector would wait out the same
            # retries and fail alike, so the run stops with the one sentence (CLI exit 3).
            raise
        except Exception as exc:  # one failing detector must not stop the others
            run.errors[name] = f"{type(exc).__name__}: {exc}"
            logger.exception("detector {} failed", name)
            continue
        finally:
            run.timings[name] = round(time.perf_counter() - started, 4)
        run.anomalies.extend(found)
        logger.info("detector {}: {} anomalies in {:.2f} s", name, len(found), run.timings[name])
    if save and run.anomalies:
        run.new = save_anomalies(store, run.anomalies)
    return run
