"""Long trades taken one position at a time on BUY signals, bar by bar on OHLC prices.

A BUY signal at the close of bar s, while flat, opens a trade at the open of bar e = s + 1. Its stop
sits `stop_atr` ATRs below the entry open and its take-profit `take_atr` ATRs above it, with the ATR
known at the close of s (Wilder's, as the labels use). The levels hang from the entry open rather
than from the signal close because they are the bracket a trader places once filled: every trade
then risks `stop_atr` ATRs to make `take_atr` ATRs from its own fill, and an open that moved away
from the signal close cannot leave a level on the wrong side of the entry price.

The trade lives at most `horizon` bars, e .. e + horizon - 1, whose last close is the close of
s + horizon, the label's own vertical barrier. The bars are read in order:
- a bar after e that opens at or beyond a level exits at that open: a gap fills at the open, not at
  the level it jumped over;
- otherwise a bar whose low reaches the stop exits at the stop and one whose high reaches the
  take-profit exits there; a bar reaching both counts as the stop (the order within a bar is
  unknown, and the labels read it the same conservative way);
- a trade still open exits at the close of bar e + horizon - 1.
Bars held, on which funding is charged: horizon for the vertical exit, k - e for a gap exit at the
open of bar k, and k - e + 1 for a level touched inside bar k (the whole bar: when within it is
unknown). A signal at the close of bar s is a trade only when the position is flat by then, i.e.
s >= the previous trade's exit bar; a vertical exit and a new signal at the same close do not
overlap, since the new trade starts at the next open. A signal with fewer than `horizon` bars after
it is not a trade (it could not run its course; the labels leave those bars unlabeled too).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from cvn_assets.core.labels.barriers import CLOSE, HIGH, LOW, OPEN, BarrierParams, require_columns, wilder_atr
from cvn_assets.core.metrics.costs import CostModel

NO_EXIT = -1


@dataclass(frozen=True, eq=False)
class Trades:
    """Trades in time order: bar positions, fill prices, bars held and returns (net pays cost v3 once)."""

    signal_bar: np.ndarray
    entry_bar: np.ndarray
    exit_bar: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    bars_held: np.ndarray
    gross: np.ndarray
    net: np.ndarray

    def __len__(self) -> int:
        return int(self.gross.size)


@dataclass(frozen=True, eq=False)
class Candidates:
    """The trade each signal bar would open if the position were flat, row-aligned with those bars.

    Rows that cannot be traded (too close to the end of the prices) have exit bar NO_EXIT. Computing
    every candidate once lets many signal sets (e.g. one per threshold) be taken cheaply.
    """

    trades: Trades
    tradable: np.ndarray

    def __len__(self) -> int:
        return int(self.tradable.size)

    def take(self, signals: np.ndarray | None = None) -> Trades:
        """The trades one position at a time takes from the rows flagged in `signals` (all rows when None)."""
        flagged = self.tradable if signals is None else self.tradable & _row_mask(signals, len(self))
        rows = np.flatnonzero(flagged)
        bars = self.trades.signal_bar[rows]
        exits = self.trades.exit_bar
        chosen: list[int] = []
        position = 0
        # Trades are sequential: where the next one starts depends on where the previous one exited,
        # so this walks from trade to trade (one sorted search each), never bar by bar.
        while position < rows.size:
            row = int(rows[position])
            chosen.append(row)
            position = int(np.searchsorted(bars, exits[row], side="left"))
        return _subset(self.trades, np.asarray(chosen, dtype=np.int64))


@dataclass(frozen=True, eq=False)
class TradeSimulator:
    """The bars trades run on (row-aligned with the OHLCV and label frames), the barriers and cost v3."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    atr: np.ndarray
    barriers: BarrierParams = BarrierParams()
    costs: CostModel = CostModel()

    def __post_init__(self) -> None:
        arrays = {
            name: np.asarray(getattr(self, name), dtype=np.float64) for name in ("open", "high", "low", "close", "atr")
        }
        shapes = {name: a.shape for name, a in arrays.items()}
        if len(set(shapes.values())) != 1 or arrays["open"].ndim != 1:
            raise ValueError(f"trade simulation needs 1-D price and ATR arrays of one length, got shapes {shapes}")
        for name, array in arrays.items():
            object.__setattr__(self, name, array)

    @classmethod
    def from_ohlcv(
        cls, ohlcv: pd.DataFrame, barriers: BarrierParams = BarrierParams(), costs: CostModel = CostModel()
    ) -> TradeSimulator:
        """Simulator on an OHLCV frame, with the ATR of `barriers.atr_period` the labels are built with."""
        require_columns(ohlcv, (OPEN, HIGH, LOW, CLOSE), "trade simulation")
        prices = {name: ohlcv[name].to_numpy(dtype=np.float64) for name in (OPEN, HIGH, LOW, CLOSE)}
        return cls(**prices, atr=wilder_atr(ohlcv, barriers.atr_period).to_numpy(), barriers=barriers, costs=costs)

    def trades(self, signal_bars: np.ndarray) -> Trades:
        """The trades taken one at a time on BUY signals at `signal_bars` (ascending bar positions)."""
        return self.candidates(signal_bars).take()

    def candidates(self, signal_bars: np.ndarray) -> Candidates:
        """The trade each of `signal_bars` (ascending, unique positions) would open if flat.

        Vectorised over the bars, looping only over the `horizon` bars a trade can last.
        """
        bars = _signal_bars(signal_bars, self.open.size)
        horizon = self.barriers.horizon
        tradable = bars + horizon < self.open.size
        signal = bars[tradable]
        atr = self.atr[signal]
        bad = np.flatnonzero(~np.isfinite(atr))
        if bad.size:
            raise ValueError(
                f"ATR at signal bar {int(signal[bad[0]])} is undefined: signals must come after the "
                f"ATR warm-up of labels.atr_period={self.barriers.atr_period} bars"
            )
        entry = signal + 1
        entry_price = self.open[entry]
        stop = entry_price - self.barriers.stop_atr * atr
        take = entry_price + self.barriers.take_atr * atr
        exit_bar = np.full(signal.size, NO_EXIT, dtype=np.int64)
        exit_price = np.full(signal.size, np.nan)
        held = np.zeros(signal.size, dtype=np.int64)

        def close_out(rows: np.ndarray, bar: np.ndarray, price: np.ndarray, bars_held: int) -> None:
            exit_bar[rows], exit_price[rows], held[rows] = bar[rows], price[rows], bars_held

        for offset in range(horizon):
            bar = entry + offset
            if offset > 0:
                opening = self.open[bar]
                gapped = (exit_bar == NO_EXIT) & ((opening <= stop) | (opening >= take))
                close_out(gapped, bar, opening, offset)
            live = exit_bar == NO_EXIT
            stopped = live & (self.low[bar] <= stop)
            took = live & ~stopped & (self.high[bar] >= take)
            close_out(stopped, bar, stop, offset + 1)
            close_out(took, bar, take, offset + 1)
        last = entry + horizon - 1
        close_out(exit_bar == NO_EXIT, last, self.close[last], horizon)

        gross = exit_price / entry_price - 1.0
        net = gross - np.asarray(self.costs.trade_cost(held * self.costs.bar_hours))
        columns = {
            "entry_bar": entry,
            "exit_bar": exit_bar,
            "entry_price": entry_price,
            "exit_price": exit_price,
            "bars_held": held,
            "gross": gross,
            "net": net,
        }
        aligned = {name: _spread(values, tradable) for name, values in columns.items()}
        return Candidates(Trades(signal_bar=bars, **aligned), tradable)


