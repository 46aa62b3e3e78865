"""Trading metrics of the trades a fold's BUY signals take (see `trades`), net of cost formula v3."""

from __future__ import annotations

import math

import numpy as np

from cvn_assets.core.metrics.costs import CostModel
from cvn_assets.core.metrics.trades import Trades

__all__ = ["TRADING_METRIC_NAMES", "CostModel", "equity_curve", "max_drawdown", "sortino_ratio", "trading_metrics"]

TRADING_METRIC_NAMES: tuple[str, ...] = (
    "n_trades",
    "win_rate",
    "mean_return",
    "sortino",
    "max_drawdown",
    "expectancy_gross",
    "expectancy_net",
)

STARTING_EQUITY = 1.0


def equity_curve(net_returns: np.ndarray) -> np.ndarray:
    """Equity compounded trade after trade from 1.0, the starting value included.

    A trade cannot lose more than the equity staked on it: a net return below -1 (costs on a
    near-total loss) leaves the equity at 0, where it stays.
    """
    growth = np.maximum(1.0 + np.asarray(net_returns, dtype=np.float64), 0.0)
    return np.concatenate(([STARTING_EQUITY], STARTING_EQUITY * np.cumprod(growth)))


def max_drawdown(net_returns: np.ndarray) -> float:
    """Largest peak-to-trough fall of the compounded equity curve, as a fraction of the peak, in [0, 1].

    0.0 when the equity never falls below its running peak (the start counts as a peak).
    """
    equity = equity_curve(net_returns)
    peak = np.maximum.accumulate(equity)
    return float(np.max((peak - equity) / peak))


def sortino_ratio(net_returns: np.ndarray) -> float:
    """Per-trade Sortino ratio, not annualised: mean net return over sqrt(mean(min(r, 0)^2)).

    Target return 0, the downside deviation taken over all trades. NaN when no trade loses money:
    the downside deviation is 0 and the ratio is undefined. Written by hand because neither scipy
    nor scikit-learn offers it.
    """
    downside = math.sqrt(float(np.mean(np.minimum(net_returns, 0.0) ** 2)))
    if downside == 0.0:
        return math.nan
    return float(np.mean(net_returns)) / downside


def trading_metrics(trades: Trades) -> dict[str, float | int]:
    """Statistics of the trades taken in one window, in time order.

    win_rate is the share of trades with a positive net return; mean_return and expectancy_net
    are the mean net return per trade, expectancy_gross the mean before costs; sortino is per
    trade (not annualised); max_drawdown is on the equity compounded over the trades. With no trade,
    n_trades is 0 and every other statistic is NaN (there is nothing to measure; 0.0 would read
    as a real result).
    """
    n_trades = len(trades)
    if n_trades == 0:
        return {name: (0 if name == "n_trades" else math.nan) for name in TRADING_METRIC_NAMES}
    net, gross = trades.net, trades.gross
    return {
        "n_trades": n_trades,
        "win_rate": float(np.mean(net > 0)),
        "mean_return": float(np.mean(net)),
        "sortino": sortino_ratio(net),
        "max_drawdown": max_drawdown(net),
        "expectancy_gross": float(np.mean(gross)),
        "expectancy_net": float(np.mean(net)),
    }
