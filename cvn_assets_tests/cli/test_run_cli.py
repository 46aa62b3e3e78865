"""`cvn-assets run` end to end through the console script, on a persistent instance."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from cvn_assets_tests.conftest import small_catalogue_document

CLI = str(Path(sys.executable).parent / "cvn-assets")


def _env(tmp_path: Path, data_dir: Path, catalogue: dict) -> dict[str, str]:
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(catalogue, sort_keys=False))
    return {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "CVN_CATALOGUE": str(path),
        "CVN_DATA_DIR": str(data_dir),
        "CVN_DATA_PATTERN": "{crypto}.csv",
    }


@pytest.mark.slow
def test_run_one_crypto_slice_prints_the_verdicts_and_leaves_runs_on_the_instance(
    tmp_path: Path, small_data_dir: Path
) -> None:
    env = _env(tmp_path, small_data_dir, small_catalogue_document())
    result = subprocess.run(
        [CLI, "run", "--crypto", "BTC", "--fold", "f1", "--fold", "f2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Gate verdicts — factor label_smoothing" in result.stdout
    assert "INCONCLUSIVE" in result.stdout  # 2 pairs < 10: the gate must not conclude
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        materialized = instance.get_materialized_partitions(dg.AssetKey("fold_metrics"))
    assert materialized == {
        f"BTC|{f}.{c}"
        for f in ("f1", "f2")
        for c in ("baseline", "ls_mild", "ls_aggressive", "cl_filter", "cl_reweight")
    }


def test_bad_catalogue_exits_2_with_the_guardrail_message(tmp_path: Path, small_data_dir: Path) -> None:
    catalogue = small_catalogue_document()
    catalogue["factors"]["label_smoothing"]["variants"]["mild"] = {"eps_buy": 0.7, "eps_hold": 0.1}
    result = subprocess.run(
        [CLI, "run"], env=_env(tmp_path, small_data_dir, catalogue), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2
    assert "factor 'label_smoothing', variant 'mild': eps_buy=0.7 is outside [0, 0.5]" in result.stderr


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        pytest.param("--crypto", "NOPE", "unknown crypto 'NOPE'; known: ['BTC', 'ETH']", id="unknown-crypto"),
        pytest.param("--fold", "f9", "unknown fold 'f9'; known: ['f1', 'f2', 'f3', 'f4', 'f5']", id="unknown-fold"),
        pytest.param(
            "--variant", "ls_nope", "unknown configuration 'ls_nope'; known: ['baseline',", id="unknown-variant"
        ),
    ],
)
def test_an_unknown_selection_exits_2_listing_the_known_ones_before_anything_runs(
    tmp_path: Path, small_data_dir: Path, option: str, value: str, message: str
) -> None:
    result = subprocess.run(
        [CLI, "run", option, value, "--no-gate"],
        env=_env(tmp_path, small_data_dir, small_catalogue_document()),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"cvn-assets run: error: {message}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Warning" not in result.stderr  # Dagster's notes on the beta and preview APIs the project uses
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        assert not instance.get_runs()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        pytest.param("CVN_THREADS", "abc", "CVN_THREADS must be a whole number of at least 1, got 'abc'", id="threads"),
        pytest.param("CVN_MLFLOW", "maybe", "CVN_MLFLOW must be 'on' or 'off', got 'maybe'", id="mlflow"),
    ],
)
def test_a_bad_environment_setting_exits_2_naming_the_variable(
    tmp_path: Path, small_data_dir: Path, name: str, value: str, message: str
) -> None:
    env = {**_env(tmp_path, small_data_dir, small_catalogue_document()), name: value}
    result = subprocess.run([CLI, "run"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"cvn-assets run: error: {message}" in result.stderr
    assert "Traceback" not in result.stderr


def test_failed_fits_are_listed_and_the_command_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed fit is recorded (a training_failed row and an alert) and its run succeeds; the command
    still says so and exits 1, as for a failed partition."""
    from cvn_assets.cli import run as run_command
    from cvn_assets.defs import build
    from cvn_assets.orchestration import runner as sweep_runner
    from cvn_assets.orchestration.report import SweepReport

    report = SweepReport(runs=1, failed_fits={"BTC|f1.baseline xgboost": "value -3 for Parameter max_depth"})
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setattr(build, "build_defs", lambda: None)
    monkeypatch.setattr(sweep_runner, "run_sweep", lambda *args, **kwargs: report)
    args = argparse.Namespace(
        crypto=None, fold=None, variant=None, no_gate=False, force=False, progress_every=10.0, submit=False, wait=False
    )
    assert run_command.handle(args) == 1
    out = capsys.readouterr().out
    assert "1 fit(s) failed" in out and "BTC|f1.baseline xgboost: value -3 for Parameter max_depth" in out
    report.failed_fits.clear()
    assert run_command.handle(args) == 0


