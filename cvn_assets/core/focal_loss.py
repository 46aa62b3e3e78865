"""Binary focal loss as a custom XGBoost objective.

The loss is written once as a SymPy expression in the probability p. Its gradient and hessian
with respect to the raw margin m (p = σ(m)) are obtained by symbolic differentiation and the chain
rule dp/dm = p(1 − p), then turned into vectorised NumPy functions by `sympy.lambdify` with common
subexpressions eliminated. No derivative is written by hand, and nothing evaluates exp(m), so
extreme margins never overflow.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit

from cvn_assets.core.errors import CatalogueError, TrainingError

if TYPE_CHECKING:
    # SymPy is imported where it is used: it costs ~0.4 s that runs not using focal loss should not pay.
    import sympy
    import xgboost

MAX_GAMMA = 10.0
P_CLIP = 1e-7
MIN_HESSIAN = 1e-7
# The class weights are 2α (BUY) and 2(1 − α) (HOLD): they average to one, so α = 0.5 with γ = 0 is
# exactly the cross entropy of `binary:logistic`, and its gradients and hessians keep the scale that
# XGBoost's `min_child_weight` and `lambda` are tuned for.
CLASS_WEIGHT_SCALE = 2

FocalObjective = Callable[[np.ndarray, "xgboost.DMatrix"], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class FocalParams:
    """Focusing strength `gamma` and BUY-class weight `alpha` of the focal loss.

    L(p) = −2[α·y·(1−p)^γ·log p + (1−α)·(1−y)·p^γ·log(1−p)] for a target y ∈ [0, 1].
    γ = 0 is cross entropy with class weights 2α (BUY) and 2(1 − α) (HOLD); γ = 0 and α = 0.5 is
    plain cross entropy. Larger γ down-weights well-classified rows. Guardrails: γ ∈ [0, MAX_GAMMA]
    (beyond it the focusing factor (1 − p_t)^γ silences all but the worst-classified rows),
    α ∈ [0, 1] (outside it a class weight turns negative).
    """

    gamma: float = 0.0
    alpha: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.gamma <= MAX_GAMMA:
            raise CatalogueError(f"focal loss gamma={self.gamma} is outside [0, {MAX_GAMMA}]")
        if not 0.0 <= self.alpha <= 1.0:
            raise CatalogueError(f"focal loss alpha={self.alpha} is outside [0, 1]")

    @property
    def is_cross_entropy(self) -> bool:
        """True when the loss is (class-weighted) cross entropy, i.e. γ = 0."""
        return self.gamma == 0.0

    def learner_choice(self, model: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The learner realising this loss for `model`: XGBoost switches to its focal objective.

        The default (γ = 0, α = 0.5) is plain cross entropy, so the model is left as it is.
        """
        if model != "xgboost" or (self.gamma == 0.0 and self.alpha == 0.5):
            return model, dict(params)
        return "xgboost_focal", {**params, "focal_gamma": self.gamma, "focal_alpha": self.alpha}


def symbolic_focal_loss(p: sympy.Expr, y: sympy.Expr, gamma: sympy.Expr, alpha: sympy.Expr) -> sympy.Expr:
    """The focal loss of one row as a SymPy expression in probability `p` and target `y`."""
    import sympy
    return -CLASS_WEIGHT_SCALE * (
        alpha * y * (1 - p) ** gamma * sympy.log(p) + (1 - alpha) * (1 - y) * p**gamma * sympy.log(1 - p)
    )


@dataclass(frozen=True)
class FocalExpressions:
    """Symbols and expressions of the focal loss; `grad` and `hess` are d/dm and d²/dm² written in p."""

    p: sympy.Symbol
    y: sympy.Symbol
    gamma: sympy.Symbol
    alpha: sympy.Symbol
    loss: sympy.Expr
    grad: sympy.Expr
    hess: sympy.Expr


@functools.lru_cache(maxsize=1)
def focal_expressions() -> FocalExpressions:
    """Differentiate the loss in p, then chain through the sigmoid with dp/dm = p(1 − p)."""
    import sympy
    p = sympy.Symbol("p", positive=True)
    y = sympy.Symbol("y", real=True)
    gamma = sympy.Symbol("gamma", nonnegative=True)
    alpha = sympy.Symbol("alpha", real=True)
    loss = symbolic_focal_loss(p, y, gamma, alpha)
    dloss_dp = sympy.diff(loss, p)
    slope = p * (1 - p)
    grad = dloss_dp * slope
    # d/dm of grad: product rule in p, times dp/dm once more.
    hess = sympy.diff(dloss_dp, p) * slope**2 + dloss_dp * sympy.diff(slope, p) * slope
    return FocalExpressions(p, y, gamma, alpha, loss, grad, hess)


