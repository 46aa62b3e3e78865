import numpy as np
import pytest
import sympy
import xgboost as xgb
from scipy.optimize import brentq
from scipy.special import expit, logit
from sklearn.metrics import log_loss

from cvn_assets.core.errors import CatalogueError, TrainingError
from cvn_assets.core.learners.focal_loss import (
    MIN_HESSIAN,
    P_CLIP,
    FocalParams,
    focal_derivatives,
    focal_grad_hess,
    focal_loss,
    focal_objective,
    frozen_focus_hessian,
    symbolic_focal_loss,
)

GAMMAS = [
    pytest.param(0.0, id="gamma0-cross-entropy"),
    pytest.param(0.5, id="gamma0.5-sqrt-focus"),
    pytest.param(2.0, id="gamma2-paper-default"),
    pytest.param(5.0, id="gamma5-strong-focus"),
]
ALPHAS = [
    pytest.param(0.25, id="alpha0.25-hold-heavy"),
    pytest.param(0.5, id="alpha0.5-unweighted"),
    pytest.param(0.9, id="alpha0.9-buy-heavy"),
]
# Soft and hard targets; margins kept inside the clip (|m| < logit(1 - P_CLIP) ≈ 16) so the exact
# derivatives of the unclipped loss apply.
TARGETS = np.array([0.0, 1.0, 0.3, 0.6, 0.85])
MARGINS = np.linspace(-8.0, 8.0, 33)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    m, y = np.meshgrid(MARGINS, TARGETS)
    return m.ravel(), y.ravel()


def test_derivatives_equal_sympy_differentiation_in_the_margin() -> None:
    """The lambdified p-space chain rule equals d/dm and d²/dm² of L(σ(m)) taken directly by SymPy."""
    m, y, gamma, alpha = sympy.symbols("m y gamma alpha", real=True)
    loss = symbolic_focal_loss(1 / (1 + sympy.exp(-m)), y, gamma, alpha)
    direct = sympy.lambdify((m, y, gamma, alpha), (sympy.diff(loss, m), sympy.diff(loss, m, 2)), modules="mpmath")
    rng = np.random.default_rng(7)
    points = [
        (rng.uniform(-6, 6), yv, rng.uniform(0, 10), rng.uniform(0, 1))
        for yv in [0.0, 1.0, *rng.uniform(0, 1, size=18)]
    ]
    for mv, yv, gv, av in points:
        grad, hess = focal_derivatives(np.array([mv]), np.array([yv]), FocalParams(gv, av))
        want_grad, want_hess = (float(v) for v in direct(mv, yv, gv, av))
        assert grad[0] == pytest.approx(want_grad, rel=1e-9, abs=1e-12), (mv, yv, gv, av)
        assert hess[0] == pytest.approx(want_hess, rel=1e-9, abs=1e-12), (mv, yv, gv, av)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("gamma", GAMMAS)
