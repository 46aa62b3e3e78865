"""On pure-noise features nothing learned from validation may look better than chance there.

Every piece that learns from the validation window (base calibrators, stackers and blend weights, the
ensembles' calibrators, thresholds) learns from predictions that are out-of-sample for the pieces
fitted before it. If one of them saw its own rows, the validation scores the next piece learns
from would rank noise labels better than chance while test scores do not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from cvn_assets.core.catalogue.pipeline_params import PipelineParams
from cvn_assets.core.ensembles import ensemble_names
from cvn_assets.core.ensembles.cell import run_cell_ensembles
from cvn_assets.core.labels.smoothing import SmoothingParams
from cvn_assets.core.training.fit import fit_and_predict, training_targets
from cvn_assets.core.training.folds import FoldWindows
from cvn_assets_tests.core.ensembles.synthetic import TREE_MODELS

SEEDS = range(10)
# Chance AUC ± 0.02: the mean over 10 seeds of ~2000 validation rows has a standard error near 0.005.
TOLERANCE = 0.02
TRAIN, VALIDATION, TEST = np.arange(0, 3000), np.arange(3030, 5000), np.arange(5030, 6000)
SMALL = {"xgboost": {"num_boost_round": 50}, "lightgbm": {"num_boost_round": 50}, "catboost": {"iterations": 50}}


def _noise_cell_validation_aucs(seed: int, pipeline: PipelineParams) -> dict[str, float]:
    """Validation AUC of every base model's and every registered ensemble's calibrated P(BUY)."""
    rng = np.random.default_rng(seed)
    n = TEST[-1] + 1
    timestamps = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    features = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"f{i}" for i in range(5)]).assign(timestamp=timestamps)
    labels = pd.DataFrame({"timestamp": timestamps, "label": (rng.random(n) < 0.2).astype(float)})
    fold = FoldWindows("f1", TRAIN, VALIDATION, TEST)
    targets = training_targets(labels, fold, SmoothingParams())
    outcomes = [
        fit_and_predict(
            model,
            features,
            labels,
            fold,
            targets,
            label_horizon=pipeline.labels.horizon,
            embargo_bars=pipeline.folds.embargo_bars,
            learner_params=SMALL[model],
            calibration=pipeline.calibration,
            threshold=pipeline.threshold,
            seed=seed,
        )
        for model in TREE_MODELS
    ]
    predictions = pd.concat([o.predictions for o in outcomes], ignore_index=True)
    outcomes += run_cell_ensembles(ensemble_names(), predictions, [], pipeline, seed, 1)
    aucs = {}
    for outcome in outcomes:
        assert outcome.status == "ok", f"{outcome.model}: {outcome.error}"
        validation = outcome.predictions[outcome.predictions["window"] == "validation"]
        aucs[outcome.model] = float(roc_auc_score(validation["y"], validation["p"]))
    return aucs


@pytest.mark.slow
def test_validation_scores_of_every_model_and_ensemble_are_at_chance_on_noise() -> None:
    pipeline = PipelineParams()
    aucs = pd.DataFrame([_noise_cell_validation_aucs(seed, pipeline) for seed in SEEDS])
    assert set(ensemble_names()) <= set(aucs.columns)
    mean = aucs.mean()
    off = mean[(mean - 0.5).abs() > TOLERANCE]
    assert off.empty, f"mean validation AUC over {len(SEEDS)} noise seeds away from 0.5: {off.round(4).to_dict()}"
