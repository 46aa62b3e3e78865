"""Classification metrics: ECE and per-class ECE on hand examples, the soft-label regression, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import f1_score

from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.metrics import classification_metrics, ece_per_class, expected_calibration_error


def test_ece_matches_hand_computed_example() -> None:
    # Bins of width 1/15: 0.10 and 0.11 share bin 1, 0.82 and 0.85 share bin 12.
    y = np.array([0, 1, 1, 1])
    p = np.array([0.10, 0.11, 0.82, 0.85])
    # bin 1: |0.5 - 0.105| = 0.395; bin 12: |1 - 0.835| = 0.165; each weighted 2/4.
    assert expected_calibration_error(y, p) == pytest.approx(0.5 * 0.395 + 0.5 * 0.165)


def test_ece_agrees_with_sklearn_reliability_curve() -> None:
    rng = np.random.default_rng(7)
    p = rng.random(2000)
    y = (rng.random(2000) < p**2).astype(int)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=15, strategy="uniform")
    counts, _ = np.histogram(p, bins=np.linspace(0.0, 1.0, 16))
    counts = counts[counts > 0]
    expected = float(np.sum(counts / p.size * np.abs(prob_true - prob_pred)))
    assert expected_calibration_error(y, p) == pytest.approx(expected)


def test_ece_is_zero_only_for_a_perfect_confident_predictor() -> None:
    y = np.array([0, 1, 1, 0])
    assert expected_calibration_error(y, y.astype(float)) == 0.0


def test_per_class_ece_matches_hand_computed_example() -> None:
    y = np.array([0, 1, 1, 1, 1, 0])
    p = np.array([0.08, 0.10, 0.30, 0.50, 0.60, 0.90])
    ece_hold, ece_buy = ece_per_class(y, p)
    # HOLD rows p < 0.5: confidences 0.92, 0.90 (bin 13, correct 1 and 0) and 0.70 (bin 10, wrong).
    assert ece_hold == pytest.approx((2 * abs(0.5 - 0.91) + abs(0.0 - 0.70)) / 3)
    # BUY rows p >= 0.5 (0.5 itself is BUY): gaps |1-0.5|, |1-0.6|, |0-0.9| in separate bins.
    assert ece_buy == pytest.approx((0.5 + 0.4 + 0.9) / 3)


@pytest.mark.parametrize(
    ("p", "empty_index"),
    [
        pytest.param([0.1, 0.2, 0.4], 1, id="no_row_predicted_buy_gives_nan_ece_buy"),
        pytest.param([0.5, 0.7, 0.9], 0, id="no_row_predicted_hold_gives_nan_ece_hold"),
    ],
)
def test_per_class_ece_is_nan_when_a_predicted_class_is_empty(p: list[float], empty_index: int) -> None:
    values = ece_per_class(np.array([0, 1, 0]), np.array(p))
    assert math.isnan(values[empty_index])
    assert math.isfinite(values[1 - empty_index])


def test_ece_is_not_zero_on_soft_label_trained_predictions() -> None:
    # Regression: a model trained on smoothed labels (mild: eps_buy 0.15, eps_hold 0.075) shrinks its
    # probabilities towards the middle; against hard labels it is miscalibrated, never exactly 0.
    rng = np.random.default_rng(3)
    q = rng.random(5000)
    y = (rng.random(5000) < q).astype(int)
    p = 0.075 + (1.0 - 0.15 - 0.075) * q
    ece_hold, ece_buy = ece_per_class(y, p)
    assert expected_calibration_error(y, p) > 0.02
    assert ece_hold > 0.02
    assert ece_buy > 0.02


@pytest.mark.parametrize(
    "y",
    [
        pytest.param([0.925, 0.075], id="smoothed_training_labels_are_rejected"),
        pytest.param([0, 2], id="label_outside_0_1"),
        pytest.param([[0, 1]], id="two_dimensional"),
    ],
)
def test_ece_rejects_non_binary_labels(y: list) -> None:
    with pytest.raises(ValueError, match="hard 0/1"):
        expected_calibration_error(np.array(y), np.array([0.5, 0.5]))


@pytest.mark.parametrize(
    "p",
    [
        pytest.param([0.2, 1.2], id="above_one"),
        pytest.param([0.2, np.nan], id="nan"),
        pytest.param([-3.0, 2.0], id="raw_margins"),
    ],
)
def test_ece_rejects_invalid_probabilities(p: list[float]) -> None:
    with pytest.raises(ValueError, match=r"finite and in \[0, 1\]"):
        expected_calibration_error(np.array([0, 1]), np.array(p))


@pytest.mark.parametrize("n_bins", [pytest.param(0, id="zero"), pytest.param(2.5, id="not_integer")])
def test_ece_rejects_bad_bin_count(n_bins: object) -> None:
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error(np.array([0, 1]), np.array([0.2, 0.8]), n_bins=n_bins)  # type: ignore[arg-type]


def test_classification_metrics_on_hand_example() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    m = classification_metrics(y, p, threshold=0.5)
    assert m["f1_buy"] == pytest.approx(0.5)
    assert m["precision_buy"] == pytest.approx(0.5)
    assert m["recall_buy"] == pytest.approx(0.5)
    assert m["auc"] == pytest.approx(0.75)
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    assert m["log_loss"] == pytest.approx(-(2 * math.log(0.9) + 2 * math.log(0.4)) / 4)
    assert m["ece"] == pytest.approx(0.35)
    assert m["ece_hold"] == pytest.approx(0.35)
    assert m["ece_buy"] == pytest.approx(0.35)
    assert all(type(v) is float for v in m.values())


def test_classification_metrics_auc_is_nan_for_a_single_class() -> None:
    m = classification_metrics(np.array([0, 0, 0]), np.array([0.1, 0.2, 0.7]), threshold=0.5)
    assert math.isnan(m["auc"])
    assert math.isfinite(m["brier"]) and math.isfinite(m["log_loss"])


def test_classification_metrics_log_loss_is_finite_for_confident_mistakes() -> None:
    m = classification_metrics(np.array([1, 0]), np.array([0.0, 1.0]), threshold=0.5)
    assert m["log_loss"] == pytest.approx(-math.log(1e-7))


def test_classification_metrics_signal_rule_is_p_at_least_threshold() -> None:
    m = classification_metrics(np.array([1, 0]), np.array([0.3, 0.1]), threshold=0.3)
    assert m["recall_buy"] == 1.0


@pytest.mark.parametrize(
    ("y", "p", "threshold", "error", "match"),
    [
        pytest.param([0.85, 0.075], [0.5, 0.5], 0.5, ValueError, "hard 0/1", id="soft_labels"),
        pytest.param([0, 1], [0.5], 0.5, InsufficientDataError, "row-aligned", id="length_mismatch"),
        pytest.param([], [], 0.5, InsufficientDataError, "at least one row", id="empty"),
        pytest.param([0, 1], [0.2, 0.8], 1.5, ValueError, "threshold", id="threshold_above_one"),
        pytest.param([0, 1], [0.2, 0.8], math.nan, ValueError, "threshold", id="threshold_nan"),
    ],
)
def test_classification_metrics_errors(y: list, p: list, threshold: float, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        classification_metrics(np.array(y), np.array(p, dtype=float), threshold)


def test_skill_against_always_buy_on_hand_example() -> None:
    # 10 bars, 2 BUY (π = 0.2); 3 signalled BUY, one of them a true BUY: precision 1/3, recall 1/2.
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1])
    m = classification_metrics(y, p, threshold=0.5)
    assert m["f1_buy"] == pytest.approx(0.4)  # 2 · (1/3 · 1/2) / (1/3 + 1/2)
    assert m["buy_signal_rate"] == pytest.approx(0.3)
    assert m["always_buy_f1"] == pytest.approx(1.0 / 3.0)  # 2 · 0.2 / 1.2
    assert m["f1_lift_over_always_buy"] == pytest.approx(0.4 - 1.0 / 3.0)


def test_always_buy_f1_is_the_f1_of_signalling_buy_on_every_bar() -> None:
    rng = np.random.default_rng(11)
    y = (rng.random(997) < 0.17).astype(int)
    m = classification_metrics(y, rng.random(997), threshold=0.0)
    assert m["buy_signal_rate"] == 1.0
    assert m["always_buy_f1"] == pytest.approx(f1_score(y, np.ones_like(y)))
    assert m["f1_lift_over_always_buy"] == pytest.approx(0.0, abs=1e-12)


def test_always_buy_f1_is_zero_without_a_buy_bar() -> None:
    m = classification_metrics(np.array([0, 0, 0, 0]), np.array([0.1, 0.2, 0.7, 0.9]), threshold=0.5)
    assert m["always_buy_f1"] == 0.0
    assert m["buy_signal_rate"] == 0.5
    assert m["f1_lift_over_always_buy"] == 0.0
