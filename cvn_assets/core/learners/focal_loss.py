"""Binary focal loss as a custom XGBoost objective.

The loss is written once as a SymPy expression in the probability p. Its gradient and hessian
with respect to the raw margin m (p = σ(m)) are obtained by symbolic differentiation and the chain
rule dp/dm = p(1 − p), then turned into vectorised NumPy functions by `sympy.lambdify` with common
subexpressions eliminated. No derivative is written by hand, and nothing evaluates exp(m), so
extreme margins never overflow.

For γ > 0 the loss is not convex in the margin. Its exact hessian is negative exactly where a row is
confidently misclassified: for a hard target where p_t, the probability of the true class, falls
below a γ-dependent threshold that stays under ~0.06 on [0, MAX_GAMMA] (0.018 at γ = 0.5, 0.058 at
γ = 2, 0.036 at γ = 10); for a soft target at both ends, each end misclassifying one of its two
terms. Well-classified rows have a positive exact hessian. The Newton step therefore uses the
exact hessian floored at the "frozen-focus" hessian, see `focal_grad_hess`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from cvn_assets.core.errors import CatalogueError, TrainingError

if TYPE_CHECKING:
    # SymPy is imported where it is used: it costs ~0.4 s that runs not using focal loss should not pay.
    import sympy
    import xgboost

MAX_GAMMA = 10.0
P_CLIP = 1e-7
MIN_HESSIAN = 1e-7
# Fraction of the frozen-focus hessian below which the exact hessian is not allowed to fall. At 1 the
# floor binds only on confidently misclassified rows (p_t below ~0.13): elsewhere the exact hessian
# is larger.
CURVATURE_FLOOR = 1.0
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


def check_curvature_floor(value: float, setting: str = "curvature_floor") -> float:
    """`value` as a float if it lies in [0, 1], else a `CatalogueError` naming `setting`.

    Above 1 the floor would exceed the exact hessian at γ = 0, where both equal the cross-entropy
    hessian, so cross entropy would no longer train as `binary:logistic` does.
    """
    try:
        floor = float(value)
    except (TypeError, ValueError):
        raise CatalogueError(f"focal loss {setting}={value!r} is not a number") from None
    if not 0.0 <= floor <= 1.0:
        raise CatalogueError(f"focal loss {setting}={value} is outside [0, 1]")
    return floor


def symbolic_focal_loss(
    p: sympy.Expr, y: sympy.Expr, gamma: sympy.Expr, alpha: sympy.Expr, focus: sympy.Expr | None = None
) -> sympy.Expr:
    """The focal loss of one row as a SymPy expression in probability `p` and target `y`.

    `focus` is the probability inside the focusing factors (1 − p)^γ and p^γ; by default it is `p`.
    A separate symbol lets the focusing factors be held fixed while differentiating.
    """
    import sympy

    q = p if focus is None else focus
    return -CLASS_WEIGHT_SCALE * (
        alpha * y * (1 - q) ** gamma * sympy.log(p) + (1 - alpha) * (1 - y) * q**gamma * sympy.log(1 - p)
    )


@dataclass(frozen=True)
class FocalExpressions:
    """Symbols and expressions of the focal loss; `grad` and `hess` are d/dm and d²/dm² written in p.

    `frozen_hess` is d²/dm² with the focusing factors held fixed: the hessian of cross entropy
    weighted per class by (1 − p)^γ and p^γ, positive for every p in (0, 1).
    """

    p: sympy.Symbol
    y: sympy.Symbol
    gamma: sympy.Symbol
    alpha: sympy.Symbol
    loss: sympy.Expr
    grad: sympy.Expr
    hess: sympy.Expr
    frozen_hess: sympy.Expr


def _margin_derivatives(loss: sympy.Expr, p: sympy.Symbol) -> tuple[sympy.Expr, sympy.Expr]:
    """d/dm and d²/dm² of `loss`, differentiated in p and chained through dp/dm = p(1 − p)."""
    import sympy

    dloss_dp = sympy.diff(loss, p)
    slope = p * (1 - p)
    # d/dm of the gradient: product rule in p, times dp/dm once more.
    return dloss_dp * slope, sympy.diff(dloss_dp, p) * slope**2 + dloss_dp * sympy.diff(slope, p) * slope


@functools.lru_cache(maxsize=1)
def focal_expressions() -> FocalExpressions:
    """Differentiate the loss in p, then chain through the sigmoid with dp/dm = p(1 − p)."""
    import sympy

    p = sympy.Symbol("p", positive=True)
    y = sympy.Symbol("y", real=True)
    gamma = sympy.Symbol("gamma", nonnegative=True)
    alpha = sympy.Symbol("alpha", real=True)
    focus = sympy.Symbol("focus", positive=True)
    loss = symbolic_focal_loss(p, y, gamma, alpha)
    grad, hess = _margin_derivatives(loss, p)
    _, frozen_hess = _margin_derivatives(symbolic_focal_loss(p, y, gamma, alpha, focus), p)
    return FocalExpressions(p, y, gamma, alpha, loss, grad, hess, frozen_hess.subs(focus, p))


@functools.lru_cache(maxsize=1)
def _numeric_derivatives() -> Callable[..., list[np.ndarray]]:
    import sympy

    e = focal_expressions()
    derivatives: Callable[..., list[np.ndarray]] = sympy.lambdify(
        (e.p, e.y, e.gamma, e.alpha), (e.grad, e.hess, e.frozen_hess), modules="numpy", cse=sympy.cse
    )
    return derivatives


@functools.lru_cache(maxsize=1)
def _numeric_loss() -> Callable[..., list[np.ndarray]]:
    import sympy

    # A one-tuple: with `cse`, lambdify returns a list even for a single expression.
    e = focal_expressions()
    loss: Callable[..., list[np.ndarray]] = sympy.lambdify(
        (e.p, e.y, e.gamma, e.alpha), (e.loss,), modules="numpy", cse=sympy.cse
    )
    return loss


def clipped_probabilities(margins: np.ndarray) -> np.ndarray:
    """σ(m) without overflow, kept inside [P_CLIP, 1 − P_CLIP] so log p and log(1 − p) stay finite."""
    probabilities: npt.NDArray[np.float64] = expit(np.asarray(margins, dtype=float))
    return np.clip(probabilities, P_CLIP, 1.0 - P_CLIP)


def focal_loss(margins: np.ndarray, targets: np.ndarray, params: FocalParams) -> np.ndarray:
    """Per-row focal loss (unweighted) at raw margins `margins`."""
    m, y, _ = _checked(margins, targets, None)
    (values,) = _numeric_loss()(clipped_probabilities(m), y, params.gamma, params.alpha)
    return np.broadcast_to(np.asarray(values, dtype=float), m.shape).copy()


def focal_derivatives(margins: np.ndarray, targets: np.ndarray, params: FocalParams) -> tuple[np.ndarray, np.ndarray]:
    """Exact gradient and hessian of the loss w.r.t. the margin, unweighted and unclamped."""
    m, y, _ = _checked(margins, targets, None)
    grad, hess, _ = _derivatives(m, y, params)
    return grad, hess


def frozen_focus_hessian(margins: np.ndarray, targets: np.ndarray, params: FocalParams) -> np.ndarray:
    """d²L/dm² with the focusing factors held fixed (see `FocalExpressions`), unweighted."""
    m, y, _ = _checked(margins, targets, None)
    return _derivatives(m, y, params)[2]


def _derivatives(m: np.ndarray, y: np.ndarray, params: FocalParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = _numeric_derivatives()(clipped_probabilities(m), y, params.gamma, params.alpha)
    grad, hess, frozen = (np.broadcast_to(np.asarray(v, dtype=float), m.shape).copy() for v in values)
    return grad, hess, frozen


def focal_grad_hess(
    margins: np.ndarray,
    targets: np.ndarray,
    params: FocalParams,
    weights: np.ndarray | None = None,
    curvature_floor: float = CURVATURE_FLOOR,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and hessian per row for a Newton boosting step, times the sample weights if given.

    The hessian is max(exact, curvature_floor · frozen-focus hessian, MIN_HESSIAN). Where the exact
    hessian is negative (confidently misclassified rows, see the module docstring) a Newton step
    −G/H would move uphill, and a bare MIN_HESSIAN floor would make the step ~G/1e-7, bounded only by
    `lambda`, while `min_child_weight` would all but ignore those rows. Holding the focusing factor
    fixed gives the hessian of a weighted cross entropy, positive everywhere; there the focusing
    factor of the misclassified term is ≈ 1, so the step is about the cross-entropy Newton step.
    The absolute value of the exact hessian was not chosen: it passes through zero where the exact
    hessian changes sign (unbounded steps there), and deep in the misclassified tail it grows to
    about γ(|m| − 2) − 1 times the frozen-focus hessian (25× at γ = 2, |m| = 15), shrinking the steps
    of exactly the rows the focal loss is meant to focus on. At γ = 0 the two hessians coincide, so cross
    entropy is unchanged. The floors are applied per row before weighting, so a row of weight 0
    contributes nothing.
    """
    m, y, w = _checked(margins, targets, weights)
    floor = check_curvature_floor(curvature_floor)
    grad, hess, frozen = _derivatives(m, y, params)
    hess = np.maximum(np.maximum(hess, floor * frozen), MIN_HESSIAN)
    if w is not None:
        grad, hess = grad * w, hess * w
    return grad, hess


def focal_objective(params: FocalParams, curvature_floor: float = CURVATURE_FLOOR) -> FocalObjective:
    """An `obj` for `xgboost.train`: reads labels and weights from the training DMatrix.

    A custom objective leaves weighting to the objective, so the DMatrix weights are applied here.
    """
    floor = check_curvature_floor(curvature_floor)

    def objective(margins: np.ndarray, matrix: xgboost.DMatrix) -> tuple[np.ndarray, np.ndarray]:
        weights = matrix.get_weight()
        return focal_grad_hess(margins, matrix.get_label(), params, weights if weights.size else None, floor)

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
