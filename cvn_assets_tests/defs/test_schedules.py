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
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK,
                                        repository_def=defs.get_repository_def())
    return list(_schedule(defs, name).evaluate_tick(context).run_requests or [])


def test_default_cadence_is_weekly_sweep_and_daily_drift(small_settings: Settings) -> None:
    defs = build_defs(small_settings)
    sweep, drift = _schedule(defs, "weekly_sweep_schedule"), _schedule(defs, "daily_drift_schedule")
    assert (sweep.cron_schedule, sweep.job_name) == ("0 3 * * 0", "sweep_job")
    assert (drift.cron_schedule, drift.job_name) == ("0 6 * * *", "drift_job")
    assert sweep.execution_timezone == drift.execution_timezone == "UTC"
    assert sweep.default_status == dg.DefaultScheduleStatus.RUNNING


def test_cadence_and_status_are_configurable(small_settings: Settings) -> None:
    settings = dataclasses.replace(small_settings, sweep_cron="0 1 1 * *", drift_cron="0 */6 * * *",
                                   schedules_enabled=False)
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


@pytest.mark.slow
def test_sweep_job_materializes_the_selection_as_the_runner_does(tmp_path: Path, small_data_dir: Path,
                                                                 instance: dg.DagsterInstance) -> None:
    defs = build_defs(make_settings(tmp_path, small_data_dir))
    config = {"ops": {"run_whole_sweep": {"config": {"cryptos": ["BTC"], "folds": ["f2"], "configs": ["baseline"],
                                                      "gate": False, "progress_every_seconds": 0.0}}}}
    result = defs.resolve_job_def("sweep_job").execute_in_process(run_config=config, instance=instance)
    assert result.success
    # The cell run's progress is in the sweep's own run log: a line per cell asset computed, here.
    logs = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.user_message.startswith("  ...")]
    assert logs and logs[-1].startswith("  ...   BTC|f2.baseline: 4/4 cell assets (100 %), fold_metrics 1/1 cells")
    assert instance.get_materialized_partitions(dg.AssetKey("fold_metrics")) == {"BTC|f2.baseline"}
    jobs = sorted(r.job_name for r in instance.get_runs())
    assert jobs == ["cell_job", "crypto_data_job", "sweep_job"]  # one per-crypto run and one cell run


def test_a_failed_sweep_job_names_the_partitions_that_failed_and_why(tmp_path: Path, small_data_dir: Path,
                                                                    instance: dg.DagsterInstance) -> None:
    import pandas as pd

    bad = tmp_path / "bad"
    bad.mkdir()
    for crypto in ("BTC", "ETH"):
        frame = pd.read_csv(small_data_dir / f"{crypto}.csv")
        (frame.drop(columns="volume") if crypto == "ETH" else frame).to_csv(bad / f"{crypto}.csv", index=False)
    defs = build_defs(make_settings(tmp_path, bad))
    config = {"ops": {"run_whole_sweep": {"config": {"cryptos": ["ETH"], "gate": False}}}}
    result = defs.resolve_job_def("sweep_job").execute_in_process(run_config=config, instance=instance,
                                                                  raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE").step_failure_data
    # What the failed-run alert of a scheduled sweep carries: which partition failed and why.
    assert failure.user_failure_data.description == (
        f"1 partition run(s) failed: crypto_data_job[ETH]: {bad / 'ETH.csv'} "
        "(ETH): missing columns ['volume']; "
        "columns: ['timestamp', 'open', 'high', 'low', 'close']")
