"""CatBoost learner: loss choice, parameter handling, no files written, artefacts."""

import subprocess
import sys
from pathlib import Path

import catboost
import numpy as np
import pytest

from cvn_assets.core.errors import TrainingError
from cvn_assets.core.learners import make_learner
from cvn_assets.core.learners.catboost_learner import DEFAULT_CATBOOST_PARAMS

SMALL = {"num_boost_round": 40}
NATIVE = {
    "iterations": 40,
    "learning_rate": 0.05,
    "depth": 4,
    "random_seed": 1,
    "thread_count": 1,
    "verbose": False,
    "allow_writing_files": False,
}


def _data(seed: int = 0, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] + 0.5 * rng.normal(size=n) > 0.8).astype(float)
    return x, y


def _native_margins(loss: str, x: np.ndarray, targets: np.ndarray, iterations: int = 40) -> np.ndarray:
    model = catboost.CatBoost({**NATIVE, "iterations": iterations, "loss_function": loss})
    return model.fit(catboost.Pool(x, targets)).predict(catboost.Pool(x), prediction_type="RawFormulaVal")


def test_the_logloss_objective_would_binarise_soft_labels() -> None:
    """Why the learner uses `CrossEntropy`: `Logloss` cuts soft labels at target_border 0.5."""
    x, y = _data()
    soft = np.where(y == 1, 0.6, 0.3)
    naive = 1 / (1 + np.exp(-_native_margins("Logloss", x, soft, iterations=200)))
    assert naive.mean() == pytest.approx(y.mean(), abs=0.02)
    learned = make_learner("catboost", {"num_boost_round": 200}, seed=1).fit(x, soft).predict_proba(x)
    assert learned.mean() == pytest.approx(soft.mean(), abs=0.02)


def test_on_hard_labels_cross_entropy_is_the_logloss_objective() -> None:
    """With the learning rate set (Logloss would otherwise pick one itself), nothing changes for hard targets."""
    x, y = _data()
    np.testing.assert_array_equal(_native_margins("Logloss", x, y), _native_margins("CrossEntropy", x, y))


def test_defaults_are_used_when_no_parameter_is_given() -> None:
    learner = make_learner("catboost", seed=7, n_threads=2)
    assert learner.get_params() == {**DEFAULT_CATBOOST_PARAMS, "random_seed": 7, "thread_count": 1}
    learner.fit(*_data(n=500))
    assert learner.n_iterations_ == DEFAULT_CATBOOST_PARAMS["iterations"]


def test_seed_threads_and_loss_reach_catboost() -> None:
    learner = make_learner("catboost", {"num_boost_round": 3, "thread_count": 2}, seed=7, n_threads=1)
    used = learner.fit(*_data(n=500)).model_.get_params()
    assert (used["random_seed"], used["thread_count"], used["loss_function"]) == (7, 2, "CrossEntropy")
    assert used["allow_writing_files"] is False


