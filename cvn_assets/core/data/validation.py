"""Validation of canonical OHLCV frames: the first problem found raises, naming crypto, row and cause
(and the source file or table, with the row's line, when the caller passes the frame's origin).

Checks run in a fixed order (columns, emptiness, dtypes, NaN, prices, volume, high/low, sorting, duplicates,
spacing, gaps), each vectorised over the whole frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import SupportsFloat

import numpy as np
import pandas as pd

from cvn_assets.core.data.origin import OhlcvOrigin
from cvn_assets.core.data.resample import bar_timedelta
from cvn_assets.core.errors import CatalogueError, OhlcvValidationError
from cvn_assets.core.schema import OHLCV_COLUMNS

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
# Where a user allows longer gaps (the catalogue section read by `pipeline_params`, the environment
# variable by the deployment settings).
GAP_SETTING = "allow longer gaps with data.max_gap_bars in the catalogue or CVN_MAX_GAP_BARS"


@dataclass(frozen=True)
class OhlcvRules:
    """Tolerances of OHLCV validation: the catalogue's `data` section."""

    # Largest run of missing bars allowed between two consecutive rows. Measured on the embedded
    # Bitfinex set after 1 h resampling, the largest runs are BTC 2, ETH 3, LTC 4, XRP 4, EOS 4
    # missing bars; one day (24 h bars) accepts them with a wide margin yet still flags outages.
    max_gap_bars: int = 24

    def __post_init__(self) -> None:
        if isinstance(self.max_gap_bars, bool) or not isinstance(self.max_gap_bars, int) or self.max_gap_bars < 0:
            raise CatalogueError(f"OHLCV rule max_gap_bars must be an integer >= 0, got {self.max_gap_bars!r}")


def validate_ohlcv(
    frame: pd.DataFrame,
    crypto: str,
    bar: str = "1h",
    rules: OhlcvRules = OhlcvRules(),
    origin: OhlcvOrigin | None = None,
) -> None:
    """Raise OhlcvValidationError for the first problem of a canonical frame sampled at `bar`."""
    validate_ohlcv_rows(frame, crypto, origin)
    _check_time_grid(frame, crypto, bar, rules, origin)


def validate_ohlcv_rows(frame: pd.DataFrame, crypto: str, origin: OhlcvOrigin | None = None) -> None:
    """The checks that do not depend on the bar: run on source rows before resampling hides them."""
    missing = [name for name in OHLCV_COLUMNS if name not in frame.columns]
    if missing:
        raise _error(origin, crypto, None, f"missing columns {missing}; columns present: {list(frame.columns)}")
    if frame.empty:
        raise _error(origin, crypto, None, "no rows")
    if not isinstance(frame["timestamp"].dtype, pd.DatetimeTZDtype):
        raise _error(
            origin,
            crypto,
            None,
            f"timestamp column must be tz-aware UTC datetimes, got dtype {frame['timestamp'].dtype}",
        )
    not_numeric = [name for name in OHLCV_COLUMNS[1:] if not pd.api.types.is_numeric_dtype(frame[name])]
    if not_numeric:
        raise _error(origin, crypto, None, f"columns {not_numeric} must be numeric")
    stamps = frame["timestamp"].reset_index(drop=True)
    values = frame[list(OHLCV_COLUMNS[1:])].reset_index(drop=True).astype("float64")

    invalid = values.isna() | np.isinf(values)
    invalid.insert(0, "timestamp", stamps.isna())
    row = _first(invalid.any(axis=1))
    if row is not None:
        bad = [f"{name} {_cell(frame, row, name)}" for name in invalid.columns if invalid.at[row, name]]
        raise _error(origin, crypto, row, f"NaN or infinite value: {', '.join(bad)}", _stamp(stamps, row))

    prices = values[list(PRICE_COLUMNS)]
    row = _first((prices <= 0).any(axis=1))
    if row is not None:
        bad = [f"{name} {_number(prices.at[row, name])}" for name in PRICE_COLUMNS if prices.at[row, name] <= 0]
        raise _error(origin, crypto, row, f"non-positive price: {', '.join(bad)}", stamps[row])

    row = _first(values["volume"] < 0)
    if row is not None:
        raise _error(origin, crypto, row, f"negative volume {_number(values.at[row, 'volume'])}", stamps[row])

    row = _first(values["high"] < values["low"])
    if row is not None:
        high, low = _number(values.at[row, "high"]), _number(values.at[row, "low"])
        raise _error(origin, crypto, row, f"high {high} < low {low}", stamps[row])

    body_top = values[["open", "close"]].max(axis=1)
    body_bottom = values[["open", "close"]].min(axis=1)
    row = _first((values["high"] < body_top) | (values["low"] > body_bottom))
    if row is not None:
        high, low, top, bottom = (s[row] for s in (values["high"], values["low"], body_top, body_bottom))
        problem = (
            f"high {_number(high)} < max(open, close) {_number(top)}"
            if high < top
            else f"low {_number(low)} > min(open, close) {_number(bottom)}"
        )
        raise _error(origin, crypto, row, problem, stamps[row])

    steps = stamps.diff()
    row = _first(steps < pd.Timedelta(0))
    if row is not None:
        problem = f"timestamps not sorted: {stamps[row - 1]} before {stamps[row]}"
        raise _error(origin, crypto, row, problem, stamps[row])

    row = _first(steps == pd.Timedelta(0))
    if row is not None:
        raise _error(origin, crypto, row, f"duplicate timestamp (same as row {row - 1})", stamps[row])


