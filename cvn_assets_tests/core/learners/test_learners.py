"""Conformance suite run against every registered learner."""

import numpy as np
import pytest

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.learners import learner_names, make_learner

SMALL = {"num_boost_round": 40}


def _data(seed: int = 0, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] + 0.5 * rng.normal(size=n) > 0.8).astype(float)
    return x, y


@pytest.mark.parametrize("name", learner_names())
def test_predicts_probabilities_of_the_right_shape(name: str) -> None:
    x, y = _data()
    p = make_learner(name, SMALL, seed=1).fit(x, y).predict_proba(x)
    assert p.shape == (len(x),)
    assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()


@pytest.mark.parametrize("name", learner_names())
def test_same_seed_same_predictions(name: str) -> None:
    x, y = _data()
    first = make_learner(name, SMALL, seed=3).fit(x, y).predict_proba(x)
    second = make_learner(name, SMALL, seed=3).fit(x, y).predict_proba(x)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", learner_names())
def test_soft_labels_are_learned_as_probabilities(name: str) -> None:
    """Soft targets (BUY → 0.6, HOLD → 0.3) must move the mean prediction to the mean soft target.

    A learner that binarised its targets would predict a mean near the hard BUY rate instead.
    """
    x, y = _data()
    soft = np.where(y == 1, 0.6, 0.3)
    p = make_learner(name, {"num_boost_round": 200}, seed=1).fit(x, soft).predict_proba(x)
    assert p.mean() == pytest.approx(soft.mean(), abs=0.02)
    assert abs(p.mean() - y.mean()) > 0.1


@pytest.mark.parametrize("name", learner_names())
def test_margins_pass_through_a_sigmoid_to_give_probabilities(name: str) -> None:
    x, y = _data()
    learner = make_learner(name, SMALL, seed=1).fit(x, y)
    margins = learner.decision_margin(x)
    if margins is None:
        pytest.skip(f"{name} has no raw margins")
    np.testing.assert_allclose(1 / (1 + np.exp(-margins)), learner.predict_proba(x), rtol=1e-6)


def test_sample_weights_change_the_fit() -> None:
    x, y = _data()
    weights = np.where(y == 1, 5.0, 1.0)
    plain = make_learner("xgboost", SMALL, seed=1).fit(x, y).predict_proba(x).mean()
    weighted = make_learner("xgboost", SMALL, seed=1).fit(x, y, weights).predict_proba(x).mean()
    assert weighted > plain + 0.05


def test_unknown_model_lists_the_registered_ones() -> None:
    with pytest.raises(CatalogueError, match="unknown model 'nope'; registered: .*xgboost"):
        make_learner("nope")


@pytest.mark.parametrize("name", learner_names())
def test_every_learner_honours_sample_weights(name: str) -> None:
    """Class-balancing and cleanlab weights reach the fit of every model, not only XGBoost's."""
    x, y = _data()
    weights = np.where(y == 1, 5.0, 1.0)
    plain = make_learner(name, SMALL, seed=1).fit(x, y).predict_proba(x).mean()
    weighted = make_learner(name, SMALL, seed=1).fit(x, y, weights).predict_proba(x).mean()
    assert weighted > plain + 0.05


def test_which_learners_loop_their_boosting_rounds_in_python() -> None:
    from cvn_assets.core.learners.registry import fit_loop_in_python

    assert [name for name in learner_names() if not fit_loop_in_python(name)] == ["catboost"]
    assert fit_loop_in_python("xgboost") and fit_loop_in_python("lightgbm")
    assert fit_loop_in_python("a_plugin_learner_that_says_nothing")
