"""Blends: fixed or AUC-derived weighted means of the base models' calibrated probabilities."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score

from cvn_assets.core.ensembles.base import check_fitted, check_matrix, check_training_labels, resolve_params
from cvn_assets.core.ensembles.registry import register_ensemble

TREE_BASE_MODELS: tuple[str, ...] = ("xgboost", "lightgbm", "catboost")


@dataclass(frozen=True)
class BlendParams:
    """Blends have no tunable parameters; the dataclass exists so unknown names are refused."""


class _WeightedBlend:
    """Weighted mean of the base-model columns; subclasses choose the weights in `_weights`."""

    name: ClassVar[str]
    base_models: ClassVar[tuple[str, ...]]
    learns_from_labels: ClassVar[bool]

    def __init__(self, params: Mapping[str, Any] | None = None, seed: int = 0, n_threads: int = 1) -> None:
        self.params = dict(params or {})
        self.seed = seed
        self.n_threads = n_threads

    def get_params(self) -> dict[str, Any]:
        settings = resolve_params(self.name, BlendParams(), self.params)
        return {**asdict(settings), "seed": self.seed, "n_threads": self.n_threads}

    def fit(self, val_matrix: np.ndarray, y_val: np.ndarray) -> _WeightedBlend:
        self.get_params()
        matrix = check_matrix(self.name, val_matrix, len(self.base_models))
        self.weights_, self.note_ = self._weights(matrix, y_val)
        return self

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        check_fitted(self, "weights_")
        blended: npt.NDArray[np.float64] = check_matrix(self.name, matrix, len(self.base_models)) @ self.weights_
        # Weights sum to 1 only up to rounding, so a blend of ones can land a hair above 1.
        return np.clip(blended, 0.0, 1.0)

    def _weights(self, matrix: np.ndarray, y_val: np.ndarray) -> tuple[np.ndarray, str | None]:
        raise NotImplementedError


@register_ensemble("blend_mean", base_models=TREE_BASE_MODELS)
class BlendMean(_WeightedBlend):
    """Plain mean of the base models' calibrated P(BUY).

    Nothing is learned from the labels (`fit` only checks shapes), so its blend of the base models'
    cross-fitted validation probabilities already is out-of-sample and is its validation score.
    """

    learns_from_labels = False

    def _weights(self, matrix: np.ndarray, y_val: np.ndarray) -> tuple[np.ndarray, str | None]:
        if np.size(y_val) != matrix.shape[0]:
            raise ValueError(
                f"ensemble {self.name!r}: {matrix.shape[0]} rows of base-model probabilities "
                f"but {np.size(y_val)} labels"
            )
        return np.full(matrix.shape[1], 1.0 / matrix.shape[1]), None


@register_ensemble("blend_auc", base_models=TREE_BASE_MODELS)
class BlendAuc(_WeightedBlend):
    """Weighted mean with weights ∝ max(AUC_val − 0.5, 0): a model no better than chance gets none.

    The weights are learned from validation labels, so like the stackers its validation scores for
    calibration and the threshold are produced out-of-fold (a few weights hardly overfit, but one
    rule for every ensemble that sees labels is simpler to audit than a judgement per ensemble).
    When no base model beats chance the weights are equal and `note_` says so.
    """

    learns_from_labels = True

    def _weights(self, matrix: np.ndarray, y_val: np.ndarray) -> tuple[np.ndarray, str | None]:
        labels = check_training_labels(self.name, matrix, y_val)
        self.auc_ = np.array([roc_auc_score(labels, matrix[:, j]) for j in range(matrix.shape[1])])
        edge = np.maximum(self.auc_ - 0.5, 0.0)
        if edge.sum() == 0.0:
            aucs = ", ".join(f"{m}={a:.4f}" for m, a in zip(self.base_models, self.auc_, strict=True))
            note = f"no base model has validation AUC above 0.5 ({aucs}); equal weights used"
            return np.full(matrix.shape[1], 1.0 / matrix.shape[1]), note
        return edge / edge.sum(), None
