"""A failed range run of cells: what it finished is kept, and only what it left undone runs again."""

import functools
from pathlib import Path

import dagster as dg
import pytest

from cvn_assets.core.checks.sanity import CheckOutcome
from cvn_assets.defs.build import build_defs
from cvn_assets.orchestration.range_retry import failed_check_partitions
from cvn_assets.orchestration.runner import run_sweep
from cvn_assets_tests.conftest import make_settings, small_catalogue_document

METRICS, SMOOTHED = dg.AssetKey("fold_metrics"), dg.AssetKey("smoothed_labels")
KEYS = [f"{crypto}|f{fold}.baseline" for crypto in ("BTC", "ETH") for fold in (1, 2, 3)]
BAD = "ETH|f2.baseline"


def _latest_run(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> str:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    return records[0].run_id


def _range_run(instance: dg.DagsterInstance) -> dg.DagsterRun:
    """The first run, over every cell of both cryptos."""
    return next(
        r.dagster_run
        for r in instance.get_run_records()
        if (
            r.dagster_run.tags.get("dagster/asset_partition_range_start"),
            r.dagster_run.tags.get("dagster/asset_partition_range_end"),
        )
        == (KEYS[0], KEYS[-1])
    )


def _sweep(tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance) -> tuple[dg.Definitions, list[str]]:
    defs = build_defs(
        make_settings(tmp_path, small_data_dir, small_catalogue_document(("BTC", "ETH")), cells_per_run=len(KEYS))
    )
    lines: list[str] = []
    report = run_sweep(defs, instance, configs=["baseline"], folds=["f1", "f2", "f3"], gate=False, log=lines.append)
    assert list(report.failures) == [f"cell_job[{BAD}]"]
    lines.append(f"runs={report.runs}")
    return defs, lines


def test_a_cell_failing_its_last_check_runs_alone_and_the_cells_the_range_finished_are_kept(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cvn_assets.defs.evaluation import assets as evaluation

    real = evaluation.degenerate_metrics_sanity

    def degenerate_in_one_cell(rows):  # noqa: ANN001, ANN202 - same signature as the real one
        if set(rows["crypto"]) == {"ETH"} and set(rows["fold"]) == {"f2"}:
            return CheckOutcome(False, 1, 0, "ETH f2: f1_buy exactly 0.0")
        return real(rows)

    monkeypatch.setattr(evaluation, "degenerate_metrics_sanity", degenerate_in_one_cell)
    defs, lines = _sweep(tmp_path, small_data_dir, instance)
    ranged = _range_run(instance)
    assert ranged.status == dg.DagsterRunStatus.FAILURE
    assert failed_check_partitions(instance, ranged.run_id) == {BAD}
    # 2 data runs, the range over both cryptos, then only the failing cell, alone
    assert lines[-1] == "runs=4"
    assert "5 cell(s) finished, 1 failed a check, 0 left" in next(line for line in lines if "retry" in line)
    assert all(_latest_run(instance, METRICS, key) == ranged.run_id for key in KEYS if key != BAD)
    assert _latest_run(instance, METRICS, BAD) != ranged.run_id

    # The next sweep counts the five cells the failed range finished as done; the bad cell fails again.
    again = run_sweep(defs, instance, configs=["baseline"], folds=["f1", "f2", "f3"], gate=False, log=lambda _: None)
    assert list(again.failures) == [f"cell_job[{BAD}]"]
    assert (again.runs, again.skipped) == (1, 2 + 5)


def test_a_cell_failing_an_early_check_runs_alone_and_the_others_only_compute_what_is_left(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cvn_assets.defs.cells import computations as cell_computations

    real = cell_computations.smoothed_labels

    @functools.wraps(real)  # keeps its @cell_asset declaration
    def outside_in_one_cell(cell, data, tools):  # noqa: ANN001, ANN202 - same signature as the real one
        part = real(cell, data, tools)
        if cell.key == BAD:
            part.check = CheckOutcome(False, 3, 0, "3 targets outside [0, 1]")
        return part

    monkeypatch.setattr(cell_computations, "smoothed_labels", outside_in_one_cell)
    defs, lines = _sweep(tmp_path, small_data_dir, instance)
    ranged = _range_run(instance)
    # the range, the failing cell alone, then the five others without their smoothed labels: BTC's three
    # cells in one run, ETH's f1 and f3 (not neighbours) in one run each
    assert lines[-1] == f"runs={2 + 1 + 1 + 3}"
    assert "0 cell(s) finished, 1 failed a check, 5 left" in next(line for line in lines if "retry" in line)
    for key in KEYS:
        if key == BAD:
            continue
        assert _latest_run(instance, SMOOTHED, key) == ranged.run_id  # computed once, by the failed range
        finished = instance.get_run_by_id(_latest_run(instance, METRICS, key))
        assert finished.status == dg.DagsterRunStatus.SUCCESS
        assert finished.asset_selection is not None and SMOOTHED not in finished.asset_selection
    assert not instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=METRICS, asset_partitions=[BAD]), limit=1
    ).records


def test_a_range_that_fails_after_finishing_every_cell_is_reported_and_not_computed_again(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cvn_assets.defs.cells import step as cell

    def broken_summary(*args):  # noqa: ANN002, ANN202 - the step's last call, after every asset is recorded
        raise RuntimeError("the summary could not be written")

    monkeypatch.setattr(cell, "recording_summary", broken_summary)
    defs = build_defs(
        make_settings(tmp_path, small_data_dir, small_catalogue_document(("BTC", "ETH")), cells_per_run=len(KEYS))
    )
    report = run_sweep(defs, instance, configs=["baseline"], folds=["f1", "f2", "f3"], gate=False, log=lambda _: None)
    assert list(report.failures) == [f"cell_job[{KEYS[0]}...{KEYS[-1]}]"]
    message = report.failures[f"cell_job[{KEYS[0]}...{KEYS[-1]}]"]
    # not an error the project raises on purpose: the message says where its stack trace is
    assert "the summary could not be written" in message and "(stack trace: run " in message
    assert report.runs == 2 + 1
    ranged = _range_run(instance)
    assert all(_latest_run(instance, METRICS, key) == ranged.run_id for key in KEYS)

    monkeypatch.undo()
    again = run_sweep(defs, instance, configs=["baseline"], folds=["f1", "f2", "f3"], gate=False, log=lambda _: None)
    assert (again.runs, again.skipped, again.failures) == (0, 2 + 6, {})