def _check_time_grid(frame: pd.DataFrame, crypto: str, bar: str, rules: OhlcvRules, origin: OhlcvOrigin | None) -> None:
    """Spacing against the bar: rows closer than one bar, then runs of missing bars beyond the tolerance."""
    width = bar_timedelta(bar)
    stamps = frame["timestamp"].reset_index(drop=True)
    steps = stamps.diff()
    row = _first(steps < width)
    if row is not None:
        problem = f"rows {steps[row]} apart, closer than the {bar} bar (resample the source to {bar})"
        raise _error(origin, crypto, row, problem, stamps[row])
    missing_bars = (steps // width - 1).fillna(0).astype("int64")
    row = _first(missing_bars > rules.max_gap_bars)
    if row is not None:
        problem = (
            f"gap of {missing_bars[row]} bars (> {rules.max_gap_bars} allowed) after {stamps[row - 1]}; {GAP_SETTING}"
        )
        raise _error(origin, crypto, row, problem, stamps[row])


def _error(
    origin: OhlcvOrigin | None, crypto: str, row: int | None, problem: str, timestamp: object | None = None
) -> OhlcvValidationError:
    """The error of `problem`, naming the source and the row's line when the origin is known."""
    if origin is None:
        return OhlcvValidationError(crypto, row, problem, timestamp)
    line = None if row is None else origin.line(row)
    return OhlcvValidationError(crypto, row, problem, timestamp, source=origin.source, line=line)


def _first(mask: pd.Series) -> int | None:
    """0-based position of the first True, whatever the frame's index labels are."""
    positions = np.flatnonzero(mask.to_numpy(dtype=bool))
    return int(positions[0]) if positions.size else None


def _number(value: SupportsFloat) -> str:
    """Plain Python repr (101.0, not np.float64(101.0)) so messages read like the data."""
    return repr(float(value))


def _cell(frame: pd.DataFrame, row: int, name: str) -> object:
    """A cell as it should read in a message."""
    value = frame[name].iloc[row]
    return value if name == "timestamp" else _number(value)


def _stamp(stamps: pd.Series, row: int) -> object | None:
    """The row's timestamp for the error, or None when the timestamp itself is missing."""
    value = stamps[row]
    return None if pd.isna(value) else value