def _signal_bars(signal_bars: np.ndarray, n_bars: int) -> np.ndarray:
    bars = np.asarray(signal_bars)
    if bars.ndim != 1 or (bars.size and not np.issubdtype(bars.dtype, np.integer)):
        raise ValueError(
            f"signal bars must be a 1-D array of integer positions, got {bars.dtype} of shape {bars.shape}"
        )
    bars = bars.astype(np.int64)
    if bars.size and (bars[0] < 0 or bars[-1] >= n_bars):
        raise ValueError(f"signal bars must lie in [0, {n_bars}), got {int(bars.min())}..{int(bars.max())}")
    if np.any(np.diff(bars) <= 0):
        raise ValueError("signal bars must be strictly ascending (in time order, each bar once)")
    return bars


def _row_mask(signals: np.ndarray, n_rows: int) -> np.ndarray:
    mask = np.asarray(signals)
    if mask.dtype != bool or mask.shape != (n_rows,):
        raise ValueError(
            f"signals must be a boolean mask over the {n_rows} candidate rows, got {mask.dtype} of shape {mask.shape}"
        )
    return mask


def _spread(values: np.ndarray, tradable: np.ndarray) -> np.ndarray:
    """`values` of the tradable rows placed back among all rows (NO_EXIT / NaN elsewhere)."""
    filler = NO_EXIT if np.issubdtype(values.dtype, np.integer) else np.nan
    out = np.full(tradable.size, filler, dtype=values.dtype)
    out[tradable] = values
    return out


def _subset(trades: Trades, rows: np.ndarray) -> Trades:
    return Trades(**{f.name: getattr(trades, f.name)[rows] for f in fields(Trades)})
