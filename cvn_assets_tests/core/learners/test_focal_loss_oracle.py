"""The focal loss's derivatives against an oracle written by hand from its definition.

The reference is the binary α-balanced focal loss of Lin et al. (2017), FL(p_t) = −α_t (1 − p_t)^γ
log p_t, written here in NumPy with this project's class weights 2α (BUY) and 2(1 − α) (HOLD) and a
soft target y mixing the two classes' terms. Its derivatives in the margin z (p = σ(z)) are taken
numerically by `scipy.differentiate.derivative`, so nothing of the project's SymPy derivation is
reused.
"""

import numpy as np
import pytest
from scipy.differentiate import derivative
from scipy.special import expit, log_expit

from cvn_assets.core.learners.focal_loss import FocalParams, focal_derivatives, focal_loss

# A zero derivative (a soft target's stationary point) cannot meet a relative tolerance.
TOLERANCES = {"atol": 1e-12}
# Margins well inside the probability clip, including both confidently wrong tails where the exact
# hessian is negative; hard and soft targets.
MARGINS = np.array([-8.0, -4.5, -2.0, -0.7, 0.0, 0.4, 1.5, 3.0, 6.5])
TARGETS = [
    pytest.param(1.0, id="buy"),
    pytest.param(0.0, id="hold"),
    pytest.param(0.3, id="soft0.3"),
    pytest.param(0.85, id="soft0.85"),
]
FOCUS = [
    pytest.param(0.5, 0.5, id="gamma0.5-alpha0.5"),
    pytest.param(1.0, 0.9, id="gamma1-alpha0.9"),
    pytest.param(2.0, 0.25, id="gamma2-alpha0.25-paper"),
    pytest.param(3.7, 0.6, id="gamma3.7-alpha0.6"),
    pytest.param(10.0, 0.5, id="gamma10-guardrail"),
]


def lin_focal_loss(z: np.ndarray, y: float, gamma: float, alpha: float) -> np.ndarray:
    """−[2α·y·(1 − p)^γ·log p + 2(1 − α)·(1 − y)·p^γ·log(1 − p)] with p = σ(z)."""
    p = expit(z)
    buy_term = 2 * alpha * (1 - p) ** gamma * log_expit(z)
    hold_term = 2 * (1 - alpha) * p**gamma * log_expit(-z)
    return -(y * buy_term + (1 - y) * hold_term)


def _numeric_grad(z: np.ndarray, y: float, gamma: float, alpha: float) -> np.ndarray:
    result = derivative(lambda t: lin_focal_loss(t, y, gamma, alpha), z, tolerances=TOLERANCES)
    assert result.success.all()
    return result.df


def _numeric_hess(z: np.ndarray, y: float, gamma: float, alpha: float) -> np.ndarray:
    result = derivative(lambda t: _numeric_grad(t, y, gamma, alpha), z, tolerances=TOLERANCES)
    assert result.success.all()
    return result.df


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("gamma", "alpha"), FOCUS)
def test_loss_equals_the_hand_written_focal_loss(gamma: float, alpha: float, target: float) -> None:
    y = np.full(MARGINS.size, target)
    np.testing.assert_allclose(
        focal_loss(MARGINS, y, FocalParams(gamma, alpha)),
        lin_focal_loss(MARGINS, target, gamma, alpha),
        rtol=1e-10,
        atol=1e-12,
    )


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("gamma", "alpha"), FOCUS)
def test_gradient_and_exact_hessian_match_numerical_differentiation(gamma: float, alpha: float, target: float) -> None:
    grad, hess = focal_derivatives(MARGINS, np.full(MARGINS.size, target), FocalParams(gamma, alpha))
    np.testing.assert_allclose(grad, _numeric_grad(MARGINS, target, gamma, alpha), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(hess, _numeric_hess(MARGINS, target, gamma, alpha), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("target", [0.0, 1.0])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_exact_hessian_is_negative_on_confidently_misclassified_rows_only(gamma: float, target: float) -> None:
    """The oracle's curvature: negative deep on the wrong side, positive on the right side."""
    wrong_side = -1.0 if target == 1.0 else 1.0
    far_wrong, far_right = wrong_side * np.array([6.0, 8.0]), -wrong_side * np.array([2.0, 6.0, 8.0])
    assert (_numeric_hess(far_wrong, target, gamma, 0.5) < 0).all()
    assert (_numeric_hess(far_right, target, gamma, 0.5) > 0).all()
    _, hess = focal_derivatives(np.concatenate([far_wrong, far_right]), np.full(5, target), FocalParams(gamma, 0.5))
    assert (hess[:2] < 0).all() and (hess[2:] > 0).all()


@pytest.mark.parametrize("target", [0.0, 0.2, 0.5, 0.9, 1.0])
def test_gamma_zero_half_alpha_has_the_cross_entropy_gradient_p_minus_y(target: float) -> None:
    p = expit(MARGINS)
    np.testing.assert_allclose(_numeric_grad(MARGINS, target, 0.0, 0.5), p - target, rtol=1e-7, atol=1e-10)
    grad, hess = focal_derivatives(MARGINS, np.full(MARGINS.size, target), FocalParams(0.0, 0.5))
    np.testing.assert_allclose(grad, p - target, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hess, p * (1 - p), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("alpha", [0.1, 0.25, 0.75])
@pytest.mark.parametrize("target", [0.0, 1.0])
def test_gamma_zero_is_cross_entropy_weighted_by_the_true_class(alpha: float, target: float) -> None:
    """γ = 0: gradient w_y·(p − y) with w = 2α for BUY and 2(1 − α) for HOLD."""
    p, weight = expit(MARGINS), 2 * alpha if target == 1.0 else 2 * (1 - alpha)
    grad, _ = focal_derivatives(MARGINS, np.full(MARGINS.size, target), FocalParams(0.0, alpha))
    np.testing.assert_allclose(grad, weight * (p - target), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_numeric_grad(MARGINS, target, 0.0, alpha), weight * (p - target), rtol=1e-7, atol=1e-10)
