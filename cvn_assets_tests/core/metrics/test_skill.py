"""Skill against always-BUY: the per-row rule at its edges, the cell check, the counts per variant, the settings."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.catalogue.pipeline_params import build_pipeline_params
from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.metrics.skill import SkillThresholds, has_skill, skill_counts, skill_sanity


def _row(
    lift: float, rate: float, status: str = "ok", model: str = "xgboost", variant: str = "none", f1: float = 0.3
) -> dict[str, object]:
    return {
        "variant": variant,
        "model": model,
        "status": status,
        "f1_buy": f1,
        "always_buy_f1": f1 - lift,
        "f1_lift_over_always_buy": lift,
        "buy_signal_rate": rate,
    }


@pytest.mark.parametrize(
    ("lift", "rate", "status", "expected"),
    [
        pytest.param(0.02, 0.30, "ok", True, id="beats-always-buy-on-a-minority-of-bars"),
        pytest.param(0.0, 0.30, "ok", False, id="lift-exactly-at-the-margin-is-no-skill"),
        pytest.param(-0.01, 0.30, "ok", False, id="below-always-buy"),
        pytest.param(0.02, 0.50, "ok", True, id="buy-on-exactly-half-the-bars-is-allowed"),
        pytest.param(0.02, 0.51, "ok", False, id="buy-on-most-bars"),
        pytest.param(0.02, 0.30, "training_failed", None, id="failed-model-cannot-be-judged"),
        pytest.param(math.nan, math.nan, "ok", None, id="row-stored-before-the-metrics-existed"),
    ],
)
def test_has_skill_at_the_edges_of_the_default_rule(
    lift: float, rate: float, status: str, expected: bool | None
) -> None:
    assert has_skill(pd.DataFrame([_row(lift, rate, status)])).tolist() == [expected]


def test_the_margin_and_the_signal_rate_bound_are_settings() -> None:
    rows = pd.DataFrame([_row(0.02, 0.30), _row(0.06, 0.30), _row(0.06, 0.45)])
    strict = SkillThresholds(min_f1_lift=0.05, max_buy_signal_rate=0.4)
    assert has_skill(rows, strict).tolist() == [False, True, False]


def test_a_table_without_the_columns_is_not_recorded_rather_than_an_error() -> None:
    rows = pd.DataFrame([{"variant": "none", "model": "xgboost", "status": "ok", "f1_buy": 0.3}])
    assert has_skill(rows).tolist() == [None]
    counts = skill_counts(rows)
    assert counts["skill"].tolist() == ["skill: 0/1 cells (1 not recorded)"]


def test_skill_counts_per_variant_and_model_with_the_means_behind_them() -> None:
    rows = pd.DataFrame(
        [
            _row(0.02, 0.30, variant="mild"),
            _row(-0.01, 0.80, variant="mild"),
            _row(0.04, 0.20, variant="mild", model="lightgbm"),
            {**_row(math.nan, math.nan, variant="mild"), "status": "training_failed", "f1_buy": math.nan},
            _row(0.01, 0.10),
            _row(0.03, 0.20),
            _row(math.nan, math.nan),
        ]
    )
    counts = skill_counts(rows).set_index(["variant", "model"])
    # mild/xgboost: one of its three cells has skill; the failed cell counts as a cell without it.
    assert counts.loc[("mild", "xgboost"), "skill"] == "skill: 1/3 cells"
    assert counts.loc[("mild", "xgboost"), "mean_f1_lift_over_always_buy"] == pytest.approx((0.02 - 0.01) / 2)
    assert counts.loc[("mild", "xgboost"), "mean_buy_signal_rate"] == pytest.approx((0.30 + 0.80) / 2)
    assert counts.loc[("mild", "lightgbm"), "skill"] == "skill: 1/1 cells"
    assert counts.loc[("none", "xgboost"), "skill"] == "skill: 2/3 cells (1 not recorded)"
    assert counts.loc[("none", "xgboost"), "mean_always_buy_f1"] == pytest.approx((0.29 + 0.27) / 2)


def test_skill_counts_of_no_rows_is_an_empty_table() -> None:
    assert skill_counts(pd.DataFrame(columns=["variant", "model", "status"])).empty


def test_the_cell_check_names_each_model_without_skill_with_its_values() -> None:
    metrics = pd.DataFrame(
        [
            _row(0.02, 0.30),
            _row(-0.004, 0.85, model="lightgbm", f1=0.27),
            {**_row(math.nan, math.nan, model="catboost"), "status": "training_failed"},
        ]
    )
    outcome = skill_sanity(metrics)
    assert not outcome.passed
    assert outcome.observed == 1
    assert outcome.threshold == "f1_lift_over_always_buy > 0 and buy_signal_rate ≤ 0.5"
    assert "lightgbm (lift -0.0040, BUY on 85.0% of bars)" in outcome.detail and "xgboost" not in outcome.detail
    assert set(outcome.breakdown) == {"xgboost", "lightgbm"}  # the failed model has no values to judge
    assert outcome.breakdown["lightgbm"] == {
        "f1_buy": 0.27,
        "always_buy_f1": 0.274,
        "f1_lift_over_always_buy": -0.004,
        "buy_signal_rate": 0.85,
        "skill": False,
    }
    assert outcome.breakdown["xgboost"]["skill"] is True


def test_the_cell_check_passes_when_every_model_has_skill() -> None:
    outcome = skill_sanity(pd.DataFrame([_row(0.02, 0.30), _row(0.01, 0.45, model="lightgbm")]))
    assert outcome.passed and outcome.observed == 0
    assert outcome.detail == "2 model(s) with skill"


def test_the_cell_check_passes_when_no_model_trained() -> None:
    failed = {**_row(np.nan, np.nan), "status": "training_failed"}
    outcome = skill_sanity(pd.DataFrame([failed]))
    assert outcome.passed and outcome.detail == "no trained model to evaluate"


def test_the_skill_section_of_the_catalogue_overrides_the_defaults() -> None:
    params = build_pipeline_params({"skill": {"min_f1_lift": 0.01, "max_buy_signal_rate": 0.4}})
    assert params.skill == SkillThresholds(0.01, 0.4)
    assert build_pipeline_params({}).skill == SkillThresholds(0.0, 0.5)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        pytest.param(
            {"max_buy_signal_rate": 1.5},
            r"max_buy_signal_rate must be a share of bars in \(0, 1\], got 1.5",
            id="rate-above-one",
        ),
        pytest.param(
            {"max_buy_signal_rate": 0},
            r"max_buy_signal_rate must be a share of bars in \(0, 1\], got 0",
            id="rate-zero-admits-no-model",
        ),
        pytest.param({"min_f1_lift": 2.0}, r"min_f1_lift must be a number in \[-1, 1\]", id="lift-beyond-an-f1"),
        pytest.param({"min_f1_lift": "0.01"}, "min_f1_lift must be a number, got str", id="text"),
        pytest.param({"margin": 0.01}, "unknown key 'margin'", id="unknown-key"),
    ],
)
def test_bad_skill_settings_fail_in_one_line_naming_the_section_and_key(section: dict, message: str) -> None:
    with pytest.raises(CatalogueError, match=message) as error:
        build_pipeline_params({"skill": section})
    assert str(error.value).startswith("catalogue section `skill`: ") and "\n" not in str(error.value)