def test_a_learner_parameter_its_library_ignores_exits_2_before_any_run(tmp_path: Path, small_data_dir: Path) -> None:
    catalogue = small_catalogue_document()
    catalogue["learners"] = {"xgboost": {"num_boost_round": 25, "max_dept": 3}}
    result = subprocess.run(
        [CLI, "run"], env=_env(tmp_path, small_data_dir, catalogue), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2
    assert (
        "learner 'xgboost' with parameters {'num_boost_round': 25, 'max_dept': 3}: xgboost does not know "
        "parameter(s) ['max_dept']" in result.stderr
    )


def test_a_partial_run_exits_0_saying_what_each_gate_waits_for_and_shows_progress_without_a_terminal(
    tmp_path: Path, small_data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cvn_assets.cli.main import main

    for name, value in _env(tmp_path, small_data_dir, small_catalogue_document()).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CVN_MLFLOW", "off")
    # Output captured (not a terminal): plain progress lines, here one per computed cell asset.
    assert main(["run", "--crypto", "BTC", "--fold", "f3", "--variant", "ls_mild", "--progress-every", "0"]) == 0
    out = capsys.readouterr().out
    assert "3 gate(s) not run yet" in out
    assert "  label_smoothing: baseline none has 0/1 cells, aggressive has 0/1 cells" in out
    assert "  cleanlab: baseline off has 0/1 cells, filter has 0/1 cells, reweight has 0/1 cells" in out
    assert "  label_smoothing_x_cleanlab: waits for the gate of label_smoothing and cleanlab" in out
    assert "FAIL" not in out and "failed" not in out
    progress = [line for line in out.splitlines() if line.startswith("  ...   BTC|f3.ls_mild: ")]
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("fold_metrics")), limit=10
        ).records
        assets = {
            record.asset_key
            for run in instance.get_runs()
            for record in instance.get_records_for_run(
                run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            ).records
            if record.event_log_entry.dagster_event.partition == "BTC|f3.ls_mild"
        }
    assert len(records) == 1
    # One line per asset of the cell, as each is computed, the last when all are.
    assert len(progress) == len(assets) == 4  # smoothed labels, cleanlab mask, predictions, metrics
    assert progress[-1].startswith(f"  ...   BTC|f3.ls_mild: {len(assets)}/{len(assets)} cell assets (100 %), ")


def test_submit_records_the_sweep_for_the_daemon_and_returns_without_running_it(
    tmp_path: Path, small_data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cvn_assets.cli.main import main

    for name, value in _env(tmp_path, small_data_dir, small_catalogue_document()).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CVN_MLFLOW", "off")
    assert main(["run", "--submit", "--crypto", "BTC", "--fold", "f3"]) == 0
    out = capsys.readouterr().out
    assert "submitted: the sweep_sensor" in out and "no daemon has reported to this instance lately" in out
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        [run] = instance.get_runs()  # the sweep job's run names the sweep; its runs are the daemon's to submit
    assert run.job_name == "sweep_job" and f"sweep {run.run_id} submitted" in out
    assert run.run_config["ops"]["run_whole_sweep"]["config"]["cryptos"] == ["BTC"]


def test_wait_without_submit_exits_2_saying_what_to_add(capsys: pytest.CaptureFixture[str]) -> None:
    from cvn_assets.cli.main import main

    assert main(["run", "--wait"]) == 2
    assert "cvn-assets run: error: --wait follows a submitted sweep: add --submit" in capsys.readouterr().err
