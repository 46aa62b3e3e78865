"""Drift monitor of one crypto: stable on more of the same process, critical after a volatility shift."""

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.data.features import build_features
from cvn_assets.core.drift.monitor import monitor_drift
from cvn_assets.core.drift.statistics import DriftThresholds
from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.labels.barriers import triple_barrier_labels
from cvn_assets.core.learners import make_learner
from cvn_assets.core.training.calibration import CalibrationParams, IsotonicCalibrator
from cvn_assets.core.training.scoring import ScoringBundle, dump_bundle, load_bundle
from cvn_assets_tests.synthetic import random_walk_ohlcv, shifted

TRAIN = slice(200, 2200)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return random_walk_ohlcv(3200, seed=11)


@pytest.fixture(scope="module")
def bundle(history: pd.DataFrame) -> ScoringBundle:
    features = build_features(history)
    labels = triple_barrier_labels(history)
    names = tuple(c for c in features.columns if c != "timestamp")
    rows = np.arange(len(history))[TRAIN]
    rows = rows[labels["label"].notna().to_numpy()[rows]]
    learner = make_learner("xgboost", {"num_boost_round": 20}, seed=3, n_threads=1)
    learner.fit(features.loc[rows, list(names)].to_numpy(float), labels["label"].to_numpy()[rows])
    calibrator = IsotonicCalibrator().fit(
        learner.predict_proba(features.loc[rows, list(names)].to_numpy(float)), labels["label"].to_numpy()[rows]
    )
    return ScoringBundle("xgboost", learner, calibrator, CalibrationParams(), 0.5, names)


def _watched(bundle: ScoringBundle) -> list[str]:
    return ["volatility_24", "atr_norm_14", "log_return_1", "bar_range", "rsi_14"]


def test_more_of_the_same_process_is_stable(history: pd.DataFrame, bundle: ScoringBundle) -> None:
    report = monitor_drift(history, history["timestamp"].iloc[TRAIN], bundle, _watched(bundle), oos_f1=0.3)
    assert report.recent_window[1] == history["timestamp"].iloc[-1]
    assert set(report.psi["level"]) == {"ok"}, report.psi
    assert report.sharpness.level == "ok"


def test_a_volatility_shift_in_appended_candles_is_critical(history: pd.DataFrame, bundle: ScoringBundle) -> None:
    moved = shifted(history, 720, factor=5.0, seed=12)
    report = monitor_drift(moved, history["timestamp"].iloc[TRAIN], bundle, _watched(bundle), oos_f1=0.3)
    assert report.recent_window[1] == moved["timestamp"].iloc[-1]  # the appended candles are the recent window
    assert "critical" in set(report.psi["level"]), report.psi
    assert report.level == "critical"
    assert {r.metric for r in report.results()} >= {"output_sharpness", *(f"psi:{f}" for f in _watched(bundle))}


def test_concept_drift_compares_recent_f1_with_oos(history: pd.DataFrame, bundle: ScoringBundle) -> None:
    report = monitor_drift(history, history["timestamp"].iloc[TRAIN], bundle, _watched(bundle), oos_f1=1.0)
    assert report.concept is not None and report.concept.level == "critical"  # nothing realistic reaches f1 = 1
    assert report.concept.value == pytest.approx(
        1.0 - float(report.concept.detail.split("recent ")[1].split()[0]), abs=1e-4
    )


def test_too_little_data_for_the_recent_window_is_an_error(history: pd.DataFrame, bundle: ScoringBundle) -> None:
    with pytest.raises(InsufficientDataError, match="recent_bars"):
        monitor_drift(
            history.head(500),
            history["timestamp"].iloc[TRAIN],
            bundle,
            _watched(bundle),
            0.3,
            DriftThresholds(recent_bars=720),
        )


def test_a_bundle_round_trips_and_scores_the_same(history: pd.DataFrame, bundle: ScoringBundle) -> None:
    features = build_features(history).tail(100)
    again = load_bundle(dump_bundle(bundle), "memory")
    np.testing.assert_array_equal(again.predict(features), bundle.predict(features))
