"""The FastAPI application: `create_app(settings)`, and `app` for `uvicorn santiway_anomaly.api.main:app`.

The app owns the store while it runs: opened in the lifespan (in the worker pool), closed on
shutdown. If it cannot be opened (locked by another process, server down) the service still
starts, answers 503 with the reason, and keeps trying to open it in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from clickhouse_connect.driver.exceptions import OperationalError
from fastapi import FastAPI
from loguru import logger
from prometheus_client import disable_created_metrics
from slowapi.errors import RateLimitExceeded
from starlette.exceptions import HTTPException as StarletteHTTPException

from santiway_anomaly import __version__
from santiway_anomaly.api import openapi, ratelimit
from santiway_anomaly.api.allow import http_error
from santiway_anomaly.api.cache import AnswerCache
from santiway_anomaly.api.cors import CorsForOrigins
from santiway_anomaly.api.deps import StoreRunner
from santiway_anomaly.api.errors import store_failure, unhandled
from santiway_anomaly.api.fastpath import CachedGets
from santiway_anomaly.api.metrics import ObserveRequests
from santiway_anomaly.api.routes import (
    analyze,
    anomalies,
    comparison,
    devices_now,
    explain,
    feedback,
    folders,
    following,
    health,
    ingest,
    metrics,
    models,
    ws_notifications,
)
from santiway_anomaly.api.security import DEV_MODE_BANNER, KeyRing, RefuseKeyInQuery, SignInGuard, protect_logs
from santiway_anomaly.config import Settings, load_settings
from santiway_anomaly.notify.dispatcher import Dispatcher, default_dispatcher
from santiway_anomaly.notify.service import start_notifications
from santiway_anomaly.storage import Store, StoreError

# How often a service without a store tries to open it again.
REOPEN_INTERVAL_S = 10.0

DESCRIPTION = """
Anomaly detection over WiFi/BLE device sightings: list and count anomalies, run the detectors and
notify, analyse and compare devices, explain ML scores, ingest sightings.

**Authentication**: `X-API-Key` header (never the URL). With `VALID_API_KEYS` empty the service
runs in development mode and checks no key. `/health`, `/metrics` and these docs are open.

**Rate limits** (per key, or per client address): `GET /anomalies` 100/minute, `POST
/anomalies/detect-and-notify` 10/minute, other data routes 300/minute; over the limit: 429 with
`Retry-After`.
"""


def _secrets(settings: Settings) -> list[str]:
    """Every secret the service knows, so the log filter can redact it wherever it shows up."""
    return [*settings.valid_api_keys, settings.notify_webhook_api_key.get_secret_value(),
            settings.dashboard_api_key, settings.clickhouse_password]


def _open_store(settings: Settings) -> Store:
    return Store.open(settings)


async def _open_in_pool(app: FastAPI, settings: Settings, executor: ThreadPoolExecutor) -> None:
    runner: StoreRunner = app.state.runner
    loop = asyncio.get_running_loop()
    try:
        runner.store = await loop.run_in_executor(executor, _open_store, settings)
        runner.error = None
        logger.info("store open: {}", runner.store.target)
    except Exception as exc:  # locked, unreachable, a refused migration: answer 503 and say why
        runner.error = f"{type(exc).__name__}: {exc}"
        logger.error("store unavailable, the service answers 503 until it opens: {}", exc)


async def _reopen_loop(app: FastAPI, settings: Settings, executor: ThreadPoolExecutor) -> None:
    runner: StoreRunner = app.state.runner
    while runner.store is None:
        await asyncio.sleep(REOPEN_INTERVAL_S)
        await _open_in_pool(app, settings, executor)


def create_app(settings: Settings | None = None, *, dispatcher: Dispatcher | None = None) -> FastAPI:
    settings = settings or load_settings()
    disable_created_metrics()  # type: ignore[no-untyped-call] # the *_created series only double the exposition size
    ratelimit.configure(settings)
    secrets = _secrets(settings)
    protect_logs(secrets)
    executor = ThreadPoolExecutor(max_workers=settings.api_workers_threads, thread_name_prefix="store")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        protect_logs(secrets)  # again: uvicorn (re)configured its handlers after create_app
        if settings.dev_mode:
            logger.warning("=" * 72)
            logger.warning(DEV_MODE_BANNER)
            logger.warning("=" * 72)
        await _open_in_pool(app, settings, executor)
        reopen = None if app.state.runner.store else asyncio.create_task(_reopen_loop(app, settings, executor))
        start_notifications(app)  # WebSocket hub, webhook outbox, continuous detection
        # Everything built so far (imports, settings, the store) lives as long as the process: moving it
        # out of the collector's reach keeps full collections short, and so the latency tail.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if reopen:
                reopen.cancel()
            await app.state.dispatcher.aclose()
            store = app.state.runner.store
            app.state.runner.store = None
            if store is not None:
                await asyncio.get_running_loop().run_in_executor(executor, store.close)
            executor.shutdown(wait=True)
            logger.info("store closed")

    app = FastAPI(title="SantiWay Anomaly Detection", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # served offline by openapi.install_docs
    app.state.settings = settings
    app.state.keyring = KeyRing(settings.valid_api_keys)
    app.state.runner = StoreRunner(None, executor, "starting")
    app.state.cache = AnswerCache[bytes](settings.api_cache_ttl, settings.api_cache_entries,
                                         max_bytes=settings.api_cache_bytes, size=len)
    app.state.health_cache = AnswerCache[tuple[int, bytes]](min(settings.api_cache_ttl, 1.0), 1)
    app.state.dispatcher = dispatcher or default_dispatcher(settings)
    app.state.limiter = ratelimit.limiter
    app.state.ingest_slots = asyncio.Semaphore(settings.api_ingest_concurrency)
    app.state.signin_guard = SignInGuard(settings.api_auth_max_failures, settings.api_auth_failure_window_s)

    app.add_exception_handler(RateLimitExceeded, ratelimit.rate_limit_exceeded)
    app.add_exception_handler(StarletteHTTPException, http_error)  # a 405's Allow lists every method of the path
    # Unreachable store: 503 with the reason. Any other ClickHouse error is a bug: the generic 500.
    app.add_exception_handler(StoreError, store_failure)
    app.add_exception_handler(OperationalError, store_failure)
    app.add_exception_handler(Exception, unhandled)

    openapi.install(app, settings)
    openapi.install_docs(app)
    for module in (health, metrics, anomalies, analyze, comparison, explain, ingest, models, feedback,
                   folders, devices_now, following, ws_notifications):
        app.include_router(module.router)

    # Each add wraps the previous ones: CORS (added last) answers preflights before anything else;
    # observation wraps the key-in-URL refusal, so every answer (even that 400) is counted and logged.
    app.add_middleware(
        CachedGets,
        limits={"/anomalies": ratelimit.list_limit, "/anomalies/stats": ratelimit.default_limit},
        ttl=settings.api_cache_ttl,
        max_entries=settings.api_cache_entries,
        max_bytes=settings.api_cache_bytes,
    )
    app.add_middleware(RefuseKeyInQuery)
    app.add_middleware(ObserveRequests, log_requests=settings.api_log_requests)
    app.add_middleware(
        CorsForOrigins,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=["X-API-Key", "Content-Type"],
        expose_headers=["Retry-After"],
        max_age=600,
    )
    return app


def _module_app() -> FastAPI:
    return create_app()


app = _module_app()
