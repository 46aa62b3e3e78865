"""Promotion of a factor's winning variant as the new baseline, gated on the gate check across runs."""

import dagster as dg

from cvn_assets.defs.metadata import OWNERS
from cvn_assets.defs.partitions import SweepPartitions
from cvn_assets.defs.resources import SweepResource

# Dagster's blocking checks act only inside the run that failed; this condition carries the gate
# across runs: the promotion is requested only when its gate verdict's checks passed.
GATE_PASSED = dg.AutomationCondition.all_deps_match(
    dg.AutomationCondition.all_checks_match(dg.AutomationCondition.check_passed())
)
PROMOTION_CONDITION = dg.AutomationCondition.eager() & GATE_PASSED
# Dagster's own default_automation_condition_sensor starts stopped: the promotion would never be requested.
PROMOTION_SENSOR = dg.AutomationConditionSensorDefinition(
    "promotion_sensor",
    target=dg.AssetSelection.assets("promoted_baseline"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests promoted_baseline for a factor once its gate verdict's checks passed.",
)


def build_promotion_assets(partitions: SweepPartitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        partitions_def=partitions.factor,
        group_name="evaluation",
        kinds={"python"},
        owners=OWNERS,
        code_version="1",
        automation_condition=PROMOTION_CONDITION,
    )
    def promoted_baseline(
        context: dg.AssetExecutionContext, gate_verdict: dict, sweep: SweepResource
    ) -> dg.Output[dict]:
        """The factor's LOCK variant (primary model, largest lift), recorded as its new baseline.

        Requested automatically only when the gate check on the verdict passed; materializing it by hand
        without a LOCK fails and names the verdicts.
        """
        model = sweep.catalogue.primary_model
        rows = [r for r in gate_verdict["table"] if r.get("model") == model]
        locked = [r for r in rows if r["verdict"] == "LOCK"]
        if not locked:
            summary = ", ".join(f"{r['variant']} {r['verdict']}" for r in rows) or "no verdict"
            raise ValueError(f"{context.partition_key}: nothing to promote, no LOCK for {model} ({summary})")
        best = max(locked, key=lambda r: r["mean_delta_f1_buy"])
        record = {
            "factor": context.partition_key,
            "variant": best["variant"],
            "model": model,
            "mean_delta_f1_buy": best["mean_delta_f1_buy"],
            "sweep_id": gate_verdict.get("sweep_id"),
        }
        return dg.Output(
            record,
            metadata={
                "promoted_variant": dg.MetadataValue.text(best["variant"]),
                "mean_delta_f1_buy": dg.MetadataValue.float(best["mean_delta_f1_buy"]),
            },
        )

    return [promoted_baseline]
