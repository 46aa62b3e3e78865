"""fit_and_predict: class-balanced models calibrated to real BUY frequencies, cross-fitted validation
probabilities checked against scikit-learn calibrators fitted on hand-computed purged blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression

from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.labels.smoothing import SmoothingParams
from cvn_assets.core.training.calibration import CalibrationParams
from cvn_assets.core.training.fit import ModelOutcome, fit_and_predict, training_targets
from cvn_assets.core.training.folds import FoldWindows
from cvn_assets.core.training.thresholds import ThresholdParams, sweep_threshold

HORIZON, EMBARGO = 4, 24
TRAIN, VALIDATION, TEST = np.arange(0, 3000), np.arange(3030, 5000), np.arange(5030, 7000)
SMALL_XGBOOST = {"num_boost_round": 60, "max_depth": 3}


def _cell(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, FoldWindows, np.ndarray]:
    """Three features, the first informative; P(BUY) = sigmoid(1.5·x0 − 2.2), a BUY rate near 15 %."""
    rng = np.random.default_rng(seed)
    n = TEST[-1] + 1
    x = rng.normal(size=(n, 3))
    truth = expit(1.5 * x[:, 0] - 2.2)
    timestamps = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    features = pd.DataFrame({"timestamp": timestamps, "f0": x[:, 0], "f1": x[:, 1], "f2": x[:, 2]})
    labels = pd.DataFrame({"timestamp": timestamps, "label": (rng.random(n) < truth).astype(float)})
    return features, labels, FoldWindows("f1", TRAIN, VALIDATION, TEST), truth


def _fit(seed: int, calibration: CalibrationParams) -> tuple[ModelOutcome, pd.DataFrame, np.ndarray]:
    features, labels, fold, truth = _cell(seed)
    targets = training_targets(labels, fold, SmoothingParams())
    outcome = fit_and_predict(
        "xgboost",
        features,
        labels,
        fold,
        targets,
        label_horizon=HORIZON,
        embargo_bars=EMBARGO,
        learner_params=SMALL_XGBOOST,
        class_balancing=True,
        calibration=calibration,
        seed=seed,
    )
    assert outcome.status == "ok", outcome.error
    return outcome, labels, truth


def _window(outcome: ModelOutcome, window: str) -> pd.DataFrame:
    frame = outcome.predictions
    return frame[frame["window"] == window].reset_index(drop=True)


@pytest.mark.parametrize("seed", [1, 2])
def test_class_balanced_model_temperature_calibrated_mean_p_matches_the_base_rate(seed: int) -> None:
    outcome, _, truth = _fit(seed, CalibrationParams(method="temperature"))
    test = _window(outcome, "test")
    uncalibrated = float(expit(test["score"]).mean())
    assert uncalibrated > truth[TEST].mean() + 0.15, "class balancing lifts the raw P(BUY) well above the base rate"
    assert test["p"].mean() == pytest.approx(truth[TEST].mean(), abs=0.02)
    assert test["p"].mean() == pytest.approx(test["y"].mean(), abs=0.02)


def test_validation_probabilities_are_cross_fitted_and_test_uses_the_calibrator_fitted_on_all_validation() -> None:
    outcome, _, _ = _fit(3, CalibrationParams(method="isotonic", cross_fit_blocks=2))
    validation, test = _window(outcome, "validation"), _window(outcome, "test")
    position, score, y = (validation[c].to_numpy() for c in ("position", "score", "y"))
    held_first = np.arange(position.size) < (position.size + 1) // 2  # two contiguous halves, the first one longer
    # Block 1 is fitted on rows whose labels start after its last label ends plus the embargo;
    # block 2 on rows whose labels end before its first bar.
    fit_for_first = position > position[held_first][-1] + HORIZON + EMBARGO
    fit_for_second = position + HORIZON < position[~held_first][0]
    for held, fit in ((held_first, fit_for_first), (~held_first, fit_for_second)):
        reference = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(score[fit], y[fit])
        # Restated from the fitting rows' BUY rate to the window's: a shift of the log-odds.
        expected = expit(logit(reference.predict(score[held])) + logit(y.mean()) - logit(y[fit].mean()))
        np.testing.assert_allclose(validation.loc[held, "p"], expected)
    full = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(score, y)
    np.testing.assert_allclose(test["p"], full.predict(test["score"].to_numpy()))
    assert outcome.threshold == sweep_threshold(validation["p"].to_numpy(), y, ThresholdParams()).threshold


def test_more_cross_fit_blocks_than_the_validation_window_holds_fails_before_training() -> None:
    features, labels, _, _ = _cell(4)
    fold = FoldWindows("f1", TRAIN, VALIDATION[:3], TEST)
    targets = training_targets(labels, fold, SmoothingParams())
    with pytest.raises(InsufficientDataError, match="lower calibration.cross_fit_blocks"):
        fit_and_predict(
            "xgboost",
            features,
            labels,
            fold,
            targets,
            label_horizon=HORIZON,
            embargo_bars=EMBARGO,
            calibration=CalibrationParams(cross_fit_blocks=5),
        )