@functools.lru_cache(maxsize=1)
def _numeric_grad_hess() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    import sympy
    e = focal_expressions()
    return sympy.lambdify((e.p, e.y, e.gamma, e.alpha), (e.grad, e.hess), modules="numpy", cse=sympy.cse)


@functools.lru_cache(maxsize=1)
def _numeric_loss() -> Callable[..., tuple[np.ndarray]]:
    import sympy
    # A one-tuple: with `cse`, lambdify returns a list even for a single expression.
    e = focal_expressions()
    return sympy.lambdify((e.p, e.y, e.gamma, e.alpha), (e.loss,), modules="numpy", cse=sympy.cse)


def clipped_probabilities(margins: np.ndarray) -> np.ndarray:
    """σ(m) without overflow, kept inside [P_CLIP, 1 − P_CLIP] so log p and log(1 − p) stay finite."""
    return np.clip(expit(np.asarray(margins, dtype=float)), P_CLIP, 1.0 - P_CLIP)


def focal_loss(margins: np.ndarray, targets: np.ndarray, params: FocalParams) -> np.ndarray:
    """Per-row focal loss (unweighted) at raw margins `margins`."""
    m, y, _ = _checked(margins, targets, None)
    (values,) = _numeric_loss()(clipped_probabilities(m), y, params.gamma, params.alpha)
    return np.broadcast_to(np.asarray(values, dtype=float), m.shape).copy()


def focal_derivatives(margins: np.ndarray, targets: np.ndarray, params: FocalParams) -> tuple[np.ndarray, np.ndarray]:
    """Exact gradient and hessian of the loss w.r.t. the margin, unweighted and unclamped."""
    m, y, _ = _checked(margins, targets, None)
    return _derivatives(m, y, params)


def _derivatives(m: np.ndarray, y: np.ndarray, params: FocalParams) -> tuple[np.ndarray, np.ndarray]:
    grad, hess = _numeric_grad_hess()(clipped_probabilities(m), y, params.gamma, params.alpha)
    return (np.broadcast_to(np.asarray(grad, dtype=float), m.shape).copy(),
            np.broadcast_to(np.asarray(hess, dtype=float), m.shape).copy())


def focal_grad_hess(
    margins: np.ndarray, targets: np.ndarray, params: FocalParams, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and hessian per row for a Newton boosting step, times the sample weights if given.

    For γ > 0 the loss is not convex in the margin: on well-classified rows (1 − p_t)^γ flattens it
    faster than the log falls, so the exact hessian turns negative. A Newton step −G/H with H ≤ 0
    would move uphill or divide by ~0, and XGBoost's `min_child_weight` assumes positive hessians,
    hence the floor at MIN_HESSIAN. The floor is applied per row before weighting so that a row of
    weight 0 contributes nothing.
    """
    m, y, w = _checked(margins, targets, weights)
    grad, hess = _derivatives(m, y, params)
    hess = np.maximum(hess, MIN_HESSIAN)
    if w is not None:
        grad, hess = grad * w, hess * w
    return grad, hess


def focal_objective(params: FocalParams) -> FocalObjective:
    """An `obj` for `xgboost.train`: reads labels and weights from the training DMatrix.

    A custom objective leaves weighting to the objective, so the DMatrix weights are applied here.
    """

    def objective(margins: np.ndarray, matrix: xgboost.DMatrix) -> tuple[np.ndarray, np.ndarray]:
        weights = matrix.get_weight()
        return focal_grad_hess(margins, matrix.get_label(), params, weights if weights.size else None)

    return objective


def _checked(
    margins: np.ndarray, targets: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    m = np.asarray(margins, dtype=float).ravel()
    y = np.asarray(targets, dtype=float).ravel()
    if m.shape != y.shape:
        raise TrainingError(f"focal loss: {m.size} margins but {y.size} targets")
    if np.isnan(m).any():
        raise TrainingError(f"focal loss: margin is NaN at row {int(np.flatnonzero(np.isnan(m))[0])}")
    bad = ~((y >= 0.0) & (y <= 1.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise TrainingError(f"focal loss: target {y[row]} at row {row} is outside [0, 1]")
    if weights is None:
        return m, y, None
    w = np.asarray(weights, dtype=float).ravel()
    if w.shape != m.shape:
        raise TrainingError(f"focal loss: {w.size} sample weights but {m.size} margins")
    bad = ~(np.isfinite(w) & (w >= 0.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise TrainingError(f"focal loss: sample weight {w[row]} at row {row} is not a finite non-negative number")
    return m, y, w
