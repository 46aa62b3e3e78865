"""Probability calibration, fitted on the validation window before the decision threshold is swept.

Calibrators follow scikit-learn conventions: the constructor only stores parameters, `fit` returns
self, fitted state ends in `_`. `expects` says what `fit` and `transform` take: probabilities
(isotonic) or raw margins / logits (temperature). Whatever the calibrator, its output is a
probability of the real class frequencies, also for models trained with class-balancing weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import expit, log_expit, logit
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression

from cvn_assets.core.errors import CatalogueError, InsufficientDataError, TrainingError
from cvn_assets.core.labels.barriers import is_positive_int
from cvn_assets.core.metrics.classification import as_hard_labels, as_probabilities, check_same_length
from cvn_assets.core.training.cross_fit import CrossFitBlocks, cross_fitted

CalibrationMethod = Literal["isotonic", "temperature"]
CalibratorInput = Literal["probability", "margin"]
CALIBRATION_METHODS: tuple[str, ...] = get_args(CalibrationMethod)


@runtime_checkable
class Calibrator(Protocol):
    """Maps validation-window model outputs to calibrated BUY probabilities."""

    name: str
    expects: CalibratorInput

    def fit(self, scores: np.ndarray, y: np.ndarray) -> Calibrator:
        """Fit on validation scores and hard 0/1 labels; return self."""
        ...

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """Return calibrated probabilities in [0, 1] for `scores`."""
        ...


@dataclass(frozen=True)
class CalibrationParams:
    """Which calibrator to use, for temperature scaling the search interval of T, and the number of
    contiguous blocks of the validation window over which calibrators, ensembles and thresholds are
    cross-fitted (see `cross_fit`; 5 keeps each block's calibrator on 4/5 of the window)."""

    method: CalibrationMethod = "isotonic"
    temperature_min: float = 0.1
    temperature_max: float = 10.0
    cross_fit_blocks: int = 5

    def __post_init__(self) -> None:
        _check_method(self.method)
        _check_temperature_bounds(self.temperature_min, self.temperature_max)
        if not is_positive_int(self.cross_fit_blocks) or self.cross_fit_blocks < 2:
            raise CatalogueError(f"calibration cross_fit_blocks must be an integer >= 2, got {self.cross_fit_blocks!r}")


def _check_method(method: str) -> None:
    if method not in CALIBRATION_METHODS:
        raise CatalogueError(f"unknown calibration method {method!r}; allowed: {', '.join(CALIBRATION_METHODS)}")


def _check_temperature_bounds(low: float, high: float) -> None:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
    if not (numbers and np.isfinite(low) and np.isfinite(high) and 0 < low < high):
        raise CatalogueError(
            "calibration temperature bounds must satisfy 0 < temperature_min < temperature_max, "
            f"got temperature_min={low!r}, temperature_max={high!r}"
        )


def _validation_labels(scores: np.ndarray, y: np.ndarray, what: str) -> np.ndarray:
    """Check the validation labels against their scores: non-empty, aligned, hard, both classes."""
    labels = as_hard_labels(y, f"{what} validation labels")
    check_same_length(f"{what} validation scores", scores, f"{what} validation labels", labels)
    if labels.size == 0:
        raise InsufficientDataError(f"{what} calibration needs validation rows, got none")
    n_buy = int(labels.sum())
    if n_buy in (0, labels.size):
        only = "BUY" if n_buy else "HOLD"
        raise InsufficientDataError(
            f"{what} calibration needs both classes on validation, got {labels.size} rows that are all {only}"
        )
    return labels


def _check_fitted(calibrator: object, attribute: str) -> None:
    if not hasattr(calibrator, attribute):
        raise NotFittedError(f"{type(calibrator).__name__} is not fitted; call fit on the validation window first")


class IsotonicCalibrator:
    """Monotone map from validation probabilities to observed BUY frequencies: isotonic steps joined by
    linear interpolation between fitted points (scikit-learn's IsotonicRegression), clipped outside them."""

    name = "isotonic"
    expects: CalibratorInput = "probability"

    def fit(self, scores: np.ndarray, y: np.ndarray) -> IsotonicCalibrator:
        """Fit isotonic regression of the hard labels on the validation probabilities."""
        p = as_probabilities(scores, "isotonic validation probabilities")
        labels = _validation_labels(p, y, "isotonic")
        # scikit-learn 1.9 dropped CalibratedClassifierCV(cv="prefit"): calibrate the outputs directly.
        self.isotonic_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, labels)
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for uncalibrated probabilities `scores`."""
        _check_fitted(self, "isotonic_")
        p = as_probabilities(scores, "isotonic input probabilities")
        return np.asarray(self.isotonic_.predict(p), dtype=np.float64)


def _temperature_nll(temperature: float, margins: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary NLL of sigmoid(margins / T + b), with b at its optimum for this T (profile likelihood).

    Written with log_expit rather than sklearn's log_loss so that large margins do not need clipping.
    """
    z = margins / temperature
    z = z + _bias_for(z, labels)
    return float(-np.mean(labels * log_expit(z) + (1 - labels) * log_expit(-z)))


