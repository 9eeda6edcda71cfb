"""An array-level anomaly detector in the PyOD / scikit-learn style, on any multivariate series.

    det = TCNAutoencoderDetector(attention=True, epochs=30).fit(X)     # X: (windows, time, features)
    scores = det.decision_function(X_new)                              # (windows,) higher = more anomalous
    result = det.score(X_new)                                          # .scores and .contributions
    det.predict(X_new)                                                 # 1 above threshold_99_, else 0

Score: the mean squared reconstruction error of the window in standardised units (per feature
(x - mean_) / std_ learned on the training windows, clipped to ±clip so one extreme feature
cannot drown all others); unit: squared standard deviations; higher = more anomalous.
`contributions[i, j]` is feature j's mean squared error over window i's time steps: the score is
the mean of a window's contributions, so they say which features made it anomalous.

Thresholds (`threshold_95_`, `threshold_99_`): a conformal rule on the validation windows (never
trained on). For level q the threshold is the ceil((n + 1) q)-th smallest of the n validation
scores, so a new window from the same distribution exceeds it with probability at most 1 - q
(split-conformal guarantee, exchangeable windows); with fewer than 1 / (1 - q) - 1 validation
windows no order statistic is high enough and the largest score is used (the rate is then not
guaranteed; `threshold_guaranteed_` says so). A plain percentile interpolates below that order
statistic and lets slightly more than 1 - q through. With no explicit validation set, the last
`validation_fraction` of the windows is held out, so pass windows in time order to keep the future
out of training: the guarantee holds for data like the validation windows, not for a drifted test
period. `save` and `load` round-trip scores and thresholds exactly.

Threads: n_jobs=None uses min(2, CPU count) torch threads, not torch's default of one per core,
which oversubscribes a small shared machine (one fit ran 11x slower). `fit_seconds_` and
`score_seconds_` (the last `score` call) report the time taken.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, Self

import numpy as np
import torch
from loguru import logger

from santiway_anomaly.ml.tcn import TCNAutoencoder

FORMAT = "santiway-tcn/1"


class ScoreResult(NamedTuple):
    scores: np.ndarray  # (windows,)
    contributions: np.ndarray  # (windows, features)


def resolve_device(device: str) -> torch.device:
    """`auto` picks CUDA, then Apple MPS, then the CPU (the specification's --device)."""
    if device not in {"auto", "cuda", "mps", "cpu"}:
        raise ValueError(f"device must be auto, cuda, mps or cpu, got {device!r}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA device is available; use auto or cpu")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError("--device mps was asked for but Apple MPS is not available; use auto or cpu")
    return torch.device(device)


def sliding_windows(series: np.ndarray, window: int, stride: int = 1) -> np.ndarray:
    """Cut a (time, features) series into (windows, window, features) for fit/score."""
    if series.ndim != 2:
        raise ValueError(f"series must be (time, features), got shape {series.shape}")
    if not 1 <= window <= series.shape[0]:
        raise ValueError(f"window must be in 1..{series.shape[0]}, got {window}")
    view = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)[::stride]
    return np.ascontiguousarray(view.transpose(0, 2, 1))


def point_scores(window_scores: np.ndarray, n_time: int, window: int, stride: int = 1) -> np.ndarray:
    """Per time step: the largest score of the windows that cover it (for point-wise benchmarks)."""
    out = np.zeros(n_time)
    for i, s in enumerate(window_scores):
        lo = i * stride
        np.maximum(out[lo : lo + window], s, out=out[lo : lo + window])
    return out


