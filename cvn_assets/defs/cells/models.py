"""Per-cell model computations: out-of-sample predictions of each model, and the ensembles over them."""

import dagster as dg
import numpy as np
import pandas as pd

from cvn_assets.core.checks.sanity import prediction_sanity
from cvn_assets.core.ensembles import ensemble_base_models
from cvn_assets.core.ensembles.cell import run_cell_ensembles
from cvn_assets.core.metrics import TradeSimulator
from cvn_assets.core.noise import CleanlabMask, apply_cleanlab
from cvn_assets.core.secrets import scrub
from cvn_assets.core.training.fit import ModelOutcome, fit_and_predict
from cvn_assets.core.training.scoring import bundle_from_outcome, dump_bundle
from cvn_assets.defs.cells.cell_asset import cell_asset
from cvn_assets.defs.cells.checks import ENSEMBLE_CHECK, predictions_check
from cvn_assets.defs.cells.types import Cell, CellTools, CryptoInputs, Part
from cvn_assets.defs.metadata import table_metadata

PREDICTIONS_PREFIX = "oos_predictions"


def prediction_asset_key(model: str) -> dg.AssetKey:
    return dg.AssetKey([PREDICTIONS_PREFIX, model])


@cell_asset(
    group="models",
    kinds={"parquet"},
    check=predictions_check,
    reads=("features", "raw_labels", "fold_windows", "ohlcv"),
    per_model=True,
)
def oos_predictions(
    model: str,
    cell: Cell,
    data: CryptoInputs,
    tools: CellTools,
    *,
    smoothed_labels: pd.DataFrame,
    cleanlab_mask: pd.DataFrame,
) -> Part:
    """Calibrated out-of-sample P(BUY) of one model on the cell's validation and test windows.

    Training rows and weights follow the cleanlab mask on top of class balancing; a failed fit is
    recorded as training_failed and the sweep goes on.
    """
    sweep, log_event = tools.sweep, tools.log_event
    catalogue = sweep.catalogue
    pipeline = catalogue.pipeline
    features = data.features
    mode = str(cleanlab_mask["mode"].iloc[0]) if len(cleanlab_mask) else "off"
    mask = CleanlabMask(frame=cleanlab_mask.drop(columns=["mode"]), stats={}, mode=mode)
    targets, cleanlab_weights = apply_cleanlab(smoothed_labels, mask, mode)
    learner_name, learner_params = catalogue.config(cell.config_id).learner_for(model, pipeline.learners.get(model))
    log_event(
        "training_started",
        model=model,
        learner=learner_name,
        crypto=cell.crypto,
        fold=cell.fold,
        config=cell.config_id,
        n_train=len(targets),
        n_features=features.shape[1] - 1,
        buy_share=round(float(targets["hard_label"].mean()), 4),
        cleanlab_mode=mode,
    )
    outcome = fit_and_predict(
        model,
        features,
        data.raw_labels,
        data.fold(cell.fold),
        targets,
        label_horizon=pipeline.labels.horizon,
        embargo_bars=pipeline.folds.embargo_bars,
        sample_weight=cleanlab_weights,
        learner_params=learner_params,
        learner_name=learner_name,
        class_balancing=pipeline.training.class_balancing,
        calibration=pipeline.calibration,
        threshold=pipeline.threshold,
        seed=catalogue.seed,
        n_threads=sweep.n_threads,
        simulator=TradeSimulator.from_ohlcv(data.ohlcv, pipeline.labels, pipeline.costs),
    )
    log_event("training_complete", **_completion_fields(outcome, cell))
    metadata: dict[str, dg.MetadataValue] = {
        "status": dg.MetadataValue.text(outcome.status),
        "learner": dg.MetadataValue.text(learner_name),
        "learner_params": dg.MetadataValue.json(scrub(learner_params)),
        "threshold": dg.MetadataValue.float(float(outcome.threshold)),
        "train_rows": dg.MetadataValue.int(len(targets)),
        "fit_seconds": dg.MetadataValue.float(outcome.fit_seconds),
        "learner_threads": dg.MetadataValue.int(sweep.n_threads),
        "cleanlab_mode": dg.MetadataValue.text(mode),
    }
    feature_names = tuple(c for c in features.columns if c != "timestamp")
    bundle = bundle_from_outcome(outcome, pipeline.calibration, feature_names)
    if bundle is not None:
        path = tools.artifacts.write_model(cell.crypto, cell.fold, cell.config_id, model, dump_bundle(bundle))
        metadata["model_path"] = dg.MetadataValue.path(str(path))
    if outcome.learner is not None and hasattr(outcome.learner, "feature_importance"):
        importance = pd.Series(outcome.learner.feature_importance(list(feature_names))).sort_values(ascending=False)
        metadata["top_features"] = table_metadata(
            importance.head(10).rename_axis("feature").reset_index(name="importance")
        )
    if outcome.error:
        metadata["error"] = dg.MetadataValue.text(outcome.error)
    value = {"predictions": outcome.predictions, "models": pd.DataFrame([outcome.summary()])}
    return Part(value, metadata, prediction_sanity(outcome.predictions))


