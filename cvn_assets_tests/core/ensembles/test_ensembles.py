"""Conformance suite run against every registered ensemble, then each ensemble's own behaviour."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from cvn_assets.core.ensembles import Ensemble, ensemble_base_models, ensemble_names, make_ensemble
from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets_tests.core.ensembles.synthetic import TREE_MODELS, matrix_and_labels

BUILT_IN = ("blend_auc", "blend_mean", "stack_logreg", "stack_xgb")


def test_the_four_ensembles_of_the_spec_are_registered_over_the_tree_models() -> None:
    assert set(BUILT_IN) <= set(ensemble_names())
    for name in BUILT_IN:
        assert ensemble_base_models(name) == TREE_MODELS


@pytest.mark.parametrize("name", BUILT_IN)
def test_predicts_one_probability_per_row(name: str) -> None:
    matrix, y = matrix_and_labels()
    ensemble = make_ensemble(name, seed=1).fit(matrix, y)
    p = ensemble.predict_proba(matrix[:57])
    assert isinstance(ensemble, Ensemble)
    assert p.shape == (57,)
    assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()


@pytest.mark.parametrize("name", BUILT_IN)
def test_same_seed_same_predictions(name: str) -> None:
    matrix, y = matrix_and_labels()
    first = make_ensemble(name, seed=3).fit(matrix, y).predict_proba(matrix)
    second = make_ensemble(name, seed=3).fit(matrix, y).predict_proba(matrix)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", BUILT_IN)
def test_constructor_only_stores_parameters(name: str) -> None:
    ensemble = make_ensemble(name, seed=5, n_threads=2)
    assert not [attr for attr in vars(ensemble) if attr.endswith("_")]
    assert ensemble.get_params()["seed"] == 5 and ensemble.get_params()["n_threads"] == 2


@pytest.mark.parametrize("name", BUILT_IN)
def test_predicting_before_fit_is_refused(name: str) -> None:
    matrix, _ = matrix_and_labels()
    with pytest.raises(NotFittedError, match=name):
        make_ensemble(name).predict_proba(matrix)


@pytest.mark.parametrize(
    ("matrix", "match"),
    [
        pytest.param(np.full((10, 2), 0.5), r"\(rows × 3\) matrix", id="one-base-model-column-missing"),
        pytest.param(np.full(10, 0.5), r"\(rows × 3\) matrix", id="one-dimensional-input"),
        pytest.param(np.full((10, 3), 1.5), "row 0, column 0", id="probability-above-one"),
        pytest.param(np.where(np.eye(10, 3) == 1, np.nan, 0.5), "finite", id="nan-probability"),
    ],
)
@pytest.mark.parametrize("name", BUILT_IN)
def test_malformed_matrix_is_refused_on_fit(name: str, matrix: np.ndarray, match: str) -> None:
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match=match):
        make_ensemble(name).fit(matrix, y)


@pytest.mark.parametrize("name", ["blend_auc", "stack_logreg", "stack_xgb"])
def test_ensembles_that_learn_from_labels_need_both_classes(name: str) -> None:
    matrix, _ = matrix_and_labels()
    with pytest.raises(InsufficientDataError, match=f"{name}.*both classes.*0 BUY"):
        make_ensemble(name).fit(matrix, np.zeros(len(matrix), dtype=int))


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        pytest.param(
            "stack_logreg",
            {"C": 1.0},
            r"unknown parameter\(s\) \['C'\]; allowed: c, clip_eps",
            id="sklearn-spelling-of-c",
        ),
        pytest.param("stack_logreg", {"c": 0.0}, "c must be a positive number", id="no-regularisation-strength"),
        pytest.param(
            "stack_logreg", {"clip_eps": 0.5}, r"clip_eps must be a float in \(0, 0.5\)", id="clip-swallows-everything"
        ),
        pytest.param("stack_xgb", {"max_depth": 0}, "max_depth must be a positive integer", id="zero-depth-trees"),
        pytest.param(
            "stack_xgb", {"num_boost_round": 2.5}, "num_boost_round must be a positive integer", id="fractional-rounds"
        ),
        pytest.param("blend_mean", {"weights": [1, 0, 0]}, "allowed: none", id="blends-take-no-parameters"),
    ],
)
def test_bad_parameters_fail_when_the_ensemble_is_made(name: str, params: dict, match: str) -> None:
    with pytest.raises(CatalogueError, match=match):
        make_ensemble(name, params)


def test_blend_mean_is_the_mean_of_the_base_probabilities() -> None:
    matrix, y = matrix_and_labels()
    p = make_ensemble("blend_mean").fit(matrix, y).predict_proba(matrix)
    np.testing.assert_allclose(p, matrix.mean(axis=1), rtol=0, atol=1e-12)


def test_blend_mean_of_certain_models_stays_a_probability() -> None:
    """Weights of 1/3 sum to 1 only up to rounding; a row of ones must still give exactly 1."""
    ones = np.ones((4, 3))
    assert make_ensemble("blend_mean").fit(ones, np.array([0, 1, 0, 1])).predict_proba(ones).max() == 1.0


def test_blend_auc_weights_follow_each_models_edge_over_chance() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.3).astype(int)
    informative = np.clip(0.3 + 0.5 * (y - 0.3) + 0.2 * rng.normal(size=y.size), 0, 1)
    weak = np.clip(0.3 + 0.1 * (y - 0.3) + 0.2 * rng.normal(size=y.size), 0, 1)
    inverted = np.clip(0.3 - 0.3 * (y - 0.3) + 0.2 * rng.normal(size=y.size), 0, 1)
    blend = make_ensemble("blend_auc").fit(np.c_[informative, weak, inverted], y)
    assert blend.auc_[0] > blend.auc_[1] > 0.5 > blend.auc_[2]
    assert blend.weights_[0] > blend.weights_[1] > 0.0
    assert blend.weights_[2] == 0.0, "a model worse than chance must get no weight"
    assert blend.weights_.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(
        blend.weights_[:2] / blend.weights_[:2].sum(), (blend.auc_[:2] - 0.5) / (blend.auc_[:2] - 0.5).sum()
    )
    assert blend.note_ is None


def test_blend_auc_falls_back_to_equal_weights_and_says_so() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(500) < 0.3).astype(int)
    inverted = np.clip(0.5 - 0.3 * y[:, None] + 0.1 * rng.normal(size=(500, 3)), 0, 1)
    blend = make_ensemble("blend_auc").fit(inverted, y)
    np.testing.assert_allclose(blend.weights_, np.full(3, 1 / 3))
    assert "equal weights" in blend.note_ and "xgboost=" in blend.note_


def test_stack_logreg_leans_on_the_informative_model_and_shrinks_with_c() -> None:
    matrix, y = matrix_and_labels(n=1500)
    loose = make_ensemble("stack_logreg", {"c": 10.0}).fit(matrix, y)
    shrunk = make_ensemble("stack_logreg", {"c": 0.001}).fit(matrix, y)
    assert np.argmax(np.abs(loose.model_.coef_[0])) == TREE_MODELS.index("xgboost")
    assert np.abs(shrunk.model_.coef_).sum() < 0.5 * np.abs(loose.model_.coef_).sum()


def test_stack_logreg_handles_certain_base_probabilities() -> None:
    """Isotonic base calibration yields exact 0s and 1s; the logit features must stay finite."""
    matrix, y = matrix_and_labels()
    matrix[:5] = 0.0
    matrix[5:10] = 1.0
    p = make_ensemble("stack_logreg").fit(matrix, y).predict_proba(matrix)
    assert np.isfinite(p).all()


def test_stack_xgb_honours_its_number_of_rounds() -> None:
    matrix, y = matrix_and_labels()
    assert make_ensemble("stack_xgb").fit(matrix, y).booster_.num_boosted_rounds() == 50
    assert make_ensemble("stack_xgb", {"num_boost_round": 7}).fit(matrix, y).booster_.num_boosted_rounds() == 7


def test_stack_xgb_scores_buy_rows_higher() -> None:
    matrix, y = matrix_and_labels()
    p = make_ensemble("stack_xgb", seed=11).fit(matrix, y).predict_proba(matrix)
    assert p[y == 1].mean() > p[y == 0].mean()
