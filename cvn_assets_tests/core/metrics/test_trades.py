"""One position at a time: a hand-built price path traded by hand, and a bar-by-bar reference on random paths."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.labels.barriers import BarrierParams
from cvn_assets.core.metrics import CostModel, TradeSimulator, trading_metrics

# Stop 1 ATR below the entry open, take-profit 2 ATR above, 3 bars at most; ATR = 1 on every bar.
BARRIERS = BarrierParams(stop_atr=1.0, take_atr=2.0, horizon=3)
# 0.10 % per round trip plus funding 0.08 % per 8 h, i.e. 0.01 % per hour held (1-hour bars).
COSTS = CostModel(taker_fee=0.001, spread=0.0, slippage=0.0, funding_per_8h=0.0008)

# bar: open, high, low, close
HAND_BARS = np.array(
    [
        [100.0, 100.5, 99.5, 100.0],  # 0  signal: trade A
        [100.0, 101.0, 99.5, 100.5],  # 1  A enters at 100 (stop 99, take 102); signal inside A: not a trade
        [98.5, 99.5, 98.0, 99.9],  # 2  A: opens at 98.5, through its stop: exits at the open; signal: trade B
        [100.0, 101.0, 99.2, 100.8],  # 3  B enters at 100 (stop 99, take 102); signal inside B: not a trade
        [102.5, 103.0, 102.0, 102.8],  # 4  B: opens at 102.5, through its take-profit: exits at the open
        [102.8, 103.0, 100.0, 100.0],  # 5  signal: trade C
        [100.0, 102.5, 98.5, 100.0],  # 6  C enters at 100 and touches both levels in this bar: the stop, 99
        [100.0, 100.5, 99.5, 100.0],  # 7  signal: trade D
        [100.0, 101.0, 99.5, 100.5],  # 8  D enters at 100 (stop 99, take 102)
        [100.5, 101.5, 99.6, 101.0],  # 9  D
        [101.0, 101.8, 100.2, 101.0],  # 10 D exits at the close of its 3rd bar, 101; signal at that close: trade E
        [100.0, 101.0, 99.5, 100.5],  # 11 E enters at 100 (stop 99, take 102; from the close, 101: stop 100, hit here)
        [100.5, 102.2, 100.0, 102.0],  # 12 E touches its take-profit, 102
        [102.0, 102.5, 101.5, 102.0],  # 13 signal with 1 bar after it (< horizon 3): not a trade
        [102.0, 102.5, 101.5, 102.0],  # 14
    ]
)
HAND_SIGNALS = np.array([0, 1, 2, 3, 5, 7, 10, 13])


def _hand_simulator() -> TradeSimulator:
    o, h, low, c = HAND_BARS.T
    return TradeSimulator(o, h, low, c, np.ones(len(HAND_BARS)), BARRIERS, COSTS)


def test_hand_path_trades() -> None:
    trades = _hand_simulator().trades(HAND_SIGNALS)
    assert trades.signal_bar.tolist() == [0, 2, 5, 7, 10]
    assert trades.entry_bar.tolist() == [1, 3, 6, 8, 11]
    assert trades.exit_bar.tolist() == [2, 4, 6, 10, 12]
    assert trades.exit_price.tolist() == [98.5, 102.5, 99.0, 101.0, 102.0]
    # gap exits hold the bars before the gap (1), touches the whole touching bar, the vertical exit 3
    assert trades.bars_held.tolist() == [1, 1, 1, 3, 2]
    np.testing.assert_allclose(
        trades.gross,
        [
            -0.015,  # 98.5 / 100 - 1
            0.025,  # 102.5 / 100 - 1
            -0.010,  # 99 / 100 - 1
            0.010,  # 101 / 100 - 1
            0.020,  # 102 / 100 - 1
        ],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        trades.net,
        [
            -0.0161,  # -0.015 - (0.001 + 0.0001 * 1)
            0.0239,  # 0.025 - 0.0011
            -0.0111,  # -0.010 - 0.0011
            0.0087,  # 0.010 - (0.001 + 0.0001 * 3)
            0.0188,  # 0.020 - (0.001 + 0.0001 * 2)
        ],
        rtol=1e-12,
    )


def test_hand_path_metrics() -> None:
    m = trading_metrics(_hand_simulator().trades(HAND_SIGNALS))
    assert m["n_trades"] == 5
    assert m["win_rate"] == pytest.approx(3 / 5)
    assert m["expectancy_gross"] == pytest.approx(0.006)  # 0.03 / 5
    assert m["expectancy_net"] == pytest.approx(0.00484)  # 0.0242 / 5 = 0.006 - mean cost 0.00116
    assert m["mean_return"] == pytest.approx(0.00484)
    # downside deviation over all five trades: sqrt((0.0161^2 + 0.0111^2) / 5)
    assert m["sortino"] == pytest.approx(0.00484 / math.sqrt((0.0161**2 + 0.0111**2) / 5))
    # equity 1 -> 0.9839 -> 1.00741521 -> 0.996232901169 -> 1.004900127... -> 1.023792...: the deepest fall is
    # the first trade's, 0.0161 below the starting peak (the third trade falls 0.0111 below 1.00741521)
    assert m["max_drawdown"] == pytest.approx(0.0161)


def test_funding_counts_hours_held_from_bar_hours() -> None:
    o, h, low, c = HAND_BARS.T
    four_hour_bars = CostModel(taker_fee=0.001, spread=0.0, slippage=0.0, funding_per_8h=0.0008, bar_hours=4.0)
    trade_d = TradeSimulator(o, h, low, c, np.ones(len(HAND_BARS)), BARRIERS, four_hour_bars).trades(np.array([7]))
    # 3 bars of 4 h: 0.010 - (0.001 + 0.0001 * 12)
    assert trade_d.net.tolist() == pytest.approx([0.0078])


def test_no_signal_no_trade() -> None:
    m = trading_metrics(_hand_simulator().trades(np.array([], dtype=int)))
    assert m["n_trades"] == 0
    assert all(math.isnan(v) for k, v in m.items() if k != "n_trades")


def test_from_ohlcv_uses_the_barriers_atr_period() -> None:
    o, h, low, c = HAND_BARS.T
    frame = pd.DataFrame({"open": o, "high": h, "low": low, "close": c})
    simulator = TradeSimulator.from_ohlcv(frame, BarrierParams(atr_period=1), COSTS)
    # period 1: the ATR of bar t >= 1 is its true range; bar 2: max(99.5 - 98, |99.5 - 100.5|, |98 - 100.5|)
    assert simulator.atr[2] == pytest.approx(2.5)
    assert math.isnan(simulator.atr[0])


@pytest.mark.parametrize(
    ("signals", "match"),
    [
        pytest.param([3, 1], "strictly ascending", id="unsorted"),
        pytest.param([2, 2], "strictly ascending", id="repeated"),
        pytest.param([15], r"\[0, 15\)", id="past_the_last_bar"),
        pytest.param([0.5], "integer positions", id="not_positions"),
    ],
)
def test_bad_signal_bars(signals: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _hand_simulator().trades(np.array(signals))


def test_a_signal_in_the_atr_warm_up_names_the_setting() -> None:
    o, h, low, c = HAND_BARS.T
    atr = np.r_[np.nan, np.ones(len(HAND_BARS) - 1)]
    with pytest.raises(ValueError, match="signal bar 0.*labels.atr_period"):
        TradeSimulator(o, h, low, c, atr, BARRIERS, COSTS).trades(np.array([0, 5]))


def _random_path(rng: np.random.Generator, n: int) -> np.ndarray:
    """Candles with gaps between bars (open != previous close) and occasional violent moves."""
    scale = rng.choice([0.005, 0.05, 0.4])
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, scale, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0.0, scale / 2, n))
    wick = np.abs(rng.normal(0.0, scale, (2, n)))
    return np.column_stack(
        [open_, np.maximum(open_, close) * np.exp(wick[0]), np.minimum(open_, close) * np.exp(-wick[1]), close]
    )


def _reference(bars: np.ndarray, atr: np.ndarray, signals: np.ndarray, params: BarrierParams) -> list[tuple]:
    """Bar-by-bar scalar walk of the rules: (signal, exit bar, exit price, bars held) per trade."""
    o, h, low, c = bars.T
    out, busy_until = [], -1
    for s in signals:
        if s < busy_until or s + params.horizon >= len(bars):
            continue
        e = s + 1
        stop, take = o[e] - params.stop_atr * atr[s], o[e] + params.take_atr * atr[s]
        exit_ = None
        for k in range(e, e + params.horizon):
            if k > e and o[k] <= stop or k > e and o[k] >= take:
                exit_ = (k, o[k], k - e)
            elif low[k] <= stop:
                exit_ = (k, stop, k - e + 1)
            elif h[k] >= take:
                exit_ = (k, take, k - e + 1)
            if exit_:
                break
        exit_ = exit_ or (e + params.horizon - 1, c[e + params.horizon - 1], params.horizon)
        out.append((int(s), *exit_))
        busy_until = exit_[0]
    return out


@pytest.mark.parametrize("seed", range(60))
def test_random_paths_match_the_bar_by_bar_rules(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 300))
    bars = _random_path(rng, n)
    atr = np.abs(rng.normal(0.0, 2.0, n))
    params = BarrierParams(
        stop_atr=float(rng.uniform(0.2, 2)), take_atr=float(rng.uniform(0.2, 3)), horizon=int(rng.integers(1, 8))
    )
    signals = np.flatnonzero(rng.uniform(size=n) < rng.uniform(0.05, 0.9))
    trades = TradeSimulator(*bars.T, atr, params, COSTS).trades(signals)
    expected = _reference(bars, atr, signals, params)
    assert len(trades) == len(expected)
    got = list(
        zip(
            trades.signal_bar.tolist(),
            trades.exit_bar.tolist(),
            trades.exit_price.tolist(),
            trades.bars_held.tolist(),
            strict=True,
        )
    )
    assert got == expected
    assert len(trades) <= signals.size
    inside = [s for s in signals for t in expected if t[0] < s < t[1]]
    if inside:
        assert len(trades) < signals.size
    drawdown = trading_metrics(trades)["max_drawdown"]
    assert len(trades) == 0 or 0.0 <= drawdown <= 1.0
