"""Asset checks of the per-crypto data and of the gate (the cell checks run inside the cell assets).

Blocking checks stop downstream steps of the same run; each records what it observed and the
threshold it compared against, so a failure explains itself in the UI.
"""


import dagster as dg
import pandas as pd

from cvn_assets.core.data.validation import validate_ohlcv
from cvn_assets.core.errors import OhlcvValidationError
from cvn_assets.core.sanity import CheckOutcome, label_sanity
from cvn_assets.defs.cell_checks import check_result
from cvn_assets.defs.partitions import SweepPartitions
from cvn_assets.defs.resources import SweepResource


def build_checks(partitions: SweepPartitions) -> list[dg.AssetChecksDefinition]:
    crypto = partitions.crypto

    @dg.asset_check(asset="ohlcv", partitions_def=crypto, blocking=True,
                    description="Sorted, unique, finite, positive candles with high ≥ low and bounded gaps.")
    def ohlcv_sanity(context: dg.AssetCheckExecutionContext, ohlcv: pd.DataFrame) -> dg.AssetCheckResult:
        try:
            validate_ohlcv(ohlcv, context.partition_key)
            outcome = CheckOutcome(True, len(ohlcv), "valid", f"{len(ohlcv)} valid bars")
        except OhlcvValidationError as error:
            outcome = CheckOutcome(False, str(error.problem), "valid", str(error))
        return check_result(None, outcome)

    @dg.asset_check(asset="raw_labels", partitions_def=crypto, blocking=True,
                    description="BUY rate within the configured band; no label in the unlabeled tail.")
    def label_rate_and_tail(raw_labels: pd.DataFrame, sweep: SweepResource) -> dg.AssetCheckResult:
        pipeline = sweep.catalogue.pipeline
        return check_result(None, label_sanity(raw_labels, pipeline.labels.horizon, pipeline.checks))

    @dg.asset_check(asset="gate_verdict", partitions_def=partitions.factor,
                    description="Passes only when a variant is LOCK (promotion is gated on it).")
    def gate_passed(context: dg.AssetCheckExecutionContext, gate_verdict: dict) -> dg.AssetCheckResult:
        verdicts = {f"{row['variant']}/{row['model']}": row["verdict"] for row in gate_verdict["table"]}
        locked = sorted(k for k, v in verdicts.items() if v == "LOCK")
        return dg.AssetCheckResult(passed=bool(locked), metadata={
            "observed": dg.MetadataValue.json(verdicts), "threshold": "at least one LOCK",
            "locked": dg.MetadataValue.text(", ".join(locked) or "none")})

    return [ohlcv_sanity, label_rate_and_tail, gate_passed]
