"""The cell step in worker processes: the same values, metadata and events as in this process; errors named."""

import dataclasses
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from cvn_assets.defs.build import build_defs
from cvn_assets.defs.cells.computations import cell_assets
from cvn_assets.defs.settings import Settings
from cvn_assets.lineage.records import CONSUMED_KEY
from cvn_assets.orchestration.runner import RANGE_END_TAG, RANGE_START_TAG
from cvn_assets_tests.conftest import make_settings, small_catalogue_document

RANGE = ["BTC|f1.baseline", "BTC|f2.baseline", "BTC|f3.baseline"]
RANGE_TAGS = {RANGE_START_TAG: RANGE[0], RANGE_END_TAG: RANGE[-1]}
# Measured durations and the run that wrote a row differ from run to run; every other value must not.
TIMINGS = ("compute_seconds", "fit_seconds", "duration_seconds", "run_id", "recorded_at")


def _sweep(root: Path, data_dir: Path, processes: str, workers: int = 2) -> tuple[dg.Definitions, Settings]:
    root.mkdir(parents=True, exist_ok=True)
    settings = dataclasses.replace(
        make_settings(root, data_dir, small_catalogue_document(("BTC",))),
        cell_workers=workers,
        cell_processes=processes,
    )
    return build_defs(settings), settings


def _instance(root: Path) -> dg.DagsterInstance:
    (root / "home").mkdir()
    return dg.DagsterInstance.local_temp(str(root / "home"), overrides={"telemetry": {"enabled": False}})


def _run_range(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    assert defs.resolve_job_def("crypto_data_job").execute_in_process(partition_key="BTC", instance=instance).success
    return defs.resolve_job_def("cell_job").execute_in_process(instance=instance, tags=RANGE_TAGS, raise_on_error=False)


def _metadata(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, dict[str, object]]:
    """Each cell's metadata but the storage ids it read, its model file (under each root) and durations."""
    return {
        r.partition_key: {
            name: _comparable(value.value)
            for name, value in r.asset_materialization.metadata.items()
            if name not in (*TIMINGS, CONSUMED_KEY, "model_path")
        }
        for r in instance.fetch_materializations(key, limit=10).records
    }


def _comparable(value: object) -> object:
    if isinstance(value, dg.TableMetadataValue):
        return [{k: v for k, v in row.data.items() if k not in TIMINGS} for row in value.records]
    return value


def _without_timings(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in frame.columns if c in TIMINGS]).reset_index(drop=True)


@pytest.mark.slow
def test_worker_processes_compute_what_this_process_computes(tmp_path: Path, small_data_dir: Path) -> None:
    outcomes = {}
    for processes in ("on", "off"):
        defs, settings = _sweep(tmp_path / processes, small_data_dir, processes)
        with _instance(tmp_path / processes) as instance:
            result = _run_range(defs, instance)
            assert result.success
            catalogue = defs.resources["sweep"].catalogue
            keys = [a.key for a in cell_assets(catalogue.models, catalogue.ensembles)]
            frames = defs.resources["artifacts"].frames()
            outcomes[processes] = {
                "values": {
                    (k, p): frames.require(k, p) for k in keys if k != dg.AssetKey("fold_metrics") for p in RANGE
                },
                "metadata": {k: _metadata(instance, k) for k in keys},
                "results": _without_timings(
                    defs.resources["results"].store().read(settings.sweep_id or catalogue.sweep_name)
                ),
                "events": sorted(
                    line
                    for e in instance.all_logs(result.run_id)
                    if '"training_complete"' in e.user_message
                    for line in e.user_message.splitlines()
                ),
            }
    on, off = outcomes["on"], outcomes["off"]
    assert on["values"].keys() == off["values"].keys()
    for where, value in on["values"].items():
        expected = off["values"][where]
        if isinstance(value, dict):
            for name in value:
                pd.testing.assert_frame_equal(_without_timings(value[name]), _without_timings(expected[name]))
        else:
            pd.testing.assert_frame_equal(value, expected)
    assert on["metadata"] == off["metadata"]
    pd.testing.assert_frame_equal(on["results"], off["results"])
    assert len(on["events"]) == len(off["events"]) > 0


@pytest.mark.slow
def test_an_error_in_a_worker_process_fails_the_step_with_its_cause(tmp_path: Path, small_data_dir: Path) -> None:
    # One worker: the cells' labels and masks are all computed before the first fit fails.
    defs, settings = _sweep(tmp_path, small_data_dir, "on", workers=1)
    Path(settings.storage_dir).mkdir(parents=True, exist_ok=True)
    (Path(settings.storage_dir) / "models").write_text("a file where the model folders go")
    with _instance(tmp_path) as instance:
        result = _run_range(defs, instance)
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
        error = failure.cause or failure
        assert "Not a directory" in error.message and "storage/models" in error.message
        assert "while computing oos_predictions/xgboost of cell BTC|f" in error.message
        assert error.cause is not None and "write_model" in error.cause.message  # the worker's traceback
        # An asset is recorded for every cell of the range or for none; nothing from the failed fit on.
        cell_keys = [a.key for a in cell_assets(("xgboost",), ())]
        recorded = {key: instance.get_materialized_partitions(key) for key in cell_keys}
        assert all(partitions in (set(), set(RANGE)) for partitions in recorded.values())
        assert recorded[dg.AssetKey("smoothed_labels")] == recorded[dg.AssetKey("cleanlab_mask")] == set(RANGE)
        assert not recorded[dg.AssetKey(["oos_predictions", "xgboost"])] and not recorded[dg.AssetKey("fold_metrics")]
