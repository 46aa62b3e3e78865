"""Probability calibration, fitted on the validation window before the decision threshold is swept.

Calibrators follow scikit-learn conventions: the constructor only stores parameters, `fit` returns
self, fitted state ends in `_`. `expects` says what `fit` and `transform` take: probabilities
(isotonic) or raw margins / logits (temperature).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_expit
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression

from cvn_assets.core.errors import CatalogueError, InsufficientDataError, TrainingError
from cvn_assets.core.metrics.classification import as_hard_labels, as_probabilities, check_same_length

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
    """Which calibrator to use and, for temperature scaling, the search interval of T."""

    method: CalibrationMethod = "isotonic"
    temperature_min: float = 0.1
    temperature_max: float = 10.0

    def __post_init__(self) -> None:
        _check_method(self.method)
        _check_temperature_bounds(self.temperature_min, self.temperature_max)


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
    """Monotone step map from validation probabilities to observed BUY frequencies (clipped outside)."""

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
    """Mean binary NLL of sigmoid(margins / T).

    Written with log_expit rather than sklearn's log_loss so that large margins do not need clipping.
    """
    z = margins / temperature
    return float(-np.mean(labels * log_expit(z) + (1 - labels) * log_expit(-z)))


class TemperatureCalibrator:
    """Temperature scaling of raw margins: p = sigmoid(margin / T), T fitted by bounded NLL minimisation."""

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
        """Fit T in [temperature_min, temperature_max] on validation margins and hard labels."""
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
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities sigmoid(margin / T) for raw margins `scores`."""
        _check_fitted(self, "temperature_")
        margins = _as_margins(scores, "temperature input margins")
        return np.asarray(expit(margins / self.temperature_), dtype=np.float64)


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
