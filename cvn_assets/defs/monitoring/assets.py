"""Drift monitors, one per crypto: the current baseline model against the newest data of the source."""

import dataclasses
from pathlib import Path

import dagster as dg
import pandas as pd

from cvn_assets.core.catalogue.configs import BASELINE_CONFIG_ID
from cvn_assets.core.drift.monitor import monitor_drift
from cvn_assets.core.drift.statistics import top_features_by_importance
from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.schema import STATUS_OK
from cvn_assets.core.training.folds import fold_ids
from cvn_assets.core.training.scoring import load_bundle
from cvn_assets.defs.cells.labels import fold_of
from cvn_assets.defs.cells.models import prediction_asset_key
from cvn_assets.defs.metadata import OWNERS, float_metadata, table_metadata
from cvn_assets.defs.partitions import CRYPTO_DIMENSION, SweepPartitions, cell_key
from cvn_assets.defs.resources import OhlcvSourceResource, ResultsStoreResource, SweepResource

DRIFT_MONITOR = "drift_monitor"


def build_monitoring_assets(partitions: SweepPartitions, primary_model: str) -> list[dg.AssetsDefinition]:
    model_key = prediction_asset_key(primary_model)

    @dg.asset(
        name=DRIFT_MONITOR,
        partitions_def=partitions.crypto,
        group_name="monitoring",
        kinds={"python", "pandas"},
        owners=OWNERS,
        code_version="1",
        deps=[
            dg.AssetDep(
                model_key,
                partition_mapping=dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=CRYPTO_DIMENSION),
            )
        ],
        description=(
            f"Data drift (PSI of the baseline {primary_model}'s top features), concept drift (recent "
            "realised f1_buy vs OOS f1_buy) and output sharpness of one crypto, on the newest bars "
            "its OHLCV source has against the training window of the latest fold's baseline model. "
            "Levels are reported and alerted, never acted on."
        ),
    )
    def drift_monitor(
        context: dg.AssetExecutionContext,
        raw_labels: pd.DataFrame,
        fold_windows: pd.DataFrame,
        ohlcv_source: OhlcvSourceResource,
        sweep: SweepResource,
        results: ResultsStoreResource,
    ) -> dg.Output[pd.DataFrame]:
        crypto = context.partition_key
        catalogue = sweep.catalogue
        pipeline = catalogue.pipeline
        fold_id = fold_ids(pipeline.folds)[-1]
        cell = str(cell_key(crypto, fold_id, BASELINE_CONFIG_ID))
        model_metadata = _latest_metadata(context.instance, model_key, cell)
        if model_metadata is None or "model_path" not in model_metadata:
            raise DataSourceError(
                f"drift monitor {crypto}: no trained baseline model; materialize "
                f"{model_key.to_user_string()} [{cell}] first (run the sweep)"
            )
        model_path = str(model_metadata["model_path"].value)
        bundle = load_bundle(Path(model_path).read_bytes(), model_path)
        importance = {str(r["feature"]): float(r["importance"]) for r in _table_rows(model_metadata, "top_features")}
        watched = top_features_by_importance(importance, pipeline.drift.top_features)
        oos_f1 = _oos_f1(results, sweep.name, crypto, fold_id, primary_model)
        train_timestamps = raw_labels["timestamp"].iloc[fold_of(fold_windows, fold_id).train]
        report = monitor_drift(
            ohlcv_source.load(crypto),
            train_timestamps,
            bundle,
            watched,
            oos_f1,
            pipeline.drift,
            pipeline.features,
            pipeline.labels,
        )
        frame = pd.DataFrame([dataclasses.asdict(r) for r in report.results()])
        context.log.info(f"drift {crypto}: {report.level} (recent bars up to {report.recent_window[1]})")
        return dg.Output(
            frame,
            metadata={
                "level": dg.MetadataValue.text(report.level),
                "statistics": table_metadata(frame),
                "results": dg.MetadataValue.json(frame.to_dict(orient="records")),
                "recent_first_bar": dg.MetadataValue.text(str(report.recent_window[0])),
                "recent_last_bar": dg.MetadataValue.text(str(report.recent_window[1])),
                "reference_window": dg.MetadataValue.text(
                    f"{report.reference_window[0]} .. {report.reference_window[1]}"
                ),
                "concept_drift": dg.MetadataValue.text(report.concept_note),
                "baseline_model": dg.MetadataValue.path(model_path),
                "baseline_cell": dg.MetadataValue.text(cell),
                **float_metadata(
                    {
                        "max_psi": float(report.psi["psi"].max()),
                        "oos_f1_buy": oos_f1,
                        "sharpness": report.sharpness.value,
                        "sharpness_warn": report.sharpness.threshold_warn,
                        "psi_warn": pipeline.drift.psi_warn,
                        "psi_critical": pipeline.drift.psi_critical,
                        "recent_rows": report.recent_rows,
                        "labeled_recent_rows": report.labeled_recent_rows,
                    }
                ),
            },
        )

    return [drift_monitor]


def _latest_metadata(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> dict | None:
    # Partition-scoped lookup: the instance's "latest materialization" of a key ignores partitions.
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    materialization = records[0].asset_materialization if records else None
    return dict(materialization.metadata) if materialization is not None else None


def _table_rows(metadata: dict, name: str) -> list[dict]:
    value = metadata.get(name)
    if value is None:
        raise DataSourceError(f"the baseline model's metadata has no {name!r}")
    return [dict(record.data) for record in value.value.records]


def _oos_f1(results: ResultsStoreResource, sweep_id: str, crypto: str, fold: str, model: str) -> float:
    rows = results.store().read(sweep_id)
    match = rows[
        (rows["crypto"] == crypto)
        & (rows["fold"] == fold)
        & (rows["config_id"] == BASELINE_CONFIG_ID)
        & (rows["model"] == model)
        & (rows["status"] == STATUS_OK)
    ]
    if match.empty:
        raise DataSourceError(
            f"drift monitor {crypto}: no OOS f1_buy of the baseline {model} on {fold} in sweep "
            f"{sweep_id!r}; run the sweep first"
        )
    return float(match["f1_buy"].iloc[0])
