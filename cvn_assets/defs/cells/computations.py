"""The cell assets of a sweep, from their `@cell_asset` functions, and how a worker computes one of them.

A worker (a process of the pool, or the run's compute thread) gets the asset, the cell, the values
of the cell assets it reads, the step's resources and the crypto's values; the last two cross to a
worker process once per run (see `execution.shared`).
"""

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from cvn_assets.core.catalogue.loading import Catalogue
from cvn_assets.core.training.fit import FIT_LIBRARIES
from cvn_assets.defs.cells.cell_asset import CellAssetSpec, spec_of
from cvn_assets.defs.cells.labels import cleanlab_mask, smoothed_labels
from cvn_assets.defs.cells.models import oos_predictions, stacked_ensemble
from cvn_assets.defs.cells.types import Cell, CellTools, CryptoInputs, Part
from cvn_assets.defs.evaluation.assets import fold_metrics
from cvn_assets.defs.resources import ArtifactStoreResource, SweepResource

# The prices: validation trades (for a threshold objective that needs them) and the test trades.
CRYPTO_INPUTS = ("features", "raw_labels", "fold_windows", "ohlcv")
# Imported by each worker process as it starts, while the parent still prepares the run.
WORKER_IMPORTS = ("cvn_assets.defs.cells.computations", *FIT_LIBRARIES)


@dataclass(frozen=True)
class CellAsset:
    """One cell asset of the sweep: its function, its key, and the cell assets it reads.

    `arguments`: for each keyword parameter of the function, the keys of the assets whose values it
    takes, and whether it takes them as a mapping by model (those of a per-model asset)."""

    function: Callable[..., Part]
    key: dg.AssetKey
    model: str | None
    arguments: tuple[tuple[str, tuple[dg.AssetKey, ...], bool], ...]

    @property
    def spec(self) -> CellAssetSpec:
        return spec_of(self.function)

    @property
    def output(self) -> str:
        return self.key.to_python_identifier()

    @property
    def check(self) -> str:
        check = self.spec.check
        return check if isinstance(check, str) else check(self.model or "")

    @property
    def kinds(self) -> set[str]:
        # A model's kind is its library (xgboost_focal trains with XGBoost).
        return {*self.spec.kinds, *([self.model.split("_")[0]] if self.model else [])}

    @property
    def crypto_deps(self) -> tuple[str, ...]:
        return self.spec.reads

    @property
    def cell_deps(self) -> tuple[dg.AssetKey, ...]:
        return tuple(key for _, keys, _ in self.arguments for key in keys)

    def compute(self, cell: Cell, data: CryptoInputs, tools: CellTools, values: Mapping[dg.AssetKey, Any]) -> Part:
        """This asset's part for one cell, from the values of the cell assets it reads."""
        kwargs = {
            name: {key.path[-1]: values[key] for key in keys} if by_model else values[keys[0]]
            for name, keys, by_model in self.arguments
        }
        return self.function(*([self.model] if self.model else []), cell, data, tools, **kwargs)

    def __str__(self) -> str:
        return self.key.to_user_string()


def cell_assets(models: Sequence[str], ensembles: Sequence[str]) -> list[CellAsset]:
    """Every cell asset of a sweep of these models and ensembles, upstream before downstream."""
    functions: list[Callable[..., Part]] = [
        smoothed_labels,
        cleanlab_mask,
        oos_predictions,
        *([stacked_ensemble] if ensembles else []),
        fold_metrics,
    ]
    declared: dict[str, tuple[list[dg.AssetKey], bool]] = {}
    assets = []
    for function in functions:
        spec = spec_of(function)
        # A parameter naming an asset this sweep does not have (no ensembles) keeps its default.
        arguments = tuple(
            (name, tuple(declared[name][0]), declared[name][1]) for name in spec.upstream if name in declared
        )
        instances = (
            [(model, dg.AssetKey([spec.name, model])) for model in models]
            if spec.per_model
            else [(None, dg.AssetKey(spec.name))]
        )
        declared[spec.name] = ([key for _, key in instances], spec.per_model)
        assets += [CellAsset(function, key, model, arguments) for model, key in instances]
    return assets


@dataclass(frozen=True)
class StepSetup:
    """The resources a worker needs to compute a run's cell assets (sent to each worker once per run)."""

    sweep: SweepResource
    artifacts: ArtifactStoreResource

    def __reduce__(self) -> tuple[Any, ...]:
        # A configured Dagster resource pickles but does not load back: send its fields instead, and
        # the catalogue the parent read (its file may have changed since).
        return _setup_from_fields, (self.sweep.model_dump(), self.sweep.catalogue, self.artifacts.model_dump())


def _setup_from_fields(sweep: dict[str, Any], catalogue: Catalogue, artifacts: dict[str, Any]) -> StepSetup:
    resource = SweepResource(**sweep)
    resource._catalogue = catalogue
    return StepSetup(resource, ArtifactStoreResource(**artifacts))


def compute_cell_asset(
    asset: CellAsset, cell: Cell, values: Mapping[dg.AssetKey, Any], setup: StepSetup, data: CryptoInputs
) -> Part:
    """One asset of one cell, with the training events it logged and how long it took."""
    events = TrainingEvents()
    started = time.perf_counter()
    part = asset.compute(cell, data, CellTools(setup.sweep, setup.artifacts, events.add), values)
    part.metadata["compute_seconds"] = dg.MetadataValue.float(round(time.perf_counter() - started, 4))
    part.events = events.lines
    return part


class TrainingEvents:
    """Structured training events: one JSON object per line with a fixed event name, so every learner
    logs the same schema. An asset's events over the run's cells go out as one log message: each
    message is a write to the event log, and a cell's fits would otherwise cost fourteen."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, event: str, **fields: object) -> None:
        self.lines.append(json.dumps({"event": event, **fields}, default=str))
