"""The asset check of the gate (the data and cell checks run inside the data and cell steps).

It records what it observed and the threshold it compared against, so a failure explains itself in the UI.
"""

import dagster as dg

from cvn_assets.defs.partitions import SweepPartitions


def build_checks(partitions: SweepPartitions) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset="gate_verdict",
        partitions_def=partitions.factor,
        description="Passes only when a variant is LOCK (promotion is gated on it).",
    )
    def gate_passed(context: dg.AssetCheckExecutionContext, gate_verdict: dict) -> dg.AssetCheckResult:
        verdicts = {f"{row['variant']}/{row['model']}": row["verdict"] for row in gate_verdict["table"]}
        locked = sorted(k for k, v in verdicts.items() if v == "LOCK")
        return dg.AssetCheckResult(
            passed=bool(locked),
            metadata={
                "observed": dg.MetadataValue.json(verdicts),
                "threshold": "at least one LOCK",
                "locked": dg.MetadataValue.text(", ".join(locked) or "none"),
            },
        )

    return [gate_passed]
