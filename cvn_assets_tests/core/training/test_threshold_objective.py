"""The expectancy_net threshold objective reaches the sweep from a base model's fit and from an ensemble.

The reference is a brute-force search over the grid: for each threshold, the validation rows at or above
it are traded and the best mean net return with enough trades must be the threshold chosen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.data.features import build_features
from cvn_assets.core.ensembles import run_ensemble
from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.labels.barriers import BarrierParams, triple_barrier_labels
from cvn_assets.core.labels.smoothing import SmoothingParams
from cvn_assets.core.metrics import TradeSimulator
from cvn_assets.core.training.calibration import CalibrationParams
from cvn_assets.core.training.fit import fit_and_predict, training_targets
from cvn_assets.core.training.folds import FoldParams, walk_forward_folds
from cvn_assets.core.training.thresholds import ThresholdParams
from cvn_assets_tests.core.ensembles.synthetic import VAL_START, base_frame
from cvn_assets_tests.synthetic import random_walk_ohlcv

OBJECTIVE = ThresholdParams(objective="expectancy_net", min_trades=5)
# Continuous calibrated probabilities (isotonic gives a handful of levels), so many thresholds differ.
TEMPERATURE = CalibrationParams(method="temperature")


def _best_by_brute_force(p: np.ndarray, positions: np.ndarray, simulator: TradeSimulator) -> float:
    best, best_value = np.nan, -np.inf
    for threshold in OBJECTIVE.grid():
        net = simulator.trades(positions[p >= threshold]).net
        if net.size >= OBJECTIVE.min_trades and net.mean() > best_value:
            best, best_value = threshold, net.mean()
    return float(best)


def _validation(predictions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    rows = predictions[predictions["window"] == "validation"]
    return rows["p"].to_numpy(), rows["position"].to_numpy()


def test_a_base_model_takes_the_threshold_of_the_best_validation_trades() -> None:
    ohlcv = random_walk_ohlcv(3000, seed=3)
    barriers = BarrierParams()
    labels = triple_barrier_labels(ohlcv, barriers)
    fold = walk_forward_folds(
        labels["timestamp"], labels["label"].notna().to_numpy(), barriers.horizon, FoldParams(n_folds=1)
    )[0]
    targets = training_targets(labels, fold, SmoothingParams())
    simulator = TradeSimulator.from_ohlcv(ohlcv, barriers)
    outcome = fit_and_predict(
        "xgboost",
        build_features(ohlcv),
        labels,
        fold,
        targets,
        learner_params={"num_boost_round": 20},
        calibration=TEMPERATURE,
        threshold=OBJECTIVE,
        label_horizon=barriers.horizon,
        embargo_bars=24,
        simulator=simulator,
    )
    assert outcome.status == "ok"
    assert outcome.threshold == pytest.approx(_best_by_brute_force(*_validation(outcome.predictions), simulator))


def _flat_with_noise(n: int) -> TradeSimulator:
    rng = np.random.default_rng(11)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    return TradeSimulator(close, close * 1.004, close * 0.996, close, close * 0.005)


def test_an_ensemble_takes_the_threshold_of_the_best_validation_trades() -> None:
    simulator = _flat_with_noise(VAL_START + 1000)
    outcome = run_ensemble(
        "blend_mean",
        base_frame(),
        TEMPERATURE,
        OBJECTIVE,
        seed=7,
        n_threads=1,
        label_horizon=4,
        embargo_bars=3,
        simulator=simulator,
    )
    assert outcome.status == "ok"
    assert outcome.threshold == pytest.approx(_best_by_brute_force(*_validation(outcome.predictions), simulator))


def test_an_ensemble_without_prices_cannot_use_the_objective() -> None:
    with pytest.raises(InsufficientDataError, match="threshold objective expectancy_net needs"):
        run_ensemble(
            "blend_mean",
            base_frame(),
            CalibrationParams(),
            OBJECTIVE,
            seed=7,
            n_threads=1,
            label_horizon=4,
            embargo_bars=3,
        )
