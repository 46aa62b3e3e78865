"""The focal-loss catalogue on embedded BTC: temperature-calibrated test probabilities are real frequencies.

Focal and class-balanced XGBoost margins sit far from the BUY rate; temperature scaling with a bias,
fitted on validation, must bring every variant's test P(BUY) to the test base rate over the 5 folds.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cvn_assets.core.catalogue.loading import load_catalogue
from cvn_assets.core.data.features import build_features
from cvn_assets.core.data.loading import OhlcvSourceSpec, load_ohlcv
from cvn_assets.core.data.validation import OhlcvRules
from cvn_assets.core.labels.barriers import triple_barrier_labels
from cvn_assets.core.metrics import expected_calibration_error
from cvn_assets.core.noise import apply_cleanlab, compute_cleanlab_mask
from cvn_assets.core.training.fit import fit_and_predict, training_targets
from cvn_assets.core.training.folds import walk_forward_folds

FOCAL_CATALOGUE = Path(__file__).resolve().parents[3] / "cvn_assets/catalogues/focal_loss.yaml"
MAX_MEAN_ECE = 0.05
MAX_MEAN_P_GAP = 0.03


@pytest.mark.slow
def test_focal_variants_temperature_calibrated_on_btc_match_the_test_base_rate() -> None:
    catalogue = load_catalogue(FOCAL_CATALOGUE)
    pipeline = catalogue.pipeline
    assert pipeline.calibration.method == "temperature"
    ohlcv = load_ohlcv("BTC", OhlcvSourceSpec(), OhlcvRules())
    features, labels = build_features(ohlcv, pipeline.features), triple_barrier_labels(ohlcv, pipeline.labels)
    folds = walk_forward_folds(
        labels["timestamp"], labels["label"].notna().to_numpy(), pipeline.labels.horizon, pipeline.folds
    )
    rows = []
    for fold in folds:
        for config_id in catalogue.config_ids(include_joint=False):
            config = catalogue.config(config_id)
            mask = compute_cleanlab_mask(
                features,
                labels,
                fold.train,
                config.params_for("cleanlab"),
                label_horizon=pipeline.labels.horizon,
                embargo_bars=pipeline.folds.embargo_bars,
                seed=catalogue.seed,
            )
            targets, weights = apply_cleanlab(
                training_targets(labels, fold, config.params_for("label_smoothing")), mask, mask.mode
            )
            learner_name, learner_params = config.learner_for("xgboost", pipeline.learners.get("xgboost"))
            outcome = fit_and_predict(
                "xgboost",
                features,
                labels,
                fold,
                targets,
                label_horizon=pipeline.labels.horizon,
                embargo_bars=pipeline.folds.embargo_bars,
                learner_params=learner_params,
                learner_name=learner_name,
                class_balancing=pipeline.training.class_balancing,
                sample_weight=weights,
                calibration=pipeline.calibration,
                threshold=pipeline.threshold,
                seed=catalogue.seed,
            )
            assert outcome.status == "ok", outcome.error
            test = outcome.predictions[outcome.predictions["window"] == "test"]
            rows.append(
                {
                    "variant": config_id,
                    "ece": expected_calibration_error(test["y"], test["p"]),
                    "mean_p": test["p"].mean(),
                    "base_rate": test["y"].mean(),
                }
            )
    per_variant = pd.DataFrame(rows).groupby("variant").mean()
    assert (per_variant["ece"] <= MAX_MEAN_ECE).all(), per_variant.round(4).to_string()
    assert ((per_variant["mean_p"] - per_variant["base_rate"]).abs() <= MAX_MEAN_P_GAP).all(), per_variant.round(
        4
    ).to_string()
