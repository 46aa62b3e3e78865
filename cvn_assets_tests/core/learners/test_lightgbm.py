"""LightGBM learner: objective choice, parameter handling, artefacts."""

import subprocess
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from cvn_assets.core.errors import TrainingError
from cvn_assets.core.learners import make_learner
from cvn_assets.core.learners.lightgbm_learner import DEFAULT_LIGHTGBM_PARAMS

SMALL = {"num_boost_round": 40}
NATIVE = {"verbosity": -1, "num_threads": 1, "deterministic": True, "seed": 1, "force_row_wise": True}


def _data(seed: int = 0, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] + 0.5 * rng.normal(size=n) > 0.8).astype(float)
    return x, y


def test_the_binary_objective_would_read_every_soft_label_as_buy() -> None:
    """Why the learner uses `cross_entropy`: `binary` counts any label > 0 as positive."""
    x, y = _data()
    soft = np.where(y == 1, 0.6, 0.3)
    naive = lgb.train({**NATIVE, "objective": "binary"}, lgb.Dataset(x, soft), num_boost_round=200)
    assert naive.predict(x).mean() > 0.95
    learned = make_learner("lightgbm", {"num_boost_round": 200}, seed=1).fit(x, soft).predict_proba(x)
    assert learned.mean() == pytest.approx(soft.mean(), abs=0.02)


def test_on_hard_labels_cross_entropy_is_the_binary_objective() -> None:
    """Using the probability objective everywhere changes nothing for hard targets."""
    x, y = _data()
    margins = {
        objective: lgb.train({**NATIVE, "objective": objective}, lgb.Dataset(x, y), num_boost_round=40).predict(
            x, raw_score=True
        )
        for objective in ("binary", "cross_entropy")
    }
    np.testing.assert_array_equal(margins["binary"], margins["cross_entropy"])


def test_defaults_are_used_when_no_parameter_is_given() -> None:
    learner = make_learner("lightgbm", seed=7, n_threads=1)
    assert learner.get_params() == {**DEFAULT_LIGHTGBM_PARAMS, "seed": 7, "num_threads": 1}
    learner.fit(*_data(n=500))
    assert learner.n_iterations_ == DEFAULT_LIGHTGBM_PARAMS["num_boost_round"]


def test_seed_threads_and_objective_reach_lightgbm() -> None:
    # Few rounds: two OpenMP threads on a busy machine spin-wait and slow every round down.
    learner = make_learner("lightgbm", {"num_boost_round": 3}, seed=7, n_threads=2).fit(*_data(n=500))
    used = learner.booster_.params
    assert (used["seed"], used["num_threads"], used["deterministic"], used["objective"]) == (
        7,
        2,
        True,
        "cross_entropy",
    )


def test_another_seed_gives_another_model() -> None:
    """The run's seed drives LightGBM's random streams (same seed, same model: conformance suite)."""
    x, y = _data()
    first = make_learner("lightgbm", SMALL, seed=1).fit(x, y).decision_margin(x)
    second = make_learner("lightgbm", SMALL, seed=2).fit(x, y).decision_margin(x)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize(
    ("params", "replaced"),
    [
        pytest.param({"n_estimators": 7}, "num_boost_round", id="rounds-under-sklearn-name"),
        pytest.param({"eta": 0.3}, "learning_rate", id="xgboost-name-for-learning-rate"),
        pytest.param({"min_child_weight": 1.0}, "min_sum_hessian_in_leaf", id="xgboost-name-for-min-hessian"),
        pytest.param({"subsample": 0.5}, "bagging_fraction", id="xgboost-name-for-row-sampling"),
        pytest.param({"force_col_wise": True}, "force_row_wise", id="col-wise-excludes-the-row-wise-default"),
    ],
)
def test_a_user_parameter_under_any_alias_replaces_the_default(params: dict[str, object], replaced: str) -> None:
    learner = make_learner("lightgbm", params, seed=1)
    resolved = learner.get_params()
    assert replaced not in resolved
    assert resolved.items() >= params.items()
    learner.fit(*_data(n=500))


def test_the_number_of_rounds_given_under_an_alias_is_the_number_trained() -> None:
    learner = make_learner("lightgbm", {"n_estimators": 7}, seed=1).fit(*_data(n=500))
    assert learner.n_iterations_ == 7 == learner.booster_.num_trees()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"bogus": 3}, "unknown parameter 'bogus'", id="unknown-name-lightgbm-would-ignore"),
        pytest.param({"max_dpeth": 3}, "did you mean 'max_depth'", id="typo-gets-a-suggestion"),
        pytest.param({"objective": "binary"}, "'objective' is set by the learner", id="objective-is-fixed"),
        pytest.param({"n_jobs": 8}, "'n_jobs' is set by the learner", id="threads-come-from-the-run"),
        pytest.param({"random_state": 3}, "'random_state' is set by the learner", id="seed-comes-from-the-run"),
        pytest.param({"verbose": 1}, "'verbose' is set by the learner", id="verbosity-is-fixed"),
        pytest.param(
            {"eta": 0.1, "learning_rate": 0.2},
            r"\['eta', 'learning_rate'\] are aliases",
            id="one-parameter-given-twice",
        ),
    ],
)
def test_bad_parameter_names_fail_naming_the_parameter(params: dict[str, object], message: str) -> None:
    with pytest.raises(TrainingError, match=message):
        make_learner("lightgbm", params).fit(*_data(n=200))


def test_an_invalid_value_fails_in_lightgbm_naming_the_parameter() -> None:
    with pytest.raises(lgb.basic.LightGBMError, match="num_leaves"):
        make_learner("lightgbm", {"num_leaves": 1, **SMALL}).fit(*_data(n=200))


@pytest.mark.parametrize("bad", [1.2, -0.1], ids=["above-one", "below-zero"])
def test_targets_outside_the_unit_interval_are_refused(bad: float) -> None:
    x, y = _data(n=200)
    with pytest.raises(lgb.basic.LightGBMError, match="outside \\[0, 1\\]"):
        make_learner("lightgbm", SMALL).fit(x, np.where(y == 1, bad, 0.0))


def test_feature_importance_is_gain_per_named_feature() -> None:
    learner = make_learner("lightgbm", SMALL, seed=1).fit(*_data())
    importance = learner.feature_importance(["signal", "noise_a", "noise_b", "noise_c"])
    assert list(importance) == ["signal", "noise_a", "noise_b", "noise_c"]
    assert max(importance, key=importance.__getitem__) == "signal"
    assert all(value >= 0 for value in importance.values())
    with pytest.raises(TrainingError, match="4 features but 2 names"):
        learner.feature_importance(["signal", "noise_a"])


def test_serialised_model_predicts_the_same_margins() -> None:
    x, y = _data()
    learner = make_learner("lightgbm", SMALL, seed=1).fit(x, y)
    restored = lgb.Booster(model_str=learner.to_bytes().decode("utf-8"))
    np.testing.assert_array_equal(restored.predict(x, raw_score=True), learner.decision_margin(x))


def test_fit_and_predict_write_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    x, y = _data(n=300)
    learner = make_learner("lightgbm", SMALL).fit(x, y)
    learner.predict_proba(x)
    learner.to_bytes()
    assert list(tmp_path.iterdir()) == []


def test_discovering_the_learners_does_not_import_lightgbm() -> None:
    """Every run imports the registry; only a run that trains LightGBM should pay its import."""
    code = (
        "import sys; from cvn_assets.core.learners import learner_names; learner_names(); "
        "print('lightgbm' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
