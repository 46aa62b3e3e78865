"""A sweep submitted to the run queue: the daemon's sweep sensor submits its runs, the queue starts them."""

import re
import subprocess
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from cvn_assets.defs.build import build_defs
from cvn_assets.orchestration.runner import run_sweep
from cvn_assets.orchestration.runs import SWEEP_TAG
from cvn_assets_tests.conftest import make_settings, small_catalogue_document
from cvn_assets_tests.orchestration.sweep_processes import CLI, running_daemon, sweep_env

SWEEP_SECONDS = 600
PROCESS = re.compile(r"Executing steps in process \(pid: (\d+)\)")
COMPARED = ["variant", "model", "verdict", "n_pairs", "mean_delta_f1_buy", "ci_low", "ci_high", "p_adjusted"]


def _verdicts(defs: dg.Definitions, instance: dg.DagsterInstance) -> dict[str, pd.DataFrame]:
    names = defs.resources["sweep"].catalogue.gate_names()
    return {
        name: pd.DataFrame(defs.load_asset_value("gate_verdict", partition_key=name, instance=instance)["table"])
        for name in names
    }


@pytest.mark.slow
def test_a_submitted_sweep_runs_each_run_through_the_queue_in_its_own_process_with_the_in_process_verdicts(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    catalogue = small_catalogue_document()
    for directory in ("in_process", "queued/home"):
        (tmp_path / directory).mkdir(parents=True)
    in_process = build_defs(make_settings(tmp_path / "in_process", small_data_dir, catalogue, cells_per_run=2))
    assert run_sweep(in_process, instance, folds=["f3"], log=lambda _: None).ok

    root = tmp_path / "queued"
    settings = make_settings(root, small_data_dir, catalogue, cells_per_run=2)
    home = root / "home"
    env = sweep_env(settings, home, CVN_SWEEP_SENSOR_SECONDS="1", CVN_SWEEP_POLL_SECONDS="1")
    with running_daemon(home, env, root / "daemon.log"):
        result = subprocess.run(
            [*CLI, "run", "--submit", "--wait", "--fold", "f3"],
            env=env,
            capture_output=True,
            text=True,
            timeout=SWEEP_SECONDS,
        )
    assert result.returncode == 0, result.stdout + result.stderr + (root / "daemon.log").read_text()[-3000:]
    sweep_id = re.search(r"sweep (\S+) submitted", result.stdout).group(1)
    assert "Gate verdicts — factor label_smoothing" in result.stdout

    with dg.DagsterInstance.from_config(str(home)) as queued:
        runs = queued.get_runs(dg.RunsFilter(tags={SWEEP_TAG: sweep_id}))
        # 2 data runs, 2 gates and the joint rule, and the 10 cells in runs of at most 2: one crypto pair per
        # configuration when both cryptos' data runs finished before the sensor's tick, else one cell a run
        jobs = sorted(r.job_name for r in runs)
        assert jobs.count("crypto_data_job") == 2 and jobs.count("gate_job") == 3
        assert 5 <= jobs.count("cell_job") <= 10 and len(jobs) == 5 + jobs.count("cell_job")
        cells = [key for r in runs if r.job_name == "cell_job" for key in _partitions(r)]
        assert len(cells) == len(set(cells)) == 10  # each cell computed once
        processes = set()
        for run in runs:
            assert run.status == dg.DagsterRunStatus.SUCCESS
            assert run.tags["dagster/sensor_name"] == "sweep_sensor"
            assert queued.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED).records
            logs = " ".join(entry.user_message for entry in queued.all_logs(run.run_id))
            processes |= set(PROCESS.findall(logs))
        assert len(processes) == len(runs)  # each run in a process of its own
        verdicts = _verdicts(build_defs(settings), queued)
    expected = _verdicts(in_process, instance)
    for name, table in expected.items():
        pd.testing.assert_frame_equal(
            verdicts[name][[c for c in COMPARED if c in table]], table[[c for c in COMPARED if c in table]]
        )


def _partitions(run: dg.DagsterRun) -> list[str]:
    """The cell keys a run covered: its partition, or the ends of its range (two neighbouring keys)."""
    if "dagster/partition" in run.tags:
        return [run.tags["dagster/partition"]]
    return [run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]]
