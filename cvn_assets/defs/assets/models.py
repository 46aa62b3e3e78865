"""Per-cell model assets: out-of-sample predictions of each model, one asset per registered learner."""

import json
from collections.abc import Iterator

import dagster as dg
import numpy as np
import pandas as pd

from cvn_assets.core.ensembles import ensemble_base_models
from cvn_assets.core.ensembles.cell import run_cell_ensembles
from cvn_assets.core.noise import CleanlabMask, apply_cleanlab
from cvn_assets.core.sanity import prediction_sanity
from cvn_assets.core.scoring import bundle_from_outcome, dump_bundle
from cvn_assets.core.secrets import scrub
from cvn_assets.core.training import ModelOutcome, fit_and_predict
from cvn_assets.defs.assets.common import OWNERS, table_metadata
from cvn_assets.defs.assets.training import fold_of
from cvn_assets.defs.cell_checks import ENSEMBLE_CHECK, check_result, inline_check, predictions_check
from cvn_assets.defs.lineage import lineage_metadata
from cvn_assets.defs.partitions import SweepPartitions, split_cell_key
from cvn_assets.defs.resources import ArtifactStoreResource, SweepResource

PREDICTIONS_PREFIX = "oos_predictions"


def prediction_asset_key(model: str) -> dg.AssetKey:
    return dg.AssetKey([PREDICTIONS_PREFIX, model])


def build_model_assets(partitions: SweepPartitions, models: tuple[str, ...]) -> list[dg.AssetsDefinition]:
    return [_prediction_asset(partitions, model) for model in models]


def _prediction_asset(partitions: SweepPartitions, model: str) -> dg.AssetsDefinition:
    @dg.asset(key=prediction_asset_key(model), partitions_def=partitions.cell, group_name="models",
              kinds={model.split("_")[0], "parquet"}, owners=OWNERS, code_version="1",
              check_specs=[inline_check(predictions_check(model), prediction_asset_key(model), partitions.cell)],
              description=(f"Calibrated out-of-sample P(BUY) of {model} on the validation and test windows of one "
                           "cell, with the threshold chosen on validation. Training rows and weights follow the "
                           "cleanlab mask on top of class balancing; a failed fit is recorded as training_failed "
                           "and the sweep goes on."))
    def predictions(context: dg.AssetExecutionContext, features: pd.DataFrame, raw_labels: pd.DataFrame,
                    fold_windows: pd.DataFrame, smoothed_labels: pd.DataFrame, cleanlab_mask: pd.DataFrame,
                    sweep: SweepResource,
                    artifacts: ArtifactStoreResource) -> Iterator[dg.Output[dict[str, pd.DataFrame]] | dg.AssetCheckResult]:
        crypto, fold_id, config_id = split_cell_key(context.partition_key)
        catalogue = sweep.catalogue
        pipeline = catalogue.pipeline
        mode = str(cleanlab_mask["mode"].iloc[0]) if len(cleanlab_mask) else "off"
        mask = CleanlabMask(frame=cleanlab_mask.drop(columns=["mode"]), stats={}, mode=mode)
        targets, cleanlab_weights = apply_cleanlab(smoothed_labels, mask, mode)
        learner_name, learner_params = catalogue.config(config_id).learner_for(model, pipeline.learners.get(model))
        _log_event(context, "training_started", model=model, learner=learner_name, crypto=crypto, fold=fold_id,
                   config=config_id,
                   n_train=len(targets), n_features=features.shape[1] - 1,
                   buy_share=round(float(targets["hard_label"].mean()), 4), cleanlab_mode=mode)
        outcome = fit_and_predict(
            model, features, raw_labels, fold_of(fold_windows, fold_id), targets, sample_weight=cleanlab_weights,
            learner_params=learner_params, learner_name=learner_name,
            class_balancing=pipeline.training.class_balancing,
            calibration=pipeline.calibration, threshold=pipeline.threshold,
            seed=catalogue.seed, n_threads=sweep.n_threads,
        )
        _log_event(context, "training_complete", **_completion_fields(outcome, crypto, fold_id, config_id))
        metadata: dict[str, dg.MetadataValue] = {
            **lineage_metadata(context),
            "status": dg.MetadataValue.text(outcome.status),
            "learner": dg.MetadataValue.text(learner_name),
            "learner_params": dg.MetadataValue.json(scrub(learner_params)),
            "threshold": dg.MetadataValue.float(float(outcome.threshold)),
            "train_rows": dg.MetadataValue.int(len(targets)),
            "fit_seconds": dg.MetadataValue.float(outcome.fit_seconds),
            "cleanlab_mode": dg.MetadataValue.text(mode),
        }
        feature_names = tuple(c for c in features.columns if c != "timestamp")
        bundle = bundle_from_outcome(outcome, pipeline.calibration, feature_names)
        if bundle is not None:
            path = artifacts.write_model(crypto, fold_id, config_id, model, dump_bundle(bundle))
            metadata["model_path"] = dg.MetadataValue.path(str(path))
        if outcome.learner is not None and hasattr(outcome.learner, "feature_importance"):
            importance = pd.Series(outcome.learner.feature_importance(list(feature_names))).sort_values(ascending=False)
            metadata["top_features"] = table_metadata(
                importance.head(10).rename_axis("feature").reset_index(name="importance"))
        if outcome.error:
            context.log.error(f"{crypto} {fold_id} {config_id} {model}: training failed: {outcome.error}")
            metadata["error"] = dg.MetadataValue.text(outcome.error)
        yield dg.Output({"predictions": outcome.predictions, "models": pd.DataFrame([outcome.summary()])},
                        metadata=metadata)
        yield check_result(predictions_check(model), prediction_sanity(outcome.predictions))

    return predictions


