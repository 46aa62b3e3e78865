"""The cell assets of one crypto × fold × configuration, computed in one step over any range of cells.

Every cell asset keeps its own key, group, kinds, code version, metadata, blocking check and lineage,
and can be materialized on its own (an unselected asset that a selected one needs is read from
storage). They share one step because Dagster's cost is per step and per run, not per fit: seven
steps per cell cost more than the cheaper fits themselves. A run may cover a range of cells (the
sweep runner runs all the changed cells of its cryptos together; a UI backfill runs in chunks):
the step stores each asset's values over the range in one output, asset by asset, while workers
compute the next ones (`cell_scheduler`): worker processes for a run of many cells, so that the
fits and this thread's recording do not wait for each other's GIL, threads for a few cells.

A failed blocking check stops the step after recording its evaluations, so nothing downstream of it
is computed in that run (the sweep runner then retries the range one crypto, then one cell, per run).
"""


import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from functools import partial
from typing import Any

import dagster as dg
import pandas as pd

from cvn_assets.core.gil import short_switch_interval
from cvn_assets.core.learners.registry import fit_loop_in_python
from cvn_assets.core.thread_copies import PerThreadCopies
from cvn_assets.core.worker_processes import WorkerPool, computes_in_processes, native_thread_limits, shared_pool
from cvn_assets.defs.assets.cell_computations import (
    CRYPTO_INPUTS, WORKER_IMPORTS, CellAsset, CellTools, StepSetup, TrainingEvents, cell_assets, compute_in_worker,
)
from cvn_assets.defs.assets.cell_scheduler import NATIVE, NATIVE_ROUNDS, PYTHON, CellScheduler
from cvn_assets.defs.assets.cell_types import Cell, CryptoInputs, Part
from cvn_assets.defs.assets.common import OWNERS
from cvn_assets.defs.assets.evaluation import FOLD_METRICS_KEY, track_cell
from cvn_assets.defs.assets.models import PREDICTIONS_PREFIX
from cvn_assets.defs.cell_checks import advisory_check, check_evaluation, inline_check
from cvn_assets.defs.frame_store import PartitionValues
from cvn_assets.defs.lineage import CONSUMED_KEY, RunLineage, fingerprint_metadata, provenance_metadata
from cvn_assets.defs.partitions import SweepPartitions
from cvn_assets.defs.progress import cell_computed
from cvn_assets.defs.resources import ArtifactStoreResource, SweepResource
from cvn_assets.defs.tracking import MlflowTrackingResource

CELL_STEP = "cell"
TRACKED = "mlflow_run"  # a fold_metrics part's pending MLflow run
# A computation of one asset of one cell, wherever it runs: its part (the events it logs go to `events`).
RunTask = Callable[[CellAsset, Cell, Mapping[dg.AssetKey, Any]], Part]


def build_cell_asset(partitions: SweepPartitions, models: Sequence[str], ensembles: Sequence[str],
                     cells_per_backfill_run: int) -> list[dg.AssetsDefinition]:
    """`cells_per_backfill_run`: a backfill of cell keys runs in chunks of that many contiguous keys (the
    number of folds makes one run per crypto × configuration, as the keys are configuration-major)."""
    assets = cell_assets(models, ensembles)
    outs = {a.output: dg.AssetOut(key=a.key, group_name=a.group, kinds=set(a.kinds), owners=OWNERS, code_version="1",
                                  description=" ".join(a.description.split()), is_required=False,
                                  io_manager_key=a.io_manager_key) for a in assets}
    deps = {a.output: {*(dg.AssetKey(n) for n in a.crypto_deps), *a.cell_deps} for a in assets}

    @dg.multi_asset(name=CELL_STEP, outs=outs, ins={name: dg.AssetIn() for name in CRYPTO_INPUTS},
                    internal_asset_deps=deps, partitions_def=partitions.cell, can_subset=True,
                    check_specs=[inline_check(a.check, a.key, partitions.cell) for a in assets]
                    + [advisory_check(c, a.key, partitions.cell) for a in assets for c in a.advisory_checks],
                    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=cells_per_backfill_run))
    def cell(context: dg.AssetExecutionContext, sweep: SweepResource, artifacts: ArtifactStoreResource,
             tracking: MlflowTrackingResource, **crypto_inputs: Any) -> Iterator[Any]:
        """Every cell asset selected in this run, over the run's cells."""
        setup = StepSetup(tuple(models), tuple(ensembles), sweep, artifacts)
        yield from _run(context, assets, crypto_inputs, setup, tracking)

    return [cell]