def _completion_fields(outcome: ModelOutcome, cell: Cell) -> dict[str, object]:
    learner = outcome.learner
    best_iteration = getattr(learner, "n_iterations_", None) if learner is not None else None
    return {
        "model": outcome.model,
        "crypto": cell.crypto,
        "fold": cell.fold,
        "config": cell.config_id,
        "status": outcome.status,
        "n_train": outcome.train_rows,
        "threshold": None if np.isnan(outcome.threshold) else outcome.threshold,
        "duration_seconds": round(outcome.duration_seconds, 3),
        "fit_seconds": round(outcome.fit_seconds, 3),
        "best_iteration": best_iteration,
        "error": outcome.error,
    }


@cell_asset(group="models", kinds={"scikitlearn", "parquet"}, check=ENSEMBLE_CHECK, reads=("ohlcv",))
def stacked_ensemble(
    cell: Cell, data: CryptoInputs, tools: CellTools, *, oos_predictions: dict[str, dict[str, pd.DataFrame]]
) -> Part:
    """Blends and stackers over the base models' calibrated validation predictions of one cell.

    Meta-models learn only from validation rows (scored out of fold for their own calibration and
    threshold); test rows are only predicted. An ensemble whose base model failed is recorded as
    training_failed.
    """
    catalogue, log_event = tools.sweep.catalogue, tools.log_event
    failed = sorted(m for m, value in oos_predictions.items() if (value["models"]["status"] != "ok").any())
    predictions = pd.concat([value["predictions"] for value in oos_predictions.values()], ignore_index=True)
    outcomes = run_cell_ensembles(
        catalogue.ensembles,
        predictions,
        failed,
        catalogue.pipeline,
        catalogue.seed,
        tools.sweep.n_threads,
        on_start=lambda name: log_event(
            "training_started",
            model=name,
            crypto=cell.crypto,
            fold=cell.fold,
            config=cell.config_id,
            base_models=list(ensemble_base_models(name)),
        ),
        on_complete=lambda outcome: log_event(
            "training_complete",
            model=outcome.model,
            crypto=cell.crypto,
            fold=cell.fold,
            config=cell.config_id,
            status=outcome.status,
            n_train=outcome.train_rows,
            threshold=outcome.threshold,
            duration_seconds=round(outcome.duration_seconds, 3),
            best_iteration=None,
            error=outcome.error,
        ),
        simulator=TradeSimulator.from_ohlcv(data.ohlcv, catalogue.pipeline.labels, catalogue.pipeline.costs),
    )
    summaries = pd.DataFrame([o.summary() for o in outcomes])
    combined = pd.concat([o.predictions for o in outcomes], ignore_index=True)
    return Part(
        {"predictions": combined, "models": summaries},
        {"ensembles": table_metadata(summaries)},
        prediction_sanity(combined),
    )
