"""The sweep through Dagster exactly as `cvn-assets run` does it, and what the instance recorded.

Stage times come from the event log: each step's start and end (asset steps and check steps), each
cell asset's own compute time (recorded in its materialization), and each run's start and end; what
a run spends outside its steps, and the cell step outside its assets' computations, is overhead.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from cvn_assets.defs.build import build_defs
from cvn_assets.defs.cells.step import CELL_STEP, RECORDING_SUMMARY
from cvn_assets.defs.data.assets import CRYPTO_DATA_STEP
from cvn_assets.defs.jobs import CRYPTO_DATA_ASSETS
from cvn_assets.defs.partitions import split_cell_key
from cvn_assets.orchestration.runner import run_sweep

PAGE = 1000
ASSET_STAGES = {
    "smoothed_labels": "labels",
    "cleanlab_mask": "cleanlab",
    "stacked_ensemble": "ensembles",
    "fold_metrics": "metrics",
    "gate_verdict": "gate",
}
PREDICTIONS_PREFIX = "oos_predictions"
CELL_ASSET = dg.AssetKey("fold_metrics")
CHECKS_STAGE = "checks"
CELL_OVERHEAD_STAGE = "cell_step_overhead"
# Part of the cell step's overhead: recording the last assets while the workers have nothing left to do.
CELL_TAIL_STAGE = "cell_recording_tail"


def asset_stage(key: dg.AssetKey) -> str:
    """The benchmark stage an asset's step belongs to (other assets keep their own name)."""
    name = key.to_user_string()
    if name in CRYPTO_DATA_ASSETS:
        return "data"
    if len(key.path) == 2 and key.path[0] == PREDICTIONS_PREFIX:
        return f"model:{key.path[1]}"
    return ASSET_STAGES.get(name, name)


def step_stages(defs: dg.Definitions) -> dict[str, str]:
    """Step key of every asset -> its stage; any other step (an asset check) is a `checks` step."""
    return {
        CRYPTO_DATA_STEP: "data",
        **{key.to_python_identifier(): asset_stage(key) for key in defs.resolve_all_asset_keys()},
    }


@dataclass(frozen=True)
class Materialization:
    storage_id: int
    asset: str
    partition: str | None


def materializations(instance: dg.DagsterInstance) -> list[Materialization]:
    """Every materialization on the instance, read page by page from the event log."""
    found = []
    for key in instance.get_asset_keys():
        cursor = None
        while True:
            page = instance.fetch_materializations(key, limit=PAGE, cursor=cursor, ascending=True)
            found += [Materialization(r.storage_id, key.to_user_string(), r.partition_key) for r in page.records]
            if not page.has_more:
                break
            cursor = page.cursor
    return found


def recomputed(before: list[Materialization], after: list[Materialization]) -> dict[str, Any]:
    """Counts before and after, and which partitions were materialized in between."""
    seen = {m.storage_id for m in before}
    new = [m for m in after if m.storage_id not in seen]
    by_asset: dict[str, set[str | None]] = defaultdict(set)
    for m in new:
        by_asset[m.asset].add(m.partition)
    cells = sorted(str(m.partition) for m in new if m.asset == CELL_ASSET.to_user_string())
    return {
        "materializations_before": len(before),
        "materializations_after": len(after),
        "materializations_new": len(new),
        "partitions_recomputed": sum(len(p) for p in by_asset.values()),
        "partitions_recomputed_by_asset": {asset: len(p) for asset, p in sorted(by_asset.items())},
        "cells_recomputed": len(cells),
        "configs_recomputed": sorted({split_cell_key(cell)[2] for cell in cells}),
    }


