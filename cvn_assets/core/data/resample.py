"""Resampling of canonical OHLCV frames to a coarser fixed bar."""

from __future__ import annotations

import pandas as pd

from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.schema import OHLCV_COLUMNS

OHLCV_AGGREGATION: dict[str, str] = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def bar_timedelta(bar: str) -> pd.Timedelta:
    """Duration of a fixed-width pandas bar alias such as "30min", "1h" or "1D"."""
    try:
        offset = pd.tseries.frequencies.to_offset(bar)
        width = pd.Timedelta(offset)
    except (TypeError, ValueError) as exc:
        raise DataSourceError(f"bar {bar!r} is not a fixed duration such as '30min', '1h', '4h' or '1D'") from exc
    if width <= pd.Timedelta(0):
        raise DataSourceError(f"bar {bar!r} must be a positive duration")
    return width


def source_resolution(frame: pd.DataFrame) -> pd.Timedelta | None:
    """Smallest positive spacing between timestamps, i.e. the bar of the source; None below two distinct rows."""
    steps = frame["timestamp"].diff()
    positive = steps[steps > pd.Timedelta(0)]
    return None if positive.empty else positive.min()


def resample_ohlcv(frame: pd.DataFrame, bar: str = "1h") -> pd.DataFrame:
    """Aggregate a sorted canonical frame into `bar` bins (closed and labelled left).

    Bins without any source row are dropped rather than filled, so gaps stay visible to validation.
    Expects a frame that passed the row checks of validation (sorted, no NaN).
    """
    width = bar_timedelta(bar)
    resolution = source_resolution(frame)
    if resolution is not None and resolution > width:
        raise DataSourceError(
            f"cannot resample to bar {bar!r}: the input is coarser (rows {resolution} apart); "
            "resampling only aggregates to a coarser bar"
        )
    if not frame["timestamp"].is_monotonic_increasing:
        raise DataSourceError("cannot resample: timestamps are not sorted ascending (validate the rows first)")
    grouped = frame.set_index("timestamp").resample(width, closed="left", label="left")
    out = grouped.agg(OHLCV_AGGREGATION)
    out = out[grouped.size() > 0]
    out = out.reset_index()
    out["timestamp"] = out["timestamp"].astype("datetime64[ns, UTC]")
    return out.astype({name: "float64" for name in OHLCV_COLUMNS[1:]})[list(OHLCV_COLUMNS)]
