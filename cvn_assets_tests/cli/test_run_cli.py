"""`cvn-assets run` end to end through the console script, on a persistent instance."""

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
    return {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "CVN_CATALOGUE": str(path),
            "CVN_DATA_DIR": str(data_dir), "CVN_DATA_PATTERN": "{crypto}.csv"}


@pytest.mark.slow
def test_run_one_crypto_slice_prints_the_verdicts_and_leaves_runs_on_the_instance(tmp_path: Path,
                                                                                  small_data_dir: Path) -> None:
    env = _env(tmp_path, small_data_dir, small_catalogue_document())
    result = subprocess.run([CLI, "run", "--crypto", "BTC", "--fold", "f1", "--fold", "f2"], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Gate verdicts — factor label_smoothing" in result.stdout
    assert "INCONCLUSIVE" in result.stdout  # 2 pairs < 10: the gate must not conclude
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        materialized = instance.get_materialized_partitions(dg.AssetKey("fold_metrics"))
    assert materialized == {f"BTC|{f}.{c}" for f in ("f1", "f2")
                            for c in ("baseline", "ls_mild", "ls_aggressive", "cl_filter", "cl_reweight")}


def test_bad_catalogue_exits_2_with_the_guardrail_message(tmp_path: Path, small_data_dir: Path) -> None:
    catalogue = small_catalogue_document()
    catalogue["factors"]["label_smoothing"]["variants"]["mild"] = {"eps_buy": 0.7, "eps_hold": 0.1}
    result = subprocess.run([CLI, "run"], env=_env(tmp_path, small_data_dir, catalogue), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2
    assert "factor 'label_smoothing', variant 'mild': eps_buy=0.7 is outside [0, 0.5]" in result.stderr


def test_a_learner_parameter_its_library_ignores_exits_2_before_any_run(tmp_path: Path, small_data_dir: Path) -> None:
    catalogue = small_catalogue_document()
    catalogue["learners"] = {"xgboost": {"num_boost_round": 25, "max_dept": 3}}
    result = subprocess.run([CLI, "run"], env=_env(tmp_path, small_data_dir, catalogue), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2
    assert "learner 'xgboost' with parameters {'num_boost_round': 25, 'max_dept': 3}: xgboost does not know " \
           "parameter(s) ['max_dept']" in result.stderr