def test_the_model_depends_on_its_thread_count_parameter_not_on_the_runs_threads() -> None:
    """Why `thread_count` is a parameter (default 1) and not the run's `n_threads`: on soft labels,
    CatBoost's trees change with the thread count, so the run's threads would make a machine setting
    part of the result."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 40))
    soft = np.clip((x[:, 0] + rng.normal(size=len(x)) > 0) * 0.9 + 0.05, 0, 1)
    one, two = ({"num_boost_round": 60, "thread_count": n} for n in (1, 2))
    run_threads = [make_learner("catboost", one, seed=3, n_threads=n).fit(x, soft).predict_proba(x) for n in (1, 2)]
    np.testing.assert_array_equal(*run_threads)
    assert not np.array_equal(run_threads[0], make_learner("catboost", two, seed=3).fit(x, soft).predict_proba(x))


def test_another_seed_gives_another_model() -> None:
    """The run's seed drives CatBoost's random streams (same seed, same model: conformance suite)."""
    x, y = _data()
    first = make_learner("catboost", SMALL, seed=1).fit(x, y).decision_margin(x)
    second = make_learner("catboost", SMALL, seed=2).fit(x, y).decision_margin(x)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"num_boost_round": 7}, {"iterations": 7}, id="rounds-under-the-registry-name"),
        pytest.param({"n_estimators": 7}, {"iterations": 7}, id="rounds-under-sklearn-name"),
        pytest.param({"eta": 0.3}, {"learning_rate": 0.3}, id="xgboost-name-for-learning-rate"),
        pytest.param({"max_depth": 2}, {"depth": 2}, id="xgboost-name-for-depth"),
    ],
)
def test_a_user_parameter_under_any_synonym_replaces_the_default(
    params: dict[str, object], expected: dict[str, object]
) -> None:
    learner = make_learner("catboost", params, seed=1)
    assert learner.get_params().items() >= expected.items()
    learner.fit(*_data(n=300))
    used = learner.model_.get_all_params()
    assert {key: used[key] for key in expected} == pytest.approx(expected)  # CatBoost stores floats as float32


def test_the_number_of_rounds_given_is_the_number_trained() -> None:
    learner = make_learner("catboost", {"n_estimators": 7}, seed=1).fit(*_data(n=300))
    assert learner.n_iterations_ == 7


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"loss_function": "Logloss"}, "'loss_function'", id="loss-is-fixed"),
        pytest.param({"objective": "Logloss"}, "'objective'", id="loss-synonym-is-fixed"),
        pytest.param({"random_state": 3}, "'random_state'", id="seed-comes-from-the-run"),
        pytest.param({"allow_writing_files": True}, "'allow_writing_files'", id="no-catboost-info-folder"),
        pytest.param({"train_dir": "somewhere"}, "'train_dir'", id="no-training-directory"),
        pytest.param({"verbose": 100}, "'verbose'", id="silence-is-fixed"),
        pytest.param(
            {"eta": 0.1, "learning_rate": 0.2},
            "only one of the parameters learning_rate, eta",
            id="one-parameter-given-twice",
        ),
    ],
)
def test_parameters_the_learner_owns_fail_naming_the_parameter(params: dict[str, object], message: str) -> None:
    with pytest.raises(TrainingError, match=message):
        make_learner("catboost", params).fit(*_data(n=200))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"bogus": 3}, "Unknown option {bogus}", id="unknown-name"),
        pytest.param({"dpeth": 3}, "Unknown option {dpeth}", id="typo"),
        pytest.param({"depth": 40}, "depth", id="invalid-value"),
    ],
)
def test_catboost_refuses_bad_parameters_naming_them(params: dict[str, object], message: str) -> None:
    with pytest.raises(catboost.CatBoostError, match=message):
        make_learner("catboost", {**params, **SMALL}).fit(*_data(n=200))


@pytest.mark.parametrize("bad", [1.2, -0.1], ids=["above-one", "below-zero"])
def test_targets_outside_the_unit_interval_are_refused(bad: float) -> None:
    x, y = _data(n=200)
    with pytest.raises(catboost.CatBoostError, match="target (greater than 1|less than 0)"):
        make_learner("catboost", SMALL).fit(x, np.where(y == 1, bad, 0.0))


def test_fit_predict_and_serialise_write_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    x, y = _data(n=300)
    learner = make_learner("catboost", SMALL).fit(x, y)
    learner.predict_proba(x)
    learner.feature_importance(["a", "b", "c", "d"])
    learner.to_bytes()
    assert list(tmp_path.iterdir()) == []


def test_feature_importance_is_given_per_named_feature() -> None:
    learner = make_learner("catboost", SMALL, seed=1).fit(*_data())
    importance = learner.feature_importance(["signal", "noise_a", "noise_b", "noise_c"])
    assert list(importance) == ["signal", "noise_a", "noise_b", "noise_c"]
    assert max(importance, key=importance.__getitem__) == "signal"
    assert sum(importance.values()) == pytest.approx(100.0)
    with pytest.raises(TrainingError, match="4 features but 2 names"):
        learner.feature_importance(["signal", "noise_a"])


def test_serialised_model_predicts_the_same_margins() -> None:
    x, y = _data()
    learner = make_learner("catboost", SMALL, seed=1).fit(x, y)
    restored = catboost.CatBoost().load_model(blob=learner.to_bytes())
    np.testing.assert_array_equal(restored.predict(x, prediction_type="RawFormulaVal"), learner.decision_margin(x))


def test_discovering_the_learners_does_not_import_catboost() -> None:
    """Every run imports the registry; only a run that trains CatBoost should pay its import."""
    code = (
        "import sys; from cvn_assets.core.learners import learner_names; learner_names(); "
        "print('catboost' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
