"""The cell assets of one crypto × fold × configuration, computed in one step over any range of cells.

Every cell asset keeps its own key, group, kinds, code version, metadata, blocking check and lineage,
and can be materialized on its own (an unselected asset that a selected one needs is read from
storage). They share one step because Dagster's cost is per step and per run, not per fit: seven
steps per cell cost more than the cheaper fits themselves. A run may cover a range of cells (the
sweep runner runs all the changed cells of its cryptos together; a UI backfill runs in chunks):
the step stores each asset's values over the range in one output, as soon as all its cells are
computed, while the workers compute the next ones (`execution`: worker processes for a run of many
cells, one thread for a few).

A failed blocking check stops the step after recording its evaluations, so nothing downstream of it
is computed in that run (the sweep runner then retries the range one crypto, then one cell, per run).
"""

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import closing
from functools import partial
from typing import Any

import dagster as dg
import pandas as pd

from cvn_assets.defs.cells.checks import advisory_check, check_evaluation, inline_check
from cvn_assets.defs.cells.computations import (
    CRYPTO_INPUTS,
    WORKER_IMPORTS,
    CellAsset,
    StepSetup,
    cell_assets,
    compute_cell_asset,
)
from cvn_assets.defs.cells.types import Cell, CryptoInputs, Part
from cvn_assets.defs.evaluation.assets import FOLD_METRICS_KEY, track_cell
from cvn_assets.defs.frame_store import PartitionValues
from cvn_assets.defs.metadata import OWNERS
from cvn_assets.defs.partitions import SweepPartitions
from cvn_assets.defs.resources import ArtifactStoreResource, SweepResource
from cvn_assets.execution import computes_in_processes, native_thread_limits, run_tasks, task_pool, worker_pool
from cvn_assets.lineage.records import CONSUMED_KEY, RunLineage, fingerprint_metadata, provenance_metadata
from cvn_assets.lineage.tracking import MlflowTrackingResource, TrackedRun
from cvn_assets.orchestration.progress import cell_computed

CELL_STEP = "cell"


def build_cell_asset(
    partitions: SweepPartitions, models: Sequence[str], ensembles: Sequence[str], cells_per_backfill_run: int
) -> list[dg.AssetsDefinition]:
    """`cells_per_backfill_run`: a backfill of cell keys runs in chunks of that many contiguous keys (the
    number of folds makes one run per crypto × configuration, as the keys are configuration-major)."""
    assets = cell_assets(models, ensembles)
    outs = {
        a.output: dg.AssetOut(
            key=a.key,
            group_name=a.spec.group,
            kinds=a.kinds,
            owners=OWNERS,
            code_version="1",
            description=a.spec.description,
            is_required=False,
            io_manager_key=a.spec.io_manager_key,
        )
        for a in assets
    }
    deps = {a.output: {*(dg.AssetKey(n) for n in a.crypto_deps), *a.cell_deps} for a in assets}

    @dg.multi_asset(
        name=CELL_STEP,
        outs=outs,
        ins={name: dg.AssetIn() for name in CRYPTO_INPUTS},
        internal_asset_deps=deps,
        partitions_def=partitions.cell,
        can_subset=True,
        check_specs=[inline_check(a.check, a.key, partitions.cell) for a in assets]
        + [advisory_check(c, a.key, partitions.cell) for a in assets for c in a.spec.advisory],
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=cells_per_backfill_run),
    )
    def cell(
        context: dg.AssetExecutionContext,
        sweep: SweepResource,
        artifacts: ArtifactStoreResource,
        tracking: MlflowTrackingResource,
        **crypto_inputs: Any,
    ) -> Iterator[Any]:
        """Every cell asset selected in this run, over the run's cells."""
        yield from _run(context, assets, crypto_inputs, sweep, artifacts, tracking)

    return [cell]


def _run(
    context: dg.AssetExecutionContext,
    assets: Sequence[CellAsset],
    crypto_inputs: Mapping[str, Any],
    sweep: SweepResource,
    artifacts: ArtifactStoreResource,
    tracking: MlflowTrackingResource,
) -> Iterator[Any]:
    """Each selected asset over the run's cells, recorded as soon as all its cells are computed.

    A failed blocking check computes nothing after its asset; Dagster fails the step once the step
    has recorded what was computed."""
    cells = [Cell.of(pk) for pk in context.partition_keys]
    data = _crypto_data(context, crypto_inputs, sorted({c.crypto for c in cells}))
    lineage = RunLineage(context.instance)
    for name in crypto_inputs:
        lineage.fetch(dg.AssetKey(name), list(data))
    todo = [a for a in assets if a.key in context.selected_asset_keys]
    stored = _from_storage(assets, todo, cells, artifacts, lineage)
    by_key = {a.key: a for a in assets}
    deps = {a: [by_key[key] for key in a.cell_deps] for a in todo}
    recorded = provenance_metadata(sweep.catalogue)  # once per step: the same for every cell
    track = partial(track_cell, context, tracking, artifacts, sweep)
    parts: dict[CellAsset, dict[str, Part]] = {a: {} for a in todo}
    tracked: dict[str, Future[TrackedRun | None]] = {}
    # One thread logs the cells to MLflow (its client and parent run are shared), so the next cell's
    # tasks start as soon as a cell's metrics are computed.
    tracking.ready_for_threads()
    in_processes = computes_in_processes(sweep.cell_processes, len(cells))
    with (
        task_pool(in_processes, sweep.cell_workers, WORKER_IMPORTS, native_thread_limits(sweep.n_threads)) as pool,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="cell-tracking") as tracker,
    ):
        setup, shared = pool.share(StepSetup(sweep, artifacts)), {c: pool.share(v) for c, v in data.items()}

        def task(asset: CellAsset, cell: Cell, inputs: Mapping[CellAsset, Part]) -> partial[Part]:
            values = {dep.key: part.value for dep, part in inputs.items()}
            return partial(compute_cell_asset, asset, cell, values, setup, shared[cell.crypto])

        started = time.perf_counter()
        last_computed: float | None = None
        with closing(run_tasks(todo, cells, task, pool.executor, deps=deps, stored=stored, stops=_failed)) as done:
            for finished in done:  # one asset of one cell is computed
                asset, cell, part = finished.key, finished.cell, finished.value
                last_computed = time.perf_counter()
                cell_computed(asset.key.to_user_string(), cell.key)
                if asset.key == FOLD_METRICS_KEY:
                    tracked[cell.key] = tracker.submit(track, part.extra["metrics"], cell)
                    part.metadata.update(recorded)
                parts[asset][cell.key] = part
                if len(parts[asset]) == len(cells):
                    yield from _record_asset(context, asset, cells, parts.pop(asset), lineage, tracked, tracking)
    if last_computed is not None:
        context.log.info(
            recording_summary(len(todo), len(cells), last_computed - started, time.perf_counter() - last_computed)
        )


