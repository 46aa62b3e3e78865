"""Triple-barrier labels (López de Prado, AFML ch. 3) and Wilder's ATR on the canonical OHLCV frame.

A long trade is entered at the close of bar t. Its stop-loss sits ``stop_atr`` ATRs below the close,
its take-profit ``take_atr`` ATRs above, and its vertical barrier ``horizon`` bars later. The label
is BUY (1.0) when the take-profit is touched first and HOLD (0.0) otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import numpy.typing as npt
import pandas as pd

from cvn_assets.core.errors import CatalogueError, OhlcvValidationError
from cvn_assets.core.schema import OHLCV_COLUMNS

TIMESTAMP, OPEN, HIGH, LOW, CLOSE, VOLUME = OHLCV_COLUMNS

LABEL = "label"
OUTCOME = "outcome"
EXIT_OFFSET = "exit_offset"
TRADE_RETURN = "trade_return"
ATR = "atr"
LABEL_COLUMNS: tuple[str, ...] = (TIMESTAMP, LABEL, OUTCOME, EXIT_OFFSET, TRADE_RETURN, ATR)

OUTCOME_TAKE = "take"
OUTCOME_STOP = "stop"
OUTCOME_VERTICAL = "vertical"

BUY = 1.0
HOLD = 0.0


@dataclass(frozen=True)
class BarrierParams:
    """Barrier geometry of the triple-barrier strategy; the defaults are strategy ATR0.5_1.5_H4.

    ``stop_atr`` and ``take_atr`` are the stop-loss and take-profit distances from the entry close in
    ATRs, ``horizon`` the vertical barrier in bars and ``atr_period`` the Wilder ATR period.
    """

    stop_atr: float = 0.5
    take_atr: float = 1.5
    horizon: int = 4
    atr_period: int = 14

    def __post_init__(self) -> None:
        for name in ("stop_atr", "take_atr"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
                raise CatalogueError(f"barrier parameter {name} must be a positive finite number, got {value!r}")
        for name in ("horizon", "atr_period"):
            value = getattr(self, name)
            if not is_positive_int(value):
                raise CatalogueError(f"barrier parameter {name} must be an integer >= 1, got {value!r}")

    @property
    def name(self) -> str:
        """Strategy name, e.g. ``ATR0.5_1.5_H4``."""
        return f"ATR{self.stop_atr:g}_{self.take_atr:g}_H{self.horizon}"


def is_positive_int(value: object) -> bool:
    """True for an integer (not a bool) >= 1."""
    return isinstance(value, Integral) and not isinstance(value, bool) and int(value) >= 1


def require_columns(ohlcv: pd.DataFrame, columns: tuple[str, ...], consumer: str) -> None:
    """Raise ``OhlcvValidationError`` when ``ohlcv`` lacks any of ``columns`` needed by ``consumer``."""
    missing = [column for column in columns if column not in ohlcv.columns]
    if missing:
        crypto = str(ohlcv.attrs.get("crypto", "unnamed frame"))
        raise OhlcvValidationError(crypto, None, f"{consumer} needs columns {missing}, found {list(ohlcv.columns)}")


def true_range(ohlcv: pd.DataFrame) -> pd.Series:
    """True range max(high - low, |high - prev close|, |low - prev close|); NaN on the first bar.

    The first bar has no previous close, so its true range is undefined (the TA-Lib convention)
    rather than silently reduced to high - low.
    """
    require_columns(ohlcv, (HIGH, LOW, CLOSE), "true_range")
    high = ohlcv[HIGH].to_numpy(dtype=np.float64)
    low = ohlcv[LOW].to_numpy(dtype=np.float64)
    prev_close = ohlcv[CLOSE].shift(1).to_numpy(dtype=np.float64)
    spans = np.maximum(high - low, np.maximum(np.abs(high - prev_close), np.abs(low - prev_close)))
    return pd.Series(spans, index=ohlcv.index, name="true_range")


def wilder_atr(ohlcv: pd.DataFrame, period: int) -> pd.Series:
    """Wilder's average true range: the mean of the first ``period`` true ranges, then
    ATR_t = (ATR_{t-1}·(period - 1) + TR_t) / period. NaN until the first value is defined (row ``period``).
    """
    if not is_positive_int(period):
        raise CatalogueError(f"atr_period must be an integer >= 1, got {period!r}")
    ranges = true_range(ohlcv).to_numpy()
    seeded = np.full(ranges.shape, np.nan)
    if ranges.size > period:
        seeded[period] = ranges[1 : period + 1].mean()
        seeded[period + 1 :] = ranges[period + 1 :]
    # Wilder's recursion is an exponential mean with alpha = 1/period started at the seed value;
    # pandas' adjust=False form computes exactly that recursion in compiled code.
    atr = pd.Series(seeded, index=ohlcv.index).ewm(alpha=1.0 / period, adjust=False).mean()
    return atr.rename(ATR)


def triple_barrier_labels(ohlcv: pd.DataFrame, params: BarrierParams = BarrierParams()) -> pd.DataFrame:
    """Label every bar of ``ohlcv`` with the triple-barrier rule of ``params``.

    Returns one row per input bar with columns ``timestamp``, ``label`` (1.0 BUY, 0.0 HOLD, NaN
    unlabeled), ``outcome`` ("take", "stop", "vertical" or None), ``exit_offset`` (bars to exit,
    1..horizon), ``trade_return`` (return of the long trade entered at the close) and ``atr``.
    Bars t+1..t+horizon are scanned in order with their high and low; a bar that touches both
    barriers counts as a stop, since the intrabar order is unknown and the conservative reading
    must not invent BUY labels. The last ``horizon`` bars and the ATR warm-up bars are unlabeled.
    """
    require_columns(ohlcv, (TIMESTAMP, HIGH, LOW, CLOSE), "triple_barrier_labels")
    close = ohlcv[CLOSE].to_numpy(dtype=np.float64)
    high = ohlcv[HIGH].to_numpy(dtype=np.float64)
    low = ohlcv[LOW].to_numpy(dtype=np.float64)
    atr = wilder_atr(ohlcv, params.atr_period).to_numpy()
    n_rows = close.size
    horizon = params.horizon

    stop = close - params.stop_atr * atr
    take = close + params.take_atr * atr
    exit_offset = np.zeros(n_rows, dtype=np.int64)
    took_profit = np.zeros(n_rows, dtype=bool)
    for offset in range(1, horizon + 1):
        future_high = np.full(n_rows, np.nan)
        future_low = np.full(n_rows, np.nan)
        future_high[: n_rows - offset] = high[offset:]
        future_low[: n_rows - offset] = low[offset:]
        still_open = exit_offset == 0
        stopped = still_open & (future_low <= stop)
        taken = still_open & ~stopped & (future_high >= take)
        exit_offset[stopped | taken] = offset
        took_profit |= taken

    labeled = np.isfinite(atr) & (np.arange(n_rows) < n_rows - horizon)
    vertical = labeled & (exit_offset == 0)
    stopped_out = labeled & (exit_offset > 0) & ~took_profit
    took_profit &= labeled

    future_close = np.full(n_rows, np.nan)
    future_close[: max(n_rows - horizon, 0)] = close[horizon:]
    trade_return = np.full(n_rows, np.nan)
    trade_return[took_profit] = params.take_atr * atr[took_profit] / close[took_profit]
    trade_return[stopped_out] = -params.stop_atr * atr[stopped_out] / close[stopped_out]
    trade_return[vertical] = future_close[vertical] / close[vertical] - 1.0

    outcome = np.full(n_rows, None, dtype=object)
    outcome[took_profit] = OUTCOME_TAKE
    outcome[stopped_out] = OUTCOME_STOP
    outcome[vertical] = OUTCOME_VERTICAL

    return pd.DataFrame(
        {
            TIMESTAMP: ohlcv[TIMESTAMP],
            LABEL: np.where(labeled, np.where(took_profit, BUY, HOLD), np.nan),
            OUTCOME: outcome,
            EXIT_OFFSET: np.where(labeled, np.where(vertical, horizon, exit_offset), np.nan).astype(np.float64),
            TRADE_RETURN: trade_return,
            ATR: atr,
        },
        index=ohlcv.index,
    )


def labeled_mask(labels: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of a ``triple_barrier_labels`` frame that carry a label."""
    mask: npt.NDArray[np.bool_] = labels[LABEL].notna().to_numpy()
    return mask
