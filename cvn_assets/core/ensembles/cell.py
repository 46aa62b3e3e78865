"""Every ensemble of a sweep over one cell's base-model predictions (what the ensemble asset runs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from cvn_assets.core.catalogue.pipeline_params import PipelineParams
from cvn_assets.core.ensembles.combine import EnsembleOutcome, WindowMatrix, base_matrices, run_ensemble
from cvn_assets.core.ensembles.registry import ensemble_base_models
from cvn_assets.core.metrics.trades import TradeSimulator
from cvn_assets.core.schema import STATUS_TRAINING_FAILED


def run_cell_ensembles(
    names: Sequence[str],
    predictions: pd.DataFrame,
    failed_models: Sequence[str],
    pipeline: PipelineParams,
    seed: int,
    n_threads: int,
    on_start: Callable[[str], None] = lambda _: None,
    on_complete: Callable[[EnsembleOutcome], None] = lambda _: None,
    simulator: TradeSimulator | None = None,
) -> list[EnsembleOutcome]:
    """One outcome per ensemble; one whose base model failed is recorded as training_failed, not run.

    `simulator` trades the validation signals for a threshold objective that needs trades.
    """
    outcomes = []
    pivoted: dict[tuple[str, ...], dict[str, WindowMatrix]] = {}  # ensembles over the same base models share it
    for name in names:
        missing = sorted(set(ensemble_base_models(name)) & set(failed_models))
        if missing:
            outcomes.append(
                EnsembleOutcome(
                    name,
                    STATUS_TRAINING_FAILED,
                    predictions.iloc[0:0],
                    error=f"base model(s) {missing} failed to train",
                )
            )
            continue
        on_start(name)
        bases = ensemble_base_models(name)
        if bases not in pivoted:
            pivoted[bases] = base_matrices(predictions, name, bases)
        outcome = run_ensemble(
            name,
            predictions,
            pipeline.calibration,
            pipeline.threshold,
            seed,
            n_threads,
            pipeline.labels.horizon,
            pipeline.folds.embargo_bars,
            params=pipeline.learners.get(name),
            windows=pivoted[bases],
            simulator=simulator,
        )
        on_complete(outcome)
        outcomes.append(outcome)
    return outcomes
