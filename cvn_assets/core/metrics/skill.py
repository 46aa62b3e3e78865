"""Skill against the trivial rule that says BUY on every bar: which models, on which cells, beat it.

A model's f1_buy means little on its own: signalling BUY on every test bar already scores
2π / (1 + π) (π the test BUY rate, ≈ 0.27 at π ≈ 0.16). A model has skill on a cell when its f1_buy
beats that trivial F1 by more than `min_f1_lift` while it signals BUY on at most
`max_buy_signal_rate` of the test bars. The cell check flags cells without skill (it does not block),
and the verdict and the dossier count the cells of each variant that have it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import SupportsFloat

import numpy as np
import numpy.typing as npt
import pandas as pd

from cvn_assets.core.checks.sanity import CheckOutcome
from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.schema import STATUS_OK

LIFT = "f1_lift_over_always_buy"
SIGNAL_RATE = "buy_signal_rate"
SKILL_VALUES: tuple[str, ...] = ("f1_buy", "always_buy_f1", LIFT, SIGNAL_RATE)
COUNT_COLUMNS: tuple[str, ...] = (
    "variant",
    "model",
    "skill",
    "cells_with_skill",
    "cells",
    "not_recorded",
    *(f"mean_{name}" for name in SKILL_VALUES),
)


@dataclass(frozen=True)
class SkillThresholds:
    """When a model has skill on a cell: f1_buy − always-BUY F1 > `min_f1_lift` and BUY signalled on at
    most `max_buy_signal_rate` of the test bars (above half, it mostly says BUY).

    A change re-gates the verdicts but retrains no cell: a cell's check keeps the rule it was run with,
    which its metadata shows.
    """

    min_f1_lift: float = 0.0
    max_buy_signal_rate: float = 0.5

    def __post_init__(self) -> None:
        lift, rate = self.min_f1_lift, self.max_buy_signal_rate
        if isinstance(lift, bool) or not isinstance(lift, Real) or not -1.0 <= lift <= 1.0:
            raise CatalogueError(f"min_f1_lift must be a number in [-1, 1] (an F1 difference), got {lift!r}")
        # At 0 no model that signals anything could have skill.
        if isinstance(rate, bool) or not isinstance(rate, Real) or not 0.0 < rate <= 1.0:
            raise CatalogueError(f"max_buy_signal_rate must be a share of bars in (0, 1], got {rate!r}")

    def rule(self) -> str:
        return f"{LIFT} > {self.min_f1_lift:g} and {SIGNAL_RATE} ≤ {self.max_buy_signal_rate:g}"


def has_skill(rows: pd.DataFrame, thresholds: SkillThresholds = SkillThresholds()) -> pd.Series:
    """Per row: True / False for an `ok` row with both values recorded, None otherwise (a failed model,
    or a row stored before these metrics existed)."""
    lift = _column(rows, LIFT)
    rate = _column(rows, SIGNAL_RATE)
    known = (rows["status"] == STATUS_OK).to_numpy() & np.isfinite(lift) & np.isfinite(rate)
    skilled = (lift > thresholds.min_f1_lift) & (rate <= thresholds.max_buy_signal_rate)
    verdicts = skilled.astype(object)
    verdicts[~known] = None
    return pd.Series(verdicts, index=rows.index, dtype=object)


def skill_sanity(metrics: pd.DataFrame, thresholds: SkillThresholds = SkillThresholds()) -> CheckOutcome:
    """The cell check: every trained model of the cell (one row per model) has skill.

    `observed` is how many models lack it, `threshold` the rule, `breakdown` each model's values.
    """
    verdicts = has_skill(metrics, thresholds)
    breakdown: dict[str, object] = {}
    lacking = []
    for (_, row), skilled in zip(metrics.iterrows(), verdicts, strict=True):
        if skilled is None:
            continue
        values = {name: _rounded(row.get(name)) for name in SKILL_VALUES}
        breakdown[str(row["model"])] = {**values, "skill": bool(skilled)}
        if not skilled:
            lacking.append(f"{row['model']} (lift {values[LIFT]:+.4f}, BUY on {values[SIGNAL_RATE]:.1%} of bars)")
    detail = (
        f"no skill against always-BUY: {'; '.join(lacking)}"
        if lacking
        else f"{len(breakdown)} model(s) with skill"
        if breakdown
        else "no trained model to evaluate"
    )
    return CheckOutcome(not lacking, len(lacking), thresholds.rule(), detail, breakdown)


def skill_counts(rows: pd.DataFrame, thresholds: SkillThresholds = SkillThresholds()) -> pd.DataFrame:
    """Per variant × model of results rows: cells with skill out of all its cells ("skill: 7/25 cells"),
    and the means of the values behind it over the cells where they were recorded.

    A failed cell counts as a cell without skill; an `ok` cell stored before these metrics existed
    is counted apart as `not_recorded`.
    """
    if rows.empty:
        return pd.DataFrame(columns=list(COUNT_COLUMNS))
    verdicts = has_skill(rows, thresholds)
    failed = (rows["status"] != STATUS_OK).to_numpy()
    recorded = verdicts.notna().to_numpy()
    frame = pd.DataFrame(
        {
            "variant": rows["variant"].astype(str).to_numpy(),
            "model": rows["model"].astype(str).to_numpy(),
            "skilled": verdicts.eq(True).to_numpy(),
            "not_recorded": ~recorded & ~failed,
        }
    )
    for name in SKILL_VALUES:
        frame[f"mean_{name}"] = np.where(recorded, _column(rows, name), np.nan)
    counts = frame.groupby(["variant", "model"], sort=False).agg(
        cells_with_skill=("skilled", "sum"),
        cells=("skilled", "size"),
        not_recorded=("not_recorded", "sum"),
        **{f"mean_{name}": (f"mean_{name}", "mean") for name in SKILL_VALUES},
    )
    counts = counts.reset_index().astype({"cells_with_skill": int, "cells": int, "not_recorded": int})
    counts["skill"] = [_count_text(r.cells_with_skill, r.cells, r.not_recorded) for r in counts.itertuples()]
    return counts[list(COUNT_COLUMNS)]


def _count_text(skilled: int, cells: int, not_recorded: int) -> str:
    text = f"skill: {skilled}/{cells} cells"
    return text + (f" ({not_recorded} not recorded)" if not_recorded else "")


def _column(rows: pd.DataFrame, name: str) -> np.ndarray:
    if name not in rows.columns:
        return np.full(len(rows), np.nan)
    values: npt.NDArray[np.float64] = pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=float)
    return values


def _rounded(value: SupportsFloat | None) -> float:
    number = float(value) if value is not None else math.nan
    return round(number, 6) if math.isfinite(number) else math.nan
