import os
from collections.abc import Iterator
from typing import Any

import pytest

from cvn_assets.core.catalogue.loading import parse_catalogue
from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.learners.param_check import check_catalogue_learners, check_learner_params
from cvn_assets.core.learners.registry import register_learner, unregister_learner

WHERE = "catalogue section `learners`"


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("xgboost", {"max_depth": 3, "num_boost_round": 10}),
        ("xgboost_focal", {"focal_gamma": 2.0, "focal_alpha": 0.25, "max_depth": 3}),
        ("lightgbm", {"num_leaves": 7, "n_estimators": 10}),
        ("catboost", {"depth": 3, "num_boost_round": 10}),
    ],
)
def test_valid_parameters_pass(name: str, params: dict) -> None:
    check_learner_params(name, params, WHERE)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        (
            "xgboost",
            {"max_dept": 3},
            r"learner 'xgboost' with parameters \{'max_dept': 3\}: xgboost does not know "
            r"parameter\(s\) \['max_dept'\]",
        ),
        ("xgboost", {"max_depth": -3}, r"learner 'xgboost' .*: value -3 for Parameter max_depth"),
        (
            "xgboost",
            {"num_boost_round": 1.5},
            r"learner 'xgboost' .*num_boost_round must be a positive integer, got float 1.5",
        ),
        ("xgboost_focal", {"focal_gamma": 20.0}, r"learner 'xgboost_focal' .*gamma=20.0 is outside"),
        (
            "xgboost_focal",
            {"objective": "reg:squarederror"},
            r"learner 'xgboost_focal' .*xgboost_focal sets \['objective'\] itself",
        ),
        (
            "lightgbm",
            {"num_leavs": 7},
            r"learner 'lightgbm' .*unknown parameter 'num_leavs'; did you mean 'num_leaves'",
        ),
        ("lightgbm", {"num_leaves": -1}, r"learner 'lightgbm' with parameters \{'num_leaves': -1\}: .*num_leaves"),
        ("catboost", {"depht": 3}, r"learner 'catboost' .*Unknown option \{depht\}"),
        ("catboost", {"depth": -1}, r"learner 'catboost' .*parameter \"depth\" with value: -1"),
        ("catboost", {"random_seed": 4}, r"learner 'catboost' .*\['random_seed'\] are set by the learner"),
    ],
)
def test_refused_or_ignored_parameters_name_learner_key_and_value(name: str, params: dict, message: str) -> None:
    with pytest.raises(CatalogueError, match=rf"^{WHERE}, {message}"):
        check_learner_params(name, params, WHERE)


def test_a_refused_secret_parameter_is_named_but_its_value_masked() -> None:
    with pytest.raises(CatalogueError) as refused:
        check_learner_params("xgboost", {"api_token": "tok-5ecret-value-917"}, WHERE)
    assert "api_token" in str(refused.value) and "tok-5ecret-value-917" not in str(refused.value)


@pytest.fixture
def unchecked_learner() -> Iterator[str]:
    @register_learner("unchecked_test_learner")
    class Unchecked:
        name = "unchecked_test_learner"

        def __init__(self, params: dict[str, Any] | None = None, seed: int = 0, n_threads: int = 1) -> None:
            raise AssertionError("a learner without check_params is never built by the check")

    yield "unchecked_test_learner"
    unregister_learner("unchecked_test_learner")


def test_a_learner_without_a_check_hook_is_not_checked(unchecked_learner: str) -> None:
    check_learner_params(unchecked_learner, {"anything": "goes"}, WHERE)


def _catalogue(**sections: object) -> Any:
    return parse_catalogue(
        {
            "sweep": {"universe": ["BTC"], "models": ["xgboost"]},
            "factors": {
                "cleanlab": {
                    "alias": "cl",
                    "baseline": "off",
                    "variants": {
                        "off": {"mode": "off"},
                        "filter": {"mode": "filter", "inner_model_params": {"num_boost_round": 20}},
                    },
                }
            },
            **sections,
        }
    )


def test_a_catalogue_checks_its_learners_section_and_cleanlab_inner_model() -> None:
    check_catalogue_learners(_catalogue(learners={"xgboost": {"max_depth": 3}, "stack_xgb": {"max_depth": 2}}))
    with pytest.raises(
        CatalogueError,
        match=r"^catalogue section `learners`, learner 'xgboost' with parameters "
        r"\{'max_dept': 3\}",
    ):
        check_catalogue_learners(_catalogue(learners={"xgboost": {"max_dept": 3}}))
    document = {
        "sweep": {"universe": ["BTC"], "models": ["xgboost"]},
        "factors": {
            "cleanlab": {
                "alias": "cl",
                "baseline": "off",
                "variants": {
                    "off": {"mode": "off"},
                    "filter": {"mode": "filter", "inner_model_params": {"max_dept": 2}},
                },
            }
        },
    }
    bad_inner = parse_catalogue(document)
    with pytest.raises(CatalogueError, match=r"^factor 'cleanlab', variant 'filter', inner model, learner 'xgboost'"):
        check_catalogue_learners(bad_inner)


def test_a_refusal_the_library_printed_itself_is_reported_once(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CatalogueError, match="num_leaves"):
        check_learner_params("lightgbm", {"num_leaves": -5}, WHERE)
    assert "[Fatal]" not in capfd.readouterr().err  # LightGBM's C++ printed it before raising


@pytest.fixture
def printing_learner() -> Iterator[str]:
    @register_learner("printing_test_learner")
    class Printing:
        name = "printing_test_learner"

        @classmethod
        def check_params(cls, params: dict[str, Any]) -> None:
            os.write(2, b"native note from the library\n")
            if params.get("bad"):
                os.write(2, b"[Native] [Fatal] bad is refused\n")
                raise ValueError("bad is refused")

    yield Printing.name
    unregister_learner(Printing.name)


def test_what_else_the_library_prints_still_reaches_stderr(
    printing_learner: str, capfd: pytest.CaptureFixture[str]
) -> None:
    check_learner_params(printing_learner, {"ok": 1}, WHERE)
    assert "native note from the library" in capfd.readouterr().err
    with pytest.raises(CatalogueError, match="bad is refused"):
        check_learner_params(printing_learner, {"bad": 1}, WHERE)
    printed = capfd.readouterr().err
    assert "native note from the library" in printed and "[Fatal]" not in printed
