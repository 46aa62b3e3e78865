"""Asset jobs, one per partitioning: per crypto, per cell, per factor."""

from __future__ import annotations

import dagster as dg

from cvn_assets.defs.assets.models import PREDICTIONS_PREFIX

CRYPTO_DATA_JOB = "crypto_data_job"
CELL_JOB = "cell_job"
GATE_JOB = "gate_job"


def build_jobs() -> list[dg.UnresolvedAssetJobDefinition]:
    return [
        dg.define_asset_job(
            CRYPTO_DATA_JOB, selection=dg.AssetSelection.assets("ohlcv", "features", "raw_labels", "fold_windows"),
            description="Per-crypto work shared by every variant: OHLCV, features, labels, folds.",
        ),
        dg.define_asset_job(
            CELL_JOB, selection=dg.AssetSelection.assets("smoothed_labels", "cleanlab_mask", "fold_metrics")
            | dg.AssetSelection.key_prefixes([PREDICTIONS_PREFIX]),
            description="Train, predict and evaluate one crypto × fold × configuration cell.",
        ),
        dg.define_asset_job(
            GATE_JOB, selection=dg.AssetSelection.assets("gate_verdict"),
            description="Statistical gate verdict of one factor.",
        ),
    ]
