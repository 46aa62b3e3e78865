"""Small frames and a recording learner for the cleanlab mask tests.

The recording learner reads each row's bar position from the ``pos`` feature column, so a test can
see exactly which positions every inner model was trained on and which it scored. Its P(BUY) is the
``signal`` column, so a test knows the out-of-sample probability each row must receive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

HORIZON = 4
EMBARGO = 6
FEATURE_COLUMNS: tuple[str, ...] = ("pos", "signal", "noise")


def frames(labels: np.ndarray, signal: np.ndarray | None = None, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(features, labels) frames of len(labels) hourly bars; P(BUY) of the recording learner is
    ``signal`` (default: 0.9 for BUY labels, 0.1 for HOLD, i.e. every label looks clean)."""
    hard = np.asarray(labels, dtype=float)
    rng = np.random.default_rng(seed)
    timestamps = pd.date_range("2024-01-01", periods=hard.size, freq="h", tz="UTC")
    probability = np.where(hard == 1.0, 0.9, 0.1) if signal is None else np.asarray(signal, dtype=float)
    features = pd.DataFrame(
        {
            "timestamp": timestamps,
            "pos": np.arange(hard.size, dtype=float),
            "signal": probability,
            "noise": rng.normal(size=hard.size),
        }
    )
    return features, pd.DataFrame({"timestamp": timestamps, "label": hard})


def noisy_window(
    n_rows: int, buy_rate: float, flip_rate: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Learnable synthetic data: BUY when a latent score (mostly ``signal``) is in its top ``buy_rate``,
    then a ``flip_rate`` share of labels flipped. Returns (features, labels, flipped mask)."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n_rows)
    latent = signal + 0.3 * rng.normal(size=n_rows)
    clean = (latent > np.quantile(latent, 1.0 - buy_rate)).astype(float)
    flipped = rng.random(n_rows) < flip_rate
    features, labels = frames(np.where(flipped, 1.0 - clean, clean), signal=signal, seed=seed)
    return features, labels, flipped


@dataclass
class Recorder:
    """What every recording learner did: (trained-on positions, scored positions) per inner model, and
    the arguments ``make_learner`` got. ``on_fit`` runs after each fit (a test may advance a clock)."""

    fits: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    calls: list[tuple[str, dict, int, int]] = field(default_factory=list)
    on_fit: object = None


class RecordingLearner:
    """Learner whose P(BUY) is the ``signal`` feature; it records the positions it sees."""

    name = "recording"

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.trained_on_ = np.empty(0, dtype=np.int64)

    def fit(
        self, features: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> RecordingLearner:
        assert sample_weight is not None and sample_weight.shape == targets.shape
        self.trained_on_ = features[:, 0].astype(np.int64)
        if callable(self.recorder.on_fit):
            self.recorder.on_fit()
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        self.recorder.fits.append((self.trained_on_, features[:, 0].astype(np.int64)))
        return features[:, 1].copy()


def install_recording_learner(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Make the inner CV build RecordingLearners instead of registered models."""
    recorder = Recorder()

    def factory(name: str, params: dict | None = None, seed: int = 0, n_threads: int = 1) -> RecordingLearner:
        recorder.calls.append((name, dict(params or {}), seed, n_threads))
        return RecordingLearner(recorder)

    monkeypatch.setattr("cvn_assets.core.noise.inner_cv.make_learner", factory)
    return recorder


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
