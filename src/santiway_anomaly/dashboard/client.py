"""A small typed client of the REST API, for the dashboard (and anyone else).

Every failure becomes an `ApiError` whose message an operator can act on: the service is not
running, the key is wrong, the service has no such endpoint, the store is unavailable. Answers
are parsed into the API's own response schemas, so a change of contract fails loudly here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ValidationError

from santiway_anomaly.api.schemas import (
    AnomaliesPublic,
    AnomalyPublic,
    ComparisonPublic,
    DetectRunPublic,
    DeviceProfilePublic,
    ExplainPublic,
    HealthPublic,
    ModelPublic,
    StatsPublic,
)
from santiway_anomaly.api.schemas_devices import DevicesNowPublic
from santiway_anomaly.api.schemas_folders import FoldersCoveragePublic, FolderSeriesPublic
from santiway_anomaly.api.schemas_following import FollowingEvidencePublic
from santiway_anomaly.config import Settings

M = TypeVar("M", bound=BaseModel)
OPERATOR_HEADER = "X-Operator"


class ApiError(Exception):
    """A call to the service failed; `str(exc)` is a plain sentence for the operator."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiUnreachable(ApiError):
    """Nothing answers at the configured address (refused, timed out, DNS)."""


class ApiAuthError(ApiError):
    """401: the key is missing or wrong."""


class ApiNotFound(ApiError):
    """404 for a thing (a device never seen, an unknown anomaly)."""


class EndpointMissing(ApiError):
    """The service has no such route: this build of the API does not offer the feature."""


