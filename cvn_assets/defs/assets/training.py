"""Per-cell assets (crypto × fold × configuration): training labels and out-of-sample predictions."""

import dagster as dg
import pandas as pd

from cvn_assets.core.folds import folds_from_frame
from cvn_assets.core.noise import CleanlabMask, apply_cleanlab, compute_cleanlab_mask
from cvn_assets.core.training import fit_and_predict, training_targets
from cvn_assets.defs.assets.common import OWNERS, float_metadata, table_metadata
from cvn_assets.defs.partitions import SweepPartitions, split_cell_key
from cvn_assets.defs.resources import ArtifactStoreResource, SweepResource


def _fold(fold_windows: pd.DataFrame, fold_id: str):  # noqa: ANN202 - FoldWindows
    for fold in folds_from_frame(fold_windows):
        if fold.fold == fold_id:
            return fold
    raise KeyError(f"fold {fold_id} is not in the fold plan")


def build_training_assets(partitions: SweepPartitions) -> list[dg.AssetsDefinition]:
    cells = partitions.cell

    @dg.asset(partitions_def=cells, group_name="labels", kinds={"pandas", "parquet"}, owners=OWNERS,
              code_version="1")
    def smoothed_labels(context: dg.AssetExecutionContext, raw_labels: pd.DataFrame, fold_windows: pd.DataFrame,
                        sweep: SweepResource) -> dg.Output[pd.DataFrame]:
        """Training targets of one cell: hard labels of the fold's training window, smoothed per the variant.

        Only training rows are smoothed; validation and test keep their hard labels.
        """
        crypto, fold_id, config_id = split_cell_key(context.partition_key)
        smoothing = sweep.catalogue.config(config_id).params_for("label_smoothing")
        frame = training_targets(raw_labels, _fold(fold_windows, fold_id), smoothing)
        return dg.Output(frame, metadata=float_metadata({
            "rows": len(frame), "eps_buy": smoothing.eps_buy, "eps_hold": smoothing.eps_hold,
            "mean_target": float(frame["target"].mean()), "buy_rate": float(frame["hard_label"].mean()),
        }))

    @dg.asset(partitions_def=cells, group_name="labels", kinds={"cleanlab", "parquet"}, owners=OWNERS,
              code_version="1")
    def cleanlab_mask(context: dg.AssetExecutionContext, features: pd.DataFrame, raw_labels: pd.DataFrame,
                      fold_windows: pd.DataFrame, sweep: SweepResource) -> dg.Output[pd.DataFrame]:
        """Confident-learning screen of one cell's training labels: suspects, per-class capped flags, weights.

        Out-of-sample P(BUY) comes from a purged, embargoed inner 2-fold CV on the training window only.
        """
        crypto, fold_id, config_id = split_cell_key(context.partition_key)
        catalogue = sweep.catalogue
        params = catalogue.config(config_id).params_for("cleanlab")
        mask = compute_cleanlab_mask(features, raw_labels, _fold(fold_windows, fold_id).train, params,
                                     label_horizon=catalogue.pipeline.labels.horizon,
                                     embargo_bars=catalogue.pipeline.folds.embargo_bars,
                                     seed=catalogue.seed, n_threads=sweep.n_threads)
        frame = mask.frame.assign(mode=mask.mode)
        return dg.Output(frame, metadata={"mode": dg.MetadataValue.text(params.mode),
                                          "max_drop_pct": dg.MetadataValue.float(params.max_drop_pct),
                                          **float_metadata(mask.stats)})

    @dg.asset(partitions_def=cells, group_name="models", kinds={"xgboost", "parquet"}, owners=OWNERS,
              code_version="1")
    def oos_predictions(context: dg.AssetExecutionContext, features: pd.DataFrame, raw_labels: pd.DataFrame,
                        fold_windows: pd.DataFrame, smoothed_labels: pd.DataFrame, cleanlab_mask: pd.DataFrame,
                        sweep: SweepResource, artifacts: ArtifactStoreResource) -> dg.Output[dict[str, pd.DataFrame]]:
        """Calibrated out-of-sample P(BUY) on the validation and test windows, per model, with each threshold.

        Training rows and weights follow the cleanlab mask (filter drops, reweight down-weights) on
        top of class balancing. A model that fails to fit is recorded as `training_failed` with its
        error; the sweep goes on.
        """
        crypto, fold_id, config_id = split_cell_key(context.partition_key)
        catalogue = sweep.catalogue
        pipeline = catalogue.pipeline
        fold = _fold(fold_windows, fold_id)
        mode = str(cleanlab_mask["mode"].iloc[0]) if len(cleanlab_mask) else "off"
        mask = CleanlabMask(frame=cleanlab_mask.drop(columns=["mode"]), stats={}, mode=mode)
        targets, cleanlab_weights = apply_cleanlab(smoothed_labels, mask, mode)
        outcomes = []
        for model in catalogue.models:
            outcome = fit_and_predict(
                model, features, raw_labels, fold, targets, sample_weight=cleanlab_weights,
                learner_params=pipeline.learners.get(model), class_balancing=pipeline.training.class_balancing,
                calibration=pipeline.calibration, threshold=pipeline.threshold,
                seed=catalogue.seed, n_threads=sweep.n_threads,
            )
            if outcome.learner is not None and hasattr(outcome.learner, "to_bytes"):
                path = artifacts.write_model(crypto, fold_id, config_id, model, outcome.learner.to_bytes())
                context.add_output_metadata({f"model_path_{model}": dg.MetadataValue.path(str(path))})
            if outcome.error:
                context.log.error(f"{crypto} {fold_id} {config_id} {model}: training failed: {outcome.error}")
            outcomes.append(outcome)
        models = pd.DataFrame([o.summary() for o in outcomes])
        predictions = pd.concat([o.predictions for o in outcomes], ignore_index=True)
        return dg.Output({"predictions": predictions, "models": models}, metadata={
            "models": table_metadata(models),
            "status": dg.MetadataValue.text(",".join(sorted(set(models["status"])))),
            "train_rows": dg.MetadataValue.int(len(targets)),
            "cleanlab_mode": dg.MetadataValue.text(mode),
            "predicted_rows": dg.MetadataValue.int(len(predictions)),
        })

    return [smoothed_labels, cleanlab_mask, oos_predictions]
