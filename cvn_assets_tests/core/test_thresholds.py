"""The canonical threshold sweep: obvious choices, the tie rule, eligibility, agreement with sklearn, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.thresholds import ThresholdChoice, ThresholdParams, sweep_threshold


def test_default_grid_runs_from_5_to_95_percent_in_steps_of_one() -> None:
    grid = ThresholdParams().grid()
    assert grid.size == 91
    assert grid[0] == 0.05 and grid[-1] == 0.95
    assert 0.3 in grid


def test_separable_case_picks_the_lowest_perfect_threshold() -> None:
    choice = sweep_threshold(np.array([0.1, 0.2, 0.3, 0.7, 0.8]), np.array([0, 0, 0, 1, 1]))
    assert choice == ThresholdChoice(threshold=0.31, f1_buy=1.0, n_signals=2)


def test_tie_between_distinct_signal_sets_goes_to_the_lowest_threshold() -> None:
    # All four rows as BUY: F1 = 2*2/(4+2) = 2/3; only the 0.8 row as BUY: F1 = 2*1/(1+2) = 2/3.
    choice = sweep_threshold(np.array([0.2, 0.3, 0.4, 0.8]), np.array([1, 0, 0, 1]))
    assert choice == ThresholdChoice(threshold=0.05, f1_buy=pytest.approx(2 / 3), n_signals=4)


def test_min_buy_signals_excludes_thresholds_with_too_few_signals() -> None:
    params = ThresholdParams(min_buy_signals=3)
    choice = sweep_threshold(np.array([0.1, 0.2, 0.3, 0.7, 0.8]), np.array([0, 0, 0, 1, 1]), params)
    assert choice == ThresholdChoice(threshold=0.21, f1_buy=pytest.approx(0.8), n_signals=3)


def test_signal_rule_counts_a_probability_equal_to_the_threshold_as_buy() -> None:
    single = ThresholdParams(grid_start=0.3, grid_stop=0.3)
    assert sweep_threshold(np.array([0.3, 0.1]), np.array([1, 0]), single).n_signals == 1


def test_choice_agrees_with_sklearn_f1_on_random_data() -> None:
    rng = np.random.default_rng(9)
    p = rng.random(3000)
    y = (rng.random(3000) < p**2).astype(int)
    choice = sweep_threshold(p, y)
    f1s = [f1_score(y, (p >= t).astype(int)) for t in ThresholdParams().grid()]
    assert choice.f1_buy == pytest.approx(max(f1s))
    assert choice.threshold == pytest.approx(ThresholdParams().grid()[int(np.argmax(f1s))])
    assert choice.n_signals == int(np.sum(p >= choice.threshold))


@pytest.mark.parametrize(
    ("p", "y", "error", "match"),
    [
        pytest.param([], [], InsufficientDataError, "needs validation rows", id="empty_validation_no_default"),
        pytest.param([0.2, 0.9], [0, 0], InsufficientDataError, "needs BUY labels", id="no_buy_labels"),
        pytest.param([0.2, 0.9], [0, 1, 1], InsufficientDataError, "row-aligned", id="length_mismatch"),
        pytest.param([0.01, 0.02], [0, 1], InsufficientDataError, "no threshold", id="no_grid_signal"),
        pytest.param([0.2, 0.9], [0.075, 0.85], ValueError, "hard 0/1", id="soft_labels"),
        pytest.param([0.2, np.nan], [0, 1], ValueError, "finite", id="nan_probability"),
    ],
)
def test_sweep_errors(p: list, y: list, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        sweep_threshold(np.array(p, dtype=float), np.array(y))


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"grid_step": 0.0}, id="zero_step"),
        pytest.param({"grid_start": 0.9, "grid_stop": 0.1}, id="start_after_stop"),
        pytest.param({"grid_stop": 1.5}, id="stop_above_one"),
        pytest.param({"min_buy_signals": 0}, id="zero_min_signals"),
        pytest.param({"min_buy_signals": True}, id="boolean_min_signals"),
        pytest.param({"grid_start": float("nan")}, id="nan_start"),
    ],
)
def test_threshold_params_guardrails(kwargs: dict[str, object]) -> None:
    with pytest.raises(CatalogueError):
        ThresholdParams(**kwargs)  # type: ignore[arg-type]
