"""A synthetic `finetune_results` table with known outcomes, and the catalogue that gates it.

5 cryptos × 5 folds, one model. `mild` lifts f1_buy by ≈ +0.03 (LOCK), `aggressive` lowers it by
≈ −0.02 (ABANDON). Its (EOS, f2) cell failed to train, so it is excluded with the error. Each ok
row carries the reliability bins of random test predictions.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from cvn_assets.core.catalogue.loading import Catalogue, parse_catalogue
from cvn_assets.core.metrics import reliability_bins
from cvn_assets.core.schema import RESULT_COLUMNS

CRYPTOS: tuple[str, ...] = ("BTC", "ETH", "LTC", "XRP", "EOS")
FOLDS: tuple[str, ...] = ("f1", "f2", "f3", "f4", "f5")
SWEEP = "toy_sweep"
FACTOR = "label_smoothing"
LIFTS = {"none": 0.0, "mild": 0.03, "aggressive": -0.02}
FAILED_CELL = ("aggressive", "EOS", "f2")
FAILURE_MESSAGE = "xgboost: bad allocation on EOS f2"


def toy_catalogue_document(bootstrap_resamples: int = 1000) -> dict:
    """The catalogue gating the toy table (fewer bootstrap resamples, to keep tests quick)."""
    return {
        "sweep": {"name": SWEEP, "universe": list(CRYPTOS), "models": ["xgboost"]},
        "factors": {
            FACTOR: {
                "alias": "ls",
                "baseline": "none",
                "variants": {
                    "none": {"eps_buy": 0.0, "eps_hold": 0.0},
                    "mild": {"eps_buy": 0.15, "eps_hold": 0.075},
                    "aggressive": {"eps_buy": 0.30, "eps_hold": 0.15},
                },
            },
            "cleanlab": {
                "alias": "cl",
                "baseline": "off",
                "variants": {
                    "off": {"mode": "off"},
                    "filter": {"mode": "filter"},
                },
            },
        },
        "joint": [[FACTOR, "cleanlab"]],
        "gate": {"bootstrap_resamples": bootstrap_resamples},
    }


def toy_catalogue() -> Catalogue:
    return parse_catalogue(toy_catalogue_document())


def toy_results(seed: int = 0, with_bins: bool = True) -> pd.DataFrame:
    """Every column of the results table, in the store's order."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, crypto in enumerate(CRYPTOS):
        for j, fold in enumerate(FOLDS):
            base = 0.40 + 0.01 * i - 0.005 * j
            for variant, lift in LIFTS.items():
                failed = (variant, crypto, fold) == FAILED_CELL
                p = rng.uniform(0.0, 1.0, 200)
                y = (rng.uniform(0.0, 1.0, 200) < p ** (1.2 if variant == "none" else 1.5)).astype(int)
                rows.append(
                    {
                        "sweep_id": SWEEP,
                        "crypto": crypto,
                        "fold": fold,
                        "factor": FACTOR,
                        "variant": variant,
                        "model": "xgboost",
                        "config_id": "baseline" if variant == "none" else f"ls_{variant}",
                        "status": "training_failed" if failed else "ok",
                        "error": FAILURE_MESSAGE if failed else None,
                        "f1_buy": np.nan if failed else base + lift + rng.normal(0.0, 0.005),
                        "sortino": 1.0,
                        "expectancy_net": 0.002,
                        "max_drawdown": 0.05,
                        "ece_hold": 0.03,
                        "ece": 0.04,
                        "brier": 0.2,
                        "log_loss": 0.6,
                        "n_trades": 60,
                        "reliability_bins": None if failed else json.dumps(reliability_bins(y, p)),
                    }
                )
    frame = pd.DataFrame(rows)
    for column in RESULT_COLUMNS:
        if column not in frame:
            frame[column] = np.nan
    frame = frame[list(RESULT_COLUMNS)]
    return frame if with_bins else frame.drop(columns=["reliability_bins"])
