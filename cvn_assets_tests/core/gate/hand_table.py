"""A hand-built results table whose gate outcomes can be computed with pencil and paper.

5 cryptos × 5 folds, one model. Baseline f1_buy = 0.40 + 0.01·crypto index; every other baseline
metric is constant. A variant's f1_buy is the baseline's + Δ(crypto, fold), where Δ = a shift +
CRYPTO_OFFSETS[crypto] + FOLD_OFFSETS[fold]; the fold offsets sum to 0, so each crypto's mean Δ is
its shift + its crypto offset. The baseline cell (E, fold 2) failed to train: every variant has 24
pairs; FOLD_OFFSETS[2] and CRYPTO_OFFSETS of E are 0, so the mean Δ over the 24 pairs is the shift.

For the cluster-robust t (per-crypto pseudo-means z_c = ȳ + 5·n_c·(ȳ_c − ȳ)/24): z − shift is
25/24 · (−0.004, −0.002, 0.002, 0.004) for A–D and 0 for E, so sd(z) = 25/24 · √(4e-5 / 4).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import pandas as pd

CRYPTOS: tuple[str, ...] = ("A", "B", "C", "D", "E")
FOLDS: tuple[int, ...] = (0, 1, 2, 3, 4)
FOLD_OFFSETS: tuple[float, ...] = (-0.01, -0.005, 0.0, 0.005, 0.01)
CRYPTO_OFFSETS: Mapping[str, float] = {"A": -0.004, "B": -0.002, "C": 0.002, "D": 0.004, "E": 0.0}
FACTOR = "toy_factor"
BASELINE = "base"
MODEL = "xgboost"
FAILED_BASELINE_CELL = ("E", 2)
BASELINE_METRICS: Mapping[str, float] = {
    "sortino": 1.0,
    "expectancy_net": 0.002,
    "max_drawdown": 0.10,
    "ece_hold": 0.04,
    "n_trades": 60.0,
}

Shift = Callable[[str, int], float]


def baseline_rows(model: str = MODEL, factor: str = FACTOR) -> list[dict]:
    """Baseline rows, with the (E, fold 2) cell marked training_failed."""
    rows = []
    for index, crypto in enumerate(CRYPTOS):
        for fold in FOLDS:
            failed = (crypto, fold) == FAILED_BASELINE_CELL
            rows.append(
                {
                    "crypto": crypto,
                    "fold": fold,
                    "factor": factor,
                    "variant": BASELINE,
                    "model": model,
                    "status": "training_failed" if failed else "ok",
                    "f1_buy": math.nan if failed else 0.40 + 0.01 * index,
                    **BASELINE_METRICS,
                }
            )
    return rows


def variant_rows(
    variant: str,
    shift: float | Shift,
    overrides: Mapping[str, float] | None = None,
    ok_cells: set[tuple[str, int]] | None = None,
    model: str = MODEL,
    factor: str = FACTOR,
) -> list[dict]:
    """Rows of `variant`: Δf1_buy = shift + CRYPTO_OFFSETS + FOLD_OFFSETS; cells outside `ok_cells` failed."""
    shift_of: Shift = shift if callable(shift) else (lambda _crypto, _fold: shift)
    rows = []
    for index, crypto in enumerate(CRYPTOS):
        for fold in FOLDS:
            ok = ok_cells is None or (crypto, fold) in ok_cells
            delta = shift_of(crypto, fold) + CRYPTO_OFFSETS[crypto] + FOLD_OFFSETS[fold]
            rows.append(
                {
                    "crypto": crypto,
                    "fold": fold,
                    "factor": factor,
                    "variant": variant,
                    "model": model,
                    "status": "ok" if ok else "training_failed",
                    "f1_buy": 0.40 + 0.01 * index + delta if ok else math.nan,
                    **BASELINE_METRICS,
                    **(overrides or {}),
                }
            )
    return rows


FEW_OK_CELLS: set[tuple[str, int]] = {(c, f) for c in ("A", "B") for f in (0, 1, 2, 3)}


def standard_table() -> pd.DataFrame:
    """Baseline plus one variant per verdict.

    lock: Δ = +0.03 + offsets (every gate passes); keep: Δ = +0.005 + offsets (only the mean lift
    fails); abandon: Δ = −0.03 + offsets; few: lock's deltas but only 8 ok cells; blocked: lock's
    deltas, made INCONCLUSIVE by a blocking failure passed to the gate.
    """
    rows = baseline_rows()
    rows += variant_rows("lock", 0.03)
    rows += variant_rows("keep", 0.005)
    rows += variant_rows("abandon", -0.03)
    rows += variant_rows("few", 0.03, ok_cells=FEW_OK_CELLS)
    rows += variant_rows("blocked", 0.03)
    return pd.DataFrame(rows)


def single_variant_table(
    shift: float | Shift,
    overrides: Mapping[str, float] | None = None,
    base_overrides: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Baseline (optionally with other metric values) plus one variant named "candidate"."""
    base = pd.DataFrame(baseline_rows())
    for column, value in (base_overrides or {}).items():
        base[column] = value
    return pd.concat([base, pd.DataFrame(variant_rows("candidate", shift, overrides))], ignore_index=True)
