"""Reliability bins: counts and means per equal-width bin, JSON-ready, agreeing with sklearn and ECE."""

import json

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.metrics import expected_calibration_error, reliability_bins


def test_a_hand_computed_case_with_empty_bins_and_p_equal_to_one() -> None:
    bins = reliability_bins(np.array([0, 1, 0, 1, 1]), np.array([0.05, 0.15, 0.15, 1.0, 0.95]), n_bins=10)
    assert bins["n_bins"] == 10
    assert bins["edges"] == pytest.approx([k / 10 for k in range(11)])
    assert bins["count"] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert bins["mean_predicted"][:3] == [pytest.approx(0.05), pytest.approx(0.15), None]
    assert bins["fraction_positive"][:3] == [0.0, 0.5, None]
    # 1.0 belongs to the last bin, as in ECE
    assert bins["mean_predicted"][9] == pytest.approx(0.975)
    assert bins["fraction_positive"][9] == 1.0


def test_bins_are_left_closed_like_the_ece_bins() -> None:
    bins = reliability_bins(np.array([1, 0]), np.array([0.1, 0.2]), n_bins=10)
    assert bins["count"][:3] == [0, 1, 1]


def test_non_empty_bins_agree_with_sklearn_and_their_gaps_give_the_ece() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, 5000)
    y = (rng.uniform(0, 1, 5000) < p**1.3).astype(int)
    bins = reliability_bins(y, p, n_bins=10)
    fraction, predicted = calibration_curve(y, p, n_bins=10, strategy="uniform")
    kept = [i for i, c in enumerate(bins["count"]) if c]
    assert [bins["fraction_positive"][i] for i in kept] == pytest.approx(fraction.tolist())
    assert [bins["mean_predicted"][i] for i in kept] == pytest.approx(predicted.tolist())
    assert sum(bins["count"]) == 5000
    rows = zip(bins["count"], bins["fraction_positive"], bins["mean_predicted"], strict=True)
    gap = sum(c * abs(f - m) for c, f, m in rows if c) / 5000
    assert gap == pytest.approx(expected_calibration_error(y, p, n_bins=10))


def test_the_result_is_strict_json_with_none_for_empty_bins() -> None:
    bins = reliability_bins(np.array([1]), np.array([0.5]), n_bins=4)
    assert json.loads(json.dumps(bins, allow_nan=False)) == bins
    assert bins["mean_predicted"] == [None, None, 0.5, None]


def test_an_empty_window_has_zero_counts_and_no_means() -> None:
    bins = reliability_bins(np.array([], dtype=int), np.array([]), n_bins=3)
    assert bins["count"] == [0, 0, 0]
    assert bins["mean_predicted"] == [None, None, None]


@pytest.mark.parametrize(
    ("y", "p", "n_bins", "error", "match"),
    [
        pytest.param([0, 0.3], [0.1, 0.2], 10, ValueError, "hard 0/1", id="soft-labels-belong-to-training-only"),
        pytest.param([0, 1], [0.1, 1.2], 10, ValueError, "in \\[0, 1\\]", id="probability-above-one"),
        pytest.param([0, 1], [0.1, np.nan], 10, ValueError, "finite", id="nan-probability"),
        pytest.param([0, 1], [0.1], 10, InsufficientDataError, "row-aligned", id="lengths-differ"),
        pytest.param([0, 1], [0.1, 0.2], 0, ValueError, "n_bins", id="no-bins"),
        pytest.param([0, 1], [0.1, 0.2], True, ValueError, "n_bins", id="bool-is-not-a-bin-count"),
    ],
)
def test_bad_input_is_refused_with_what_is_wrong(y: list, p: list, n_bins: int, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        reliability_bins(np.array(y), np.array(p), n_bins=n_bins)
