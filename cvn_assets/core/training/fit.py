"""Training of one cell (crypto × fold × configuration): targets, fit, calibration, threshold.

Plain functions over frames so that the Dagster assets and a plain Python loop run the same code.
The calibrator for test rows is fitted on the whole validation window; the validation probabilities
a model reports (and which its threshold and any ensemble learn from) are cross-fitted over purged
blocks of that window (see `cross_fit`), so no later piece learns from in-sample calibrations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.labels.smoothing import SmoothingParams, smooth_labels
from cvn_assets.core.learners import Learner, make_learner
from cvn_assets.core.metrics.trades import TradeSimulator
from cvn_assets.core.schema import STATUS_OK, STATUS_TRAINING_FAILED
from cvn_assets.core.training.calibration import (
    CalibrationParams,
    Calibrator,
    cross_fitted_calibration,
    make_calibrator,
)
from cvn_assets.core.training.cross_fit import window_blocks
from cvn_assets.core.training.folds import FoldWindows
from cvn_assets.core.training.thresholds import ThresholdParams, sweep_threshold

# The libraries a cell's fits load (each on first use): a fresh worker process imports them up front.
FIT_LIBRARIES = ("cvn_assets.core.learners.registry", "xgboost", "lightgbm", "catboost", "cleanlab.filter")

EVALUATION_WINDOWS: tuple[str, ...] = ("validation", "test")


def training_targets(labels: pd.DataFrame, fold: FoldWindows, smoothing: SmoothingParams) -> pd.DataFrame:
    """Training rows of a fold with their hard label and (possibly smoothed) training target."""
    positions = np.asarray(fold.train, dtype=int)
    hard = labels["label"].to_numpy()[positions]
    if np.isnan(hard).any():
        raise InsufficientDataError(f"fold {fold.fold}: training window contains unlabeled rows")
    return pd.DataFrame(
        {
            "position": positions,
            # .array keeps the tz-aware dtype; .to_numpy() would box every timestamp of the column.
            "timestamp": labels["timestamp"].array[positions],
            "hard_label": hard.astype(int),
            "target": smooth_labels(hard, smoothing),
        }
    )


def class_balance_weights(hard_labels: np.ndarray) -> np.ndarray:
    """Weights n / (2·n_class) so BUY and HOLD contribute equally to the loss."""
    labels = np.asarray(hard_labels, dtype=int)
    counts = np.bincount(labels, minlength=2).astype(float)
    if (counts == 0).any():
        raise InsufficientDataError(f"training window has a single class (HOLD={int(counts[0])}, BUY={int(counts[1])})")
    weights: npt.NDArray[np.float64] = (labels.size / (2.0 * counts))[labels]
    return weights


def combine_weights(class_weights: np.ndarray, cleanlab_weights: np.ndarray) -> np.ndarray:
    """Sample weights for training: the cleanlab weights multiply the class-balancing weights."""
    left, right = np.asarray(class_weights, dtype=np.float64), np.asarray(cleanlab_weights, dtype=np.float64)
    if left.shape != right.shape:
        raise ValueError(f"class_weights has length {left.size} but cleanlab_weights has length {right.size}")
    return left * right


def training_weights(
    hard_labels: np.ndarray, class_balancing: bool, sample_weight: np.ndarray | None
) -> np.ndarray | None:
    """Class-balancing weights (or none) multiplied by any extra per-row weights."""
    weights = class_balance_weights(hard_labels) if class_balancing else np.ones(np.size(hard_labels))
    if sample_weight is None:
        return weights if class_balancing else None
    return combine_weights(weights, sample_weight)


@dataclass
class ModelOutcome:
    """What training one model on one cell produced."""

    model: str
    status: str
    predictions: pd.DataFrame
    threshold: float = float("nan")
    fit_seconds: float = 0.0
    duration_seconds: float = 0.0
    train_rows: int = 0
    error: str | None = None
    learner: Learner | None = field(default=None, repr=False)
    calibrator: Calibrator | None = field(default=None, repr=False)

    def summary(self) -> dict[str, object]:
        return {
            "model": self.model,
            "status": self.status,
            "error": self.error,
            "threshold": self.threshold,
            "fit_seconds": self.fit_seconds,
            "duration_seconds": self.duration_seconds,
            "train_rows": self.train_rows,
        }


def fit_and_predict(
    model: str,
    features: pd.DataFrame,
    labels: pd.DataFrame,
    fold: FoldWindows,
    targets: pd.DataFrame,
    *,
    label_horizon: int,
    embargo_bars: int,
    learner_params: dict[str, object] | None = None,
    learner_name: str | None = None,
    class_balancing: bool = True,
    sample_weight: np.ndarray | None = None,
    calibration: CalibrationParams = CalibrationParams(),
    threshold: ThresholdParams = ThresholdParams(),
    seed: int = 0,
    n_threads: int = 1,
    simulator: TradeSimulator | None = None,
) -> ModelOutcome:
    """Fit one learner, predict validation and test, calibrate on validation, choose the threshold.

    Test probabilities come from the calibrator fitted on all validation rows; validation
    probabilities, and the threshold swept on them, from calibrators cross-fitted over
    `calibration.cross_fit_blocks` blocks purged by `label_horizon` and `embargo_bars`.
    `learner_name` trains another registered learner under the name `model` (a factor's choice).
    `sample_weight` (e.g. cleanlab's) multiplies the class-balancing weights. A failure of the
    learner itself is recorded as `training_failed` with its error so the sweep goes on; problems
    with the inputs (no validation rows, one class) still raise. `simulator` trades the validation
    signals for a threshold objective that needs trades (`expectancy_net`).
    """
    feature_matrix = features.drop(columns=["timestamp"]).to_numpy(dtype=float)
    weights = training_weights(targets["hard_label"].to_numpy(), class_balancing, sample_weight)
    blocks = window_blocks(_window(fold, "validation"), label_horizon, embargo_bars, calibration.cross_fit_blocks)
    learner = make_learner(learner_name or model, learner_params, seed=seed, n_threads=n_threads)
    started = time.perf_counter()
    try:
        learner.fit(feature_matrix[targets["position"].to_numpy()], targets["target"].to_numpy(), weights)
        scores = {w: _scores(learner, feature_matrix[_window(fold, w)], calibration) for w in EVALUATION_WINDOWS}
    except Exception as exc:  # any learner failure is recorded, not fatal to the sweep
        elapsed = time.perf_counter() - started
        return ModelOutcome(
            model,
            STATUS_TRAINING_FAILED,
            _empty_predictions(),
            fit_seconds=elapsed,
            duration_seconds=elapsed,
            train_rows=len(targets),
            error=f"{type(exc).__name__}: {exc}",
        )
    fit_seconds = time.perf_counter() - started
    y = {w: labels["label"].to_numpy()[_window(fold, w)] for w in EVALUATION_WINDOWS}
    calibrator = make_calibrator(calibration).fit(scores["validation"], y["validation"])
    calibrated = {
        "validation": cross_fitted_calibration(
            calibration, scores["validation"], y["validation"], blocks, f"fold {fold.fold} model {model!r}"
        ),
        "test": calibrator.transform(scores["test"]),
    }
    trades = None if simulator is None else simulator.candidates(_window(fold, "validation"))
    choice = sweep_threshold(calibrated["validation"], y["validation"], threshold, trades=trades)
    frames = [
        pd.DataFrame(
            {
                "model": model,
                "window": w,
                "position": _window(fold, w),
                "timestamp": labels["timestamp"].array[_window(fold, w)],
                "y": y[w].astype(int),
                "score": scores[w],
                "p": calibrated[w],
            }
        )
        for w in EVALUATION_WINDOWS
    ]
    return ModelOutcome(
        model,
        STATUS_OK,
        pd.concat(frames, ignore_index=True),
        choice.threshold,
        fit_seconds,
        duration_seconds=time.perf_counter() - started,
        train_rows=len(targets),
        learner=learner,
        calibrator=calibrator,
    )


def _window(fold: FoldWindows, window: str) -> np.ndarray:
    positions = np.asarray(fold.validation if window == "validation" else fold.test, dtype=int)
    if positions.size == 0:
        raise InsufficientDataError(f"fold {fold.fold}: the {window} window is empty")
    return positions


def raw_scores(learner: Learner, matrix: np.ndarray, calibration: CalibrationParams) -> np.ndarray:
    """The learner's uncalibrated scores in the form its calibrator expects (margins or probabilities)."""
    return _scores(learner, matrix, calibration)


def _scores(learner: Learner, matrix: np.ndarray, calibration: CalibrationParams) -> np.ndarray:
    # Temperature scaling works on raw margins; isotonic on probabilities. Margins always pass
    # through a sigmoid (inside the calibrator) before being used as probabilities.
    if calibration.method == "temperature":
        margins = learner.decision_margin(matrix)
        if margins is None:
            raise InsufficientDataError(f"{learner.name} has no raw margins for temperature scaling")
        return np.asarray(margins, dtype=float)
    return np.asarray(learner.predict_proba(matrix), dtype=float)


def _empty_predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": pd.Series(dtype=str),
            "window": pd.Series(dtype=str),
            "position": pd.Series(dtype=int),
            "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
            "y": pd.Series(dtype=int),
            "score": pd.Series(dtype=float),
            "p": pd.Series(dtype=float),
        }
    )
