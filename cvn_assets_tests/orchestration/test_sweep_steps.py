"""One computation per cell: a sweep leaves to a run in flight the cells it covers, even another sweep's."""

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
from cvn_assets.orchestration.liveness import HOST_TAG, PID_TAG
from cvn_assets.orchestration.runner import run_sweep
from cvn_assets.orchestration.state import Selection
from cvn_assets.orchestration.steps import SweepPlanner
from cvn_assets_tests.conftest import make_settings, small_catalogue_document
from cvn_assets_tests.orchestration.sweep_processes import CLI, sweep_env

CONFIGS = ("baseline", "ls_mild", "ls_aggressive", "cl_filter", "cl_reweight")
START_WITHIN_SECONDS = 300
SWEEP_SECONDS = 600


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_cells_of_a_run_in_flight_are_left_to_it_and_those_of_a_dead_one_planned_again(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    defs = build_defs(make_settings(tmp_path, small_data_dir, small_catalogue_document(("BTC",)), cells_per_run=1))
    planner = SweepPlanner(defs, instance, "a-sweep", Selection(folds=("f3",), gate=False))
    [data] = planner.step().runs
    assert (
        defs.resolve_job_def(data.job)
        .execute_in_process(partition_key=data.partition_key, instance=instance, tags=data.run_tags("a-sweep"))
        .success
    )
    cell_job, here = defs.resolve_job_def("cell_job"), socket.gethostname()
    # Another sweep's run computing BTC's baseline cells, and a run of a sweep that was killed (ls_mild's).
    alive = instance.create_run_for_job(
        cell_job,
        status=dg.DagsterRunStatus.STARTED,
        tags={
            "dagster/asset_partition_range_start": "BTC|f1.baseline",
            "dagster/asset_partition_range_end": "BTC|f5.baseline",
            PID_TAG: str(os.getpid()),
            HOST_TAG: here,
        },
    )
    killed = instance.create_run_for_job(
        cell_job,
        status=dg.DagsterRunStatus.STARTED,
        tags={"dagster/partition": "BTC|f3.ls_mild", PID_TAG: str(_dead_pid()), HOST_TAG: here},
    )

    step = planner.step()
    assert step.waiting_for == {"cell_job[BTC|f1.baseline...BTC|f5.baseline]": "STARTED"}
    assert sorted(run.name for run in step.runs) == sorted(f"BTC|f3.{c}" for c in CONFIGS if c != "baseline")
    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    assert not step.finished and instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED


@pytest.mark.slow
def test_two_sweeps_at_once_compute_each_cell_once_and_both_give_the_verdicts(
    tmp_path: Path, small_data_dir: Path
) -> None:
    settings = make_settings(tmp_path, small_data_dir, cells_per_run=1)
    home = tmp_path / "home"
    home.mkdir()
    first = subprocess.Popen(
        [*CLI, "run", "--fold", "f3"],
        env=sweep_env(settings, home, CVN_SWEEP_POLL_SECONDS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            deadline = time.monotonic() + START_WITHIN_SECONDS
            while not instance.get_runs(dg.RunsFilter(job_name="cell_job")) and time.monotonic() < deadline:
                time.sleep(0.2)
            defs = build_defs(settings)
            second = run_sweep(defs, instance, folds=["f3"], log=lambda _: None)
            output, _ = first.communicate(timeout=SWEEP_SECONDS)
            assert first.returncode == 0 and second.ok, output
            computed = Counter(
                str(record.partition_key)
                for record in instance.fetch_materializations(dg.AssetKey("fold_metrics"), limit=100).records
            )
            assert computed == Counter({f"{crypto}|f3.{config}": 1 for crypto in ("BTC", "ETH") for config in CONFIGS})
            assert second.executed and len(second.executed) < 2 + 10 + 3  # it shared the work
            for name in ("label_smoothing", "cleanlab"):
                assert "Gate verdicts — factor " + name in output and name in second.verdicts
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
