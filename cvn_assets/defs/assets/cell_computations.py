"""What each cell asset computes and from what, and how a worker process computes one of them.

A cell asset's computation reads its cell, the crypto's per-crypto values and the cell values it
depends on, and gives back a `Part`. The same function runs on the step's worker threads or, for a
run of many cells, in a worker process (`core.worker_processes`): there the step's setup (which
assets, which resources) and each crypto's values are sent once per worker and run.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import dagster as dg

from cvn_assets.core.catalogue import Catalogue
from cvn_assets.core.training import FIT_LIBRARIES
from cvn_assets.defs.assets.cell_types import Cell, CryptoInputs, Part
from cvn_assets.defs.assets.evaluation import FOLD_METRICS_KEY, RESULTS_IO_MANAGER, fold_metrics_part
from cvn_assets.defs.assets.models import ENSEMBLE, ensemble_part, prediction_asset_key, predictions_part
from cvn_assets.defs.assets.training import cleanlab_mask_part, smoothed_labels_part
from cvn_assets.defs.cell_checks import (
    CLEANLAB_CHECK, ENSEMBLE_CHECK, METRICS_CHECK, SKILL_CHECK, TARGETS_CHECK, predictions_check,
)
from cvn_assets.defs.resources import ArtifactStoreResource, SweepResource

TRAINING_INPUTS = ("features", "raw_labels", "fold_windows")
# The prices: validation trades (for a threshold objective that needs them) and the test trades.
CRYPTO_INPUTS = (*TRAINING_INPUTS, "ohlcv")
SMOOTHED, CLEANLAB = dg.AssetKey("smoothed_labels"), dg.AssetKey("cleanlab_mask")
ENSEMBLE_KEY = dg.AssetKey(ENSEMBLE)
# Imported by each worker process as it starts, while the parent still prepares the run.
WORKER_IMPORTS = ("cvn_assets.defs.assets.cell_computations", *FIT_LIBRARIES)


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
    advisory_checks: tuple[str, ...] = ()

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
        CellAsset(CLEANLAB, CLEANLAB_CHECK, TRAINING_INPUTS, (),
                  lambda c, d, v, x: cleanlab_mask_part(c, d, x.sweep), "labels", frozenset({"cleanlab", "parquet"}),
                  cleanlab_mask_part.__doc__ or ""),
        *[CellAsset(prediction_asset_key(m), predictions_check(m), CRYPTO_INPUTS, (SMOOTHED, CLEANLAB),
                    _predictions(m), "models", frozenset({m.split("_")[0], "parquet"}),
                    predictions_part.__doc__ or "") for m in models],
    ]
    if ensembles:
        assets.append(CellAsset(ENSEMBLE_KEY, ENSEMBLE_CHECK, ("ohlcv",), tuple(prediction_keys),
                                lambda c, d, v, x: ensemble_part(c, d.ohlcv,
                                                                 {k.path[-1]: v[k] for k in prediction_keys},
                                                                 x.sweep, x.log_event),
                                "models", frozenset({"scikitlearn", "parquet"}), ensemble_part.__doc__ or ""))
    metric_inputs = (*prediction_keys, *([ENSEMBLE_KEY] if ensembles else []))
    assets.append(CellAsset(FOLD_METRICS_KEY, METRICS_CHECK, ("ohlcv",), metric_inputs,
                            lambda c, d, v, x: fold_metrics_part(c, d.ohlcv, {k.to_user_string(): v[k]
                                                                              for k in metric_inputs}, x.sweep),
                            "evaluation", frozenset({"pandas", "sql"}), fold_metrics_part.__doc__ or "",
                            RESULTS_IO_MANAGER, (SKILL_CHECK,)))
    return assets


def _predictions(model: str) -> Compute:
    return lambda c, d, v, x: predictions_part(model, c, d, v[SMOOTHED], v[CLEANLAB], x.sweep, x.artifacts,
                                               x.log_event)


@dataclass(frozen=True)
class StepSetup:
    """What a worker process needs to compute a run's tasks (sent to each worker once per run)."""

    models: tuple[str, ...]
    ensembles: tuple[str, ...]
    sweep: SweepResource
    artifacts: ArtifactStoreResource

    def __reduce__(self) -> tuple[Any, ...]:
        # A configured Dagster resource pickles but does not load back: send its fields instead, and
        # the catalogue the parent read (its file may have changed since).
        return _setup_from_fields, (self.models, self.ensembles, self.sweep.model_dump(), self.sweep.catalogue,
                                    self.artifacts.model_dump())


def _setup_from_fields(models: tuple[str, ...], ensembles: tuple[str, ...], sweep: dict[str, Any],
                       catalogue: Catalogue, artifacts: dict[str, Any]) -> StepSetup:
    resource = SweepResource(**sweep)
    resource._catalogue = catalogue
    return StepSetup(models, ensembles, resource, ArtifactStoreResource(**artifacts))


def compute_in_worker(key: dg.AssetKey, cell: Cell, inputs: Mapping[dg.AssetKey, Any], *, setup: StepSetup,
                      data: CryptoInputs) -> tuple[Part, list[str]]:
    """One asset of one cell, in a worker process: its part and the training events it logged."""
    events = TrainingEvents()
    asset = _assets_by_key(setup.models, setup.ensembles)[key]
    part = asset.compute(cell, data, inputs, CellTools(setup.sweep, setup.artifacts, events.add))
    return part, events.lines


@cache
def _assets_by_key(models: tuple[str, ...], ensembles: tuple[str, ...]) -> dict[dg.AssetKey, CellAsset]:
    return {asset.key: asset for asset in cell_assets(models, ensembles)}


class TrainingEvents:
    """Structured training events: one JSON object per line with a fixed event name, so every learner
    logs the same schema. An asset's events over the run's cells go out as one log message: each
    message is a write to the event log, and a cell's fits would otherwise cost fourteen."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, event: str, **fields: object) -> None:
        self.lines.append(json.dumps({"event": event, **fields}, default=str))
