"""SPEC §7's verdict order, one branch at a time, on hand-made gate checks."""

from __future__ import annotations

import math

import pytest

from cvn_assets.core.gate.checks import GateCheck
from cvn_assets.core.gate.decision import Verdict, decide
from cvn_assets.core.gate.thresholds import GateThresholds

THRESHOLDS = GateThresholds()
ABOVE_ZERO = (0.01, 0.05)
BELOW_ZERO = (-0.05, -0.01)
SPANS_ZERO = (-0.01, 0.03)


def gate(name: str, passed: bool | None) -> GateCheck:
    return GateCheck(name, math.nan, math.nan, passed, "hand-made")


ALL_PASS = [gate("f1_buy_lift.mean", True), gate("calibration", True), gate("significance", True)]
CALIBRATION_UNEVALUABLE = [gate("f1_buy_lift.mean", True), gate("calibration", None), gate("significance", True)]
LIFT_FAILS = [gate("f1_buy_lift.mean", False), gate("calibration", True), gate("significance", True)]
LIFT_FAILS_CALIBRATION_UNEVALUABLE = [gate("f1_buy_lift.mean", False), gate("calibration", None)]


@pytest.mark.parametrize(
    ("n_pairs", "ci", "checks", "problems", "verdict", "reason"),
    [
        pytest.param(
            9,
            BELOW_ZERO,
            ALL_PASS,
            [],
            Verdict.INCONCLUSIVE,
            "only 9 valid pair(s)",
            id="fewer than 10 pairs: INCONCLUSIVE even with harm shown",
        ),
        pytest.param(
            25,
            BELOW_ZERO,
            ALL_PASS,
            ["blocking check(s) failed: degenerate brier on A 1 xgboost"],
            Verdict.INCONCLUSIVE,
            "degenerate brier",
            id="f1_buy failed a blocking check: INCONCLUSIVE",
        ),
        pytest.param(
            25,
            (math.nan, math.nan),
            ALL_PASS,
            [],
            Verdict.INCONCLUSIVE,
            "no confidence interval",
            id="f1_buy degenerate (no CI): INCONCLUSIVE",
        ),
        pytest.param(
            25,
            BELOW_ZERO,
            CALIBRATION_UNEVALUABLE,
            [],
            Verdict.ABANDON,
            "entirely below 0",
            id="harm shown, calibration not evaluable: ABANDON",
        ),
        pytest.param(
            25, BELOW_ZERO, LIFT_FAILS, [], Verdict.ABANDON, "entirely below 0", id="harm shown, gates failed: ABANDON"
        ),
        pytest.param(
            25, ABOVE_ZERO, ALL_PASS, [], Verdict.LOCK, "every gate passed", id="every gate evaluated and passed: LOCK"
        ),
        pytest.param(
            25,
            SPANS_ZERO,
            LIFT_FAILS,
            [],
            Verdict.KEEP_AVAILABLE,
            "gate(s) failed: f1_buy_lift.mean",
            id="a gate failed, no harm shown: KEEP_AVAILABLE",
        ),
        pytest.param(
            25,
            SPANS_ZERO,
            LIFT_FAILS_CALIBRATION_UNEVALUABLE,
            [],
            Verdict.KEEP_AVAILABLE,
            "not evaluable, so not counted as passed: calibration",
            id="a gate failed and another not evaluable: KEEP_AVAILABLE (no LOCK either way)",
        ),
        pytest.param(
            25,
            ABOVE_ZERO,
            CALIBRATION_UNEVALUABLE,
            [],
            Verdict.INCONCLUSIVE,
            "LOCK cannot be granted",
            id="nothing failed, calibration could have blocked the LOCK: INCONCLUSIVE",
        ),
    ],
)
def test_verdict_order(
    n_pairs: int, ci: tuple[float, float], checks: list[GateCheck], problems: list[str], verdict: Verdict, reason: str
) -> None:
    found, reasons = decide(n_pairs, 0.02, ci, checks, problems, THRESHOLDS)
    assert found is verdict
    assert any(reason in r for r in reasons), reasons


def test_an_abandon_names_the_gates_it_could_not_evaluate() -> None:
    _, reasons = decide(25, -0.03, BELOW_ZERO, CALIBRATION_UNEVALUABLE, [], THRESHOLDS)
    assert any("not evaluable" in r and "calibration" in r for r in reasons)
