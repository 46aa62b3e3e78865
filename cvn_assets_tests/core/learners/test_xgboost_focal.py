"""The focal-loss XGBoost learner beyond the shared conformance suite."""

import json

import numpy as np
import pytest
import xgboost as xgb
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.learners import learner_names, make_learner
from cvn_assets.core.learners.xgboost_focal_learner import XGBoostFocalLearner

ROUNDS = 60


def _data(seed: int = 0, n: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.5 * rng.normal(size=n) > 0.8).astype(float)
    return x, y


def _focal(seed: int = 1, **params: float) -> XGBoostFocalLearner:
    learner = make_learner("xgboost_focal", {"num_boost_round": ROUNDS, **params}, seed=seed)
    assert isinstance(learner, XGBoostFocalLearner)
    return learner


def test_is_registered_with_baseline_focal_defaults() -> None:
    assert "xgboost_focal" in learner_names()
    params = _focal().get_params()
    assert (params["focal_gamma"], params["focal_alpha"]) == (0.0, 0.5)
    assert _focal().focal_params().is_cross_entropy


@pytest.mark.parametrize(
    ("gamma", "alpha"),
    [
        pytest.param(0.0, 0.5, id="cross-entropy"),
        pytest.param(2.0, 0.25, id="paper-focal"),
        pytest.param(5.0, 0.75, id="strong-focus-buy-heavy"),
    ],
)
def test_learns_a_synthetic_problem_and_predicts_probabilities(gamma: float, alpha: float) -> None:
    x, y = _data()
    learner = _focal(focal_gamma=gamma, focal_alpha=alpha).fit(x, y)
    p = learner.predict_proba(x)
    assert p.shape == (len(x),) and ((p >= 0) & (p <= 1)).all()
    assert roc_auc_score(y, p) > 0.85


def test_probabilities_are_the_sigmoid_of_the_raw_margins() -> None:
    """XGBoost returns raw margins under a custom objective; they must not be read as probabilities."""
    x, y = _data()
    learner = _focal(focal_gamma=2.0).fit(x, y)
    margins = learner.decision_margin(x)
    assert (margins < 0).any()
    np.testing.assert_array_equal(learner.predict_proba(x), expit(margins))


def test_margins_start_at_zero() -> None:
    x, y = _data()
    learner = make_learner("xgboost_focal", {"num_boost_round": 0}).fit(x, y)
    np.testing.assert_array_equal(learner.decision_margin(x), 0.0)
    np.testing.assert_array_equal(learner.predict_proba(x), 0.5)


def test_same_seed_same_model_and_another_seed_another_model() -> None:
    x, y = _data()
    first = _focal(seed=4, focal_gamma=2.0).fit(x, y).predict_proba(x)
    second = _focal(seed=4, focal_gamma=2.0).fit(x, y).predict_proba(x)
    other = _focal(seed=5, focal_gamma=2.0).fit(x, y).predict_proba(x)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_gamma_zero_and_half_alpha_trains_the_same_trees_as_binary_logistic() -> None:
    """Same start (margin 0) and same gradients: the custom objective reproduces `binary:logistic`."""
    x, y = _data()
    focal = _focal().fit(x, y).predict_proba(x)
    logistic = make_learner("xgboost", {"num_boost_round": ROUNDS, "base_score": 0.5}, seed=1)
    np.testing.assert_allclose(focal, logistic.fit(x, y).predict_proba(x), atol=1e-6)


def test_focusing_changes_the_model() -> None:
    x, y = _data()
    plain = _focal().fit(x, y).predict_proba(x)
    focused = _focal(focal_gamma=2.0).fit(x, y).predict_proba(x)
    assert np.abs(plain - focused).max() > 0.05


