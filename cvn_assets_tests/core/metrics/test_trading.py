"""Trading metrics: cost formula v3 on hand numbers, hand-built trade sequences, the no-trade case, errors."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pytest

from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.metrics import CostModel, trading_metrics

FREE = CostModel(taker_fee=0.0, spread=0.0, slippage=0.0, funding_per_8h=0.0)


def _all_taken(returns: list[float], offset: int = 1, costs: CostModel = FREE) -> dict[str, float | int]:
    r = np.array(returns, dtype=float)
    return trading_metrics(r, np.full(r.size, offset), np.ones(r.size, dtype=bool), costs)


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        pytest.param(4.0, 0.0025 + 0.0001 * 0.5, id="four_hours_is_half_a_funding_period"),
        pytest.param(8.0, 0.0025 + 0.0001, id="one_funding_period"),
        pytest.param(0.0, 0.0025, id="fees_spread_slippage_only"),
    ],
)
def test_trade_cost_v3_on_hand_numbers(hours: float, expected: float) -> None:
    assert CostModel().trade_cost(hours) == pytest.approx(expected)


def test_trade_cost_is_vectorised() -> None:
    np.testing.assert_allclose(CostModel().trade_cost(np.array([0.0, 8.0])), [0.0025, 0.0026])


def test_cost_model_names_its_formula_version() -> None:
    assert CostModel().version == "v3"
    assert asdict(CostModel())["version"] == "v3"
    with pytest.raises(TypeError):
        CostModel(version="v4")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"taker_fee": -0.001}, id="negative_fee"),
        pytest.param({"slippage": math.nan}, id="nan_slippage"),
        pytest.param({"bar_hours": 0.0}, id="zero_bar_hours"),
        pytest.param({"spread": "5bps"}, id="not_a_number"),
    ],
)
def test_cost_model_rejects_bad_parameters(kwargs: dict[str, object]) -> None:
    with pytest.raises(CatalogueError, match="cost model"):
        CostModel(**kwargs)  # type: ignore[arg-type]


def test_trade_cost_rejects_negative_hours() -> None:
    with pytest.raises(ValueError, match="hours_held"):
        CostModel().trade_cost(-1.0)


def test_hand_sequence_with_a_mid_run_drawdown() -> None:
    m = _all_taken([0.02, -0.01, 0.03, -0.02])
    assert m["n_trades"] == 4
    assert m["win_rate"] == pytest.approx(0.5)
    assert m["mean_return"] == pytest.approx(0.005)
    # downside deviation sqrt((0.01^2 + 0.02^2) / 4) over all four trades
    assert m["sortino"] == pytest.approx(0.005 / math.sqrt(0.0005 / 4))
    # equity 0, .02, .01, .04, .02: worst drop is .04 -> .02
    assert m["max_drawdown"] == pytest.approx(0.02)


def test_drawdown_counts_from_the_starting_zero() -> None:
    assert _all_taken([-0.01, -0.02, 0.05])["max_drawdown"] == pytest.approx(0.03)


def test_drawdown_depends_on_time_order() -> None:
    assert _all_taken([0.05, -0.01, -0.02])["max_drawdown"] == pytest.approx(0.03)
    assert _all_taken([-0.01, 0.05, -0.02])["max_drawdown"] == pytest.approx(0.02)


def test_all_winning_trades_give_zero_drawdown_and_undefined_sortino() -> None:
    m = _all_taken([0.01, 0.02])
    assert m["win_rate"] == 1.0
    assert m["max_drawdown"] == 0.0
    assert math.isnan(m["sortino"])


def test_costs_turn_a_small_gross_win_into_a_net_loss() -> None:
    # 4 bars of 1 h: cost 0.00255; a gross 0.002 win is a net loss.
    m = _all_taken([0.002, 0.01], offset=4, costs=CostModel())
    assert m["expectancy_gross"] == pytest.approx(0.006)
    assert m["expectancy_net"] == pytest.approx(0.006 - 0.00255)
    assert m["expectancy_net"] == pytest.approx(m["mean_return"])
    assert m["win_rate"] == pytest.approx(0.5)


def test_hours_held_uses_bar_hours() -> None:
    four_hour_bars = CostModel(bar_hours=4.0)
    m = _all_taken([0.01], offset=2, costs=four_hour_bars)
    assert m["expectancy_net"] == pytest.approx(0.01 - (0.0025 + 0.0001 * 8 / 8))


def test_only_taken_rows_count_and_untaken_rows_may_be_nan() -> None:
    returns = np.array([0.03, np.nan, -0.01, 0.5])
    taken = np.array([True, False, True, False])
    m = trading_metrics(returns, np.array([1, 1, 1, 1]), taken, FREE)
    assert m["n_trades"] == 2
    assert m["expectancy_gross"] == pytest.approx(0.01)


def test_no_trade_gives_nan_not_zero() -> None:
    m = trading_metrics(np.array([0.01, 0.02]), np.array([1, 1]), np.zeros(2, dtype=bool))
    assert m["n_trades"] == 0 and type(m["n_trades"]) is int
    others = {k: v for k, v in m.items() if k != "n_trades"}
    assert others and all(math.isnan(v) for v in others.values())


def test_values_are_plain_python_numbers() -> None:
    m = _all_taken([0.01, -0.02], costs=CostModel())
    assert type(m["n_trades"]) is int
    assert all(type(v) is float for k, v in m.items() if k != "n_trades")


@pytest.mark.parametrize(
    ("returns", "offsets", "taken", "error", "match"),
    [
        pytest.param([0.01, 0.02], [1], [True, True], InsufficientDataError, "row-aligned", id="misaligned"),
        pytest.param([0.01], [1], [1], ValueError, "boolean mask", id="integer_mask"),
        pytest.param([0.01, np.nan], [1, 1], [True, True], ValueError, "taken row 1", id="nan_return_on_a_trade"),
        pytest.param([0.01], [-1], [True], ValueError, "exit offset at taken row 0", id="negative_exit_offset"),
    ],
)
def test_trading_metrics_errors(returns: list, offsets: list, taken: list, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        trading_metrics(np.array(returns, dtype=float), np.array(offsets), np.array(taken))
