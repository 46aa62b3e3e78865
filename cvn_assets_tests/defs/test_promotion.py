"""Promotion: automated on the gate check, and refused by hand without a LOCK."""

import dagster as dg
import pytest

from cvn_assets.defs.build import build_defs
from cvn_assets.defs.evaluation.promotion import PROMOTION_CONDITION

PROMOTED = dg.AssetKey("promoted_baseline")


def test_promotion_is_automated_on_the_gate_check(small_settings) -> None:
    condition = build_defs(small_settings).get_assets_def(PROMOTED).automation_conditions_by_key[PROMOTED]
    assert condition.get_snapshot() == PROMOTION_CONDITION.get_snapshot()


def test_promoting_without_a_lock_fails_naming_the_verdicts(small_settings, instance: dg.DagsterInstance) -> None:
    defs = build_defs(small_settings)
    asset = defs.get_assets_def(PROMOTED)
    with pytest.raises(ValueError, match=r"nothing to promote, no LOCK for xgboost \(filter KEEP_AVAILABLE\)"):
        asset(
            context=dg.build_asset_context(partition_key="cleanlab"),
            gate_verdict={
                "table": [
                    {"variant": "filter", "model": "xgboost", "verdict": "KEEP_AVAILABLE", "mean_delta_f1_buy": 0.0}
                ]
            },
            sweep=defs.resources["sweep"],
        )


def _gate_graph(small_settings, tmp_path) -> dg.Definitions:
    """The real gate check and promotion asset over a gate verdict whose table the test chooses."""
    from cvn_assets.defs.checks import build_checks
    from cvn_assets.defs.evaluation.promotion import build_promotion_assets
    from cvn_assets.defs.partitions import build_partitions

    defs = build_defs(small_settings)
    sweep = defs.resources["sweep"]
    partitions = build_partitions(sweep.catalogue)

    class Verdict(dg.Config):
        verdict: str

    @dg.asset(name="gate_verdict", partitions_def=partitions.factor)
    def gate_verdict(config: Verdict) -> dict:
        return {
            "table": [{"variant": "v", "model": "xgboost", "verdict": config.verdict, "mean_delta_f1_buy": 0.02}],
            "sweep_id": "s",
        }

    checks = [c for c in build_checks(partitions) if c.check_key.name == "gate_passed"]
    return dg.Definitions(
        assets=[gate_verdict, *build_promotion_assets(partitions)],
        asset_checks=checks,
        resources={"sweep": sweep, "io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path))},
    )


def _verdict_run(defs: dg.Definitions, instance: dg.DagsterInstance, factor: str, verdict: str) -> None:
    job = dg.define_asset_job("verdict", selection=dg.AssetSelection.assets("gate_verdict")).resolve(
        asset_graph=defs.resolve_asset_graph()
    )
    result = job.execute_in_process(
        partition_key=factor,
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"gate_verdict": {"config": {"verdict": verdict}}}},
    )
    assert result.success


def test_promotion_is_requested_after_a_passing_gate_check_in_an_earlier_run(
    small_settings, tmp_path, instance: dg.DagsterInstance
) -> None:
    defs = _gate_graph(small_settings, tmp_path)
    before = dg.evaluate_automation_conditions(defs=defs, instance=instance)  # the daemon's earlier tick
    assert before.get_requested_partitions(PROMOTED) == set()
    _verdict_run(defs, instance, "cleanlab", "LOCK")
    _verdict_run(defs, instance, "label_smoothing", "KEEP_AVAILABLE")
    checks = {
        r.partition: r.status.value
        for r in instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("gate_verdict"), "gate_passed"), limit=10
        )
    }
    assert checks == {"cleanlab": "SUCCEEDED", "label_smoothing": "FAILED"}

    evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
    assert evaluation.get_requested_partitions(PROMOTED) == {"cleanlab"}

    # A later run with a failing verdict for cleanlab withdraws the request.
    _verdict_run(defs, instance, "cleanlab", "ABANDON")
    later = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=evaluation.cursor)
    assert later.get_requested_partitions(PROMOTED) == set()


def test_promotion_is_evaluated_by_a_sensor_that_runs_by_default(small_settings) -> None:
    """An automation condition does nothing until a sensor evaluates it; Dagster's default one starts stopped."""
    defs = build_defs(small_settings)
    graph = defs.resolve_asset_graph()
    evaluating = [
        s
        for s in defs.get_repository_def().sensor_defs
        if isinstance(s, dg.AutomationConditionSensorDefinition) and PROMOTED in s.asset_selection.resolve(graph)
    ]
    assert [s.default_status for s in evaluating] == [dg.DefaultSensorStatus.RUNNING]
