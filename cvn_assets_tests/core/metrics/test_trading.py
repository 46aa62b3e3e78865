"""Trading metrics: cost formula v3 on hand numbers, statistics of hand-built trade sequences, compounding drawdown."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pytest

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.metrics import CostModel, Trades, equity_curve, max_drawdown, trading_metrics


def _trades(net: list[float], gross: list[float] | None = None) -> Trades:
    """Trades with the given returns (the bars and prices do not enter the statistics)."""
    n = len(net)
    bars = np.arange(n)
    return Trades(
        signal_bar=bars,
        entry_bar=bars + 1,
        exit_bar=bars + 1,
        entry_price=np.ones(n),
        exit_price=np.ones(n),
        bars_held=np.ones(n, dtype=int),
        gross=np.array(net if gross is None else gross, dtype=float),
        net=np.array(net, dtype=float),
    )


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
    m = trading_metrics(_trades([0.02, -0.01, 0.03, -0.02]))
    assert m["n_trades"] == 4
    assert m["win_rate"] == pytest.approx(0.5)
    assert m["mean_return"] == pytest.approx(0.005)
    # downside deviation sqrt((0.01^2 + 0.02^2) / 4) over all four trades
    assert m["sortino"] == pytest.approx(0.005 / math.sqrt(0.0005 / 4))
    # equity 1, 1.02, 1.0098, 1.040094, 1.01929212: worst fall is the last trade's 2 % of its peak
    assert m["max_drawdown"] == pytest.approx(0.02)


def test_drawdown_compounds_and_is_a_fraction_of_the_peak() -> None:
    # equity 1 -> 1.1 -> 0.88 -> 0.66 -> 0.99: the fall 1.1 -> 0.66 is 0.44 / 1.1 = 0.4 of the peak
    # (a running sum of the returns, 0.1 -> -0.35, would read 0.45)
    np.testing.assert_allclose(equity_curve(np.array([0.10, -0.20, -0.25, 0.50])), [1.0, 1.1, 0.88, 0.66, 0.99])
    assert max_drawdown(np.array([0.10, -0.20, -0.25, 0.50])) == pytest.approx(0.4)


def test_drawdown_counts_from_the_starting_equity() -> None:
    # 1 -> 0.99 -> 0.9702: 1 - 0.9702 = 0.0298 below the starting peak
    assert max_drawdown(np.array([-0.01, -0.02, 0.05])) == pytest.approx(0.0298)


def test_drawdown_depends_on_time_order() -> None:
    # 1 -> 1.05 -> 1.0395 -> 1.01871: 1 - 1.01871 / 1.05 = 0.0298
    assert max_drawdown(np.array([0.05, -0.01, -0.02])) == pytest.approx(0.0298)
    # 1 -> 0.99 -> 1.0395 -> 1.01871: the last trade's 2 % of the peak 1.0395
    assert max_drawdown(np.array([-0.01, 0.05, -0.02])) == pytest.approx(0.02)


def test_a_loss_beyond_the_stake_ruins_the_equity_and_stops_there() -> None:
    # a net return of -1.2 (costs on a near-total loss) leaves 0, not -0.2: the fall is the whole peak
    np.testing.assert_allclose(equity_curve(np.array([0.5, -1.2, 0.3])), [1.0, 1.5, 0.0, 0.0])
    assert max_drawdown(np.array([0.5, -1.2, 0.3])) == 1.0


@pytest.mark.parametrize("seed", range(200))
def test_drawdown_lies_in_zero_one_on_random_returns(seed: int) -> None:
    rng = np.random.default_rng(seed)
    net = rng.normal(0.0, rng.choice([0.01, 0.2, 0.8]), int(rng.integers(1, 400)))
    assert 0.0 <= max_drawdown(net) <= 1.0


def test_all_winning_trades_give_zero_drawdown_and_undefined_sortino() -> None:
    m = trading_metrics(_trades([0.01, 0.02]))
    assert m["win_rate"] == 1.0
    assert m["max_drawdown"] == 0.0
    assert math.isnan(m["sortino"])


def test_expectancies_are_the_mean_gross_and_net_returns() -> None:
    # a gross 0.002 win held 4 h costs 0.00255 (cost v3): a net loss
    cost = CostModel().trade_cost(4.0)
    m = trading_metrics(_trades([0.002 - cost, 0.01 - cost], gross=[0.002, 0.01]))
    assert m["expectancy_gross"] == pytest.approx(0.006)
    assert m["expectancy_net"] == pytest.approx(0.006 - 0.00255)
    assert m["expectancy_net"] == pytest.approx(m["mean_return"])
    assert m["win_rate"] == pytest.approx(0.5)


def test_no_trade_gives_nan_not_zero() -> None:
    m = trading_metrics(_trades([]))
    assert m["n_trades"] == 0 and type(m["n_trades"]) is int
    others = {k: v for k, v in m.items() if k != "n_trades"}
    assert others and all(math.isnan(v) for v in others.values())


def test_values_are_plain_python_numbers() -> None:
    m = trading_metrics(_trades([0.01, -0.02]))
    assert type(m["n_trades"]) is int
    assert all(type(v) is float for k, v in m.items() if k != "n_trades")