def test_alpha_weights_the_buy_class() -> None:
    x, y = _data()
    hold_heavy = _focal(focal_alpha=0.25).fit(x, y).predict_proba(x).mean()
    buy_heavy = _focal(focal_alpha=0.75).fit(x, y).predict_proba(x).mean()
    assert buy_heavy > hold_heavy + 0.1


def test_sample_weights_reach_the_custom_objective() -> None:
    x, y = _data()
    plain = _focal(focal_gamma=2.0).fit(x, y).predict_proba(x).mean()
    weighted = _focal(focal_gamma=2.0).fit(x, y, np.where(y == 1, 5.0, 1.0)).predict_proba(x).mean()
    assert weighted > plain + 0.05


def test_curvature_floor_reaches_the_objective() -> None:
    """One group of 990 BUY and 10 HOLD rows: the HOLD rows end confidently wrong (p_t ≈ 0.04 at
    γ = 0.5), where only the curvature floor sets their hessian, so the floor changes the model."""
    x, y = np.zeros((1000, 1)), np.r_[np.ones(990), np.zeros(10)]
    params = {"num_boost_round": 100, "eta": 0.3, "focal_gamma": 0.5}
    default = _focal(**params).fit(x, y)
    bare = _focal(**params, focal_curvature_floor=0.0).fit(x, y)
    assert default.curvature_floor() == 1.0
    assert np.abs(default.predict_proba(x) - bare.predict_proba(x)).max() > 1e-5


def test_xgboost_gamma_and_alpha_keep_their_xgboost_meaning() -> None:
    x, y = _data()
    learner = _focal(gamma=1.5, alpha=0.3).fit(x, y)
    trees = json.loads(learner.booster_.save_config())["learner"]["gradient_booster"]["tree_train_param"]
    assert float(trees["gamma"]) == pytest.approx(1.5) and float(trees["alpha"]) == pytest.approx(0.3)
    assert learner.focal_params().is_cross_entropy


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"focal_gamma": 11.0}, r"gamma=11.0 is outside \[0, 10.0\]", id="gamma-guardrail"),
        pytest.param({"focal_alpha": -0.5}, r"alpha=-0.5 is outside \[0, 1\]", id="alpha-guardrail"),
        pytest.param(
            {"focal_curvature_floor": 1.5},
            r"focal_curvature_floor=1.5 is outside \[0, 1\]",
            id="curvature-floor-above-cross-entropy",
        ),
        pytest.param({"base_score": 0.5}, r"sets \['base_score'\] itself", id="base-score-is-a-margin-here"),
        pytest.param({"objective": "binary:logistic"}, r"sets \['objective'\] itself", id="objective-is-focal"),
    ],
)
def test_bad_parameters_fail_at_fit(params: dict[str, object], message: str) -> None:
    x, y = _data()
    with pytest.raises(CatalogueError, match=message):
        _focal(**params).fit(x, y)


def test_saved_model_reloads_and_returns_raw_margins() -> None:
    x, y = _data()
    learner = _focal(focal_gamma=2.0).fit(x, y)
    reloaded = xgb.Booster(model_file=bytearray(learner.to_bytes()))
    margins = reloaded.predict(xgb.DMatrix(x.astype(np.float32)))
    np.testing.assert_allclose(margins, learner.decision_margin(x), rtol=1e-6)


def test_feature_importance_names_every_feature() -> None:
    x, y = _data()
    importance = _focal(focal_gamma=2.0).fit(x, y).feature_importance(["a", "b", "c", "d"])
    assert set(importance) == {"a", "b", "c", "d"}
    assert max(importance, key=importance.get) == "a"


def test_catalogue_check_accepts_the_curvature_floor_and_refuses_it_out_of_range() -> None:
    XGBoostFocalLearner.check_params({"focal_gamma": 2.0, "focal_curvature_floor": 0.5})
    with pytest.raises(CatalogueError, match=r"focal_curvature_floor=-1 is outside \[0, 1\]"):
        XGBoostFocalLearner.check_params({"focal_curvature_floor": -1})
