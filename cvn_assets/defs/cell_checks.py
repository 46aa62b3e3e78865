"""Blocking checks evaluated inside a step: the cell step's, and the per-crypto data step's.

A separate check step would reload the value it checks and add a step's worth of events to every
run; evaluated inline, the check still blocks everything downstream in the run (the step stops
after recording the asset and the failed check, and then fails).
"""

import dagster as dg

from cvn_assets.core.sanity import CheckOutcome

TARGETS_CHECK = "targets_in_range_and_train_only"
CLEANLAB_CHECK = "cleanlab_within_class_cap"
ENSEMBLE_CHECK = "ensemble_probabilities_valid"
METRICS_CHECK = "no_degenerate_metrics"


def predictions_check(model: str) -> str:
    return f"{model}_probabilities_valid"


DESCRIPTIONS = {
    TARGETS_CHECK: "Training targets within [0, 1], and only on the fold's training rows.",
    CLEANLAB_CHECK: "Flagged rows of each class within the per-class cap.",
    METRICS_CHECK: "No metric exactly 0.0 where it cannot be (e.g. ECE on soft-label models).",
}
PREDICTIONS_DESCRIPTION = "Predicted probabilities finite and within [0, 1]."


def inline_check(name: str, asset: dg.AssetKey | str, partitions: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, blocking=True, partitions_def=partitions,
                             description=DESCRIPTIONS.get(name, PREDICTIONS_DESCRIPTION))


def _metadata(outcome: CheckOutcome) -> dict[str, object]:
    return {"observed": outcome.observed, "threshold": outcome.threshold,
            "detail": dg.MetadataValue.text(outcome.detail)}


def check_evaluation(name: str, asset: dg.AssetKey, outcome: CheckOutcome, partition: str) -> dg.AssetCheckEvaluation:
    """The outcome of a blocking check evaluated inside a step, on one partition (a cell run may cover several
    partitions, which an `AssetCheckResult` cannot name)."""
    return dg.AssetCheckEvaluation(asset_key=asset, check_name=name, passed=outcome.passed, partition=partition,
                                   blocking=True, severity=dg.AssetCheckSeverity.ERROR, description=outcome.detail,
                                   metadata=_metadata(outcome))