class TCNAutoencoderDetector:
    """TCN autoencoder anomaly detector; see the module docstring for the score's meaning."""

    def __init__(
        self,
        hidden: int = 32,
        levels: int = 3,
        kernel_size: int = 3,
        bottleneck: int = 8,
        attention: bool = False,
        heads: int = 8,
        dropout: float = 0.0,
        epochs: int = 50,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.2,
        patience: int = 8,
        clip: float | None = 8.0,
        random_state: int | None = 0,
        device: str = "cpu",
        n_jobs: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.hidden = hidden
        self.levels = levels
        self.kernel_size = kernel_size
        self.bottleneck = bottleneck
        self.attention = attention
        self.heads = heads
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.clip = clip
        self.random_state = random_state
        self.device = device
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ---- scikit-learn conventions ---------------------------------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _PARAMS}

    def set_params(self, **params: Any) -> Self:
        for k, v in params.items():
            if k not in _PARAMS:
                raise ValueError(f"unknown parameter {k!r}")
            setattr(self, k, v)
        return self

    def _check_params(self) -> None:
        for name in ("hidden", "levels", "kernel_size", "bottleneck", "heads", "epochs", "batch_size", "patience"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.attention and self.hidden % self.heads != 0:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")
        if self.n_jobs is not None and self.n_jobs < 1:
            raise ValueError(f"n_jobs must be >= 1 or None, got {self.n_jobs}")

    # ---- fitting --------------------------------------------------------------------------

    def fit(self, X: np.ndarray, y: Any = None, X_val: np.ndarray | None = None) -> Self:
        """Learn normal windows X (windows, time, features); y is ignored (unsupervised)."""
        self._check_params()
        started = time.perf_counter()
        with _threads(self.n_jobs):
            self._fit(X, X_val)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _fit(self, X: np.ndarray, X_val: np.ndarray | None) -> Self:
        X = _as_windows(X)
        if X_val is None:
            n_val = max(1, int(round(len(X) * self.validation_fraction)))
            if len(X) - n_val < 1:
                raise ValueError(f"need at least 2 windows to fit with a validation split, got {len(X)}")
            X, X_val = X[: len(X) - n_val], X[len(X) - n_val :]
        else:
            X_val = _as_windows(X_val)
            if X_val.shape[1:] != X.shape[1:]:
                raise ValueError(f"X_val windows {X_val.shape[1:]} differ from X windows {X.shape[1:]}")
        if self.random_state is not None:
            torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        self.n_features_in_ = X.shape[2]
        self.window_size_ = X.shape[1]
        flat = X.reshape(-1, X.shape[2]).astype(np.float64)
        self.mean_ = flat.mean(axis=0).astype(np.float32)
        std = flat.std(axis=0)
        self.std_ = np.where(std > 1e-8, std, 1.0).astype(np.float32)
        self.device_ = resolve_device(self.device)
        self.model_ = self._new_model().to(self.device_)
        opt = torch.optim.AdamW(self.model_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        train_t = self._to_tensor(X)
        best = math.inf
        best_state = copy.deepcopy(self.model_.state_dict())
        self.history_: list[dict[str, float]] = []
        stale = 0
        bar = _progress(self.epochs, self.verbose)
        for epoch in range(1, self.epochs + 1):
            self.model_.train()
            order = rng.permutation(len(train_t))
            total = 0.0
            for lo in range(0, len(order), self.batch_size):
                batch = train_t[torch.from_numpy(order[lo : lo + self.batch_size])]
                opt.zero_grad(set_to_none=True)
                loss = torch.mean((self.model_(batch) - batch) ** 2)
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                total += loss.item() * len(batch)
            train_loss = total / len(train_t)
            val_loss = float(self._errors(X_val).mean())
            self.history_.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss})
            if bar is not None:
                bar.set_postfix(loss=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
                bar.update(1)
            if val_loss < best - 1e-6:
                best, stale = val_loss, 0
                best_state = copy.deepcopy(self.model_.state_dict())
                self.best_epoch_ = epoch
            else:
                stale += 1
                if stale >= self.patience:
                    logger.info("early stopping at epoch {} (best {} val loss {:.4f})", epoch, self.best_epoch_, best)
                    break
        if bar is not None:
            bar.close()
        self.model_.load_state_dict(best_state)
        self.model_.eval()
        self.best_val_loss_ = best
        val_scores = self._errors(X_val).astype(np.float64).mean(axis=1)
        self.validation_scores_ = val_scores
        self.threshold_50_ = conformal_threshold(val_scores, 0.50)
        self.threshold_95_ = conformal_threshold(val_scores, 0.95)
        self.threshold_99_ = conformal_threshold(val_scores, 0.99)
        self.threshold_guaranteed_ = len(val_scores) + 1 >= 1 / (1 - 0.99)
        self.threshold_ = self.threshold_99_
        self.decision_scores_ = self._errors(X).astype(np.float64).mean(axis=1)
        return self

    def _new_model(self) -> TCNAutoencoder:
        return TCNAutoencoder(
            self.n_features_in_, hidden=self.hidden, levels=self.levels, kernel_size=self.kernel_size,
            bottleneck=self.bottleneck, attention=self.attention, heads=self.heads, dropout=self.dropout,
        )

    # ---- scoring --------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("TCNAutoencoderDetector is not fitted: call fit() or load() first")

    def _prepare(self, X: torch.Tensor) -> torch.Tensor:
        """(windows, time, features) raw -> standardised and clipped, same layout.

        One fused multiply-add and an in-place clamp: a log squash cost half the scoring
        throughput on 2 CPU cores for no gain in detection (benchmarks/ml.py).
        """
        scale = torch.from_numpy(1.0 / self.std_).to(self.device_)
        shift = torch.from_numpy(-self.mean_ / self.std_).to(self.device_)
        z = torch.addcmul(shift, X, scale)
        if self.clip is not None:
            z.clamp_(-self.clip, self.clip)
        return z

    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        raw = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(self.device_)
        return self._prepare(raw)

    def _errors(self, X: np.ndarray | torch.Tensor, batch: int = 4096) -> np.ndarray:
        """Per window and feature: mean squared reconstruction error over time, (windows, features).

        Raw numpy windows are prepared batch by batch (no standardised copy of the whole input);
        a tensor is taken as already prepared (the training set).
        """
        self.model_.eval()
        parts = []
        with torch.inference_mode():
            for lo in range(0, len(X), batch):
                if isinstance(X, np.ndarray):
                    x = self._prepare(torch.from_numpy(X[lo : lo + batch]).to(self.device_))
                else:
                    x = X[lo : lo + batch]
                err = self.model_(x).sub_(x).square_()  # in place: no extra full-size temporaries
                parts.append(err.mean(dim=1).cpu().numpy())
        if not parts:
            return np.zeros((0, self.n_features_in_), np.float32)
        return np.concatenate(parts)

    def score(self, X: np.ndarray) -> ScoreResult:
        """Scores (windows,) and per-feature contributions (windows, features); higher = more anomalous."""
        self._check_fitted()
        X = _as_windows(X)
        self._check_shape(X)
        started = time.perf_counter()
        with _threads(self.n_jobs):
            contrib = self._errors(X).astype(np.float64)
        self.score_seconds_ = time.perf_counter() - started
        return ScoreResult(contrib.mean(axis=1), contrib)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """One score per window (PyOD's name); higher = more anomalous."""
        return self.score(X).scores

    def predict(self, X: np.ndarray, level: int = 99) -> np.ndarray:
        """1 where the score exceeds threshold_99_ (or threshold_95_ with level=95), else 0."""
        if level not in (95, 99):
            raise ValueError(f"level must be 95 or 99, got {level}")
        threshold = self.threshold_99_ if level == 99 else self.threshold_95_
        return (self.decision_function(X) > threshold).astype(np.int64)

    def _check_shape(self, X: np.ndarray) -> None:
        if X.shape[2] != self.n_features_in_:
            raise ValueError(f"size mismatch (expected {self.n_features_in_}, got {X.shape[2]}) features")
        if X.shape[1] != self.window_size_:
            raise ValueError(f"window size mismatch (expected {self.window_size_}, got {X.shape[1]}) time steps")

    @property
    def n_parameters(self) -> int:
        self._check_fitted()
        return sum(p.numel() for p in self.model_.parameters())

    # ---- persistence ----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted detector (tensors and plain values only)."""
        self._check_fitted()
        return {
            "format": FORMAT,
            "params": self.get_params(),
            "state_dict": {k: v.detach().cpu() for k, v in self.model_.state_dict().items()},
            "mean": torch.from_numpy(self.mean_.copy()),
            "std": torch.from_numpy(self.std_.copy()),
            "n_features_in": self.n_features_in_,
            "window_size": self.window_size_,
            "threshold_50": self.threshold_50_,
            "threshold_95": self.threshold_95_,
            "threshold_99": self.threshold_99_,
            "best_epoch": getattr(self, "best_epoch_", 0),
            "best_val_loss": self.best_val_loss_,
            "history": self.history_,
        }

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> None:
        data = self.state()
        if extra:
            data["extra"] = extra
        torch.save(data, Path(path))

    @classmethod
    def from_state(cls, data: dict[str, Any], device: str = "cpu", n_jobs: int | None = None) -> TCNAutoencoderDetector:
        """Rebuild a saved detector; where it runs (device, threads) is the loader's choice, not the trainer's."""
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} model (format {data.get('format')!r})")
        params = dict(data["params"])
        params["device"] = device
        params["n_jobs"] = n_jobs
        det = cls(**params)
        det.n_features_in_ = int(data["n_features_in"])
        det.window_size_ = int(data["window_size"])
        det.mean_ = data["mean"].numpy()
        det.std_ = data["std"].numpy()
        det.threshold_50_ = float(data["threshold_50"])
        det.threshold_95_ = float(data["threshold_95"])
        det.threshold_99_ = float(data["threshold_99"])
        det.threshold_ = det.threshold_99_
        det.best_epoch_ = int(data["best_epoch"])
        det.best_val_loss_ = float(data["best_val_loss"])
        det.history_ = list(data["history"])
        det.device_ = resolve_device(device)
        det.model_ = det._new_model()
        det.model_.load_state_dict(data["state_dict"])
        det.model_.to(det.device_).eval()
        return det

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", n_jobs: int | None = None) -> TCNAutoencoderDetector:
        # weights_only: a model file is data, never code (torch.load's safe mode).
        return cls.from_state(torch.load(Path(path), map_location="cpu", weights_only=True), device=device,
                              n_jobs=n_jobs)


