"""Conventions shared by every asset: owners, kinds, metadata helpers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import dagster as dg
import pandas as pd

OWNERS = ["team:quant-research"]


def table_metadata(frame: pd.DataFrame, max_rows: int = 50) -> dg.TableMetadataValue:
    """A frame as a Dagster table, so the UI renders it as a table instead of a string."""
    columns = [dg.TableColumn(str(c), _column_type(frame[c])) for c in frame.columns]
    records = [
        dg.TableRecord({str(k): _plain(v) for k, v in row.items()})
        for row in frame.head(max_rows).to_dict(orient="records")
    ]
    return dg.MetadataValue.table(records=records, schema=dg.TableSchema(columns=columns))


def float_metadata(values: Mapping[str, Any]) -> dict[str, dg.MetadataValue]:
    """Numbers as float/int metadata (NaN kept as NaN so a missing value stays visible)."""
    out: dict[str, dg.MetadataValue] = {}
    for key, value in values.items():
        if isinstance(value, bool) or value is None:
            out[key] = dg.MetadataValue.text(str(value))
        elif isinstance(value, int):
            out[key] = dg.MetadataValue.int(value)
        elif isinstance(value, float):
            out[key] = dg.MetadataValue.float(value)
        else:
            out[key] = dg.MetadataValue.text(str(value))
    return out


def _column_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        return "float"
    return "string"


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