def _run(context: dg.AssetExecutionContext, assets: Sequence[CellAsset], crypto_inputs: Mapping[str, Any],
         setup: StepSetup, tracking: MlflowTrackingResource) -> Iterator[Any]:
    """Each selected asset over the run's cells, recorded as soon as it is computed (upstream first).

    The computations run `sweep.cell_workers` at a time (see `cell_scheduler`), in worker processes
    for a run of many cells, on threads otherwise, while this thread records each asset as soon as
    all its cells are computed; a failed blocking check stops the step once its evaluations are recorded.
    """
    sweep, artifacts = setup.sweep, setup.artifacts
    cells = [Cell.of(pk) for pk in context.partition_keys]
    keys = [c.key for c in cells]
    data = _crypto_data(context, crypto_inputs, sorted({c.crypto for c in cells}))
    lineage = RunLineage(context.instance)
    for name in crypto_inputs:
        lineage.fetch(dg.AssetKey(name), list(data))
    selected = context.selected_asset_keys
    stored: dict[dg.AssetKey, dict[str, Any]] = {}
    frames = artifacts.frames()
    from_storage = _needed(assets, selected) - set(selected)  # read by this selection but not computed
    for asset in assets:
        if asset.key in from_storage:
            stored[asset.key] = {k: frames.require(asset.key, k) for k in keys}
            lineage.fetch(asset.key, keys)
    todo = [a for a in assets if a.key in selected]
    events = {a.key: TrainingEvents() for a in todo}
    in_processes = computes_in_processes(sweep.cell_processes, len(cells))
    run_task = (_in_worker_processes(context, setup, data, events) if in_processes
                else _on_threads(setup, data, events))
    track = partial(track_cell, context, tracking, artifacts, sweep)
    # One thread logs the cells to MLflow (its client and parent run are shared), so a worker is
    # free for the next task as soon as a cell's metrics are computed.
    tracking.ready_for_threads()
    tracker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cell-tracking")
    recorded = provenance_metadata(sweep.catalogue)  # once per step: the same for every cell

    def compute(index: int, cell: Cell, inputs: Mapping[dg.AssetKey, Any]) -> Part:
        asset = todo[index]
        started = time.perf_counter()
        try:
            part = run_task(asset, cell, inputs)
        except Exception as error:
            error.add_note(f"while computing {asset.key.to_user_string()} of cell {cell.key}")
            raise
        if asset.key == FOLD_METRICS_KEY:
            part.extra[TRACKED] = tracker.submit(track, part.extra["metrics"], cell)
            part.metadata.update(recorded)
        part.metadata["compute_seconds"] = dg.MetadataValue.float(round(time.perf_counter() - started, 4))
        cell_computed(asset.key.to_user_string(), cell.key)
        return part

    scheduler = CellScheduler([a.key for a in todo], {a.key: a.cell_deps for a in todo}, cells, stored, compute,
                              workers=sweep.cell_workers, kind=_task_kind, copy_inputs=not in_processes)
    step_started = time.perf_counter()
    # This thread records while the workers compute; on threads, the fits' rounds must get the GIL back soon.
    with short_switch_interval() if not in_processes else nullcontext(), tracker, scheduler:
        for index, parts in scheduler.completed():
            asset = todo[index]
            if asset.key == FOLD_METRICS_KEY:
                for part in parts.values():
                    tracked = part.extra.pop(TRACKED).result()
                    part.metadata.update(tracked.metadata() if tracked else {})
                tracking.finish_parent(context)
            for cell in cells:
                _record(context, asset, cell, parts[cell.key], lineage)
            if events[asset.key].lines:
                context.log.info("\n".join(events[asset.key].lines))
            yield dg.Output(PartitionValues({k: p.value for k, p in parts.items()}), output_name=asset.output)
            lineage.fetch(asset.key, keys)
            # A failed blocking check: the scheduler computes nothing after its asset, and Dagster fails
            # the step once the step has recorded what was computed.
            yield from (check_evaluation(asset.check, asset.key, p.check, k) for k, p in parts.items() if p.check)
            yield from (check_evaluation(name, asset.key, outcome, k, blocking=False)
                        for k, p in parts.items() for name, outcome in p.advisory.items())
    if scheduler.last_computed is not None:
        context.log.info(recording_summary(len(todo), len(cells), scheduler.last_computed - step_started,
                                           time.perf_counter() - scheduler.last_computed))


