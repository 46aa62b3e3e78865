"""Time of the gate of one factor with many variants, on a synthetic results table.

The table has the results schema (every column of RESULT_COLUMNS) and one ok row per variant ×
crypto × fold for one model; each variant gets its own lift so verdicts vary. The catalogue that
declares the variants goes through the same parser as a user's.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import pandas as pd

from cvn_assets.core.catalogue.loading import Catalogue, parse_catalogue
from cvn_assets.core.gate.sweep import evaluate_single_factor, forget_recent_verdicts
from cvn_assets.core.schema import METRIC_COLUMNS, RESULT_COLUMNS, STATUS_OK

GATE_FACTOR = "label_smoothing"
GATE_BASELINE = "none"
GATE_MODEL = "xgboost"
TARGET_SECONDS = 0.5


def many_variants_catalogue(n_variants: int, n_cryptos: int, n_folds: int) -> Catalogue:
    """A catalogue whose label-smoothing factor declares `n_variants` variants, the baseline included."""
    if n_variants < 2:
        raise ValueError(f"the gate needs a baseline and at least one variant, got n_variants={n_variants}")
    step = 0.5 / n_variants
    variants: dict[str, dict[str, float]] = {GATE_BASELINE: {"eps_buy": 0.0, "eps_hold": 0.0}}
    for index in range(1, n_variants):
        eps_buy = round(index * step, 6)
        variants[f"v{index:02d}"] = {"eps_buy": eps_buy, "eps_hold": round(eps_buy / 2, 6)}
    document = {
        "sweep": {
            "name": "gate_bench",
            "universe": [f"C{i}" for i in range(1, n_cryptos + 1)],
            "seed": 0,
            "models": [GATE_MODEL],
        },
        "folds": {"n_folds": n_folds},
        "factors": {GATE_FACTOR: {"alias": "ls", "baseline": GATE_BASELINE, "variants": variants}},
    }
    return parse_catalogue(document, source="<gate benchmark>")


def synthetic_results(catalogue: Catalogue, n_folds: int, seed: int = 0) -> pd.DataFrame:
    """One ok row per variant × crypto × fold, every metric finite and non-zero."""
    rng = np.random.default_rng(seed)
    factor = catalogue.factor(GATE_FACTOR)
    lifts = np.linspace(-0.04, 0.05, len(factor.variants))
    rows = []
    for variant, lift in zip(factor.variants, lifts, strict=True):
        shift = 0.0 if variant.is_baseline else float(lift)
        for crypto in catalogue.universe:
            for fold in range(1, n_folds + 1):
                metrics = {name: float(rng.uniform(0.05, 0.6)) for name in METRIC_COLUMNS}
                metrics.update(
                    f1_buy=float(np.clip(0.35 + shift + rng.normal(0, 0.02), 0.01, 0.99)),
                    n_trades=int(rng.integers(40, 120)),
                    threshold=0.5,
                )
                rows.append(
                    {
                        "sweep_id": catalogue.sweep_name,
                        "crypto": crypto,
                        "fold": f"f{fold}",
                        "factor": GATE_FACTOR,
                        "variant": variant.name,
                        "model": GATE_MODEL,
                        "config_id": "baseline" if variant.is_baseline else f"ls_{variant.name}",
                        "status": STATUS_OK,
                        "error": None,
                        "train_rows": 5000,
                        "val_rows": 1500,
                        "test_rows": 1500,
                        "fit_seconds": 1.0,
                        "duration_seconds": 1.2,
                        **metrics,
                    }
                )
    frame = pd.DataFrame(rows)
    for column in RESULT_COLUMNS:
        if column not in frame:
            frame[column] = None
    return frame[list(RESULT_COLUMNS)]


def time_gate(n_variants: int = 20, n_cryptos: int = 5, n_folds: int = 5, repeats: int = 5) -> dict[str, Any]:
    """Seconds of `evaluate_single_factor` over the synthetic table: the first call and the repeats."""
    catalogue = many_variants_catalogue(n_variants, n_cryptos, n_folds)
    rows = synthetic_results(catalogue, n_folds)
    timings = []
    verdicts: list[str] = []
    for _ in range(max(repeats, 1)):
        forget_recent_verdicts()  # each repeat evaluates, rather than finding the previous verdicts
        started = time.perf_counter()
        result = evaluate_single_factor(catalogue, rows, GATE_FACTOR)
        timings.append(time.perf_counter() - started)
        verdicts = [str(v.verdict) for fv in result for v in fv.variants]
    median = statistics.median(timings)
    return {
        "variants": n_variants,
        "variants_gated": len(verdicts),
        "cryptos": n_cryptos,
        "folds": n_folds,
        "rows": len(rows),
        "repeats": len(timings),
        "first_seconds": timings[0],
        "median_seconds": median,
        "min_seconds": min(timings),
        "target_seconds": TARGET_SECONDS,
        "within_target": median <= TARGET_SECONDS,
        "verdict_counts": {v: verdicts.count(v) for v in sorted(set(verdicts))},
    }