def _record_asset(
    context: dg.AssetExecutionContext,
    asset: CellAsset,
    cells: Sequence[Cell],
    parts: dict[str, Part],
    lineage: RunLineage,
    tracked: Mapping[str, Future[TrackedRun | None]],
    tracking: MlflowTrackingResource,
) -> Iterator[Any]:
    """One asset over the run's cells: its metadata per cell, its training events, its output, its checks."""
    if asset.key == FOLD_METRICS_KEY:
        for cell in cells:
            run = tracked[cell.key].result()
            parts[cell.key].metadata.update(run.metadata() if run else {})
        tracking.finish_parent(context)
    for cell in cells:
        _record(context, asset, cell, parts[cell.key], lineage)
    events = [line for cell in cells for line in parts[cell.key].events]
    if events:
        context.log.info("\n".join(events))
    yield dg.Output(PartitionValues({k: p.value for k, p in parts.items()}), output_name=asset.output)
    lineage.fetch(asset.key, [c.key for c in cells])
    yield from (check_evaluation(asset.check, asset.key, p.check, k) for k, p in parts.items() if p.check)
    yield from (
        check_evaluation(name, asset.key, outcome, k, blocking=False)
        for k, p in parts.items()
        for name, outcome in p.advisory.items()
    )


def _failed(part: Part) -> bool:
    return part.check is not None and not part.check.passed


# What the step could not hide behind its computations: recording the assets that finished last.
RECORDING_SUMMARY = re.compile(r"recorded for (?P<tail>[0-9.]+) s after the last computation")


def recording_summary(assets: int, cells: int, computing: float, tail: float) -> str:
    return (
        f"{assets} asset(s) × {cells} cell(s) computed in {computing:.2f} s, "
        f"recorded for {tail:.2f} s after the last computation"
    )


def start_cell_workers(sweep: SweepResource) -> ProcessPoolExecutor:
    """The worker processes that runs of many cells compute in, started if they are not yet; they
    import the learners meanwhile, so a caller that knows such runs are coming starts them early."""
    return worker_pool(sweep.cell_workers, WORKER_IMPORTS, native_thread_limits(sweep.n_threads))


def _from_storage(
    assets: Sequence[CellAsset],
    todo: Sequence[CellAsset],
    cells: Sequence[Cell],
    artifacts: ArtifactStoreResource,
    lineage: RunLineage,
) -> dict[CellAsset, dict[Cell, Part]]:
    """The values of the cell assets the selected ones read but that are not selected themselves."""
    needed = {key for asset in todo for key in asset.cell_deps} - {asset.key for asset in todo}
    frames, keys = artifacts.frames(), [c.key for c in cells]
    stored = {}
    for asset in (a for a in assets if a.key in needed):
        stored[asset] = {cell: Part(frames.require(asset.key, cell.key)) for cell in cells}
        lineage.fetch(asset.key, keys)
    return stored


def _record(context: dg.AssetExecutionContext, asset: CellAsset, cell: Cell, part: Part, lineage: RunLineage) -> None:
    """The metadata of one cell's materialization: the part's own, what it read, its input fingerprint."""
    if "error" in part.metadata:
        context.log.error(f"{cell.key} {asset}: training failed: {part.metadata['error'].value}")
    reads = {**{dg.AssetKey(n): cell.crypto for n in asset.crypto_deps}, **{k: cell.key for k in asset.cell_deps}}
    context.add_asset_metadata(
        {
            **part.metadata,
            CONSUMED_KEY: dg.MetadataValue.json(lineage.consumed(reads)),
            **fingerprint_metadata(context.run.tags, cell.key),
        },
        asset_key=asset.key,
        partition_key=cell.key,
    )


def _crypto_data(
    context: dg.AssetExecutionContext, inputs: Mapping[str, Any], cryptos: Sequence[str]
) -> dict[str, CryptoInputs]:
    """Each crypto's per-crypto values (an input over several cryptos arrives as one value per crypto)."""
    by_input: dict[str, dict[str, pd.DataFrame]] = {}
    for name, value in inputs.items():
        partitions = [str(p) for p in context.asset_partition_keys_for_input(name)]
        by_input[name] = {partitions[0]: value} if len(partitions) == 1 else dict(value)
    empty = pd.DataFrame()
    return {c: CryptoInputs(**{n: by_input.get(n, {}).get(c, empty) for n in CRYPTO_INPUTS}) for c in cryptos}