def event_log_stages(
    instance: dg.DagsterInstance, run_ids: Iterable[str], stages_by_step: dict[str, str], cell_workers: int = 1
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Seconds per stage from step durations, in-run overhead, and runs and seconds per job."""
    stages: dict[str, dict[str, float | int]] = defaultdict(lambda: {"wall_seconds": 0.0, "calls": 0})
    jobs: dict[str, dict[str, float | int]] = defaultdict(lambda: {"runs": 0, "wall_seconds": 0.0})
    in_steps = in_runs = 0.0
    wanted = set(run_ids)
    for record in instance.get_run_records():
        if record.dagster_run.run_id not in wanted or record.start_time is None or record.end_time is None:
            continue
        run_seconds = record.end_time - record.start_time
        in_runs += run_seconds
        job = jobs[record.dagster_run.job_name]
        job["runs"] += 1
        job["wall_seconds"] += run_seconds
        for step in instance.get_run_step_stats(record.dagster_run.run_id):
            if step.start_time is None or step.end_time is None:
                continue
            seconds = step.end_time - step.start_time
            in_steps += seconds
            if step.step_key == CELL_STEP:
                _add_cell_stages(stages, instance, record.dagster_run.run_id, seconds, cell_workers)
                continue
            stage = stages[stages_by_step.get(step.step_key, CHECKS_STAGE)]
            stage["wall_seconds"] += seconds
            stage["calls"] += 1
    stages["dagster_in_run_overhead"] = {
        "wall_seconds": in_runs - in_steps,
        "calls": sum(int(j["runs"]) for j in jobs.values()),
    }
    return dict(stages), {"jobs": dict(jobs), "runs_wall_seconds": in_runs}


def _add_cell_stages(
    stages: dict[str, dict[str, float | int]],
    instance: dg.DagsterInstance,
    run_id: str,
    step_seconds: float,
    cell_workers: int = 1,
) -> None:
    """The cell step's time per asset (each materialization records its own compute time, divided by
    the cells computed at once); the rest of the step (storing values, events, lineage, checks) is the
    cell step's overhead, but for its tail: the recording left after the last computation, when the
    workers have nothing more to do."""
    computed = 0.0
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records:
        materialization = record.asset_materialization
        if materialization is None or "compute_seconds" not in materialization.metadata:
            continue
        seconds = float(materialization.metadata["compute_seconds"].value) / max(1, cell_workers)
        stage = stages[asset_stage(materialization.asset_key)]
        stage["wall_seconds"] += seconds
        stage["calls"] += 1
        computed += seconds
    tail = recording_tail(instance, run_id)
    overhead = stages[CELL_OVERHEAD_STAGE]
    overhead["wall_seconds"] += step_seconds - computed - tail
    overhead["calls"] += 1
    after = stages[CELL_TAIL_STAGE]
    after["wall_seconds"] += tail
    after["calls"] += 1


def recording_tail(instance: dg.DagsterInstance, run_id: str) -> float:
    """Seconds the cell step of a run spent recording after its last computation (from its summary log line)."""
    for entry in instance.all_logs(run_id):
        if not entry.is_dagster_event and (found := RECORDING_SUMMARY.search(entry.user_message or "")):
            return float(found["tail"])
    return 0.0


def _count(value: Any) -> int | None:
    if value is None:
        return None
    return value if isinstance(value, int) else len(value)


def run_dagster_sweep(
    log: Callable[[str], None] = lambda _: None, sweep_done: Callable[[], None] = lambda: None, in_memory: bool = False
) -> dict[str, Any]:
    """`cvn-assets run` on the instance of $DAGSTER_HOME: build_defs() from the environment, then run_sweep.

    `sweep_done` is called as soon as the sweep has run, before the instance is read for this report.
    `in_memory` runs it on Dagster's in-memory instance instead: the same runs and events, no SQLite files."""
    started = time.perf_counter()
    defs = build_defs()
    with dg.DagsterInstance.ephemeral() if in_memory else dg.DagsterInstance.get() as instance:
        before = materializations(instance)
        known_runs = {r.dagster_run.run_id for r in instance.get_run_records()}
        setup_seconds = time.perf_counter() - started
        report = run_sweep(defs, instance, log=log)
        sweep_seconds = time.perf_counter() - started - setup_seconds
        sweep_done()
        new_runs = [r.dagster_run.run_id for r in instance.get_run_records() if r.dagster_run.run_id not in known_runs]
        stages, jobs = event_log_stages(instance, new_runs, step_stages(defs), defs.resources["sweep"].cell_workers)
        stages["outside_runs"] = {"wall_seconds": sweep_seconds - jobs["runs_wall_seconds"], "calls": 1}
        stages["setup"] = {"wall_seconds": setup_seconds, "calls": 1}
        changes = recomputed(before, materializations(instance))
    return {
        "runs": report.runs,
        "skipped": _count(getattr(report, "skipped", None)),
        "failures": dict(report.failures),
        "run_sweep_seconds": sweep_seconds,
        "report_seconds": report.seconds,
        "stages": stages,
        **jobs,
        **changes,
        "verdicts": {name: table.to_dict(orient="records") for name, table in report.verdicts.items()},
        "stores": {"instance_persistent": instance.is_persistent, "mlflow": defs.resources["tracking"].enabled},
    }
