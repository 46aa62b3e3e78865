"""Asset checks: blocking sanity checks per partition, and the gate as a check on its verdict.

Blocking checks stop downstream steps of the same run; each records what it observed and the
threshold it compared against, so a failure explains itself in the UI.
"""


import dagster as dg
import pandas as pd

from cvn_assets.core.data.validation import validate_ohlcv
from cvn_assets.core.errors import OhlcvValidationError
from cvn_assets.core.sanity import (
    CheckOutcome,
    cleanlab_cap_sanity,
    degenerate_metrics_sanity,
    label_sanity,
    prediction_sanity,
    training_targets_sanity,
)
from cvn_assets.defs.assets.models import prediction_asset_key
from cvn_assets.defs.assets.training import fold_of
from cvn_assets.defs.partitions import SweepPartitions, split_cell_key
from cvn_assets.defs.resources import SweepResource


def _result(outcome: CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=outcome.passed, description=outcome.detail, metadata={
        "observed": outcome.observed, "threshold": outcome.threshold, "detail": dg.MetadataValue.text(outcome.detail)})


def build_checks(partitions: SweepPartitions, models: tuple[str, ...],
                 ensembles: tuple[str, ...]) -> list[dg.AssetChecksDefinition]:
    crypto, cell = partitions.crypto, partitions.cell

    @dg.asset_check(asset="ohlcv", partitions_def=crypto, blocking=True,
                    description="Sorted, unique, finite, positive candles with high ≥ low and bounded gaps.")
    def ohlcv_sanity(context: dg.AssetCheckExecutionContext, ohlcv: pd.DataFrame) -> dg.AssetCheckResult:
        try:
            validate_ohlcv(ohlcv, context.partition_key)
            outcome = CheckOutcome(True, len(ohlcv), "valid", f"{len(ohlcv)} valid bars")
        except OhlcvValidationError as error:
            outcome = CheckOutcome(False, str(error.problem), "valid", str(error))
        return _result(outcome)

    @dg.asset_check(asset="raw_labels", partitions_def=crypto, blocking=True,
                    description="BUY rate within the configured band; no label in the unlabeled tail.")
    def label_rate_and_tail(raw_labels: pd.DataFrame, sweep: SweepResource) -> dg.AssetCheckResult:
        pipeline = sweep.catalogue.pipeline
        return _result(label_sanity(raw_labels, pipeline.labels.horizon, pipeline.checks))

    @dg.asset_check(asset="smoothed_labels", partitions_def=cell, blocking=True,
                    additional_ins={"fold_windows": dg.AssetIn()},
                    description="Training targets within [0, 1], and only on the fold's training rows.")
    def targets_in_range_and_train_only(context: dg.AssetCheckExecutionContext, smoothed_labels: pd.DataFrame,
                                        fold_windows: pd.DataFrame) -> dg.AssetCheckResult:
        _, fold_id, _ = split_cell_key(context.partition_key)
        return _result(training_targets_sanity(smoothed_labels, fold_of(fold_windows, fold_id).train))

    @dg.asset_check(asset="cleanlab_mask", partitions_def=cell, blocking=True,
                    description="Flagged rows of each class within the per-class cap.")
    def cleanlab_within_class_cap(context: dg.AssetCheckExecutionContext, cleanlab_mask: pd.DataFrame,
                                  sweep: SweepResource) -> dg.AssetCheckResult:
        _, _, config_id = split_cell_key(context.partition_key)
        cap = sweep.catalogue.config(config_id).params_for("cleanlab").max_drop_pct
        return _result(cleanlab_cap_sanity(cleanlab_mask, cap))

    @dg.asset_check(asset="fold_metrics", partitions_def=cell, blocking=True,
                    description="No metric exactly 0.0 where it cannot be (e.g. ECE on soft-label models).")
    def no_degenerate_metrics(fold_metrics: pd.DataFrame) -> dg.AssetCheckResult:
        return _result(degenerate_metrics_sanity(fold_metrics))

    @dg.asset_check(asset="gate_verdict", partitions_def=partitions.factor,
                    description="Passes only when a variant is LOCK (promotion is gated on it).")
    def gate_passed(context: dg.AssetCheckExecutionContext, gate_verdict: dict) -> dg.AssetCheckResult:
        verdicts = {f"{row['variant']}/{row['model']}": row["verdict"] for row in gate_verdict["table"]}
        locked = sorted(k for k, v in verdicts.items() if v == "LOCK")
        return dg.AssetCheckResult(passed=bool(locked), metadata={
            "observed": dg.MetadataValue.json(verdicts), "threshold": "at least one LOCK",
            "locked": dg.MetadataValue.text(", ".join(locked) or "none")})

    prediction_checks = [_prediction_check(cell, prediction_asset_key(m), f"{m}_probabilities_valid") for m in models]
    if ensembles:
        prediction_checks.append(_prediction_check(cell, dg.AssetKey("stacked_ensemble"), "ensemble_probabilities_valid"))
    return [ohlcv_sanity, label_rate_and_tail, targets_in_range_and_train_only, cleanlab_within_class_cap,
            no_degenerate_metrics, gate_passed, *prediction_checks]


def _prediction_check(cell: dg.PartitionsDefinition, key: dg.AssetKey, name: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=key, name=name, partitions_def=cell, blocking=True,
                    description="Predicted probabilities finite and within [0, 1].")
    def check(value: dict) -> dg.AssetCheckResult:
        return _result(prediction_sanity(value["predictions"]))

    return check


