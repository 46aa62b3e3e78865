"""Asset jobs, one per partitioning: per crypto, per cell, per factor."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from cvn_assets.defs.data.assets import DATA_ASSETS
from cvn_assets.defs.k8s import K8S_JOB_TAGS

CRYPTO_DATA_JOB = "crypto_data_job"
CELL_JOB = "cell_job"
GATE_JOB = "gate_job"
DRIFT_JOB = "drift_job"
CRYPTO_DATA_ASSETS: tuple[str, ...] = tuple(asset.key.to_user_string() for asset in DATA_ASSETS)


def build_jobs(
    assets: Sequence[dg.AssetsDefinition], cell_partitions: dg.PartitionsDefinition
) -> list[dg.UnresolvedAssetJobDefinition]:
    """The cell job holds every asset partitioned by cell, so new models and ensembles join it by themselves."""
    cell_keys = [key for asset in assets if asset.partitions_def == cell_partitions for key in asset.keys]
    return [
        dg.define_asset_job(
            CRYPTO_DATA_JOB,
            selection=dg.AssetSelection.assets(*CRYPTO_DATA_ASSETS),
            description="Per-crypto work shared by every variant: OHLCV, features, labels, folds.",
            tags=K8S_JOB_TAGS[CRYPTO_DATA_JOB],
        ),
        dg.define_asset_job(
            CELL_JOB,
            selection=dg.AssetSelection.assets(*cell_keys),
            description="Train, predict and evaluate one crypto × fold × configuration cell.",
            tags=K8S_JOB_TAGS[CELL_JOB],
        ),
        dg.define_asset_job(
            GATE_JOB,
            selection=dg.AssetSelection.assets("gate_verdict", "results_dossier"),
            description="Statistical gate verdict of one factor and its results dossier.",
            tags=K8S_JOB_TAGS[GATE_JOB],
        ),
        dg.define_asset_job(
            DRIFT_JOB,
            selection=dg.AssetSelection.assets("drift_monitor"),
            description="Drift monitor of one crypto on the newest data of its source.",
            tags=K8S_JOB_TAGS[DRIFT_JOB],
        ),
    ]
