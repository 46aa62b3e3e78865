"""The cell step: a run over a range of cells, a subset of the cell assets, and a failure inside a range."""

import os
from pathlib import Path

import dagster as dg
import pytest

from cvn_assets.defs.build import build_defs
from cvn_assets.defs.cells.computations import cell_assets
from cvn_assets.defs.cells.step import CELL_STEP, RECORDING_SUMMARY
from cvn_assets.defs.partitions import box_keys, cell_boxes, contiguous_ranges
from cvn_assets.defs.settings import Settings
from cvn_assets.lineage.fingerprints import FINGERPRINTS_TAG, fingerprint_tags, recorded_fingerprints
from cvn_assets.lineage.records import CONSUMED_KEY
from cvn_assets.orchestration.run_settings import PLANNED_AS_RANGE, RANGE_END_TAG, RANGE_START_TAG
from cvn_assets.orchestration.runner import run_sweep
from cvn_assets_bench.dagster_part import recording_tail
from cvn_assets_tests.conftest import make_settings, small_catalogue_document

RANGE = ["BTC|f1.baseline", "BTC|f2.baseline", "BTC|f3.baseline"]
METRICS = dg.AssetKey("fold_metrics")
XGBOOST = dg.AssetKey(["oos_predictions", "xgboost"])
PLANNED = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED


def _data(defs: dg.Definitions, instance: dg.DagsterInstance, crypto: str = "BTC") -> None:
    assert defs.resolve_job_def("crypto_data_job").execute_in_process(partition_key=crypto, instance=instance).success


def test_contiguous_ranges_follow_the_partition_order() -> None:
    order = ["a", "b", "c", "d", "e"]
    assert contiguous_ranges(order, ["d", "a", "b", "e"]) == [["a", "b"], ["d", "e"]]
    assert contiguous_ranges(order, []) == []


def test_cells_form_boxes_of_neighbouring_cryptos_and_fv_keys() -> None:
    cryptos, fvs = ["A", "B", "C", "D"], ["f1.x", "f2.x", "f1.y", "f2.y"]
    grid = [(c, fv) for c in cryptos for fv in fvs[:2]]
    assert cell_boxes(cryptos, fvs, grid) == [(cryptos, ["f1.x", "f2.x"])]
    # C has no cells (its data failed): A-B and D are two boxes; D also wants a second range
    wanted = [("B", "f1.y"), ("A", "f2.y"), ("A", "f1.y"), ("B", "f2.y"), ("D", "f1.y"), ("D", "f2.y"), ("D", "f1.x")]
    assert cell_boxes(cryptos, fvs, wanted) == [
        (["A", "B"], ["f1.y", "f2.y"]),
        (["D"], ["f1.x"]),
        (["D"], ["f1.y", "f2.y"]),
    ]
    assert cell_boxes(cryptos, fvs, [("B", "f2.y"), ("C", "f1.x")]) == [(["B"], ["f2.y"]), (["C"], ["f1.x"])]
    assert cell_boxes(cryptos, fvs, []) == []
    assert box_keys(["A", "B"], ["f1.y", "f2.y"]) == ["A|f1.y", "A|f2.y", "B|f1.y", "B|f2.y"]


def test_cell_assets_are_listed_upstream_first() -> None:
    keys = [a.key for a in cell_assets(("xgboost", "lightgbm"), ("blend_avg",))]
    assert keys.index(dg.AssetKey("cleanlab_mask")) < keys.index(XGBOOST) < keys.index(dg.AssetKey("stacked_ensemble"))
    assert keys[-1] == METRICS


def test_a_run_over_a_range_records_each_cell_as_its_own_materialization(
    small_settings: Settings, instance: dg.DagsterInstance
) -> None:
    defs = build_defs(small_settings)
    _data(defs, instance)
    fingerprints = {key: f"fp-{key}" for key in RANGE}
    tags = {RANGE_START_TAG: RANGE[0], RANGE_END_TAG: RANGE[-1], **fingerprint_tags(fingerprints)}
    assert FINGERPRINTS_TAG in tags
    result = defs.resolve_job_def("cell_job").execute_in_process(instance=instance, tags=tags)
    assert result.success
    steps = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert steps == {CELL_STEP}

    records = {r.partition_key: r for r in instance.fetch_materializations(METRICS, limit=10).records}
    assert set(records) == set(RANGE)
    for key, record in records.items():
        metadata = record.asset_materialization.metadata
        assert metadata["input_fingerprint"].value == f"fp-{key}"
        consumed = metadata[CONSUMED_KEY].value
        assert [c["partition"] for c in consumed["oos_predictions/xgboost"]] == [key]
        assert consumed["ohlcv"][0]["partition"] == "BTC"
        assert metadata["compute_seconds"].value > 0
    thresholds = {
        r.partition_key: r.asset_materialization.metadata["threshold"].value
        for r in instance.fetch_materializations(XGBOOST, limit=10).records
    }
    assert set(thresholds) == set(RANGE)

    evaluations = result.get_asset_check_evaluations()
    assert {(e.check_name, e.partition) for e in evaluations} == {
        (name, key)
        for key in RANGE
        for name in (
            "targets_in_range_and_train_only",
            "cleanlab_within_class_cap",
            "xgboost_probabilities_valid",
            "no_degenerate_metrics",
            "models_beat_always_buy",
        )
    }
    rows = defs.resources["results"].store().read("test_sweep")
    assert sorted(set(rows["fold"])) == ["f1", "f2", "f3"]
    assert recorded_fingerprints(instance, METRICS, RANGE) == fingerprints
    logs = [e.user_message for e in instance.all_logs(result.run_id) if '"training_complete"' in e.user_message]
    assert len(logs) == 1 and logs[0].count('"training_complete"') == len(RANGE)
    # The step says how long it recorded after its last computation; the benchmark reads it back.
    summary = [e.user_message for e in instance.all_logs(result.run_id) if RECORDING_SUMMARY.search(e.user_message)]
    assert len(summary) == 1 and "asset(s) × 3 cell(s) computed in" in summary[0]
    step = next(s for s in instance.get_run_step_stats(result.run_id) if s.step_key == CELL_STEP)
    assert 0 < recording_tail(instance, result.run_id) < step.end_time - step.start_time


