"""Checks evaluated inside a step: the cell step's, and the per-crypto data step's.

A separate check step would reload the value it checks and add a step's worth of events to every
run; evaluated inline, a blocking check still blocks everything downstream in the run (the step stops
after recording the asset and the failed check, and then fails). An advisory check (not blocking)
only warns: its failure is recorded and the run goes on.
"""

import dagster as dg

from cvn_assets.core.checks.sanity import CheckOutcome

TARGETS_CHECK = "targets_in_range_and_train_only"
CLEANLAB_CHECK = "cleanlab_within_class_cap"
ENSEMBLE_CHECK = "ensemble_probabilities_valid"
METRICS_CHECK = "no_degenerate_metrics"
SKILL_CHECK = "models_beat_always_buy"


def predictions_check(model: str) -> str:
    return f"{model}_probabilities_valid"


DESCRIPTIONS = {
    TARGETS_CHECK: "Training targets within [0, 1], and only on the fold's training rows.",
    CLEANLAB_CHECK: "Flagged rows of each class within the per-class cap.",
    METRICS_CHECK: "No metric exactly 0.0 where it cannot be (e.g. ECE on soft-label models).",
    SKILL_CHECK: "Every model beats the trivial always-BUY rule: f1_buy above its F1 2π/(1+π) by more than the "
    "`skill` section's min_f1_lift, BUY on at most max_buy_signal_rate of the test bars. Warns only.",
}
PREDICTIONS_DESCRIPTION = "Predicted probabilities finite and within [0, 1]."


def inline_check(name: str, asset: dg.AssetKey | str, partitions: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name,
        asset=asset,
        blocking=True,
        partitions_def=partitions,
        description=DESCRIPTIONS.get(name, PREDICTIONS_DESCRIPTION),
    )


def advisory_check(name: str, asset: dg.AssetKey | str, partitions: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    """A check that warns when it fails and blocks nothing."""
    return dg.AssetCheckSpec(
        name, asset=asset, blocking=False, partitions_def=partitions, description=DESCRIPTIONS[name]
    )


def _metadata(outcome: CheckOutcome) -> dict[str, float | str | dg.MetadataValue]:
    metadata: dict[str, float | str | dg.MetadataValue] = {
        "observed": outcome.observed,
        "threshold": outcome.threshold,
        "detail": dg.MetadataValue.text(outcome.detail),
    }
    if outcome.breakdown:
        metadata["breakdown"] = dg.MetadataValue.json(dict(outcome.breakdown))
    return metadata


def check_evaluation(
    name: str, asset: dg.AssetKey, outcome: CheckOutcome, partition: str, blocking: bool = True
) -> dg.AssetCheckEvaluation:
    """The outcome of a check evaluated inside a step, on one partition (a cell run may cover several
    partitions, which an `AssetCheckResult` cannot name). A failed advisory check is a warning."""
    severity = dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckEvaluation(
        asset_key=asset,
        check_name=name,
        passed=outcome.passed,
        partition=partition,
        blocking=blocking,
        severity=severity,
        description=outcome.detail,
        metadata=_metadata(outcome),
    )
