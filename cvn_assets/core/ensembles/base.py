"""The ensemble protocol and the input checks every ensemble shares.

An ensemble combines the calibrated validation P(BUY) of the base models it declares. It follows the
scikit-learn conventions: the constructor only stores parameters, `fit` returns self and leaves
fitted state in attributes ending with `_`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np
from sklearn.exceptions import NotFittedError

from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.metrics.classification import as_hard_labels

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

ParamsT = TypeVar("ParamsT", bound="DataclassInstance")


@runtime_checkable
class Ensemble(Protocol):
    """Combines base-model probabilities (one column per declared base model) into one P(BUY).

    `learns_from_labels` says whether `fit` uses the labels: when it does, the validation scores
    used for calibration and the threshold must be out-of-fold (see `combine.run_ensemble`).
    """

    name: ClassVar[str]
    base_models: ClassVar[tuple[str, ...]]
    learns_from_labels: ClassVar[bool]

    def get_params(self) -> dict[str, Any]:
        """Parameters with defaults resolved, plus seed and threads."""
        ...

    def fit(self, val_matrix: np.ndarray, y_val: np.ndarray) -> Ensemble:
        """Fit on validation rows: calibrated base P(BUY) (n_val × n_models) and hard 0/1 labels."""
        ...

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        """Ensemble P(BUY) per row, in [0, 1]."""
        ...


def resolve_params(ensemble: str, defaults: ParamsT, params: Mapping[str, Any]) -> ParamsT:
    """The defaults dataclass with `params` applied; unknown names raise rather than being ignored."""
    if not is_dataclass(defaults):
        raise TypeError(f"ensemble {ensemble!r}: defaults must be a dataclass instance, got {type(defaults).__name__}")
    known = sorted(f.name for f in fields(defaults))
    unknown = sorted(set(params) - set(known))
    if unknown:
        allowed = ", ".join(known) if known else "none"
        raise CatalogueError(f"ensemble {ensemble!r}: unknown parameter(s) {unknown}; allowed: {allowed}")
    return replace(defaults, **params)


def check_positive(ensemble: str, parameter: str, value: object, integer: bool = False) -> None:
    """Fail fast on a parameter that must be a positive number (or a positive integer)."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not np.isfinite(value) or value <= 0:
        kind = "integer" if integer else "number"
        raise CatalogueError(f"ensemble {ensemble!r}: {parameter} must be a positive {kind}, got {value!r}")


def check_matrix(ensemble: str, matrix: np.ndarray, n_models: int) -> np.ndarray:
    """`matrix` as float64 of shape (n_rows, n_models) with finite probabilities in [0, 1]."""
    arr = np.asarray(matrix)
    if arr.ndim != 2 or arr.shape[1] != n_models:
        raise ValueError(
            f"ensemble {ensemble!r}: expected a (rows × {n_models}) matrix of base-model probabilities, "
            f"got shape {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"ensemble {ensemble!r}: base-model probabilities must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = np.argwhere(~(np.isfinite(arr) & (arr >= 0.0) & (arr <= 1.0)))
    if bad.size:
        row, column = (int(v) for v in bad[0])
        raise ValueError(
            f"ensemble {ensemble!r}: base-model probabilities must be finite and in [0, 1]; {len(bad)} value(s) "
            f"are not, first at row {row}, column {column} with value {arr[row, column]!r}"
        )
    return arr


def check_training_labels(ensemble: str, matrix: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Hard 0/1 labels aligned with `matrix`, with both classes present."""
    labels = as_hard_labels(y, f"ensemble {ensemble!r} validation labels")
    if labels.size != matrix.shape[0]:
        raise ValueError(
            f"ensemble {ensemble!r}: {matrix.shape[0]} rows of base-model probabilities but {labels.size} labels"
        )
    n_buy = int(labels.sum())
    if n_buy in (0, labels.size):
        raise InsufficientDataError(
            f"ensemble {ensemble!r} needs both classes to fit, got {labels.size} rows with {n_buy} BUY"
        )
    return labels


def check_fitted(ensemble: object, attribute: str) -> None:
    """Refuse to predict with an ensemble whose `fit` has not set `attribute`."""
    if not hasattr(ensemble, attribute):
        name = getattr(ensemble, "name", type(ensemble).__name__)
        raise NotFittedError(f"ensemble {name!r} is not fitted; call fit on the validation rows first")
