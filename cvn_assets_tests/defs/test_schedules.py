"""Schedules: what each tick submits, and the sweep job they launch doing what `make run` does."""

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from cvn_assets.defs.build import build_defs
from cvn_assets.defs.settings import Settings
from cvn_assets_tests.conftest import make_settings

TICK = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def _schedule(defs: dg.Definitions, name: str) -> dg.ScheduleDefinition:
    return defs.get_repository_def().get_schedule_def(name)


def _requests(defs: dg.Definitions, name: str, instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=TICK, repository_def=defs.get_repository_def()
    )
    return list(_schedule(defs, name).evaluate_tick(context).run_requests or [])


def test_default_cadence_is_weekly_sweep_and_daily_drift(small_settings: Settings) -> None:
    defs = build_defs(small_settings)
    sweep, drift = _schedule(defs, "weekly_sweep_schedule"), _schedule(defs, "daily_drift_schedule")
    assert (sweep.cron_schedule, sweep.job_name) == ("0 3 * * 0", "sweep_job")
    assert (drift.cron_schedule, drift.job_name) == ("0 6 * * *", "drift_job")
    assert sweep.execution_timezone == drift.execution_timezone == "UTC"
    assert sweep.default_status == dg.DefaultScheduleStatus.RUNNING


def test_cadence_and_status_are_configurable(small_settings: Settings) -> None:
    settings = dataclasses.replace(
        small_settings, sweep_cron="0 1 1 * *", drift_cron="0 */6 * * *", schedules_enabled=False
    )
    defs = build_defs(settings)
    assert _schedule(defs, "weekly_sweep_schedule").cron_schedule == "0 1 1 * *"
    assert _schedule(defs, "daily_drift_schedule").cron_schedule == "0 */6 * * *"
    assert _schedule(defs, "daily_drift_schedule").default_status == dg.DefaultScheduleStatus.STOPPED


def test_settings_read_the_schedule_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CVN_SWEEP_CRON", "15 2 * * 1")
    monkeypatch.setenv("CVN_SCHEDULES", "off")
    settings = Settings.from_env()
    assert settings.sweep_cron == "15 2 * * 1" and settings.drift_cron == "0 6 * * *"
    assert not settings.schedules_enabled


def test_sweep_tick_requests_one_keyed_run(small_settings: Settings, instance: dg.DagsterInstance) -> None:
    requests = _requests(build_defs(small_settings), "weekly_sweep_schedule", instance)
    assert len(requests) == 1
    assert requests[0].run_key == "sweep-2026-11-22T0300"
    assert requests[0].tags["cvn/trigger"] == "schedule"


def test_drift_tick_requests_one_run_per_crypto(small_settings: Settings, instance: dg.DagsterInstance) -> None:
    defs = build_defs(small_settings)
    requests = _requests(defs, "daily_drift_schedule", instance)
    assert [r.partition_key for r in requests] == ["BTC", "ETH"]
    assert [r.run_key for r in requests] == ["drift-2026-11-22T0300-BTC", "drift-2026-11-22T0300-ETH"]
    job = defs.resolve_job_def("drift_job")
    for request in requests:
        assert job.partitions_def.has_partition_key(request.partition_key)


def _sensor_requests(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None
) -> tuple[list[dg.RunRequest], str | None]:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=defs.get_repository_def())
    result = defs.get_repository_def().get_sensor_def("sweep_sensor")(context)
    return list(result.run_requests or []), result.cursor


def test_the_sweep_job_only_plans_and_the_sweep_sensor_submits_its_runs_step_by_step(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    defs = build_defs(make_settings(tmp_path, small_data_dir, cells_per_run=2))
    config = {
        "ops": {
            "run_whole_sweep": {
                "config": {"cryptos": ["BTC"], "folds": ["f2", "f3"], "configs": ["baseline"], "gate": False}
            }
        }
    }
    marker = defs.resolve_job_def("sweep_job").execute_in_process(run_config=config, instance=instance)
    assert marker.success and [r.job_name for r in instance.get_runs()] == ["sweep_job"]  # it computes nothing
    logs = [entry.user_message for entry in instance.all_logs(marker.run_id)]
    assert any(f"sweep {marker.run_id}: 1 crypto_data_job run(s)" in line for line in logs)

    requests, cursor = _sensor_requests(defs, instance, None)  # the sweep job's run ended: its first runs
    assert [(r.job_name, r.partition_key, r.tags["cvn/sweep"]) for r in requests] == [
        ("crypto_data_job", "BTC", marker.run_id)
    ]
    assert _sensor_requests(defs, instance, cursor)[0] == []  # no run ended since: nothing new
    job = defs.resolve_job_def("crypto_data_job")
    assert job.execute_in_process(partition_key="BTC", instance=instance, tags=requests[0].tags).success
    requests, cursor = _sensor_requests(defs, instance, cursor)  # the data is there: its cells, one run of 2
    assert [
        (
            r.job_name,
            r.partition_key,
            r.tags["dagster/asset_partition_range_start"],
            r.tags["dagster/asset_partition_range_end"],
        )
        for r in requests
    ] == [("cell_job", None, "BTC|f2.baseline", "BTC|f3.baseline")]
    assert requests[0].run_key.startswith(f"{marker.run_id}:cell_job[BTC|f2.baseline...BTC|f3.baseline]:")
    cells = defs.resolve_job_def("cell_job").execute_in_process(instance=instance, tags=requests[0].tags)
    assert cells.success
    requests, cursor = _sensor_requests(defs, instance, cursor)  # nothing left: the sweep closes
    assert requests == [] and '"open": []' in cursor
    assert instance.get_materialized_partitions(dg.AssetKey("fold_metrics")) == {"BTC|f2.baseline", "BTC|f3.baseline"}


def test_a_sweep_job_with_an_unknown_crypto_fails_saying_so_before_any_run(
    small_settings: Settings, instance: dg.DagsterInstance
) -> None:
    defs = build_defs(small_settings)
    config = {"ops": {"run_whole_sweep": {"config": {"cryptos": ["NOPE"], "gate": False}}}}
    result = defs.resolve_job_def("sweep_job").execute_in_process(
        run_config=config, instance=instance, raise_on_error=False
    )
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE").step_failure_data
    assert "unknown crypto 'NOPE'; known: ['BTC', 'ETH']" in failure.error.cause.message
    assert [r.job_name for r in instance.get_runs()] == ["sweep_job"]


def test_two_sweeps_opened_at_once_are_not_both_given_a_run_of_the_same_partition(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    defs = build_defs(make_settings(tmp_path, small_data_dir))
    sweep_job = defs.resolve_job_def("sweep_job")
    markers = [
        sweep_job.execute_in_process(
            run_config={"ops": {"run_whole_sweep": {"config": {"cryptos": cryptos, "folds": ["f3"], "gate": False}}}},
            instance=instance,
        ).run_id
        for cryptos in (["BTC"], ["BTC", "ETH"])
    ]
    requests, _ = _sensor_requests(defs, instance, None)
    # BTC's data for the first sweep only (the second waits for that run), ETH's for the second
    assert sorted((r.partition_key, r.tags["cvn/sweep"]) for r in requests) == [
        ("BTC", markers[0]),
        ("ETH", markers[1]),
    ]