def test_one_asset_alone_reads_its_upstream_cell_assets_from_storage(
    small_settings: Settings, instance: dg.DagsterInstance
) -> None:
    defs = build_defs(small_settings)
    _data(defs, instance)
    job = defs.resolve_implicit_global_asset_job_def()
    only_metrics = job.get_subset(asset_selection={METRICS})
    missing = only_metrics.execute_in_process(partition_key=RANGE[0], instance=instance, raise_on_error=False)
    assert not missing.success
    assert "oos_predictions/xgboost partition BTC|f1.baseline has not been materialized" in str(
        [
            (e.step_failure_data.error.cause or e.step_failure_data.error).message
            for e in missing.all_events
            if e.is_step_failure
        ]
    )

    first = defs.resolve_job_def("cell_job").execute_in_process(partition_key=RANGE[0], instance=instance)
    predictions = instance.fetch_materializations(XGBOOST, limit=1).records[0]
    again = only_metrics.execute_in_process(partition_key=RANGE[0], instance=instance)
    assert {e.asset_key for e in again.get_asset_materialization_events()} == {METRICS}
    latest = instance.fetch_materializations(METRICS, limit=1).records[0]
    assert latest.run_id == again.run_id != first.run_id
    consumed = latest.asset_materialization.metadata[CONSUMED_KEY].value["oos_predictions/xgboost"]
    assert consumed[0]["storage_id"] == predictions.storage_id and consumed[0]["run_id"] == first.run_id


def test_a_failure_inside_a_range_fails_only_its_own_cell(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cvn_assets.defs.cells import labels as training

    real = training.training_targets

    def broken_on_f2(raw_labels, fold, smoothing):  # same signature as the real one
        if fold.fold == "f2":
            raise ValueError("labels of f2 are unreadable")
        return real(raw_labels, fold, smoothing)

    monkeypatch.setattr(training, "training_targets", broken_on_f2)
    document = small_catalogue_document(("BTC", "ETH"))
    defs = build_defs(make_settings(tmp_path, small_data_dir, document, cells_per_run=6))
    lines: list[str] = []
    report = run_sweep(defs, instance, configs=["baseline"], folds=["f1", "f2", "f3"], gate=False, log=lines.append)
    assert sorted(report.failures) == ["cell_job[BTC|f2.baseline]", "cell_job[ETH|f2.baseline]"]
    assert "labels of f2 are unreadable" in report.failures["cell_job[BTC|f2.baseline]"]
    assert [line.split()[3:6] for line in lines if line.lstrip().startswith("retry")] == [
        ["one", "crypto", "per"],
        ["one", "cell", "per"],
        ["one", "cell", "per"],
    ]
    keys = [f"{crypto}|f{fold}.baseline" for crypto in ("BTC", "ETH") for fold in (1, 2, 3)]
    assert instance.get_materialized_partitions(METRICS) == {k for k in keys if "f2" not in k}
    # 2 data runs, the failed range over both cryptos, one run per crypto, then one run per cell of each
    assert report.runs == 2 + 1 + 2 + 6
    status = instance.get_status_by_partition(METRICS, keys, defs.resolve_job_def("cell_job").partitions_def)
    assert status["BTC|f2.baseline"] == status["ETH|f2.baseline"] == dg.AssetPartitionStatus.FAILED
    assert PLANNED_AS_RANGE not in os.environ

    # Each range run planned each asset once over its cells; each single-cell run planned its own cell.
    planned = [
        r.event_log_entry.dagster_event.event_specific_data
        for run in instance.get_run_records()
        for r in instance.get_records_for_run(run.dagster_run.run_id, of_type=PLANNED).records
        if r.event_log_entry.dagster_event.asset_key == METRICS
    ]
    ranged = sorted(
        (sorted(p.partitions_subset.get_partition_keys()) for p in planned if p.partitions_subset),
        key=lambda k: (len(k), k),
    )
    assert ranged == [keys[:3], keys[3:], keys]
    assert sorted(p.partition for p in planned if p.partitions_subset is None) == keys