def test_finite_differences_match_gradient_and_hessian(gamma: float, alpha: float) -> None:
    m, y = _grid()
    params, step = FocalParams(gamma, alpha), 1e-5
    grad, hess = focal_derivatives(m, y, params)
    fd_grad = (focal_loss(m + step, y, params) - focal_loss(m - step, y, params)) / (2 * step)
    fd_hess = (focal_derivatives(m + step, y, params)[0] - focal_derivatives(m - step, y, params)[0]) / (2 * step)
    np.testing.assert_allclose(grad, fd_grad, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(hess, fd_hess, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("gamma", [*GAMMAS, pytest.param(10.0, id="gamma10-guardrail-maximum")])
@pytest.mark.parametrize("margin", [-500.0, -50.0, 50.0, 500.0])
def test_extreme_margins_stay_finite(gamma: float, margin: float) -> None:
    """exp(500) overflows a float64; the derivatives never evaluate it and p is clipped."""
    y = np.array([0.0, 0.3, 1.0])
    m = np.full(3, margin)
    grad, hess = focal_grad_hess(m, y, FocalParams(gamma, 0.5))
    assert np.isfinite(grad).all() and np.isfinite(hess).all()
    assert (hess >= MIN_HESSIAN).all()
    assert np.isfinite(focal_loss(m, y, FocalParams(gamma, 0.5))).all()


def test_probabilities_are_clipped_so_saturated_margins_keep_a_finite_gradient() -> None:
    grad, _ = focal_derivatives(np.array([-500.0, 500.0]), np.array([1.0, 0.0]), FocalParams(0.0, 0.5))
    np.testing.assert_allclose(grad, [-(1 - P_CLIP), 1 - P_CLIP])


@pytest.mark.parametrize("alpha", ALPHAS)
def test_gamma_zero_is_class_weighted_cross_entropy(alpha: float) -> None:
    m, y = _grid()
    p = expit(m)
    buy_weight, hold_weight = 2 * alpha, 2 * (1 - alpha)
    grad, hess = focal_derivatives(m, y, FocalParams(0.0, alpha))
    np.testing.assert_allclose(grad, hold_weight * (1 - y) * p - buy_weight * y * (1 - p), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(hess, (buy_weight * y + hold_weight * (1 - y)) * p * (1 - p), rtol=1e-9, atol=1e-12)
    hard = np.isin(y, (0.0, 1.0))
    class_weight = np.where(y[hard] == 1, buy_weight, hold_weight)
    np.testing.assert_allclose(grad[hard], class_weight * (p[hard] - y[hard]), rtol=1e-9, atol=1e-12)


def test_gamma_zero_and_half_alpha_is_plain_log_loss() -> None:
    m, y = _grid()
    hard = np.isin(y, (0.0, 1.0))
    loss = focal_loss(m[hard], y[hard], FocalParams(0.0, 0.5))
    assert loss.mean() == pytest.approx(log_loss(y[hard], expit(m[hard])), rel=1e-9)
    grad, _ = focal_derivatives(m, y, FocalParams(0.0, 0.5))
    np.testing.assert_allclose(grad, expit(m) - y, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("target", [0.05, 0.3, 0.5, 0.6, 0.95])
def test_soft_target_is_the_stationary_point_of_cross_entropy(target: float) -> None:
    grad, hess = focal_derivatives(np.array([logit(target)]), np.array([target]), FocalParams(0.0, 0.5))
    assert grad[0] == pytest.approx(0.0, abs=1e-12)
    assert hess[0] > 0


@pytest.mark.parametrize("target", [0.1, 0.3, 0.6, 0.9])
def test_focusing_pulls_the_stationary_point_of_a_soft_target_towards_one_half(target: float) -> None:
    """Why soft labels are not learned as probabilities once γ > 0 (focal loss is not a proper scoring rule)."""
    params = FocalParams(2.0, 0.5)
    stationary = brentq(lambda m: focal_derivatives(np.array([m]), np.array([target]), params)[0][0], -10, 10)
    assert abs(expit(stationary) - 0.5) < abs(target - 0.5) - 0.01


def _frozen_focus_hessian(m: np.ndarray, y: np.ndarray, gamma: float, alpha: float) -> np.ndarray:
    """By hand: cross entropy's hessian p(1 − p) per class, weighted by its class and focusing factor."""
    p = expit(m)
    return (2 * alpha * y * (1 - p) ** gamma + 2 * (1 - alpha) * (1 - y) * p**gamma) * p * (1 - p)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("gamma", [pytest.param(g, id=f"gamma{g}") for g in (0.5, 2.0, 5.0, 10.0)])
def test_newton_hessian_is_the_exact_one_floored_at_the_frozen_focus_hessian(gamma: float, alpha: float) -> None:
    m, y = _grid()
    _, exact = focal_derivatives(m, y, FocalParams(gamma, alpha))
    frozen = _frozen_focus_hessian(m, y, gamma, alpha)
    _, newton = focal_grad_hess(m, y, FocalParams(gamma, alpha))
    np.testing.assert_allclose(frozen_focus_hessian(m, y, FocalParams(gamma, alpha)), frozen, rtol=1e-9, atol=1e-15)
    assert (exact < 0).any()
    np.testing.assert_allclose(newton, np.maximum(np.maximum(exact, frozen), MIN_HESSIAN), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(newton[exact < 0], np.maximum(frozen[exact < 0], MIN_HESSIAN), rtol=1e-9)


@pytest.mark.parametrize("gamma", [pytest.param(g, id=f"gamma{g}") for g in (0.5, 2.0, 5.0, 10.0)])
def test_floor_binds_only_on_confidently_misclassified_rows(gamma: float) -> None:
    """Hard targets: where p_t ≥ 0.12 the exact hessian exceeds the frozen-focus one and is kept."""
    m, y = _grid()
    hard = np.isin(y, (0.0, 1.0))
    m, y = m[hard], y[hard]
    p_true = np.where(y == 1, expit(m), 1 - expit(m))
    _, exact = focal_derivatives(m, y, FocalParams(gamma, 0.5))
    _, newton = focal_grad_hess(m, y, FocalParams(gamma, 0.5))
    right = p_true >= 0.12
    np.testing.assert_array_equal(newton[right], np.maximum(exact[right], MIN_HESSIAN))
    assert (newton[p_true < 0.01] != exact[p_true < 0.01]).all()


@pytest.mark.parametrize("gamma", [pytest.param(g, id=f"gamma{g}") for g in (0.5, 2.0, 5.0, 10.0)])
def test_newton_step_of_a_misclassified_row_stays_near_the_cross_entropy_step(gamma: float) -> None:
    """A hard BUY row predicted at p ∈ [σ(−10), σ(−3)]: −g/h within a factor 3 of cross entropy's.

    With a bare MIN_HESSIAN floor the step there was 10⁵ to 6·10⁵ times cross entropy's.
    """
    m = np.linspace(-10.0, -3.0, 29)
    y = np.ones_like(m)
    grad, hess = focal_grad_hess(m, y, FocalParams(gamma, 0.5))
    p = expit(m)
    step, cross_entropy_step = -grad / hess, (1 - p) / (p * (1 - p))
    assert (step > 0).all()
    assert (step / cross_entropy_step < 3).all() and (step / cross_entropy_step > 1 / 3).all()


@pytest.mark.parametrize("gamma", [pytest.param(g, id=f"gamma{g}") for g in (0.0, 2.0)])
def test_curvature_floor_zero_keeps_only_the_minimum_hessian(gamma: float) -> None:
    m, y = _grid()
    _, exact = focal_derivatives(m, y, FocalParams(gamma, 0.5))
    _, floored = focal_grad_hess(m, y, FocalParams(gamma, 0.5), curvature_floor=0.0)
    np.testing.assert_array_equal(floored, np.maximum(exact, MIN_HESSIAN))


def test_gamma_zero_newton_hessian_is_the_cross_entropy_hessian_at_any_floor() -> None:
    m, y = _grid()
    p = expit(m)
    for floor in (0.0, 0.5, 1.0):
        _, hess = focal_grad_hess(m, y, FocalParams(0.0, 0.5), curvature_floor=floor)
        np.testing.assert_allclose(hess, np.maximum(p * (1 - p), MIN_HESSIAN), rtol=1e-9)


@pytest.mark.parametrize(
    ("floor", "message"),
    [
        pytest.param(-0.1, r"curvature_floor=-0.1 is outside \[0, 1\]", id="negative"),
        pytest.param(1.5, r"curvature_floor=1.5 is outside \[0, 1\]", id="above-cross-entropy"),
        pytest.param("high", r"curvature_floor='high' is not a number", id="not-a-number"),
    ],
)
def test_curvature_floor_outside_its_range_is_rejected(floor: object, message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        focal_objective(FocalParams(2.0, 0.5), curvature_floor=floor)  # type: ignore[arg-type]


def test_focusing_shrinks_the_gradient_of_well_classified_rows_more() -> None:
    m, y = np.array([3.0, -0.5]), np.array([1.0, 1.0])
    ce, _ = focal_derivatives(m, y, FocalParams(0.0, 0.5))
    focal, _ = focal_derivatives(m, y, FocalParams(2.0, 0.5))
    easy_ratio, hard_ratio = focal / ce
    assert 0 < easy_ratio < hard_ratio


def test_sample_weights_multiply_gradient_and_hessian() -> None:
    m, y = _grid()
    weights = np.random.default_rng(3).uniform(0, 3, size=m.size)
    grad, hess = focal_grad_hess(m, y, FocalParams(2.0, 0.25))
    weighted_grad, weighted_hess = focal_grad_hess(m, y, FocalParams(2.0, 0.25), weights)
    np.testing.assert_allclose(weighted_grad, grad * weights)
    np.testing.assert_allclose(weighted_hess, hess * weights)


@pytest.mark.parametrize("with_weights", [pytest.param(False, id="unweighted"), pytest.param(True, id="weighted")])
def test_objective_reads_labels_and_weights_from_the_dmatrix(with_weights: bool) -> None:
    m, y = _grid()
    weights = np.linspace(0.5, 2.0, m.size) if with_weights else None
    matrix = xgb.DMatrix(np.zeros((m.size, 1)), label=y, weight=weights)
    grad, hess = focal_objective(FocalParams(2.0, 0.25))(m.astype(np.float32), matrix)
    want_grad, want_hess = focal_grad_hess(m.astype(np.float32), y, FocalParams(2.0, 0.25), weights)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-6)
    np.testing.assert_allclose(hess, want_hess, rtol=1e-6)


@pytest.mark.parametrize(
    ("gamma", "alpha", "message"),
    [
        pytest.param(-0.1, 0.5, r"gamma=-0.1 is outside \[0, 10.0\]", id="negative-gamma-rewards-easy-rows"),
        pytest.param(10.5, 0.5, r"gamma=10.5 is outside \[0, 10.0\]", id="gamma-above-10-underflows"),
        pytest.param(float("nan"), 0.5, r"gamma=nan is outside", id="nan-gamma"),
        pytest.param(2.0, -0.01, r"alpha=-0.01 is outside \[0, 1\]", id="negative-class-weight"),
        pytest.param(2.0, 1.5, r"alpha=1.5 is outside \[0, 1\]", id="alpha-above-1-negative-hold-weight"),
    ],
)
def test_guardrails_name_parameter_value_and_bound(gamma: float, alpha: float, message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        FocalParams(gamma, alpha)


@pytest.mark.parametrize(
    ("gamma", "alpha"), [pytest.param(0.0, 0.0, id="lower-bounds"), pytest.param(10.0, 1.0, id="upper-bounds")]
)
def test_guardrail_bounds_are_inclusive(gamma: float, alpha: float) -> None:
    assert FocalParams(gamma, alpha).gamma == gamma


@pytest.mark.parametrize(
    ("margins", "targets", "weights", "message"),
    [
        pytest.param([0.0, 1.0], [1.0], None, "2 margins but 1 targets", id="length-mismatch"),
        pytest.param([0.0, 1.0], [1.0, 1.2], None, r"target 1.2 at row 1 is outside \[0, 1\]", id="target-above-1"),
        pytest.param([0.0, 1.0], [np.nan, 1.0], None, "target nan at row 0", id="nan-target"),
        pytest.param([0.0, np.nan], [1.0, 0.0], None, "margin is NaN at row 1", id="nan-margin"),
        pytest.param([0.0, 1.0], [1.0, 0.0], [1.0], "1 sample weights but 2 margins", id="weights-length"),
        pytest.param([0.0, 1.0], [1.0, 0.0], [1.0, -2.0], "sample weight -2.0 at row 1", id="negative-weight"),
    ],
)
def test_bad_inputs_are_rejected_with_the_row(
    margins: list[float], targets: list[float], weights: list[float] | None, message: str
) -> None:
    with pytest.raises(TrainingError, match=message):
        focal_grad_hess(
            np.array(margins), np.array(targets), FocalParams(), None if weights is None else np.array(weights)
        )
