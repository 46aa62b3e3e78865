"""The cell assets of one crypto × fold × configuration, computed in one step over any range of cells.

Every cell asset keeps its own key, group, kinds, code version, metadata, blocking check and lineage,
and can be materialized on its own (an unselected asset that a selected one needs is read from
storage). They share one step because Dagster's cost is per step and per run, not per fit: seven
steps per cell cost more than the cheaper fits themselves. A run may cover a range of cells (the
sweep runner runs a crypto's changed cells together; a backfill launched from the UI is one run):
the step stores each asset's values over the range in one output, asset by asset, while worker
threads compute the next ones (`cell_scheduler`).

A failed blocking check stops the step after recording its evaluations, so nothing downstream of it
is computed in that run (the sweep runner then retries the range one cell per run).
"""


import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import dagster as dg
import pandas as pd

from cvn_assets.core.gil import short_switch_interval
from cvn_assets.core.learners.registry import fit_loop_in_python
from cvn_assets.core.thread_copies import PerThreadCopies
from cvn_assets.defs.assets.cell_scheduler import NATIVE, NATIVE_ROUNDS, PYTHON, CellScheduler
from cvn_assets.defs.assets.cell_types import Cell, CryptoInputs, Part
from cvn_assets.defs.assets.common import OWNERS
from cvn_assets.defs.assets.evaluation import FOLD_METRICS_KEY, RESULTS_IO_MANAGER, fold_metrics_part, track_cell
from cvn_assets.defs.assets.models import (
    ENSEMBLE,
    PREDICTIONS_PREFIX,
    ensemble_part,
    prediction_asset_key,
    predictions_part,
)
from cvn_assets.defs.assets.training import cleanlab_mask_part, smoothed_labels_part
from cvn_assets.defs.cell_checks import (
    CLEANLAB_CHECK, ENSEMBLE_CHECK, METRICS_CHECK, TARGETS_CHECK, check_evaluation, inline_check, predictions_check,
)
from cvn_assets.defs.frame_store import PartitionValues
from cvn_assets.defs.lineage import CONSUMED_KEY, RunLineage, fingerprint_metadata
from cvn_assets.defs.partitions import SweepPartitions
from cvn_assets.defs.resources import ArtifactStoreResource, SweepResource
from cvn_assets.defs.tracking import MlflowTrackingResource

CELL_STEP = "cell"
CRYPTO_INPUTS = ("features", "raw_labels", "fold_windows")
SMOOTHED, CLEANLAB = dg.AssetKey("smoothed_labels"), dg.AssetKey("cleanlab_mask")
ENSEMBLE_KEY = dg.AssetKey(ENSEMBLE)


@dataclass(frozen=True)
class CellTools:
    """What every per-cell computation may use: the sweep, the artifact store, the training event log."""

    sweep: SweepResource
    artifacts: ArtifactStoreResource
    log_event: Callable[..., None]


Compute = Callable[[Cell, CryptoInputs, Mapping[dg.AssetKey, Any], CellTools], Part]


@dataclass(frozen=True)
class CellAsset:
    key: dg.AssetKey
    check: str
    crypto_deps: tuple[str, ...]
    cell_deps: tuple[dg.AssetKey, ...]
    compute: Compute
    group: str
    kinds: frozenset[str]
    description: str
    io_manager_key: str | None = None

    @property
    def output(self) -> str:
        return self.key.to_python_identifier()


def cell_assets(models: Sequence[str], ensembles: Sequence[str]) -> list[CellAsset]:
    """Every cell asset, upstream before downstream."""
    prediction_keys = [prediction_asset_key(m) for m in models]
    assets = [
        CellAsset(SMOOTHED, TARGETS_CHECK, ("raw_labels", "fold_windows"), (),
                  lambda c, d, v, x: smoothed_labels_part(c, d, x.sweep), "labels", frozenset({"pandas", "parquet"}),
                  smoothed_labels_part.__doc__ or ""),
        CellAsset(CLEANLAB, CLEANLAB_CHECK, CRYPTO_INPUTS, (),
                  lambda c, d, v, x: cleanlab_mask_part(c, d, x.sweep), "labels", frozenset({"cleanlab", "parquet"}),
                  cleanlab_mask_part.__doc__ or ""),
        *[CellAsset(prediction_asset_key(m), predictions_check(m), CRYPTO_INPUTS, (SMOOTHED, CLEANLAB),
                    _predictions(m), "models", frozenset({m.split("_")[0], "parquet"}),
                    predictions_part.__doc__ or "") for m in models],
    ]
    if ensembles:
        assets.append(CellAsset(ENSEMBLE_KEY, ENSEMBLE_CHECK, (), tuple(prediction_keys),
                                lambda c, d, v, x: ensemble_part(c, {k.path[-1]: v[k] for k in prediction_keys},
                                                                 x.sweep, x.log_event),
                                "models", frozenset({"scikitlearn", "parquet"}), ensemble_part.__doc__ or ""))
    metric_inputs = (*prediction_keys, *([ENSEMBLE_KEY] if ensembles else []))
    assets.append(CellAsset(FOLD_METRICS_KEY, METRICS_CHECK, ("raw_labels",), metric_inputs,
                            lambda c, d, v, x: fold_metrics_part(c, d.raw_labels, {k.to_user_string(): v[k]
                                                                                   for k in metric_inputs}, x.sweep),
                            "evaluation", frozenset({"pandas", "sql"}), fold_metrics_part.__doc__ or "",
                            RESULTS_IO_MANAGER))
    return assets


