"""The plain loop does the work the Dagster sweep does: same inputs, same metrics."""

import dataclasses
import subprocess
import sys

import dagster as dg
import pandas as pd
import pytest

from cvn_assets.core.schema import METRIC_COLUMNS, RESULT_KEY_COLUMNS
from cvn_assets.defs.build import build_defs
from cvn_assets.defs.settings import Settings
from cvn_assets.orchestration.runner import run_sweep
from cvn_assets_bench.plain_loop import run_plain_sweep
from cvn_assets_bench.workload import Workload

CELL = {"cryptos": ["BTC"], "folds": ["f2"], "configs": ["ls_mild", "cl_filter"]}
COUNT_COLUMNS = ["status", "train_rows", "val_rows", "test_rows"]


def _sorted(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(list(RESULT_KEY_COLUMNS)).reset_index(drop=True)


@pytest.mark.slow
def test_plain_loop_metrics_equal_the_dagster_sweep_on_the_same_cells(
    small_settings: Settings, instance: dg.DagsterInstance
) -> None:
    # The Dagster run computes its two cells at once; the plain loop one after the other, then at once.
    defs = build_defs(dataclasses.replace(small_settings, cell_workers=2))
    report = run_sweep(defs, instance, gate=False, log=lambda _: None, **CELL)
    assert report.ok, report.failures
    through_dagster = _sorted(defs.resources["results"].store().read("test_sweep"))

    workload = Workload(
        catalogue_path=small_settings.catalogue_path,
        data_dir=small_settings.data_dir,
        data_pattern=small_settings.data_pattern,
        n_threads=small_settings.n_threads,
    )
    sweep = run_plain_sweep(workload.catalogue(), workload.source(), n_threads=workload.n_threads, gate=False, **CELL)
    assert not sweep.failures
    plain = _sorted(sweep.results())

    # ls_mild stands for one variant, cl_filter for one: one xgboost row each
    assert len(plain) == len(through_dagster) == 2
    for column in RESULT_KEY_COLUMNS + ("config_id",):
        assert plain[column].astype(str).tolist() == through_dagster[column].astype(str).tolist(), column
    counts = plain[COUNT_COLUMNS].astype(str).values.tolist()
    assert counts == through_dagster[COUNT_COLUMNS].astype(str).values.tolist()
    for column in METRIC_COLUMNS:
        assert plain[column].astype(float).tolist() == pytest.approx(
            through_dagster[column].astype(float).tolist(), rel=1e-9, abs=1e-12, nan_ok=True
        ), column
    assert set(sweep.clock.stages) >= {"data", "labels", "cleanlab", "model:xgboost", "metrics", "checks"}

    together = run_plain_sweep(
        workload.catalogue(), workload.source(), n_threads=workload.n_threads, gate=False, cell_workers=2, **CELL
    )
    timings = [c for c in plain.columns if c.endswith("_seconds")]
    pd.testing.assert_frame_equal(_sorted(together.results()).drop(columns=timings), plain.drop(columns=timings))
    assert together.cells == sweep.cells == 2


def test_the_plain_loop_never_imports_dagster() -> None:
    code = (
        "import sys, cvn_assets_bench.plain_loop, cvn_assets_bench.gate_bench, "
        "cvn_assets_bench.workload; print('dagster' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
