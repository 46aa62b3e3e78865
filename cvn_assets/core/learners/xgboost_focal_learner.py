"""XGBoost trained with the focal loss as a custom objective (native `xgb.train`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.learners.focal_loss import CURVATURE_FLOOR, FocalParams, check_curvature_floor, focal_objective
from cvn_assets.core.learners.param_check import check_rounds
from cvn_assets.core.learners.registry import register_learner
from cvn_assets.core.learners.xgboost_learner import DEFAULT_XGBOOST_PARAMS, XGBoostLearner, dry_run_xgboost

DEFAULT_FOCAL = FocalParams()
FOCAL_GAMMA_KEY = "focal_gamma"
FOCAL_ALPHA_KEY = "focal_alpha"
FOCAL_CURVATURE_FLOOR_KEY = "focal_curvature_floor"
FOCAL_KEYS = (FOCAL_GAMMA_KEY, FOCAL_ALPHA_KEY, FOCAL_CURVATURE_FLOOR_KEY)
# Under a custom objective XGBoost adds base_score to the raw margin unchanged (it is not a
# probability, as with binary:logistic), so the learner fixes it at 0 (p = 0.5) and owns the objective.
INITIAL_MARGIN = 0.0
RESERVED_PARAMS = ("objective", "base_score")


@register_learner("xgboost_focal")
class XGBoostFocalLearner(XGBoostLearner):
    """Gradient-boosted trees minimising the focal loss of `cvn_assets.core.learners.focal_loss`.

    Parameters: `focal_gamma` and `focal_alpha` build the `FocalParams`; `focal_curvature_floor`
    (in [0, 1], default 1) is the fraction of the frozen-focus hessian under which the Newton
    hessian may not fall (see `focal_grad_hess`); every other key is an XGBoost parameter with its
    usual meaning. The focal keys are prefixed because XGBoost already
    has `gamma` (minimum split loss) and `alpha` (L1 penalty).

    Defaults are γ = 0 and α = 0.5, the identity level of a focal-loss factor: the loss is then
    exactly the cross entropy of the `xgboost` learner, so this learner's default is the baseline and
    a factor's variants set γ > 0 (the original paper's γ = 2, α = 0.25 is a typical variant). The
    default must be γ = 0 because focal loss with γ > 0 is not a proper scoring rule: its minimiser
    for a soft target y is pulled towards 0.5, so soft labels would no longer be learned as
    probabilities. α ≠ 0.5 likewise shifts the minimiser, by reweighting the classes.

    XGBoost returns raw margins under a custom objective; `predict_proba` passes them through a
    sigmoid, and so must any user of `decision_margin` or of a model reloaded from `to_bytes`.
    """

    name = "xgboost_focal"
    # At its default it is the `xgboost` learner; it trains only where the focal_loss factor asks.
    in_default_sweep = False

    def get_params(self) -> dict[str, Any]:
        return {
            **DEFAULT_XGBOOST_PARAMS,
            FOCAL_GAMMA_KEY: DEFAULT_FOCAL.gamma,
            FOCAL_ALPHA_KEY: DEFAULT_FOCAL.alpha,
            FOCAL_CURVATURE_FLOOR_KEY: CURVATURE_FLOOR,
            **self.params,
            "seed": self.seed,
            "nthread": self.n_threads,
        }

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> None:
        """Raise on a reserved key, focal parameters outside their guardrails, or what XGBoost refuses."""
        learner = cls(params)
        learner.check_reserved()
        learner.focal_params()
        learner.curvature_floor()
        resolved = learner.get_params()
        for key in FOCAL_KEYS:
            resolved.pop(key)
        check_rounds(cls.name, "num_boost_round", resolved.pop("num_boost_round"))
        dry_run_xgboost(resolved)

    def check_reserved(self) -> None:
        reserved = sorted(set(RESERVED_PARAMS) & set(self.params))
        if reserved:
            raise CatalogueError(f"{self.name} sets {reserved} itself (focal objective, margins start at 0)")

    def focal_params(self) -> FocalParams:
        """The validated focal-loss parameters (raises `CatalogueError` outside the guardrails)."""
        params = self.get_params()
        return FocalParams(gamma=float(params[FOCAL_GAMMA_KEY]), alpha=float(params[FOCAL_ALPHA_KEY]))

    def curvature_floor(self) -> float:
        """The validated `focal_curvature_floor` (raises `CatalogueError` outside [0, 1])."""
        return check_curvature_floor(self.get_params()[FOCAL_CURVATURE_FLOOR_KEY], FOCAL_CURVATURE_FLOOR_KEY)

    def fit(
        self, features: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> XGBoostFocalLearner:
        import xgboost as xgb

        self.check_reserved()
        focal, floor = self.focal_params(), self.curvature_floor()
        params = self.get_params()
        for key in FOCAL_KEYS:
            params.pop(key)
        rounds = int(params.pop("num_boost_round"))
        params.update({"base_score": INITIAL_MARGIN, "verbosity": 0})
        train = xgb.DMatrix(
            np.asarray(features, dtype=np.float32), label=np.asarray(targets, dtype=float), weight=sample_weight
        )
        self.booster_ = xgb.train(params, train, num_boost_round=rounds, obj=focal_objective(focal, floor))
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """P(BUY): the sigmoid of the raw margins."""
        probabilities: npt.NDArray[np.float64] = expit(self.decision_margin(features))
        return probabilities