class ApiRateLimited(ApiError):
    """429: too many requests; `retry_after` seconds until the next one is accepted."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after


class ApiUnavailable(ApiError):
    """503: the service runs but cannot do this now (store locked or down, no ML model)."""


class ApiRejected(ApiError):
    """400/422: the service refused the input; the message says which field and why."""


def effective_key(settings: Settings) -> str:
    """DASHBOARD_API_KEY, or the first of VALID_API_KEYS (empty in development mode)."""
    if settings.dashboard_api_key:
        return settings.dashboard_api_key
    return settings.valid_api_keys[0] if settings.valid_api_keys else ""


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # FastAPI validation errors: [{loc, msg}, ...]
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p not in ("query", "body", "path"))
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
        return "; ".join(parts) or str(detail)
    return str(detail) if detail is not None else str(body)[:300]


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value is None or value == "":
            continue
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


class ApiClient:
    """Synchronous client (Streamlit scripts are synchronous); one connection pool per instance."""

    def __init__(self, base_url: str, api_key: str = "", timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None, operator: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.operator = operator
        headers = {"X-API-Key": api_key} if api_key else {}
        if operator:  # the service records actions under this name and limits each operator separately
            headers[OPERATOR_HEADER] = operator
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiClient:
        return cls(settings.dashboard_api_url, effective_key(settings), settings.dashboard_timeout_s)

    def close(self) -> None:
        self._http.close()

    # --- transport -------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              json: Any = None, ok: tuple[int, ...] = (200,)) -> httpx.Response:
        try:
            response = self._http.request(method, path, params=_clean(params or {}), json=json)
        except httpx.TimeoutException:
            raise ApiUnreachable(
                f"The anomaly service at {self.base_url} did not answer within "
                f"{self._http.timeout.read:g} s (DASHBOARD_TIMEOUT_S)."
            ) from None
        except httpx.TransportError as exc:
            raise ApiUnreachable(
                f"The anomaly service at {self.base_url} is not reachable ({type(exc).__name__}: {exc}). "
                "Start it with `santiway-anomaly serve`, or set DASHBOARD_API_URL to where it runs."
            ) from None
        if response.status_code in ok:
            return response
        raise self._error(method, path, response)

    def _error(self, method: str, path: str, response: httpx.Response) -> ApiError:
        code, detail = response.status_code, _detail(response)
        if code == 401:
            hint = ("no API key is configured: set DASHBOARD_API_KEY (or VALID_API_KEYS)" if not self.api_key
                    else "the configured key is not one of the service's VALID_API_KEYS: check DASHBOARD_API_KEY")
            return ApiAuthError(f"The service refused the API key ({detail}): {hint}.", code)
        if code in (404, 405) and detail in ("Not Found", "Method Not Allowed"):
            return EndpointMissing(f"{method} {path} is not available from the API at {self.base_url}.", code)
        if code == 404:
            return ApiNotFound(detail, code)
        if code == 429:
            wait = _retry_after(response)
            when = f" Try again in {wait:g} s." if wait is not None else ""
            return ApiRateLimited(f"The service is rate-limiting this key ({detail}).{when}", wait)
        if code == 503:
            return ApiUnavailable(f"The service cannot answer this now: {detail}", code)
        if code in (400, 422):
            return ApiRejected(f"The service rejected the request: {detail}", code)
        return ApiError(f"The service failed on {method} {path} (HTTP {code}): {detail}", code)

    def _parse(self, model: type[M], response: httpx.Response) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise ApiError(
                f"The service's answer to {response.request.method} {response.request.url.path} does not "
                f"match {model.__name__} ({exc.error_count()} errors, first: {exc.errors()[0]['msg']}); "
                "the dashboard and the service are different versions."
            ) from None

    # --- endpoints -------------------------------------------------------------------------

    def health(self) -> HealthPublic:
        """GET /health; an unhealthy service answers 503 with the same body, which is returned."""
        return self._parse(HealthPublic, self._send("GET", "/health", ok=(200, 503)))

    def stats(self, hours: float = 24.0, until: datetime | None = None) -> StatsPublic:
        return self._parse(StatsPublic, self._send("GET", "/anomalies/stats", params={"hours": hours, "until": until}))

    def anomalies(self, *, limit: int = 100, offset: int = 0, anomaly_type: str | None = None,
                  severity: str | None = None, min_score: float | None = None, device_id: str | None = None,
                  folder: str | None = None, since: datetime | None = None,
                  until: datetime | None = None) -> AnomaliesPublic:
        params = {"limit": limit, "offset": offset, "anomaly_type": anomaly_type, "severity": severity,
                  "min_score": min_score, "device_id": device_id, "folder": folder, "since": since, "until": until}
        return self._parse(AnomaliesPublic, self._send("GET", "/anomalies", params=params))

    def anomaly(self, anomaly_id: str) -> AnomalyPublic:
        """GET /anomalies/{id}: one anomaly (ApiNotFound when there is none)."""
        return self._parse(AnomalyPublic, self._send("GET", f"/anomalies/{anomaly_id}"))

    def following(self, anomaly_id: str) -> FollowingEvidencePublic:
        """GET /anomalies/{id}/following: the sensor's path and the device's stops of a following anomaly."""
        return self._parse(FollowingEvidencePublic, self._send("GET", f"/anomalies/{anomaly_id}/following"))

    def devices_now(self, minutes: float = 15.0, folder: str | None = None) -> DevicesNowPublic:
        """GET /devices/now: devices heard in the last `minutes`, per folder."""
        response = self._send("GET", "/devices/now", params={"minutes": minutes, "folder": folder})
        return self._parse(DevicesNowPublic, response)

    def detect(self, hours: float = 24.0) -> DetectRunPublic:
        """POST /anomalies/detect-and-notify: run the detectors now and notify the new anomalies."""
        response = self._send("POST", "/anomalies/detect-and-notify", params={"hours": hours})
        return self._parse(DetectRunPublic, response)

    def analyze_device(self, device_id: str, hours: float = 24.0) -> DeviceProfilePublic:
        response = self._send("POST", f"/analyze/device/{device_id}", params={"hours": hours})
        return self._parse(DeviceProfilePublic, response)

    def compare(self, device_ids: list[str], hours: float = 24.0) -> ComparisonPublic:
        response = self._send("POST", "/comparison/compare", json={"device_ids": device_ids, "hours": hours})
        return self._parse(ComparisonPublic, response)

    def explain(self, device_id: str, hours: float = 24.0, top: int = 20) -> ExplainPublic:
        response = self._send("POST", "/explain/device", json={"device_id": device_id, "hours": hours, "top": top})
        return self._parse(ExplainPublic, response)

    def folder_hourly(self, hours: float = 24.0, folder: str | None = None) -> FolderSeriesPublic:
        """GET /folders/hourly: distinct devices per folder per hour and the p95 baseline."""
        response = self._send("GET", "/folders/hourly", params={"hours": hours, "folder": folder})
        return self._parse(FolderSeriesPublic, response)

    def folder_coverage(self, hours: float = 24.0 * 14) -> FoldersCoveragePublic:
        """GET /folders/coverage: per folder learning or ready, covered days and hours."""
        return self._parse(FoldersCoveragePublic, self._send("GET", "/folders/coverage", params={"hours": hours}))

    def model(self) -> ModelPublic:
        return self._parse(ModelPublic, self._send("GET", "/models/current"))

    def feedback(self, anomaly_id: str, verdict: str, note: str = "", mark_known: bool = False) -> dict[str, Any]:
        """POST /anomalies/{id}/feedback: `false_alarm` or `confirmed`; with `mark_known`, a false alarm
        also puts the device on the known list for that anomaly type."""
        response = self._send("POST", f"/anomalies/{anomaly_id}/feedback",
                              json={"verdict": verdict, "note": note, "mark_known": mark_known}, ok=(200, 201))
        body: dict[str, Any] = response.json()
        return body

    def get_feedback(self, anomaly_id: str) -> dict[str, Any] | None:
        """GET /anomalies/{id}/feedback: the newest verdict on the anomaly, or None if there is none."""
        try:
            body: dict[str, Any] = self._send("GET", f"/anomalies/{anomaly_id}/feedback").json()
        except ApiNotFound:
            return None
        return body

    def known(self) -> list[dict[str, Any]]:
        """GET /devices/known: the active allowlist."""
        body: dict[str, Any] = self._send("GET", "/devices/known").json()
        data: list[dict[str, Any]] = body.get("data", [])
        return data

    def detect_run(self, hours: float, until: datetime | None = None, detectors: str | None = None) -> DetectRunPublic:
        """POST /anomalies/detect-and-notify with the window's end and the detectors (the CLI's `detect`)."""
        response = self._send("POST", "/anomalies/detect-and-notify",
                              params={"hours": hours, "until": until, "detectors": detectors})
        return self._parse(DetectRunPublic, response)

    def mark_known(self, device_id: str, reason: str = "all", note: str = "") -> dict[str, Any]:
        """POST /devices/{id}/known: put the device on the known-devices allowlist, for one anomaly type
        (`reason`) or for `all`."""
        response = self._send("POST", f"/devices/{device_id}/known",
                              json={"reason": reason, "note": note}, ok=(200, 201))
        body: dict[str, Any] = response.json()
        return body

    def unmark_known(self, device_id: str, reason: str = "all") -> None:
        """DELETE /devices/{id}/known: take the device's entry for `reason` off the allowlist."""
        self._send("DELETE", f"/devices/{device_id}/known", params={"reason": reason}, ok=(204,))

    # --- WebSocket -------------------------------------------------------------------------

    def ws_url(self, path: str = "/ws/notifications/", min_severity: str = "info") -> str:
        """ws(s)://host/ws/notifications/?api_key=KEY (the specification's URL; the key rides in the
        query because browsers cannot set headers on a WebSocket), with the hub's severity filter."""
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        pairs = {"api_key": self.api_key} if self.api_key else {}
        if min_severity != "info":
            pairs["min_severity"] = min_severity
        query = urlencode(pairs)
        return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, query, ""))
