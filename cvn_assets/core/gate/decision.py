"""The verdict of one variant from its gate checks, in the order SPEC §7 sets."""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

from cvn_assets.core.gate.checks import NOT_EVALUABLE, GateCheck
from cvn_assets.core.gate.thresholds import GateThresholds


class Verdict(enum.StrEnum):
    """Outcome of the gate for one variant."""

    LOCK = "LOCK"
    KEEP_AVAILABLE = "KEEP_AVAILABLE"
    ABANDON = "ABANDON"
    INCONCLUSIVE = "INCONCLUSIVE"


def decide(
    n_pairs: int,
    mean: float,
    ci: tuple[float, float],
    gate_checks: Sequence[GateCheck],
    primary_problems: Sequence[str],
    thresholds: GateThresholds,
) -> tuple[Verdict, list[str]]:
    """Verdict and its reasons, first rule that applies:

    1. INCONCLUSIVE: fewer than `min_valid_pairs` pairs, or f1_buy itself unusable
       (`primary_problems`: degenerate, a failed blocking check, no CI).
    2. ABANDON: the f1_buy CI lies entirely below 0, whatever the secondary gates: harm shown on the
       primary metric is enough even when calibration or the joint metrics are not evaluable.
    3. LOCK: every gate was evaluated and passes.
    4. KEEP_AVAILABLE when some gate failed (a LOCK was ruled out whatever the unevaluable gates
       would have said); INCONCLUSIVE when none failed but some were not evaluable, since each of
       those could have blocked the LOCK.
    """
    reasons = []
    if n_pairs < thresholds.min_valid_pairs:
        reasons.append(f"only {n_pairs} valid pair(s); at least {thresholds.min_valid_pairs} are needed")
    reasons += list(primary_problems)
    low, high = ci
    if not reasons and (math.isnan(low) or math.isnan(high)):
        reasons.append("f1_buy is degenerate: no confidence interval of the mean Δf1_buy could be computed")
    if reasons:
        return Verdict.INCONCLUSIVE, reasons
    level = f"CI{thresholds.ci_level * 100:g}"
    interval = f"mean Δf1_buy {mean:+.4f}, {level} [{low:+.4f}, {high:+.4f}]"
    unevaluable = [c.name for c in gate_checks if c.passed is None]
    if high < 0.0:
        reasons.append(f"f1_buy regresses: {interval} lies entirely below 0")
        if unevaluable:
            reasons.append(f"gate(s) {NOT_EVALUABLE}, which cannot change a shown regression: {', '.join(unevaluable)}")
        return Verdict.ABANDON, reasons
    failed = [c.name for c in gate_checks if c.passed is False]
    if not failed and not unevaluable:
        return Verdict.LOCK, [f"every gate passed: {interval}"]
    if failed:
        reasons.append(f"gate(s) failed: {', '.join(failed)}")
    if unevaluable:
        reasons.append(f"gate(s) {NOT_EVALUABLE}, so not counted as passed: {', '.join(unevaluable)}")
    if failed:
        reasons.append(f"no significant regression: {level} upper bound {high:+.4f} is not below 0")
        return Verdict.KEEP_AVAILABLE, reasons
    reasons.append("no gate failed, but a LOCK cannot be granted on gates that were not evaluated")
    return Verdict.INCONCLUSIVE, reasons
