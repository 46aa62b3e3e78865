"""Trading metrics of the BUY signals taken on a test window, net of cost formula v3."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from cvn_assets.core.errors import CatalogueError, InsufficientDataError

TRADING_METRIC_NAMES: tuple[str, ...] = (
    "n_trades",
    "win_rate",
    "mean_return",
    "sortino",
    "max_drawdown",
    "expectancy_gross",
    "expectancy_net",
)

HOURS_PER_FUNDING_PERIOD = 8.0


@dataclass(frozen=True)
class CostModel:
    """Round-trip cost of one trade, as fractions of the notional (cost formula v3).

    cost = taker_fee + spread + slippage + funding_per_8h * hours_held / 8, where
    hours_held = exit offset in bars * bar_hours. `version` names the formula, not a setting.
    """

    taker_fee: float = 0.0010
    spread: float = 0.0005
    slippage: float = 0.0010
    funding_per_8h: float = 0.0001
    bar_hours: float = 1.0
    version: str = field(default="v3", init=False)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "version":
                continue
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise CatalogueError(f"cost model {f.name} must be a finite number, got {value!r}")
            if value < 0:
                raise CatalogueError(f"cost model {f.name} must be >= 0, got {value!r}")
        if self.bar_hours <= 0:
            raise CatalogueError(f"cost model bar_hours must be > 0, got {self.bar_hours!r}")

    def trade_cost(self, hours_held: float | np.ndarray) -> float | np.ndarray:
        """Cost of one trade held `hours_held` hours (scalar or array, each >= 0)."""
        hours = np.asarray(hours_held, dtype=np.float64)
        if not np.all(np.isfinite(hours) & (hours >= 0)):
            raise ValueError(f"hours_held must be finite and >= 0, got {hours_held!r}")
        fixed = self.taker_fee + self.spread + self.slippage
        cost = fixed + self.funding_per_8h * hours / HOURS_PER_FUNDING_PERIOD
        return float(cost) if cost.ndim == 0 else cost


def _check_rows(trade_returns: np.ndarray, exit_offsets: np.ndarray, taken: np.ndarray) -> None:
    if trade_returns.ndim != 1 or exit_offsets.ndim != 1 or taken.ndim != 1:
        raise ValueError(
            "trade_returns, exit_offsets and taken must be 1-D, got shapes "
            f"{trade_returns.shape}, {exit_offsets.shape}, {taken.shape}"
        )
    if not (len(trade_returns) == len(exit_offsets) == len(taken)):
        raise InsufficientDataError(
            f"trade_returns ({len(trade_returns)} rows), exit_offsets ({len(exit_offsets)}) and taken "
            f"({len(taken)}) must be row-aligned"
        )
    if taken.dtype != bool:
        raise ValueError(f"taken must be a boolean mask, got dtype {taken.dtype}")
    rows = np.flatnonzero(taken)
    bad = rows[~np.isfinite(trade_returns[rows])]
    if bad.size:
        raise ValueError(f"trade return at taken row {int(bad[0])} is {trade_returns[bad[0]]!r}; it must be finite")
    bad = rows[~(np.isfinite(exit_offsets[rows]) & (exit_offsets[rows] >= 0))]
    if bad.size:
        raise ValueError(
            f"exit offset at taken row {int(bad[0])} is {exit_offsets[bad[0]]!r}; it must be finite and >= 0"
        )


def max_drawdown(net_returns: np.ndarray) -> float:
    """Largest peak-to-trough drop of the cumulative sum of `net_returns`, starting from 0.

    Returned as a positive fraction; 0.0 when the curve never falls below its running peak.
    """
    equity = np.concatenate(([0.0], np.cumsum(net_returns)))
    return float(np.max(np.maximum.accumulate(equity) - equity))


def sortino_ratio(net_returns: np.ndarray) -> float:
    """Mean return over downside deviation sqrt(mean(min(r, 0)^2)) across all trades.

    NaN when no trade loses money: the downside deviation is 0 and the ratio is undefined.
    Written by hand because neither scipy nor scikit-learn offers it.
    """
    downside = math.sqrt(float(np.mean(np.minimum(net_returns, 0.0) ** 2)))
    if downside == 0.0:
        return math.nan
    return float(np.mean(net_returns)) / downside


def trading_metrics(
    trade_returns: np.ndarray,
    exit_offsets: np.ndarray,
    taken: np.ndarray,
    costs: CostModel = CostModel(),
) -> dict[str, float | int]:
    """Per-trade statistics of the taken rows (BUY signals) of a test window, in time order.

    `trade_returns` are gross returns of a trade entered at each row, `exit_offsets` the bars until
    its exit; rows not taken may hold NaN. With no trade, n_trades is 0 and every other statistic is
    NaN (there is nothing to measure; 0.0 would read as a real result).
    """
    returns = np.asarray(trade_returns, dtype=np.float64)
    offsets = np.asarray(exit_offsets, dtype=np.float64)
    mask = np.asarray(taken)
    _check_rows(returns, offsets, mask)
    gross = returns[mask]
    n_trades = int(gross.size)
    if n_trades == 0:
        return {name: (0 if name == "n_trades" else math.nan) for name in TRADING_METRIC_NAMES}
    cost = np.asarray(costs.trade_cost(offsets[mask] * costs.bar_hours))
    net = gross - cost
    expectancy_gross = float(np.mean(gross))
    return {
        "n_trades": n_trades,
        "win_rate": float(np.mean(net > 0)),
        "mean_return": float(np.mean(net)),
        "sortino": sortino_ratio(net),
        "max_drawdown": max_drawdown(net),
        "expectancy_gross": expectancy_gross,
        "expectancy_net": expectancy_gross - float(np.mean(cost)),
    }
