"""The canonical threshold sweep: obvious choices, the tie rule, eligibility, agreement with sklearn, errors,
and the expectancy_net objective on a hand-worked set of validation trades."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from cvn_assets.core.catalogue.pipeline_params import build_pipeline_params
from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.labels.barriers import BarrierParams
from cvn_assets.core.metrics import CostModel, TradeSimulator
from cvn_assets.core.training.thresholds import ThresholdChoice, ThresholdParams, sweep_threshold


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
        pytest.param({"objective": "sharpe"}, id="unknown_objective"),
        pytest.param({"min_trades": 0}, id="zero_min_trades"),
    ],
)
def test_threshold_params_guardrails(kwargs: dict[str, object]) -> None:
    with pytest.raises(CatalogueError):
        ThresholdParams(**kwargs)  # type: ignore[arg-type]


# Validation rows at bars 0, 2, 4, 6 with these probabilities and labels; 1-bar trades (horizon 1) from an
# entry open of 100 with stop 99 and take-profit 101 (ATR 1), free of costs, so each row's trade is:
# bar 0 -> +1 % (bar 1 reaches 101), bar 2 -> -1 % (bar 3 reaches 99), bar 4 -> +0.5 % (bar 5 closes at
# 100.5), bar 6 -> -1 % (bar 7 reaches 99).
P_VAL = np.array([0.9, 0.7, 0.5, 0.3])
Y_VAL = np.array([1, 1, 0, 1])
GRID = ThresholdParams(grid_start=0.1, grid_stop=0.9, grid_step=0.1)


def _validation_trades() -> TradeSimulator:
    o = np.full(8, 100.0)
    h = np.array([100, 101, 100, 100, 100, 100.6, 100, 100])
    low = np.array([100, 100, 100, 99, 100, 100, 100, 99])
    c = np.array([100, 100, 100, 100, 100, 100.5, 100, 100])
    free = CostModel(taker_fee=0.0, spread=0.0, slippage=0.0, funding_per_8h=0.0)
    return TradeSimulator(o, h, low, c, np.ones(8), BarrierParams(stop_atr=1.0, take_atr=1.0, horizon=1), free)


def test_f1_and_expectancy_net_objectives_pick_different_thresholds() -> None:
    trades = _validation_trades().candidates(np.array([0, 2, 4, 6]))
    # F1 of BUY (3 BUY labels): t <= 0.3 signals all four, 2*3/(4+3) = 0.857, the best; t in (0.3, 0.5]
    # gives 4/6, (0.5, 0.7] gives 4/5, (0.7, 0.9] gives 2/4.
    assert sweep_threshold(P_VAL, Y_VAL, GRID, trades=trades).threshold == pytest.approx(0.1)
    # mean net return: t <= 0.3 (+1 - 1 + 0.5 - 1) / 4 % = -0.125 %; (0.3, 0.5] +0.5/3 %; (0.5, 0.7] 0;
    # (0.7, 0.9] +1 % from one trade: the lowest grid threshold there is 0.8.
    params = ThresholdParams(grid_start=0.1, grid_stop=0.9, grid_step=0.1, objective="expectancy_net", min_trades=1)
    choice = sweep_threshold(P_VAL, Y_VAL, params, trades=trades)
    assert (choice.threshold, choice.n_trades, choice.n_signals) == (pytest.approx(0.8), 1, 1)
    assert choice.expectancy_net == pytest.approx(0.01)
    assert choice.f1_buy == pytest.approx(0.5)


def test_expectancy_net_objective_needs_min_trades() -> None:
    trades = _validation_trades().candidates(np.array([0, 2, 4, 6]))
    # with at least 2 trades the best is (0.3, 0.5], +0.5/3 %, first reached at 0.4
    params = ThresholdParams(grid_start=0.1, grid_stop=0.9, grid_step=0.1, objective="expectancy_net", min_trades=2)
    choice = sweep_threshold(P_VAL, Y_VAL, params, trades=trades)
    assert choice.threshold == pytest.approx(0.4)
    assert choice.expectancy_net == pytest.approx(0.005 / 3)
    too_many = ThresholdParams(grid_start=0.1, grid_stop=0.9, grid_step=0.1, objective="expectancy_net", min_trades=5)
    with pytest.raises(InsufficientDataError, match=r"threshold.min_trades=5 trades .*\(most: 4\)"):
        sweep_threshold(P_VAL, Y_VAL, too_many, trades=trades)


def test_expectancy_net_objective_counts_trades_one_position_at_a_time() -> None:
    # horizon 2 on flat prices: every trade holds 2 bars, so signals at bars 0, 1, 2, 3 take trades at 0 and 2
    flat = np.full(6, 100.0)
    simulator = TradeSimulator(flat, flat, flat, flat, np.ones(6), BarrierParams(horizon=2))
    params = ThresholdParams(objective="expectancy_net", min_trades=1)
    choice = sweep_threshold(np.full(4, 0.6), np.array([1, 0, 1, 0]), params, trades=simulator.candidates(np.arange(4)))
    assert (choice.n_signals, choice.n_trades) == (4, 2)


def test_expectancy_net_objective_without_trades_names_the_setting() -> None:
    with pytest.raises(InsufficientDataError, match="threshold objective expectancy_net needs"):
        sweep_threshold(P_VAL, Y_VAL, ThresholdParams(objective="expectancy_net"))


def test_the_f1_objective_leaves_the_choice_unchanged_by_trades() -> None:
    trades = _validation_trades().candidates(np.array([0, 2, 4, 6]))
    assert sweep_threshold(P_VAL, Y_VAL, GRID, trades=trades) == sweep_threshold(P_VAL, Y_VAL, GRID)


def test_catalogue_threshold_section_sets_the_objective() -> None:
    params = build_pipeline_params({"threshold": {"objective": "expectancy_net", "min_trades": 50}})
    assert (params.threshold.objective, params.threshold.min_trades) == ("expectancy_net", 50)
    assert build_pipeline_params({}).threshold.objective == "f1"
    with pytest.raises(CatalogueError, match=r"^catalogue section `threshold`: unknown threshold objective 'sharpe'"):
        build_pipeline_params({"threshold": {"objective": "sharpe"}})