# What the step could not hide behind its computations: recording the assets that finished last.
RECORDING_SUMMARY = re.compile(r"recorded for (?P<tail>[0-9.]+) s after the last computation")


def recording_summary(assets: int, cells: int, computing: float, tail: float) -> str:
    return (f"{assets} asset(s) × {cells} cell(s) computed in {computing:.2f} s, "
            f"recorded for {tail:.2f} s after the last computation")


def start_cell_workers(sweep: SweepResource) -> WorkerPool:
    """The worker processes that runs of many cells compute in, started if they are not yet; they
    import the learners meanwhile, so a caller that knows such runs are coming starts them early."""
    return shared_pool(sweep.cell_workers, WORKER_IMPORTS, native_thread_limits(sweep.n_threads))


def _on_threads(setup: StepSetup, data: Mapping[str, CryptoInputs], events: Mapping[dg.AssetKey, TrainingEvents]
                ) -> RunTask:
    own_data: PerThreadCopies[CryptoInputs] = PerThreadCopies(CryptoInputs.copy)
    tools = {key: CellTools(setup.sweep, setup.artifacts, log.add) for key, log in events.items()}

    def run_task(asset: CellAsset, cell: Cell, inputs: Mapping[dg.AssetKey, Any]) -> Part:
        crypto = data[cell.crypto] if setup.sweep.cell_workers == 1 else own_data.get(cell.crypto, data[cell.crypto])
        return asset.compute(cell, crypto, inputs, tools[asset.key])

    return run_task


def _in_worker_processes(context: dg.AssetExecutionContext, setup: StepSetup, data: Mapping[str, CryptoInputs],
                         events: Mapping[dg.AssetKey, TrainingEvents]) -> RunTask:
    """Each task in one of the process-wide workers; the setup and each crypto's values cross to a
    worker once per run (the run id is the generation)."""
    pool = start_cell_workers(setup.sweep)
    run_id = context.run.run_id

    def run_task(asset: CellAsset, cell: Cell, inputs: Mapping[dg.AssetKey, Any]) -> Part:
        with pool.worker() as worker:
            part, lines = worker.call(compute_in_worker, asset.key, cell, dict(inputs), generation=run_id,
                                      shared={"setup": ("setup", lambda: setup),
                                              "data": (cell.crypto, lambda: data[cell.crypto])})
        events[asset.key].lines.extend(lines)
        return part

    return run_task


def _task_kind(key: dg.AssetKey) -> str:
    if key.path[0] != PREDICTIONS_PREFIX:
        return PYTHON
    return NATIVE_ROUNDS if fit_loop_in_python(key.path[-1]) else NATIVE


def _record(context: dg.AssetExecutionContext, asset: CellAsset, cell: Cell, part: Part, lineage: RunLineage) -> None:
    """The metadata of one cell's materialization: the part's own, what it read, its input fingerprint."""
    if "error" in part.metadata:
        context.log.error(f"{cell.key} {asset.key.to_user_string()}: training failed: {part.metadata['error'].value}")
    reads = {**{dg.AssetKey(n): cell.crypto for n in asset.crypto_deps}, **{k: cell.key for k in asset.cell_deps}}
    context.add_asset_metadata({**part.metadata, CONSUMED_KEY: dg.MetadataValue.json(lineage.consumed(reads)),
                                **fingerprint_metadata(context.run.tags, cell.key)},
                               asset_key=asset.key, partition_key=cell.key)


def _needed(assets: Sequence[CellAsset], selected: Any) -> set[dg.AssetKey]:
    """The selected assets and the ones they read (those not selected are read from storage)."""
    return set(selected) | {dep for asset in assets if asset.key in selected for dep in asset.cell_deps}


def _crypto_data(context: dg.AssetExecutionContext, inputs: Mapping[str, Any],
                 cryptos: Sequence[str]) -> dict[str, CryptoInputs]:
    """Each crypto's per-crypto values (an input over several cryptos arrives as one value per crypto)."""
    by_input: dict[str, dict[str, pd.DataFrame]] = {}
    for name, value in inputs.items():
        partitions = [str(p) for p in context.asset_partition_keys_for_input(name)]
        by_input[name] = {partitions[0]: value} if len(partitions) == 1 else dict(value)
    empty = pd.DataFrame()
    return {c: CryptoInputs(**{n: by_input.get(n, {}).get(c, empty) for n in CRYPTO_INPUTS}) for c in cryptos}