def _completion_fields(outcome: ModelOutcome, crypto: str, fold: str, config: str) -> dict[str, object]:
    learner = outcome.learner
    best_iteration = getattr(learner, "n_iterations_", None) if learner is not None else None
    return {"model": outcome.model, "crypto": crypto, "fold": fold, "config": config, "status": outcome.status,
            "n_train": outcome.train_rows, "threshold": None if np.isnan(outcome.threshold) else outcome.threshold,
            "duration_seconds": round(outcome.duration_seconds, 3), "fit_seconds": round(outcome.fit_seconds, 3),
            "best_iteration": best_iteration, "error": outcome.error}


def _log_event(context: dg.AssetExecutionContext, event: str, **fields: object) -> None:
    # One JSON object per line with a fixed event name: every learner logs the same schema.
    context.log.info(json.dumps({"event": event, **fields}, default=str))


def build_ensemble_asset(partitions: SweepPartitions, models: tuple[str, ...],
                         ensembles: tuple[str, ...]) -> list[dg.AssetsDefinition]:
    """One asset per cell with every ensemble's predictions; none when the sweep runs no ensemble."""
    if not ensembles:
        return []

    @dg.asset(partitions_def=partitions.cell, group_name="models", kinds={"scikitlearn", "parquet"},
              owners=OWNERS, code_version="1", ins={m: dg.AssetIn(key=prediction_asset_key(m)) for m in models},
              check_specs=[inline_check(ENSEMBLE_CHECK, "stacked_ensemble", partitions.cell)])
    def stacked_ensemble(context: dg.AssetExecutionContext, sweep: SweepResource, **base: dict[str, pd.DataFrame],
                         ) -> Iterator[dg.Output[dict[str, pd.DataFrame]] | dg.AssetCheckResult]:
        """Blends and stackers over the base models' calibrated validation predictions.

        Meta-models learn only from validation rows (scored out of fold for their own calibration and
        threshold); test rows are only predicted. An ensemble whose base model failed is recorded as
        training_failed.
        """
        crypto, fold_id, config_id = split_cell_key(context.partition_key)
        catalogue = sweep.catalogue
        pipeline = catalogue.pipeline
        failed = sorted(m for m, value in base.items() if (value["models"]["status"] != "ok").any())
        predictions = pd.concat([value["predictions"] for value in base.values()], ignore_index=True)
        outcomes = run_cell_ensembles(
            catalogue.ensembles, predictions, failed, pipeline, catalogue.seed, sweep.n_threads,
            on_start=lambda name: _log_event(context, "training_started", model=name, crypto=crypto, fold=fold_id,
                                             config=config_id, base_models=list(ensemble_base_models(name))),
            on_complete=lambda outcome: _log_event(
                context, "training_complete", model=outcome.model, crypto=crypto, fold=fold_id, config=config_id,
                status=outcome.status, n_train=outcome.train_rows, threshold=outcome.threshold,
                duration_seconds=round(outcome.duration_seconds, 3), best_iteration=None, error=outcome.error))
        summaries = pd.DataFrame([o.summary() for o in outcomes])
        combined = pd.concat([o.predictions for o in outcomes], ignore_index=True)
        yield dg.Output({"predictions": combined, "models": summaries},
                        metadata={**lineage_metadata(context), "ensembles": table_metadata(summaries)})
        yield check_result(ENSEMBLE_CHECK, prediction_sanity(combined))

    return [stacked_ensemble]
