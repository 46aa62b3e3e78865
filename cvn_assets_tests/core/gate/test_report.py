"""Verdicts rendered as a DataFrame, as terminal text and as JSON-ready data."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cvn_assets.core.gate import FactorVerdict, evaluate_factor, render_verdict_table, verdict_table, verdicts_to_dict
from cvn_assets.core.gate.report import TABLE_COLUMNS
from cvn_assets_tests.core.gate.hand_table import BASELINE, FACTOR, baseline_rows, standard_table, variant_rows


@pytest.fixture(scope="module")
def standard() -> list[FactorVerdict]:
    return evaluate_factor(standard_table(), FACTOR, BASELINE, blocking_failures={"blocked": ["ece_hold_not_zero"]})


@pytest.fixture(scope="module")
def single_pair() -> list[FactorVerdict]:
    """One valid pair with a degenerate variant ECE: most statistics and gates are undefined."""
    rows = baseline_rows() + variant_rows("lonely", 0.03, overrides={"ece_hold": 0.0}, ok_cells={("A", 0)})
    return evaluate_factor(pd.DataFrame(rows), FACTOR, BASELINE)


def test_verdict_table_has_one_row_per_variant(standard: list[FactorVerdict]) -> None:
    table = verdict_table(standard)
    assert tuple(table.columns) == TABLE_COLUMNS
    table = table.set_index("variant")
    assert sorted(table.index) == ["abandon", "blocked", "few", "keep", "lock"]
    assert table.loc["lock", "cryptos_improving"] == "5/5"
    assert table.loc["abandon", "cryptos_improving"] == "0/5"
    assert table.loc["keep", "failed_gates"] == "f1_buy_lift.mean"
    assert table.loc["lock", "verdict"] == "LOCK"


def test_rendered_table_shows_verdicts_and_gates_not_passed(standard: list[FactorVerdict]) -> None:
    text = render_verdict_table(standard)
    for word in ("LOCK", "KEEP_AVAILABLE", "ABANDON", "INCONCLUSIVE", "5/5", "0/5"):
        assert word in text
    assert "toy_factor/keep (xgboost): failed: f1_buy_lift.mean; not evaluable: -" in text
    assert "CI, p and MDE by: cluster-robust t on per-crypto means" in text


def test_undefined_statistics_render_as_na(single_pair: list[FactorVerdict]) -> None:
    assert "[n/a, n/a]" in render_verdict_table(single_pair)


def test_rendering_nothing_says_so() -> None:
    assert render_verdict_table([]) == "no variant gated"


def test_dictionary_is_strict_json_with_observed_and_threshold_per_gate(single_pair: list[FactorVerdict]) -> None:
    document = json.loads(json.dumps(verdicts_to_dict(single_pair), allow_nan=False))
    (variant,) = document["factors"][0]["variants"]
    assert variant["verdict"] == "INCONCLUSIVE"
    assert variant["ci"] == [None, None]
    gates = {gate["name"]: gate for gate in variant["gates"]}
    assert gates["calibration"] == {
        "name": "calibration",
        "observed": None,
        "threshold": 0.01,
        "passed": None,
        "result": "not evaluable",
        "detail": gates["calibration"]["detail"],
    }
    assert "calibration" in variant["not_evaluable"]
    assert variant["inference"] == "cluster_t"
    assert all({"observed", "threshold", "passed"} <= set(gate) for gate in gates.values())
    assert {"crypto": "E", "fold": 2, "reason": "baseline status training_failed; variant status training_failed"} in (
        variant["excluded"]
    )