def _predictions(model: str) -> Compute:
    return lambda c, d, v, x: predictions_part(model, c, d, v[SMOOTHED], v[CLEANLAB], x.sweep, x.artifacts,
                                               x.log_event)


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
                    check_specs=[inline_check(a.check, a.key, partitions.cell) for a in assets],
                    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=cells_per_backfill_run))
    def cell(context: dg.AssetExecutionContext, sweep: SweepResource, artifacts: ArtifactStoreResource,
             tracking: MlflowTrackingResource, **crypto_inputs: Any) -> Iterator[Any]:
        """Every cell asset selected in this run, over the run's cells."""
        yield from _run(context, assets, crypto_inputs, sweep, artifacts, tracking)

    return [cell]


def _run(context: dg.AssetExecutionContext, assets: Sequence[CellAsset], crypto_inputs: Mapping[str, Any],
         sweep: SweepResource, artifacts: ArtifactStoreResource, tracking: MlflowTrackingResource) -> Iterator[Any]:
    """Each selected asset over the run's cells, upstream first.

    The computations run on `sweep.cell_workers` threads (see `cell_scheduler`) while this thread
    records each asset as soon as all its cells are computed; a failed blocking check stops every
    asset after its own.
    """
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
    tools = {a.key: CellTools(sweep, artifacts, events[a.key].add) for a in todo}
    track = partial(track_cell, context, tracking, artifacts, sweep)
    tracking_lock = threading.Lock()  # the MLflow client and parent run are shared by the workers
    own_data: PerThreadCopies[CryptoInputs] = PerThreadCopies(CryptoInputs.copy)

    def crypto_data(crypto: str) -> CryptoInputs:
        return data[crypto] if sweep.cell_workers == 1 else own_data.get(crypto, data[crypto])

    def compute(index: int, cell: Cell, inputs: Mapping[dg.AssetKey, Any]) -> Part:
        asset = todo[index]
        started = time.perf_counter()
        part = asset.compute(cell, crypto_data(cell.crypto), inputs, tools[asset.key])
        if asset.key == FOLD_METRICS_KEY:
            with tracking_lock:
                tracked = track(part.extra["metrics"], cell)
            part.metadata.update(tracked.metadata() if tracked else {})
        part.metadata["compute_seconds"] = dg.MetadataValue.float(round(time.perf_counter() - started, 4))
        return part

    scheduler = CellScheduler([a.key for a in todo], {a.key: a.cell_deps for a in todo}, cells, stored, compute,
                              workers=sweep.cell_workers, kind=_task_kind)
    # This thread records while the workers compute; the fits' rounds must get the GIL back soon.
    with short_switch_interval(), scheduler:
        for index, asset in enumerate(todo):
            parts = scheduler.asset(index)
            for cell in cells:
                _record(context, asset, cell, parts[cell.key], lineage)
            if events[asset.key].lines:
                context.log.info("\n".join(events[asset.key].lines))
            yield dg.Output(PartitionValues({k: p.value for k, p in parts.items()}), output_name=asset.output)
            lineage.fetch(asset.key, keys)
            evaluations = [check_evaluation(asset.check, asset.key, p.check, k) for k, p in parts.items() if p.check]
            yield from evaluations
            if not all(e.passed for e in evaluations):
                return  # blocking: Dagster fails the step once it has recorded the evaluations


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


class TrainingEvents:
    """Structured training events: one JSON object per line with a fixed event name, so every learner
    logs the same schema. An asset's events over the run's cells go out as one log message: each
    message is a write to the event log, and a cell's fits would otherwise cost fourteen."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, event: str, **fields: object) -> None:
        self.lines.append(json.dumps({"event": event, **fields}, default=str))
