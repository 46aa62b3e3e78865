"""Select a factor's rows from a results table and pair variant cells with baseline cells.

A pair is a (crypto, fold) cell where both the baseline and the variant rows are `ok` and the
metric in question is finite on both sides. Cells that cannot be paired on f1_buy are reported
with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvn_assets.core.errors import DataSourceError, InsufficientDataError
from cvn_assets.core.schema import STATUS_OK

CELL_COLUMNS: tuple[str, ...] = ("crypto", "fold")
GATE_METRICS: tuple[str, ...] = ("f1_buy", "sortino", "expectancy_net", "max_drawdown", "ece_hold", "n_trades")
REQUIRED_COLUMNS: tuple[str, ...] = (*CELL_COLUMNS, "factor", "variant", "model", "status", *GATE_METRICS)
PRIMARY_METRIC = "f1_buy"
# What each gate metric can be (metric, low, high); a table outside them is scaled or signed otherwise
# (f1_buy in percent, drawdowns negative), and the gate's thresholds would judge it wrongly.
METRIC_RANGES: tuple[tuple[str, float, float], ...] = (
    ("f1_buy", 0.0, 1.0),
    ("ece_hold", 0.0, 1.0),
    ("max_drawdown", 0.0, math.inf),
    ("n_trades", 0.0, math.inf),
)

ExcludedCell = tuple[str, Hashable, str]


@dataclass(frozen=True)
class PairedCells:
    """Baseline and variant metrics on the cells where both are ok and f1_buy is finite.

    `baseline` and `variant` share one (crypto, fold) index, in sorted order.
    """

    baseline: pd.DataFrame
    variant: pd.DataFrame
    excluded: list[ExcludedCell]

    @property
    def n(self) -> int:
        """Number of valid f1_buy pairs."""
        return len(self.baseline)

    def sides(self, metric: str) -> tuple[pd.Series, pd.Series]:
        """Baseline and variant values of `metric` on the pairs where it is finite on both sides."""
        base = self.baseline[metric].astype(float)
        var = self.variant[metric].astype(float)
        keep = np.isfinite(base.to_numpy()) & np.isfinite(var.to_numpy())
        return base[keep], var[keep]

    def deltas(self, metric: str) -> pd.Series:
        """Variant − baseline of `metric` on the pairs where it is finite on both sides."""
        base, var = self.sides(metric)
        return var - base


def require_results_columns(results: pd.DataFrame) -> None:
    """Fail with the list of missing columns or of non-numeric metric columns, or on an ok row's metric
    outside what it can be (`METRIC_RANGES`; missing and infinite values are the pairing's to exclude)."""
    missing = [column for column in REQUIRED_COLUMNS if column not in results.columns]
    if missing:
        raise DataSourceError(f"results table lacks column(s) {', '.join(missing)}")
    not_numeric = [m for m in GATE_METRICS if not pd.api.types.is_numeric_dtype(results[m])]
    if not_numeric:
        raise DataSourceError(f"results table column(s) {', '.join(not_numeric)} must be numeric")
    ok = results[results["status"] == STATUS_OK]
    for metric, low, high in METRIC_RANGES:
        values = ok[metric].to_numpy(dtype=float)
        outside = np.isfinite(values) & ((values < low) | (values > high))
        if outside.any():
            where = ok[outside].iloc[0]
            bounds = f"[{low:g}, {high:g}]" if math.isfinite(high) else f"[{low:g}, ∞)"
            raise DataSourceError(
                f"results table: {int(outside.sum())} ok row(s) have {metric} outside {bounds}, e.g. "
                f"{float(where[metric]):g} ({where['factor']}/{where['variant']}, {where['model']}, "
                f"{where['crypto']} fold {where['fold']})"
            )


def select_factor(
    results: pd.DataFrame, factor: str, baseline: str, variants: Sequence[str] | None
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Rows of `factor`, the variants to report, and every non-baseline variant present.

    Raises when the factor, its baseline or a requested variant is absent, or when a cell has more
    than one row for the same model and variant.
    """
    require_results_columns(results)
    rows = results[results["factor"] == factor]
    if rows.empty:
        present_factors = sorted(map(str, results["factor"].dropna().unique()))
        raise InsufficientDataError(
            f"factor {factor!r} has no rows in the results table; factors present: {present_factors}"
        )
    present = sorted(map(str, rows["variant"].dropna().unique()))
    others = [v for v in present if v != baseline]
    wanted = others if variants is None else list(variants)
    missing = [v for v in dict.fromkeys([baseline, *wanted]) if v not in present]
    if missing:
        raise InsufficientDataError(
            f"factor {factor!r}: variant(s) {missing} missing from the results table "
            f"(baseline {baseline!r}); variants present: {present}"
        )
    if baseline in wanted:
        raise InsufficientDataError(f"factor {factor!r}: baseline {baseline!r} cannot be gated against itself")
    if not wanted:
        raise InsufficientDataError(f"factor {factor!r} has only its baseline {baseline!r}; nothing to gate")
    _require_one_row_per_cell(rows, factor)
    return rows, wanted, others


def _require_one_row_per_cell(rows: pd.DataFrame, factor: str) -> None:
    keys = ["model", "variant", *CELL_COLUMNS]
    duplicated = rows[rows.duplicated(keys, keep=False)]
    if not duplicated.empty:
        examples = duplicated[keys].drop_duplicates().head(3).to_dict("records")
        raise DataSourceError(
            f"factor {factor!r}: {len(duplicated)} rows share a (model, variant, crypto, fold) cell, "
            f"e.g. {examples}; the gate needs exactly one row per cell"
        )


def pair_cells(model_rows: pd.DataFrame, baseline: str, variant: str) -> PairedCells:
    """Pair the baseline and `variant` rows of one model cell by cell."""
    base = model_rows[model_rows["variant"] == baseline].set_index(list(CELL_COLUMNS))
    var = model_rows[model_rows["variant"] == variant].set_index(list(CELL_COLUMNS))
    cells = base.index.union(var.index).sort_values()
    paired: list[tuple[Hashable, Hashable]] = []
    excluded: list[ExcludedCell] = []
    base_problems, var_problems = _problems("baseline", base), _problems("variant", var)
    for cell in cells:
        problems = base_problems.get(cell, ["no baseline row"]) + var_problems.get(cell, ["no variant row"])
        if problems:
            excluded.append((str(cell[0]), cell[1], "; ".join(problems)))
        else:
            paired.append(cell)
    index = pd.MultiIndex.from_tuples(paired, names=list(CELL_COLUMNS)) if paired else cells[:0]
    columns = list(GATE_METRICS)
    return PairedCells(base.loc[index, columns], var.loc[index, columns], excluded)


def _problems(side: str, frame: pd.DataFrame) -> dict[Hashable, list[str]]:
    """Why each present cell cannot be paired (an empty list when it can), in one pass over the rows."""
    out: dict[Hashable, list[str]] = {}
    primary = pd.to_numeric(frame[PRIMARY_METRIC], errors="coerce").to_numpy(dtype=float)
    for cell, status, value in zip(frame.index, frame["status"], primary, strict=True):
        if status != STATUS_OK:
            out[cell] = [f"{side} status {status}"]
        elif not math.isfinite(value):
            out[cell] = [f"{side} {PRIMARY_METRIC} is not finite"]
        else:
            out[cell] = []
    return out
