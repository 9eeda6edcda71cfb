"""The array-level detector in the style of scikit-learn's test_iforest_works."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from santiway_anomaly.ml.estimator import TCNAutoencoderDetector, point_scores, sliding_windows


def toy(n: int = 240, t: int = 24, f: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hours = np.arange(t)
    phase = np.linspace(0, 2 * np.pi, f, endpoint=False)  # the same "normal" shape for every seed
    base = np.sin(2 * np.pi * hours[:, None] / t + phase[None, :])
    return (base[None] + 0.05 * rng.normal(size=(n, t, f))).astype(np.float32)


@pytest.fixture(scope="module")
def fitted() -> TCNAutoencoderDetector:
    return TCNAutoencoderDetector(hidden=16, levels=2, bottleneck=4, epochs=15, batch_size=32,
                                  random_state=1).fit(toy())


@pytest.mark.parametrize("attention", [False, True])
def test_planted_anomalous_window_ranks_first(attention: bool) -> None:
    det = TCNAutoencoderDetector(hidden=16, levels=2, bottleneck=4, attention=attention, heads=8,
                                 epochs=15, batch_size=32, random_state=1).fit(toy())
    X = toy(n=40, seed=5)
    X[17, 8:14, 2] += 3.0  # a burst in one feature for six hours
    result = det.score(X)
    assert result.scores.shape == (40,) and result.contributions.shape == (40, 6)
    assert int(np.argmax(result.scores)) == 17
    assert int(np.argmax(result.contributions[17])) == 2
    np.testing.assert_allclose(result.contributions.mean(axis=1), result.scores)
    assert det.threshold_95_ <= det.threshold_99_ < result.scores[17]
    assert det.predict(X)[17] == 1 and det.predict(X).sum() <= 4


def test_fit_learns_state_and_history(fitted: TCNAutoencoderDetector) -> None:
    assert fitted.n_features_in_ == 6 and fitted.window_size_ == 24
    assert fitted.mean_.shape == (6,) and fitted.std_.shape == (6,)
    assert fitted.decision_scores_.shape == (192,)  # 240 minus the last 20 % held out
    assert 1 <= fitted.best_epoch_ <= len(fitted.history_) <= 15
    losses = [h["val_loss"] for h in fitted.history_]
    assert fitted.best_val_loss_ == pytest.approx(min(losses))
    assert losses[fitted.best_epoch_ - 1] == pytest.approx(min(losses))


def test_save_load_round_trip_is_exact(fitted: TCNAutoencoderDetector, tmp_path: Path) -> None:
    X = toy(n=30, seed=9)
    before = fitted.score(X)
    fitted.save(tmp_path / "m.pt")
    loaded = TCNAutoencoderDetector.load(tmp_path / "m.pt")
    after = loaded.score(X)
    assert np.array_equal(before.scores, after.scores)
    assert np.array_equal(before.contributions, after.contributions)
    assert (loaded.threshold_95_, loaded.threshold_99_) == (fitted.threshold_95_, fitted.threshold_99_)
    assert loaded.get_params() == {**fitted.get_params(), "device": "cpu"}


def test_same_seed_same_model() -> None:
    a = TCNAutoencoderDetector(hidden=8, levels=1, epochs=3, random_state=3).fit(toy(n=60))
    b = TCNAutoencoderDetector(hidden=8, levels=1, epochs=3, random_state=3).fit(toy(n=60))
    assert a.threshold_99_ == b.threshold_99_
    X = toy(n=5, seed=2)
    assert np.array_equal(a.decision_function(X), b.decision_function(X))


def test_size_mismatch_and_bad_input(fitted: TCNAutoencoderDetector) -> None:
    with pytest.raises(ValueError, match=r"size mismatch \(expected 6, got 5\)"):
        fitted.score(toy(n=3, f=5))
    with pytest.raises(ValueError, match="window size mismatch"):
        fitted.score(toy(n=3, t=12))
    with pytest.raises(ValueError, match="windows, time, features"):
        fitted.score(np.zeros((3, 24)))
    bad = toy(n=3)
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.score(bad)
    with pytest.raises(RuntimeError, match="not fitted"):
        TCNAutoencoderDetector().score(toy(n=2))


@pytest.mark.parametrize("params", [
    {"hidden": 0}, {"kernel_size": 2}, {"validation_fraction": 1.0}, {"lr": 0},
    {"attention": True, "hidden": 12, "heads": 8}, {"dropout": 1.0}, {"device": "tpu"},
])
def test_bad_parameters_raise_value_error(params: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TCNAutoencoderDetector(epochs=1, **params).fit(toy(n=10))  # type: ignore[arg-type]


def test_series_helpers() -> None:
    series = np.arange(20, dtype=np.float32).reshape(10, 2)
    w = sliding_windows(series, 4, stride=2)
    assert w.shape == (4, 4, 2)
    assert np.array_equal(w[1], series[2:6])
    ps = point_scores(np.array([1.0, 5.0, 2.0, 0.0]), 10, 4, stride=2)
    assert ps.tolist() == [1, 1, 5, 5, 5, 5, 2, 2, 0, 0]


def test_conformal_threshold_holds_its_rate_on_held_out_scores() -> None:
    """The rule the estimator's thresholds use: on fresh scores of the same distribution at most
    about 1 - q exceed it (a plain percentile lets more through for small n)."""
    from santiway_anomaly.ml.estimator import conformal_threshold, default_threads

    rng = np.random.default_rng(0)
    rates = []
    for _ in range(200):
        t = conformal_threshold(rng.exponential(1.0, 199), 0.95)
        rates.append(float(np.exp(-t)))  # exact exceedance probability of an Exp(1) score
    assert np.mean(rates) <= 0.05 + 0.005
    assert conformal_threshold(np.arange(10.0), 0.99) == 9.0  # too few: the largest
    with pytest.raises(ValueError):
        conformal_threshold(np.array([]), 0.95)
    assert 1 <= default_threads() <= 2
