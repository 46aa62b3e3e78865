"""Runs whose process is gone are closed by the next sweep, and their cells computed again."""

import os
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from cvn_assets.defs.build import build_defs
from cvn_assets.orchestration.liveness import HOST_TAG, PID_TAG, close_ghosts, in_flight
from cvn_assets.orchestration.runner import run_sweep
from cvn_assets.orchestration.runs import failure_message
from cvn_assets_tests.conftest import make_settings
from cvn_assets_tests.orchestration.sweep_processes import CLI, sweep_env

KILL_WITHIN_SECONDS = 300
METRICS = dg.AssetKey("fold_metrics")


@dg.op
def _nothing() -> None:
    """A step that does nothing: the runs here are only records."""


@dg.job
def _tiny() -> None:
    _nothing()


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus, pid: int, host: str) -> dg.DagsterRun:
    return instance.create_run_for_job(_tiny, status=status, tags={PID_TAG: str(pid), HOST_TAG: host})


def test_a_run_whose_process_is_gone_is_failed_with_the_reason_and_the_others_are_left(
    instance: dg.DagsterInstance,
) -> None:
    here = socket.gethostname()
    ghost = _run(instance, dg.DagsterRunStatus.STARTED, _dead_pid(), here)
    alive = _run(instance, dg.DagsterRunStatus.STARTED, os.getpid(), here)
    elsewhere = _run(instance, dg.DagsterRunStatus.STARTED, _dead_pid(), "another-host")  # cannot be checked
    assert [run.run_id for run in close_ghosts(instance, [ghost, alive, elsewhere])] == [alive.run_id, elsewhere.run_id]
    assert instance.get_run_by_id(ghost.run_id).status == dg.DagsterRunStatus.FAILURE
    assert failure_message(instance, ghost.run_id).startswith(
        f"the process that ran it (pid {ghost.tags[PID_TAG]} on {here}) is gone"
    )
    assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED


def test_runs_not_started_are_waited_for_only_while_a_daemon_serves_the_queue(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cvn_assets.orchestration import liveness as run_liveness

    waiting = instance.create_run_for_job(_tiny, status=dg.DagsterRunStatus.NOT_STARTED)
    started = _run(instance, dg.DagsterRunStatus.STARTED, os.getpid(), socket.gethostname())
    assert [run.run_id for run in in_flight(instance, [waiting, started])] == [started.run_id]  # no daemon here
    monkeypatch.setattr(run_liveness, "queue_served", lambda _: True)
    assert [run.run_id for run in in_flight(instance, [waiting, started])] == [waiting.run_id, started.run_id]


@pytest.mark.slow
def test_a_sweep_killed_in_its_cell_runs_loses_only_the_run_in_flight(tmp_path: Path, small_data_dir: Path) -> None:
    settings = make_settings(tmp_path, small_data_dir, cells_per_run=2)
    home = tmp_path / "home"
    home.mkdir()
    killed = subprocess.Popen(
        [*CLI, "run", "--fold", "f3", "--no-gate"],
        env=sweep_env(settings, home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        try:
            deadline = time.monotonic() + KILL_WITHIN_SECONDS
            while time.monotonic() < deadline and killed.poll() is None:
                cell_runs = instance.get_runs(dg.RunsFilter(job_name="cell_job"))
                statuses = Counter(run.status for run in cell_runs)
                if statuses[dg.DagsterRunStatus.SUCCESS] and statuses[dg.DagsterRunStatus.STARTED]:
                    break
                time.sleep(0.2)
            os.kill(killed.pid, signal.SIGKILL)  # in the middle of a cell run, after at least one finished
        finally:
            killed.kill()
            killed.wait()
        first = instance.get_runs(dg.RunsFilter(job_name="cell_job"))
        in_flight_cells = {key for run in first if run.status == dg.DagsterRunStatus.STARTED for key in _cells(run)}
        finished = {key for run in first if run.status == dg.DagsterRunStatus.SUCCESS for key in _cells(run)}
        assert finished and 0 < len(in_flight_cells) <= settings.cells_per_run

        defs = build_defs(settings)
        report = run_sweep(defs, instance, folds=["f3"], gate=False, log=lambda _: None)
        assert report.ok, report.failures
        ghost = next(run for run in first if run.status == dg.DagsterRunStatus.STARTED)
        assert instance.get_run_by_id(ghost.run_id).status == dg.DagsterRunStatus.FAILURE
        assert "is gone" in failure_message(instance, ghost.run_id)
        assert not instance.get_runs(
            dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.NOT_STARTED])
        )
        second = {run.run_id for run in instance.get_runs(dg.RunsFilter(job_name="cell_job"))} - {
            run.run_id for run in first
        }
        recomputed = {
            str(record.partition_key)
            for run_id in second
            for record in instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            ).records
            if record.asset_key == METRICS
        }
        assert recomputed.isdisjoint(finished)  # nothing the first sweep finished is computed again
        assert recomputed & {k for run in first for k in _cells(run)} <= in_flight_cells
        assert instance.get_materialized_partitions(METRICS) == {
            f"{c}|f3.{v}"
            for c in ("BTC", "ETH")
            for v in ("baseline", "ls_mild", "ls_aggressive", "cl_filter", "cl_reweight")
        }
    rows = defs.resources["results"].store().read("test_sweep")
    assert not rows.duplicated(["crypto", "fold", "config_id", "factor", "variant", "model"]).any()
    assert len(rows) == 2 * (3 + 4)  # per crypto: the shared baseline serves 3 gates, each variant 1


def _cells(run: dg.DagsterRun) -> set[str]:
    """The cells of a run of this sweep: two, its range's ends (BTC and ETH of one configuration)."""
    start, end = run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]
    return {start, end}
