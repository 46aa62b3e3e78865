"""The optional CUSUM event filter (López de Prado, AFML ch. 2.5.2.1): which bars are labelled, trained on and traded.

A symmetric CUSUM on log returns r_t = log(close_t / close_{t-1}) keeps two running sums,
S⁺_t = max(0, S⁺_{t-1} + r_t) and S⁻_t = min(0, S⁻_{t-1} + r_t). Bar t is an event when S⁻_t < −h_t
(S⁻ then restarts at 0) or else when S⁺_t > h_t (S⁺ restarts): price has drifted by more than h_t since
the last event on that side. The threshold h_t is `threshold_vol_multiple` times the standard deviation
(ddof 1) of the `vol_window` log returns before bar t, so a jump at t does not raise its own bar.
Until that volatility is defined the sums stay at 0 and no bar is an event.

When the filter is on, a bar that is not an event gets no label, so it enters no fold window: it is
neither trained on, nor validated, nor tested, nor traded. Off (the default), the labels are untouched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
import numpy.typing as npt
import pandas as pd

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.labels.barriers import (
    CLOSE,
    EXIT_OFFSET,
    LABEL,
    OUTCOME,
    TRADE_RETURN,
    BarrierParams,
    is_positive_int,
    require_columns,
    triple_barrier_labels,
)

# The columns that describe a bar's label and its trade; a non-event bar gets none of them.
LABEL_VALUE_COLUMNS: tuple[str, ...] = (LABEL, OUTCOME, EXIT_OFFSET, TRADE_RETURN)


@dataclass(frozen=True)
class EventFilterParams:
    """The catalogue's `events` section: `cusum` turns the filter on; the threshold is
    `threshold_vol_multiple` × the rolling standard deviation of the `vol_window` previous log returns
    (100 bars: the span of AFML's daily-volatility estimate)."""

    cusum: bool = False
    threshold_vol_multiple: float = 1.0
    vol_window: int = 100

    def __post_init__(self) -> None:
        if not isinstance(self.cusum, bool):
            raise CatalogueError(f"cusum must be true or false, got {self.cusum!r}")
        multiple = self.threshold_vol_multiple
        if isinstance(multiple, bool) or not isinstance(multiple, Real) or not math.isfinite(multiple) or multiple <= 0:
            raise CatalogueError(f"threshold_vol_multiple must be a positive number, got {multiple!r}")
        # A standard deviation with ddof 1 needs two returns.
        if not is_positive_int(self.vol_window) or self.vol_window < 2:
            raise CatalogueError(f"vol_window must be an integer >= 2 (bars of returns), got {self.vol_window!r}")

    def shortfall_hint(self) -> str:
        """What to change, said after a too-few-labelled-rows error, when the filter is what thinned the rows."""
        if not self.cusum:
            return ""
        return (
            "; the CUSUM event filter labels only its event bars: lower events.threshold_vol_multiple "
            "or set events.cusum to false"
        )

    def describe(self) -> str:
        if not self.cusum:
            return "off"
        return f"CUSUM, threshold {self.threshold_vol_multiple:g} × volatility of {self.vol_window} bars"


def cusum_thresholds(close: np.ndarray, params: EventFilterParams) -> np.ndarray:
    """h_t: `threshold_vol_multiple` × std (ddof 1) of the `vol_window` log returns before bar t; NaN until defined."""
    returns = pd.Series(log_returns(close))
    volatility = returns.rolling(params.vol_window, min_periods=params.vol_window).std(ddof=1).shift(1)
    thresholds: npt.NDArray[np.float64] = params.threshold_vol_multiple * volatility.to_numpy(dtype=np.float64)
    return thresholds


def log_returns(close: np.ndarray) -> np.ndarray:
    """r_t = log(close_t / close_{t-1}); NaN on the first bar."""
    logs = np.log(np.asarray(close, dtype=np.float64))
    return np.concatenate(([np.nan], np.diff(logs)))


def symmetric_cusum(returns: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Boolean mask of the event bars of the symmetric CUSUM filter (module docstring) on `returns`.

    Written out as a loop: each sum restarts at an event, so a bar depends on every earlier one and no
    array operation expresses it; the project's libraries (scipy, statsmodels) have no such filter.
    """
    r = np.asarray(returns, dtype=np.float64)
    h = np.asarray(thresholds, dtype=np.float64)
    if r.shape != h.shape:
        raise ValueError(f"returns have shape {r.shape} but thresholds {h.shape}; they must be row-aligned")
    events = np.zeros(r.size, dtype=bool)
    up = down = 0.0
    for t in range(r.size):
        if not (math.isfinite(r[t]) and math.isfinite(h[t])):
            up = down = 0.0
            continue
        up, down = max(0.0, up + r[t]), min(0.0, down + r[t])
        if down < -h[t]:
            down, events[t] = 0.0, True
        elif up > h[t]:
            up, events[t] = 0.0, True
    return events


def cusum_events(ohlcv: pd.DataFrame, params: EventFilterParams) -> np.ndarray:
    """Event bars of `ohlcv` (a boolean mask aligned with its rows)."""
    require_columns(ohlcv, (CLOSE,), "cusum_events")
    close = ohlcv[CLOSE].to_numpy(dtype=np.float64)
    return symmetric_cusum(log_returns(close), cusum_thresholds(close, params))


def restrict_to_events(labels: pd.DataFrame, ohlcv: pd.DataFrame, params: EventFilterParams) -> pd.DataFrame:
    """`labels` (a `triple_barrier_labels` frame of `ohlcv`) with only the event bars labelled.

    With the filter off, `labels` itself is returned, untouched.
    """
    if not params.cusum:
        return labels
    if len(labels) != len(ohlcv):
        raise ValueError(f"labels have {len(labels)} rows but the OHLCV {len(ohlcv)}; they must be row-aligned")
    quiet = ~cusum_events(ohlcv, params)
    out = labels.copy()
    for column in LABEL_VALUE_COLUMNS:
        out[column] = out[column].where(~quiet, None if out[column].dtype == object else np.nan)
    return out


def event_labels(ohlcv: pd.DataFrame, barriers: BarrierParams, events: EventFilterParams) -> pd.DataFrame:
    """Triple-barrier labels of `ohlcv`, restricted to its event bars when the filter is on."""
    return restrict_to_events(triple_barrier_labels(ohlcv, barriers), ohlcv, events)
