"""Out-of-fold validation scores of an ensemble that learns from labels, nested in the cross-fit blocks.

The copy that scores block k must not depend on block k's labels in any way. Its own fit leaves the
block out, and so must the base calibrations it learns from: the base models' cross-fitted
validation probabilities of the other blocks come from calibrators fitted partly on block k, and a
flexible stacker learns that back (on pure noise, an XGBoost stacker's out-of-fold AUC rose to about
0.52). So the copy's training inputs are the base scores calibrated again, cross-fitted within its
own fitting rows over the other blocks, and block k's inputs come from calibrators fitted on those
rows — the same calibrations the base models hand on for block k.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cvn_assets.core.ensembles.registry import ensemble_base_models, make_ensemble
from cvn_assets.core.training.calibration import CalibrationParams, cross_fitted_calibration, make_calibrator
from cvn_assets.core.training.cross_fit import CrossFitBlocks, cross_fitted


def nested_base_inputs(
    scores: np.ndarray,
    y: np.ndarray,
    calibration: CalibrationParams,
    blocks: CrossFitBlocks,
    fit: np.ndarray,
    held: np.ndarray,
    models: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated base P(BUY) (one column per base model) for a copy fitted on rows `fit` to score `held`.

    `scores` are the raw validation scores (what the calibrators take) of the base `models`, one column each.
    Returns (the `fit` rows cross-fitted over `blocks` restricted to them, the `held` rows calibrated by
    calibrators fitted on all `fit` rows).
    """
    inner = blocks.within(fit)
    train = np.column_stack(
        [
            cross_fitted_calibration(calibration, scores[fit, j], y[fit], inner, f"base model {model!r}")
            for j, model in enumerate(models)
        ]
    )
    scored = np.column_stack(
        [
            make_calibrator(calibration).fit(scores[fit, j], y[fit]).transform(scores[held, j])
            for j in range(len(models))
        ]
    )
    return train, scored


def out_of_fold_scores(
    name: str,
    scores: np.ndarray,
    y: np.ndarray,
    calibration: CalibrationParams,
    blocks: CrossFitBlocks,
    *,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    n_threads: int = 1,
) -> np.ndarray:
    """Ensemble `name`'s validation P(BUY), each block's from a copy that never saw the block's labels."""

    def fit_predict(fit: np.ndarray, held: np.ndarray) -> np.ndarray:
        train, scored = nested_base_inputs(scores, y, calibration, blocks, fit, held, ensemble_base_models(name))
        ensemble = make_ensemble(name, params, seed=seed, n_threads=n_threads)
        return ensemble.fit(train, y[fit]).predict_proba(scored)

    return cross_fitted(blocks, y, fit_predict, f"ensemble {name!r}")
