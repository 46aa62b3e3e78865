"""How the dossier writes a value in its tables: numbers, intervals, gate outcomes, long lineage values."""

from __future__ import annotations

import math
from typing import SupportsFloat

import pandas as pd

from cvn_assets.core.gate.checks import NOT_EVALUABLE

MAX_LINEAGE_VALUE_CHARS = 400


def clip(text: str) -> str:
    if len(text) <= MAX_LINEAGE_VALUE_CHARS:
        return text
    return f"{text[:MAX_LINEAGE_VALUE_CHARS]}… ({len(text)} characters in all)"


def table_rows(frame: pd.DataFrame) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple("" if v is None else str(v) for v in row) for row in frame.itertuples(index=False))


def mean_text(series: pd.Series) -> str:
    values = series.to_numpy(dtype=float)
    return number_text(float(values.mean()) if values.size else math.nan, ".4f")


def setting_text(value: object) -> str:
    return format(value, "g") if isinstance(value, int | float) else str(value)


def outcome_text(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: NOT_EVALUABLE}[passed]


def interval_text(low: float, high: float) -> str:
    return f"[{number_text(low, '+.4f')}, {number_text(high, '+.4f')}]"


def number_text(value: SupportsFloat | None, spec: str) -> str:
    if value is None:
        return "n/a"
    number = float(value)
    return "n/a" if math.isnan(number) else format(number, spec)