_PARAMS = (
    "hidden", "levels", "kernel_size", "bottleneck", "attention", "heads", "dropout", "epochs", "batch_size",
    "lr", "weight_decay", "validation_fraction", "patience", "clip", "random_state", "device", "n_jobs", "verbose",
)


def _as_windows(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3:
        raise ValueError(f"X must be (windows, time, features), got shape {X.shape}")
    if len(X) == 0:
        raise ValueError("X holds no windows")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinite values")
    return X


def conformal_threshold(scores: np.ndarray, q: float) -> float:
    """The ceil((n + 1) q)-th smallest score (1-based), or the largest when n is too small: a new
    exchangeable score exceeds it with probability <= 1 - q."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    if len(s) == 0:
        raise ValueError("no validation scores to set a threshold on")
    k = math.ceil((len(s) + 1) * q)
    return float(s[min(k, len(s)) - 1])


def default_threads() -> int:
    """min(2, CPU count): torch's default (one thread per core, more with hyper-threads) made a fit on
    a busy 2-core machine 11x slower than one thread (issue 12)."""
    return max(1, min(2, os.cpu_count() or 1))


@contextmanager
def _threads(n_jobs: int | None) -> Iterator[None]:
    """Run with `n_jobs` torch threads (None: `default_threads()`)."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n_jobs if n_jobs is not None else default_threads())))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="epochs", unit="epoch")
