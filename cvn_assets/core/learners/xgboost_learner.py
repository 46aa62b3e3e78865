"""XGBoost through its native `xgb.train` API, trained on probabilities (soft labels honoured)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from cvn_assets.core.errors import TrainingError
from cvn_assets.core.learners.param_check import check_rounds, dry_run_data
from cvn_assets.core.learners.registry import register_learner

DEFAULT_XGBOOST_PARAMS: dict[str, Any] = {
    "num_boost_round": 300,
    "max_depth": 4,
    "eta": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 5.0,
    "tree_method": "hist",
}

# XGBoost's own notice of a parameter it does not know: `Parameters: { "max_dept" } are not used.`
_UNUSED_PARAMETERS = re.compile(r"Parameters: \{(?P<names>[^}]*)\} are not used")


def dry_run_xgboost(booster_params: Mapping[str, Any]) -> None:
    """Train one round on a few rows; a refused value raises, an unused (misspelt) parameter too.

    XGBoost only warns about an unknown parameter, and only at verbosity >= 1, so the learner's
    silent fits would train without it; here the warning becomes the error.
    """
    import xgboost as xgb

    features, targets = dry_run_data()
    params = {**booster_params, "objective": "binary:logistic", "verbosity": 1}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xgb.train(params, xgb.DMatrix(features, label=targets), num_boost_round=1)
    for warning in caught:
        unused = _UNUSED_PARAMETERS.search(str(warning.message))
        if unused:
            names = [name.strip().strip('"') for name in unused.group("names").split(",")]
            raise TrainingError(f"xgboost does not know parameter(s) {names}")


@register_learner("xgboost")
class XGBoostLearner:
    """Gradient-boosted trees with `binary:logistic`.

    `binary:logistic` takes any label in [0, 1] and its gradient is p − y, so smoothed targets are
    learned as probabilities rather than rounded.
    """

    name = "xgboost"

    def __init__(self, params: Mapping[str, Any] | None = None, seed: int = 0, n_threads: int = 1) -> None:
        self.params = dict(params or {})
        self.seed = seed
        self.n_threads = n_threads

    def get_params(self) -> dict[str, Any]:
        return {**DEFAULT_XGBOOST_PARAMS, **self.params, "seed": self.seed, "nthread": self.n_threads}

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> None:
        """Raise if XGBoost refuses or ignores one of `params` (see `param_check`)."""
        resolved = cls(params).get_params()
        check_rounds(cls.name, "num_boost_round", resolved.pop("num_boost_round"))
        dry_run_xgboost(resolved)

    def fit(self, features: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None) -> XGBoostLearner:
        import xgboost as xgb

        params = self.get_params()
        rounds = int(params.pop("num_boost_round"))
        params.update({"objective": "binary:logistic", "eval_metric": "logloss", "verbosity": 0})
        train = xgb.DMatrix(
            np.asarray(features, dtype=np.float32), label=np.asarray(targets, dtype=float), weight=sample_weight
        )
        self.booster_ = xgb.train(params, train, num_boost_round=rounds)
        self.n_iterations_ = rounds
        return self

    def decision_margin(self, features: np.ndarray) -> npt.NDArray[np.float64]:
        import xgboost as xgb

        matrix = xgb.DMatrix(np.asarray(features, dtype=np.float32))
        return self.booster_.predict(matrix, output_margin=True).astype(float)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        margins = self.decision_margin(features)
        return 1.0 / (1.0 + np.exp(-margins))

    def feature_importance(self, feature_names: list[str]) -> dict[str, float]:
        """Total gain per feature name (features never used get 0)."""
        # get_score's list values are the gblinear booster's; this learner trains trees (one float each).
        gains = cast(dict[str, float], self.booster_.get_score(importance_type="total_gain"))
        return {name: float(gains.get(f"f{i}", 0.0)) for i, name in enumerate(feature_names)}

    def to_bytes(self) -> bytes:
        return bytes(self.booster_.save_raw(raw_format="ubj"))
