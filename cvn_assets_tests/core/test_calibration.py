"""Calibrators: shared conventions, isotonic improves ECE, temperature recovers a known T, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.exceptions import NotFittedError

from cvn_assets.core.calibration import (
    CALIBRATION_METHODS,
    CalibrationParams,
    Calibrator,
    IsotonicCalibrator,
    TemperatureCalibrator,
    make_calibrator,
)
from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.metrics import expected_calibration_error


def _margins_and_labels(temperature: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    margins = rng.normal(0.0, 4.0, n)
    labels = (rng.random(n) < expit(margins / temperature)).astype(int)
    return margins, labels


def _inputs_for(calibrator: Calibrator, margins: np.ndarray) -> np.ndarray:
    return expit(margins) if calibrator.expects == "probability" else margins


@pytest.mark.parametrize("method", CALIBRATION_METHODS)
def test_every_calibrator_follows_the_estimator_conventions(method: str) -> None:
    calibrator = make_calibrator(CalibrationParams(method=method))  # type: ignore[arg-type]
    assert isinstance(calibrator, Calibrator)
    assert calibrator.name == method
    assert not [k for k in vars(calibrator) if k.endswith("_")]
    margins, labels = _margins_and_labels(2.0, 500, seed=1)
    scores = _inputs_for(calibrator, margins)
    assert calibrator.fit(scores, labels) is calibrator
    assert [k for k in vars(calibrator) if k.endswith("_")]
    p = calibrator.transform(scores)
    assert p.shape == scores.shape and p.dtype == np.float64
    assert np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))
    order = np.argsort(scores)
    assert np.all(np.diff(p[order]) >= 0), "calibration must keep the ranking of the scores"


@pytest.mark.parametrize("method", CALIBRATION_METHODS)
def test_transform_before_fit_fails(method: str) -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        make_calibrator(CalibrationParams(method=method)).transform(np.array([0.5]))  # type: ignore[arg-type]


def test_isotonic_is_the_default() -> None:
    assert isinstance(make_calibrator(), IsotonicCalibrator)


def test_isotonic_improves_ece_of_a_miscalibrated_score_out_of_sample() -> None:
    rng = np.random.default_rng(11)
    q = rng.random(8000)
    y = (rng.random(8000) < q).astype(int)
    score = q**3  # right ranking, badly calibrated
    val, test = slice(0, 4000), slice(4000, None)
    calibrated = IsotonicCalibrator().fit(score[val], y[val]).transform(score[test])
    before = expected_calibration_error(y[test], score[test])
    after = expected_calibration_error(y[test], calibrated)
    assert before > 0.15
    assert after < 0.05


def test_isotonic_clips_scores_outside_the_validation_range() -> None:
    calibrator = IsotonicCalibrator().fit(np.array([0.3, 0.4, 0.6, 0.7]), np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(calibrator.transform(np.array([0.0, 1.0])), [0.0, 1.0])


def test_temperature_recovers_a_known_temperature() -> None:
    margins, labels = _margins_and_labels(2.5, 20000, seed=42)
    calibrator = TemperatureCalibrator().fit(margins, labels)
    assert calibrator.temperature_ == pytest.approx(2.5, abs=0.15)
    np.testing.assert_allclose(calibrator.transform(np.array([0.0, 5.0])), expit(np.array([0.0, 2.0])), atol=0.03)


@pytest.mark.parametrize(
    ("true_t", "bounds", "expected"),
    [
        pytest.param(50.0, (0.1, 10.0), 10.0, id="flat_truth_stops_at_the_upper_bound"),
        pytest.param(0.02, (0.1, 10.0), 0.1, id="sharp_truth_stops_at_the_lower_bound"),
        pytest.param(2.5, (1.0, 2.0), 2.0, id="configured_bounds_are_respected"),
    ],
)
def test_temperature_stays_within_its_bounds(true_t: float, bounds: tuple[float, float], expected: float) -> None:
    margins, labels = _margins_and_labels(true_t, 5000, seed=5)
    params = CalibrationParams(method="temperature", temperature_min=bounds[0], temperature_max=bounds[1])
    t = make_calibrator(params).fit(margins, labels).temperature_  # type: ignore[attr-defined]
    assert bounds[0] <= t <= bounds[1]
    assert t == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("method", CALIBRATION_METHODS)
@pytest.mark.parametrize(
    ("scores", "y", "match"),
    [
        pytest.param([], [], "needs validation rows", id="empty_validation"),
        pytest.param([0.2, 0.8], [0, 1, 1], "row-aligned", id="length_mismatch"),
        pytest.param([0.2, 0.8, 0.6], [1, 1, 1], "all BUY", id="only_buy_labels"),
        pytest.param([0.2, 0.8, 0.6], [0, 0, 0], "all HOLD", id="only_hold_labels"),
    ],
)
def test_fit_fails_fast_without_usable_validation_data(method: str, scores: list, y: list, match: str) -> None:
    with pytest.raises(InsufficientDataError, match=match):
        calibrator = make_calibrator(CalibrationParams(method=method))  # type: ignore[arg-type]
        calibrator.fit(np.array(scores, dtype=float), np.array(y))


@pytest.mark.parametrize(
    ("calibrator", "scores", "y", "match"),
    [
        pytest.param(IsotonicCalibrator(), [0.2, 1.4], [0, 1], r"in \[0, 1\]", id="isotonic_given_raw_margins"),
        pytest.param(IsotonicCalibrator(), [0.2, np.nan], [0, 1], "finite", id="isotonic_nan_probability"),
        pytest.param(TemperatureCalibrator(), [0.2, np.inf], [0, 1], "finite", id="temperature_infinite_margin"),
        pytest.param(IsotonicCalibrator(), [0.2, 0.8], [0.075, 0.85], "hard 0/1", id="soft_validation_labels"),
    ],
)
def test_fit_rejects_invalid_values(calibrator: Calibrator, scores: list, y: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        calibrator.fit(np.array(scores), np.array(y))


def test_unknown_method_lists_the_allowed_ones() -> None:
    with pytest.raises(CatalogueError, match="allowed: isotonic, temperature"):
        CalibrationParams(method="platt")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("low", "high"),
    [
        pytest.param(0.0, 10.0, id="zero_lower_bound"),
        pytest.param(5.0, 2.0, id="inverted_bounds"),
        pytest.param(0.1, float("inf"), id="infinite_upper_bound"),
    ],
)
def test_bad_temperature_bounds_are_rejected(low: float, high: float) -> None:
    with pytest.raises(CatalogueError, match="temperature_min"):
        CalibrationParams(method="temperature", temperature_min=low, temperature_max=high)
    with pytest.raises(CatalogueError, match="temperature_min"):
        TemperatureCalibrator(low, high).fit(np.array([-1.0, 1.0]), np.array([0, 1]))
