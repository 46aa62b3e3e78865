import re

import pytest

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.noise import MAX_DROP_PCT, CleanlabParams


def test_defaults_follow_the_spec() -> None:
    params = CleanlabParams()
    assert (params.mode, params.max_drop_pct, params.reweight_floor) == ("off", 5.0, 0.5)
    assert (params.time_budget_seconds, params.inner_splits, params.inner_model) == (60.0, 2, "xgboost")
    assert dict(params.inner_model_params) == {"num_boost_round": 100}
    assert hash(params) == hash(CleanlabParams())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"mode": "drop"}, "mode 'drop' is not one of ['off', 'filter', 'reweight']", id="mode-closed-enum"
        ),
        pytest.param({"mode": "Filter"}, "mode 'Filter' is not one of", id="mode-case-sensitive"),
        pytest.param({"max_drop_pct": 7.0}, "max_drop_pct=7.0 is outside [0, 5]", id="cap-above-5pct-decimates"),
        pytest.param({"max_drop_pct": -1.0}, "max_drop_pct=-1.0 is outside [0, 5]", id="negative-cap"),
        pytest.param({"max_drop_pct": float("nan")}, "max_drop_pct=nan is outside [0, 5]", id="nan-cap"),
        pytest.param({"max_drop_pct": True}, "max_drop_pct=True is outside", id="bool-is-not-a-percentage"),
        pytest.param({"reweight_floor": 1.5}, "reweight_floor=1.5 is outside [0, 1]", id="floor-above-one-upweights"),
        pytest.param({"reweight_floor": -0.1}, "reweight_floor=-0.1 is outside [0, 1]", id="negative-floor"),
        pytest.param({"time_budget_seconds": 0.0}, "time_budget_seconds=0.0 must be > 0", id="zero-budget"),
        pytest.param({"time_budget_seconds": float("nan")}, "time_budget_seconds=nan must be > 0", id="nan-budget"),
        pytest.param({"inner_splits": 1}, "inner_splits=1 must be an integer >= 2", id="one-split-is-no-cv"),
        pytest.param({"inner_splits": 2.0}, "inner_splits=2.0 must be an integer >= 2", id="float-splits"),
        pytest.param({"inner_model": "svm"}, "inner_model 'svm' is not one of [", id="unregistered-inner-model"),
        pytest.param(
            {"inner_model_params": (("eta", 0.1), ("eta", 0.2))}, "distinct string names", id="duplicate-inner-param"
        ),
        pytest.param({"inner_model_params": 5}, "must be (name, value) pairs or a mapping", id="params-not-pairs"),
    ],
)
def test_guardrails_name_parameter_value_and_bound(overrides: dict, message: str) -> None:
    with pytest.raises(CatalogueError, match=re.escape(message)):
        CleanlabParams(**overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"max_drop_pct": 0.0}, id="cap-zero-flags-nothing"),
        pytest.param({"max_drop_pct": MAX_DROP_PCT}, id="cap-at-the-guardrail"),
        pytest.param({"reweight_floor": 0.0}, id="floor-zero"),
        pytest.param({"reweight_floor": 1.0}, id="floor-one"),
        pytest.param({"inner_splits": 5}, id="more-inner-splits"),
    ],
)
def test_bounds_are_inclusive(overrides: dict) -> None:
    params = CleanlabParams(mode="reweight", **overrides)
    assert all(getattr(params, name) == value for name, value in overrides.items())


@pytest.mark.parametrize(
    "given",
    [
        pytest.param({"max_depth": 3, "num_boost_round": 10}, id="mapping-from-catalogue-yaml"),
        pytest.param([["max_depth", 3], ["num_boost_round", 10]], id="lists-from-json-snapshot"),
    ],
)
def test_inner_model_params_are_normalised_to_hashable_pairs(given: object) -> None:
    params = CleanlabParams(inner_model_params=given)  # type: ignore[arg-type]
    assert params.inner_model_params == (("max_depth", 3), ("num_boost_round", 10))
    hash(params)
