"""Stackers: meta-models trained on the base models' calibrated validation probabilities.

They fit on hard validation labels without class weights: the ensemble's own calibration and
threshold sweep, run afterwards, are what turn their scores into BUY decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from scipy.special import logit
from sklearn.linear_model import LogisticRegression

from cvn_assets.core.ensembles.base import (
    check_fitted,
    check_matrix,
    check_positive,
    check_training_labels,
    resolve_params,
)
from cvn_assets.core.ensembles.blends import TREE_BASE_MODELS
from cvn_assets.core.ensembles.registry import register_ensemble
from cvn_assets.core.errors import CatalogueError


@dataclass(frozen=True)
class StackLogregParams:
    """L2 strength (`c`, smaller = more shrinkage towards the intercept), probability clip, solver budget."""

    c: float = 0.1
    clip_eps: float = 1e-6
    max_iter: int = 1000

    def __post_init__(self) -> None:
        check_positive("stack_logreg", "c", self.c)
        check_positive("stack_logreg", "max_iter", self.max_iter, integer=True)
        if not (isinstance(self.clip_eps, float) and 0.0 < self.clip_eps < 0.5):
            raise CatalogueError(
                f"ensemble 'stack_logreg': clip_eps must be a float in (0, 0.5), got {self.clip_eps!r}"
            )


@dataclass(frozen=True)
class StackXgbParams:
    """A deliberately small booster: few, shallow trees over a handful of input columns."""

    max_depth: int = 2
    num_boost_round: int = 50
    eta: float = 0.1
    min_child_weight: float = 1.0

    def __post_init__(self) -> None:
        check_positive("stack_xgb", "max_depth", self.max_depth, integer=True)
        check_positive("stack_xgb", "num_boost_round", self.num_boost_round, integer=True)
        check_positive("stack_xgb", "eta", self.eta)
        check_positive("stack_xgb", "min_child_weight", self.min_child_weight)


class _Stacker:
    """Shared constructor and parameter handling (scikit-learn conventions)."""

    name: ClassVar[str]
    base_models: ClassVar[tuple[str, ...]]
    learns_from_labels: ClassVar[bool] = True

    def __init__(self, params: Mapping[str, Any] | None = None, seed: int = 0, n_threads: int = 1) -> None:
        self.params = dict(params or {})
        self.seed = seed
        self.n_threads = n_threads

    def get_params(self) -> dict[str, Any]:
        return {**asdict(self._settings()), "seed": self.seed, "n_threads": self.n_threads}

    def _settings(self) -> Any:
        raise NotImplementedError


@register_ensemble("stack_logreg", base_models=TREE_BASE_MODELS)
class StackLogreg(_Stacker):
    """L2-shrunk logistic regression on logit(clipped base probabilities).

    On the logit scale a coefficient of 1 on one model and 0 elsewhere reproduces that model, so
    shrinkage pulls towards "intercept only" rather than towards an arbitrary mix.
    """

    def _settings(self) -> StackLogregParams:
        return resolve_params(self.name, StackLogregParams(), self.params)

    def _features(self, matrix: np.ndarray, clip_eps: float) -> np.ndarray:
        probabilities = check_matrix(self.name, matrix, len(self.base_models))
        logits: npt.NDArray[np.float64] = logit(np.clip(probabilities, clip_eps, 1.0 - clip_eps))
        return logits

    def fit(self, val_matrix: np.ndarray, y_val: np.ndarray) -> StackLogreg:
        settings = self._settings()
        features = self._features(val_matrix, settings.clip_eps)
        labels = check_training_labels(self.name, features, y_val)
        self.clip_eps_ = settings.clip_eps
        self.model_ = LogisticRegression(C=settings.c, max_iter=settings.max_iter, random_state=self.seed)
        self.model_.fit(features, labels)
        return self

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        check_fitted(self, "model_")
        return np.asarray(self.model_.predict_proba(self._features(matrix, self.clip_eps_))[:, 1], dtype=np.float64)


@register_ensemble("stack_xgb", base_models=TREE_BASE_MODELS)
class StackXgb(_Stacker):
    """XGBoost meta-model (native `xgb.train`, `binary:logistic`) on the base probabilities.

    Trees are invariant to monotone transforms, so the probabilities are used as they are.
    """

    def _settings(self) -> StackXgbParams:
        return resolve_params(self.name, StackXgbParams(), self.params)

    def fit(self, val_matrix: np.ndarray, y_val: np.ndarray) -> StackXgb:
        import xgboost as xgb

        settings = self._settings()
        matrix = check_matrix(self.name, val_matrix, len(self.base_models))
        labels = check_training_labels(self.name, matrix, y_val)
        booster_params = {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "max_depth": settings.max_depth,
            "eta": settings.eta,
            "min_child_weight": settings.min_child_weight,
            "tree_method": "hist",
            "seed": self.seed,
            "nthread": self.n_threads,
            "verbosity": 0,
        }
        train = xgb.DMatrix(matrix.astype(np.float32), label=labels.astype(float))
        self.booster_ = xgb.train(booster_params, train, num_boost_round=settings.num_boost_round)
        return self

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        import xgboost as xgb

        check_fitted(self, "booster_")
        rows = xgb.DMatrix(check_matrix(self.name, matrix, len(self.base_models)).astype(np.float32))
        return np.asarray(self.booster_.predict(rows), dtype=np.float64)
