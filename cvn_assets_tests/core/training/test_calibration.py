"""Calibrators: shared conventions, isotonic improves ECE, temperature (with bias) against independent
fits, cross-fitted calibration against scikit-learn fits per block, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit, logit
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.metrics import expected_calibration_error
from cvn_assets.core.training.calibration import (
    CALIBRATION_METHODS,
    CalibrationParams,
    Calibrator,
    IsotonicCalibrator,
    TemperatureCalibrator,
    cross_fitted_calibration,
    make_calibrator,
)
from cvn_assets.core.training.cross_fit import CrossFitBlocks


def _margins_and_labels(temperature: float, n: int, seed: int, bias: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    margins = rng.normal(0.0, 4.0, n)
    labels = (rng.random(n) < expit(margins / temperature + bias)).astype(int)
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
    ("true_t", "bias"),
    [
        pytest.param(2.5, 0.0, id="no_shift"),
        # Class balancing at a 15 % BUY rate shifts margins by about log(85 / 15) = 1.73.
        pytest.param(0.7, -1.73, id="class_balanced_shift"),
        pytest.param(4.0, 2.0, id="upward_shift"),
    ],
)
def test_temperature_and_bias_match_an_unpenalised_logistic_regression_on_the_margin(
    true_t: float, bias: float
) -> None:
    """Within the T bounds, sigmoid(m / T + b) is a logistic regression on [m]: slope 1/T, intercept b."""
    margins, labels = _margins_and_labels(true_t, 5000, seed=3, bias=bias)
    calibrator = TemperatureCalibrator().fit(margins, labels)
    reference = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(margins[:, None], labels)
    assert calibrator.temperature_ == pytest.approx(1.0 / reference.coef_[0, 0], rel=1e-3)
    assert calibrator.bias_ == pytest.approx(reference.intercept_[0], abs=2e-3)
    np.testing.assert_allclose(
        calibrator.transform(margins), reference.predict_proba(margins[:, None])[:, 1], atol=1e-3
    )


def _two_parameter_nll(theta: np.ndarray, margins: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(expit(margins / theta[0] + theta[1]), 1e-15, 1 - 1e-15)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def test_temperature_at_its_bound_still_fits_the_best_bias() -> None:
    """T pinned at its upper bound: (T, b) match a joint bounded L-BFGS-B fit of the same NLL."""
    margins, labels = _margins_and_labels(50.0, 5000, seed=8, bias=-1.5)
    calibrator = TemperatureCalibrator(0.1, 10.0).fit(margins, labels)
    reference = minimize(
        _two_parameter_nll,
        x0=np.array([1.0, 0.0]),
        args=(margins, labels),
        method="L-BFGS-B",
        bounds=[(0.1, 10.0), (None, None)],
    )
    assert calibrator.temperature_ == pytest.approx(10.0, abs=1e-3) and reference.x[0] == pytest.approx(10.0)
    assert calibrator.bias_ == pytest.approx(reference.x[1], abs=1e-3)


def test_temperature_scaling_reproduces_the_buy_rate_of_its_fitting_rows() -> None:
    """Margins of a class-balanced model put P(BUY) near 0.5; calibrated, their mean is the BUY rate."""
    rng = np.random.default_rng(21)
    labels = (rng.random(4000) < 0.15).astype(int)
    margins = 1.2 * (labels - 0.5) + rng.normal(0.0, 1.0, labels.size)
    p = TemperatureCalibrator().fit(margins, labels).transform(margins)
    assert np.mean(p) == pytest.approx(labels.mean(), abs=1e-6)
    assert expected_calibration_error(labels, p) < 0.03


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


def _hand_blocks(size: int) -> CrossFitBlocks:
    """Three held-out blocks of `size` rows; each block's fitting rows leave out 2 rows on either side."""
    held = [np.arange(0, size), np.arange(size, 2 * size), np.arange(2 * size, 3 * size)]
    fit = [np.arange(size + 2, 3 * size), np.r_[0 : size - 2, 2 * size + 2 : 3 * size], np.arange(0, 2 * size - 2)]
    return CrossFitBlocks(100 + np.arange(3 * size), tuple(zip(fit, held, strict=True)))


@pytest.mark.parametrize("method", CALIBRATION_METHODS)
def test_cross_fitted_calibration_predicts_each_block_from_the_other_blocks_only(method: str) -> None:
    rng = np.random.default_rng(4)
    y = (rng.random(120) < 0.3).astype(int)
    calibration = CalibrationParams(method=method)  # type: ignore[arg-type]
    scores = _inputs_for(make_calibrator(calibration), 1.5 * y - 1.0 + rng.normal(0.0, 1.0, y.size))
    blocks = _hand_blocks(40)
    cross = cross_fitted_calibration(calibration, scores, y, blocks, "m")
    for fit, held in blocks:
        if method == "isotonic":
            reference = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores[fit], y[fit])
            expected = reference.predict(scores[held])
        else:
            reference = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(scores[fit, None], y[fit])
            expected = reference.predict_proba(scores[held, None])[:, 1]
        # Restated from the fitting rows' BUY rate to the window's: a shift of the log-odds.
        restated = expit(logit(expected) + logit(y.mean()) - logit(y[fit].mean()))
        np.testing.assert_allclose(cross[held], restated, atol=2e-3)


def test_cross_fitted_calibration_names_the_block_and_the_setting_when_a_block_cannot_be_fitted() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0])  # the BUY rows sit next to block 1: its fit sees none
    with pytest.raises(
        InsufficientDataError,
        match=r"model 'x' isotonic calibration, cross-fitted without block 1 of 3 \(positions 100..103\)"
        r": cross-fitting needs both classes among its fitting rows, got 6 rows with 0 BUY; "
        r"lower calibration.cross_fit_blocks",
    ):
        cross_fitted_calibration(CalibrationParams(), np.linspace(0.1, 0.9, 12), y, _hand_blocks(4), "model 'x'")


@pytest.mark.parametrize("blocks", [1, 0, 2.5, True])
def test_cross_fit_blocks_must_be_an_integer_of_at_least_two(blocks: object) -> None:
    with pytest.raises(CatalogueError, match="cross_fit_blocks must be an integer >= 2"):
        CalibrationParams(cross_fit_blocks=blocks)  # type: ignore[arg-type]


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
