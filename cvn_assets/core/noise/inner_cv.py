"""Out-of-sample P(BUY) for a training window from a purged, embargoed inner K-fold, under a soft
time budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cvn_assets.core.errors import InsufficientDataError, TrainingError
from cvn_assets.core.learners import make_learner
from cvn_assets.core.noise.params import CleanlabParams
from cvn_assets.core.training.fit import class_balance_weights
from cvn_assets.core.training.folds import purged_inner_splits

# Rows whose slice was not processed within the budget carry no evidence either way.
NEUTRAL_PRIOR = 0.5


@dataclass(frozen=True, eq=False)
class OutOfSampleProbs:
    """P(BUY) per training row (in the order the positions were given) and whether it was computed
    out of sample (``covered``) or is the neutral prior of a slice skipped by the time budget."""

    pred_prob_buy: np.ndarray
    covered: np.ndarray
    slices_processed: int
    slices_total: int


def out_of_sample_buy_probs(
    matrix: np.ndarray,
    hard_labels: np.ndarray,
    positions: np.ndarray,
    params: CleanlabParams,
    *,
    label_horizon: int,
    embargo_bars: int,
    seed: int,
    n_threads: int,
    clock: Callable[[], float],
    start: float,
) -> OutOfSampleProbs:
    """P(BUY) of every training row from an inner model that never saw rows within the label horizon
    or embargo of it.

    ``matrix`` holds the features of every bar (row = bar position); ``hard_labels`` and
    ``positions`` describe the training rows, in any order without duplicates. The slices of
    ``purged_inner_splits`` are held out in time order; before each one, ``clock() - start`` is
    compared with the budget, and once it is exceeded the remaining slices keep NEUTRAL_PRIOR and are
    marked not covered. A model is never trained on the rows it scores.
    """
    order = np.argsort(positions, kind="stable")
    sorted_positions = positions[order]
    sorted_labels = np.asarray(hard_labels, dtype=float)[order]
    splits = purged_inner_splits(sorted_positions, label_horizon, embargo_bars, params.inner_splits)
    probs = np.full(positions.size, NEUTRAL_PRIOR)
    covered = np.zeros(positions.size, dtype=bool)
    processed = 0
    for inner_train, held_out in splits:
        if clock() - start > params.time_budget_seconds:
            break
        targets = sorted_labels[np.searchsorted(sorted_positions, inner_train)]
        where = f"inner CV slice of positions {held_out[0]}..{held_out[-1]}"
        try:
            weights = class_balance_weights(targets)
        except InsufficientDataError as exc:
            raise InsufficientDataError(f"cleanlab {where}: {exc}") from exc
        learner = make_learner(params.inner_model, dict(params.inner_model_params), seed=seed, n_threads=n_threads)
        try:
            learner.fit(matrix[inner_train], targets, weights)
            scores = np.asarray(learner.predict_proba(matrix[held_out]), dtype=float)
        except Exception as exc:  # re-raised with the slice and model that failed
            raise TrainingError(
                f"cleanlab {where}: inner model {params.inner_model} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if scores.shape != held_out.shape or not np.all((scores >= 0.0) & (scores <= 1.0)):
            raise TrainingError(
                f"cleanlab {where}: inner model {params.inner_model} returned "
                f"{scores.size} probabilities for {held_out.size} rows, or values outside [0, 1]"
            )
        rows = order[np.searchsorted(sorted_positions, held_out)]
        probs[rows] = scores
        covered[rows] = True
        processed += 1
    return OutOfSampleProbs(probs, covered, processed, len(splits))