def _bias_for(z: np.ndarray, labels: np.ndarray) -> float:
    """The b minimising the NLL of sigmoid(z + b): the root of mean(sigmoid(z + b)) = BUY rate.

    That is the score equation of a logistic intercept; its root is bracketed by the b that puts
    every z + b below, then above, logit(BUY rate).
    """
    target = float(np.mean(labels))
    low, high = logit(target) - float(z.max()), logit(target) - float(z.min())
    if low == high:
        return float(low)
    return float(brentq(lambda b: float(np.mean(expit(z + b))) - target, low, high))


class TemperatureCalibrator:
    """Temperature scaling with a bias: p = sigmoid(margin / T + b), T by bounded NLL minimisation.

    Class-balancing weights shift a model's margins by about log(n_HOLD / n_BUY), which no single
    temperature undoes, so a bias is fitted with T rather than subtracting that shift: the analytic
    shift holds only for weighted cross entropy at its optimum, while focal loss bends margins
    non-linearly and the BUY rate drifts between the training and validation windows; a fitted bias
    absorbs all three. T is searched over [temperature_min, temperature_max] with the bias at its
    optimum for each T, so mean calibrated P(BUY) on the fitting rows equals their BUY rate.
    """

    name = "temperature"
    expects: CalibratorInput = "margin"

    def __init__(
        self,
        temperature_min: float = CalibrationParams.temperature_min,
        temperature_max: float = CalibrationParams.temperature_max,
    ) -> None:
        self.temperature_min = temperature_min
        self.temperature_max = temperature_max

    def fit(self, scores: np.ndarray, y: np.ndarray) -> TemperatureCalibrator:
        """Fit T in [temperature_min, temperature_max] and the bias b on validation margins and hard labels."""
        _check_temperature_bounds(self.temperature_min, self.temperature_max)
        margins = _as_margins(scores, "temperature validation margins")
        labels = _validation_labels(margins, y, "temperature")
        result = minimize_scalar(
            _temperature_nll,
            bounds=(self.temperature_min, self.temperature_max),
            args=(margins, labels),
            method="bounded",
        )
        if not result.success:
            raise TrainingError(
                f"temperature scaling did not converge on {labels.size} validation rows "
                f"within T in [{self.temperature_min}, {self.temperature_max}]: {result.message}"
            )
        self.temperature_ = float(result.x)
        self.bias_ = _bias_for(margins / self.temperature_, labels)
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities sigmoid(margin / T + b) for raw margins `scores`."""
        _check_fitted(self, "bias_")
        margins = _as_margins(scores, "temperature input margins")
        return np.asarray(expit(margins / self.temperature_ + self.bias_), dtype=np.float64)


def _as_margins(scores: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(scores)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(
            f"{name}: expected a 1-D numeric array of raw margins, got shape {arr.shape}, dtype {arr.dtype}"
        )
    arr = arr.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{name}: margins must be finite; {bad.size} row(s) are not, first at row {int(bad[0])}")
    return arr


_FACTORIES: dict[str, Callable[[CalibrationParams], Calibrator]] = {
    "isotonic": lambda params: IsotonicCalibrator(),
    "temperature": lambda params: TemperatureCalibrator(params.temperature_min, params.temperature_max),
}


def make_calibrator(params: CalibrationParams = CalibrationParams()) -> Calibrator:
    """A fresh, unfitted calibrator for `params.method`."""
    _check_method(params.method)
    return _FACTORIES[params.method](params)


def cross_fitted_calibration(
    params: CalibrationParams, scores: np.ndarray, y: np.ndarray, blocks: CrossFitBlocks, what: str
) -> np.ndarray:
    """Calibrated validation probabilities, each block's from a calibrator fitted on the other blocks
    and restated for the window's BUY rate (see `cross_fit`).

    These, not the in-sample output of the calibrator fitted on the whole window, are what the
    threshold sweep and any ensemble learn from. `what` names the model in errors.
    """
    values = np.asarray(scores)
    labels = _validation_labels(values, y, f"{what} {params.method}")
    check_same_length(f"{what} validation scores", values, f"{what} cross-fit blocks", blocks.positions)
    return cross_fitted(
        blocks,
        labels,
        lambda fit, held: make_calibrator(params).fit(values[fit], labels[fit]).transform(values[held]),
        f"{what} {params.method} calibration",
    )
