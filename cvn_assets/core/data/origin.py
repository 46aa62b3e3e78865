"""Where a canonical OHLCV frame's rows come from: readers record it, validation names it."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

ORIGIN_ATTR = "ohlcv_origin"


@dataclass(frozen=True)
class OhlcvOrigin:
    """Where a canonical frame's rows come from, so parse and validation errors point at the same place.

    `source` is the file path or the SQL table; `first_line` is the line of data row 0 in a text
    file (None when rows have no lines: Parquet, SQL, resampled bars).
    """

    source: str
    first_line: int | None = None

    def line(self, row: int) -> int | None:
        return None if self.first_line is None else row + self.first_line

    def locate(self, row: int) -> str:
        line = self.line(row)
        return f"row {row}" if line is None else f"row {row} (line {line})"


def record_origin(frame: pd.DataFrame, origin: OhlcvOrigin | None) -> None:
    """Record (or, with None, forget) where `frame`'s rows come from.

    Kept as plain JSON values, so a frame stored as Parquet keeps its origin.
    """
    frame.attrs.pop(ORIGIN_ATTR, None)
    if origin is not None:
        frame.attrs[ORIGIN_ATTR] = {"source": origin.source, "first_line": origin.first_line}


def origin_of(frame: pd.DataFrame) -> OhlcvOrigin | None:
    """The origin a reader recorded on `frame` (None for a frame no reader made)."""
    recorded = frame.attrs.get(ORIGIN_ATTR)
    if not isinstance(recorded, dict) or not isinstance(recorded.get("source"), str):
        return None
    first_line = recorded.get("first_line")
    return OhlcvOrigin(recorded["source"], int(first_line) if first_line is not None else None)
