"""The ML endpoints with a real (tiny) trained model: /models/current, /explain/device and the
ML part of /analyze/device, served by a real uvicorn on the store the model was trained on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from santiway_anomaly.storage import Store
from tests.api.conftest import KEYS, Server, start_server, stop_server
from tests.api.seed import World
from tests.conftest import SharedStore, own_settings

pytestmark = pytest.mark.slow

DAYS = 10


@pytest.fixture(scope="module")
def ml_server(shared_store: SharedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pytest.importorskip("torch")
    from santiway_anomaly.ml.training import TrainConfig, train
    from tests.ml.synth import T0, office

    path = tmp_path_factory.mktemp("api-ml")
    env = {
        "VALID_API_KEYS": KEYS[0],
        "MODEL_PATH": str(path / "models" / "tcn_model.pt"),
        "FEATURE_HISTORY_HOURS": "48",
    }
    settings = own_settings(path, model_path=Path(env["MODEL_PATH"]), feature_history_hours=48, train_patience=4)
    shared_store.close()
    table, _, changed = office(n_devices=16, days=DAYS, changed=2, change_days=1, seed=3)
    with Store.open(settings) as store:
        store.insert_arrow("santi.way_data", table)
        train(
            store,
            settings,
            TrainConfig(
                days=DAYS - 1,
                epochs=12,
                until=T0 + timedelta(days=DAYS - 1),
                hidden=16,
                levels=2,
                batch_size=16,
                device="cpu",
                seed=7,
                verbose=False,
            ),
        )
    server = start_server(path, World(now=T0 + timedelta(days=DAYS), anomalies=[]), env)
    server.changed = changed  # type: ignore[attr-defined]
    yield server
    stop_server(server)


def test_model_metadata_and_health(ml_server: Server) -> None:
    with ml_server.client(KEYS[0]) as c:
        model = c.get("/models/current").json()
        health = c.get("/health").json()
    assert model["loaded"] is True and model["metadata"]["input_channels"] == 98
    assert {"p95", "p99"} <= set(model["metadata"]["thresholds"])
    assert health["model_loaded"] is True


def test_explain_sorted_with_descriptions(ml_server: Server) -> None:
    device = ml_server.changed[0]  # type: ignore[attr-defined]
    with ml_server.client(KEYS[0]) as c:
        r = c.post("/explain/device", json={"device_id": device, "top": 10})
        assert r.status_code == 200, r.text
        bad_hours = c.post("/explain/device", json={"device_id": device, "hours": 12})
    assert bad_hours.status_code == 422 and "WINDOW_SIZE" in bad_hours.text
    body = r.json()
    assert body["device_id"] == device and body["score"] is not None
    sizes = [abs(a["attribution"]) for a in body["attributions"]]
    assert len(sizes) == 10 and sizes == sorted(sizes, reverse=True) and sizes[0] > 0
    assert all(a["description"] for a in body["attributions"])


def test_analyze_reports_the_ml_score(ml_server: Server) -> None:
    device = ml_server.changed[0]  # type: ignore[attr-defined]
    until = ml_server.world.now.isoformat()
    with ml_server.client(KEYS[0]) as c:
        p = c.post(f"/analyze/device/{device}", params={"hours": 24, "until": until}).json()
    ml = p["ml"]
    assert ml["available"] is True, ml
    assert 0 < ml["threshold_95"] <= ml["threshold_99"]
    assert ml["level"] in {"normal", "above_p95", "above_p99"}
    # The changed device (late, other folder, weak signal) is above the model's p95 on its changed day.
    assert ml["raw_score"] > ml["threshold_95"] and ml["level"] != "normal"
