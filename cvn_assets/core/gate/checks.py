"""The individual gates, each turning paired cells into one or more `GateCheck`s."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from cvn_assets.core.gate.pairs import PairedCells
from cvn_assets.core.gate.thresholds import GateThresholds


@dataclass(frozen=True)
class GateCheck:
    """One gate condition: what was observed, what it is compared with, and the outcome.

    `passed` is None when the condition is not evaluable (no usable data); that is not a pass.
    """

    name: str
    observed: float
    threshold: float
    passed: bool | None
    detail: str


NOT_EVALUABLE = "not evaluable"


def outcome(passed: bool | None) -> str:
    """A check's result as shown to a user: pass, fail or not evaluable."""
    return {True: "pass", False: "fail", None: NOT_EVALUABLE}[passed]


def _cannot(name: str, threshold: float, detail: str) -> GateCheck:
    return GateCheck(name, math.nan, threshold, None, f"{NOT_EVALUABLE}: {detail}")


def not_evaluable(check: GateCheck, why: Sequence[str]) -> GateCheck:
    """`check` made not evaluable because its inputs failed blocking checks (`why`)."""
    return _cannot(check.name, check.threshold, f"blocking check(s) failed: {'; '.join(why)}")


def lift_checks(deltas: pd.Series, ci: tuple[float, float], thresholds: GateThresholds) -> list[GateCheck]:
    """f1_buy lift: mean Δf1_buy reaches the minimum lift, and the CI lies above 0."""
    floor = thresholds.min_mean_delta_f1
    if deltas.empty:
        return [
            _cannot("f1_buy_lift.mean", floor, "no valid pair"),
            _cannot("f1_buy_lift.ci_low", 0.0, "no valid pair"),
        ]
    mean = float(deltas.mean())
    mean_check = GateCheck(
        "f1_buy_lift.mean",
        mean,
        floor,
        mean >= floor,
        f"mean Δf1_buy {mean:+.4f} over {len(deltas)} pairs (needs ≥ {floor:+.4f})",
    )
    low, high = ci
    if math.isnan(low):
        return [mean_check, _cannot("f1_buy_lift.ci_low", 0.0, f"no CI ({thresholds.inference}) could be computed")]
    ci_check = GateCheck(
        "f1_buy_lift.ci_low",
        low,
        0.0,
        low > 0.0,
        f"{thresholds.inference} CI{thresholds.ci_level * 100:g} of mean Δf1_buy [{low:+.4f}, {high:+.4f}] "
        "(lower bound must be > 0)",
    )
    return [mean_check, ci_check]


def joint_checks(paired: PairedCells, thresholds: GateThresholds) -> list[GateCheck]:
    """Joint gate: trading metrics do not get worse (sortino, expectancy_net up; drawdown bounded)."""
    conditions = (
        ("sortino", thresholds.min_mean_delta_sortino, True),
        ("expectancy_net", thresholds.min_mean_delta_expectancy_net, True),
        ("max_drawdown", thresholds.max_mean_delta_max_drawdown, False),
    )
    checks = []
    for metric, threshold, at_least in conditions:
        name = f"joint.{metric}"
        deltas = paired.deltas(metric)
        if deltas.empty:
            checks.append(_cannot(name, threshold, f"no pair with a finite {metric} on both sides"))
            continue
        mean = float(deltas.mean())
        passed = mean >= threshold if at_least else mean <= threshold
        rule = "≥" if at_least else "≤"
        checks.append(
            GateCheck(
                name,
                mean,
                threshold,
                passed,
                f"mean Δ{metric} {mean:+.4f} over {len(deltas)} of {paired.n} pairs (needs {rule} {threshold:+.4f})",
            )
        )
    return checks


def calibration_check(paired: PairedCells, thresholds: GateThresholds) -> GateCheck:
    """Calibration: mean ECE_HOLD of the variant ≤ the baseline's + tolerance.

    ECE_HOLD exactly 0.0 cannot happen on real test data (ECE computed on soft labels once returned
    0.0): a side with such a paired row, or with no finite ECE_HOLD at all, makes the gate
    not evaluable instead of a pass.
    """
    name, tolerance = "calibration", thresholds.calibration_tolerance
    if paired.n == 0:
        return _cannot(name, tolerance, "no valid pair")
    for side, frame in (("baseline", paired.baseline), ("variant", paired.variant)):
        ece = frame["ece_hold"].astype(float)
        zeros = int((ece == 0.0).sum())
        if zeros:
            return _cannot(name, tolerance, f"{side} ECE_HOLD is exactly 0.0 on {zeros} of {paired.n} paired rows")
        if bool(ece.isna().all()):
            return _cannot(name, tolerance, f"{side} ECE_HOLD is missing on every paired row")
    base, var = paired.sides("ece_hold")
    if base.empty:
        return _cannot(name, tolerance, "no pair with a finite ECE_HOLD on both sides")
    gap = float(var.mean() - base.mean())
    return GateCheck(
        name,
        gap,
        tolerance,
        gap <= tolerance,
        f"mean ECE_HOLD {var.mean():.4f} vs baseline {base.mean():.4f} over {len(base)} pairs: "
        f"gap {gap:+.4f} (needs ≤ {tolerance:+.4f})",
    )


def stability_check(deltas: pd.Series, thresholds: GateThresholds) -> GateCheck:
    """Stability: for every crypto, the variance (ddof=1) of Δf1_buy across its folds is bounded."""
    name, ceiling = "stability", thresholds.stability_max_variance
    variances = deltas.groupby(level="crypto").var(ddof=1).dropna()
    if variances.empty:
        return _cannot(name, ceiling, "no crypto has 2 or more valid folds")
    worst = str(variances.idxmax())
    observed = float(variances.max())
    too_few = sorted(set(deltas.index.get_level_values("crypto")) - set(variances.index))
    skipped = f"; skipped (fewer than 2 folds): {too_few}" if too_few else ""
    return GateCheck(
        name,
        observed,
        ceiling,
        observed <= ceiling,
        f"largest per-crypto variance of Δf1_buy across folds {observed:.4f} ({worst}); "
        f"every crypto needs ≤ {ceiling:.4f}{skipped}",
    )


def per_asset_check(deltas: pd.Series, universe_size: int, thresholds: GateThresholds) -> tuple[GateCheck, int]:
    """Per-asset: share of the universe whose mean Δf1_buy is > 0; also returns that count.

    Cryptos of the universe with no valid pair count as not improving.
    """
    floor = thresholds.per_asset_min_share
    means = deltas.groupby(level="crypto").mean()
    improving = sorted(str(c) for c in means[means > 0.0].index)
    share = len(improving) / universe_size
    check = GateCheck(
        "per_asset",
        share,
        floor,
        share >= floor,
        f"{len(improving)}/{universe_size} cryptos have mean Δf1_buy > 0 (needs ≥ {floor:.0%})"
        + (f": {improving}" if improving else ""),
    )
    return check, len(improving)


def density_check(paired: PairedCells, thresholds: GateThresholds) -> GateCheck:
    """Density: mean number of variant BUY trades per fold over the pairs reaches the minimum."""
    name, floor = "density", thresholds.density_min_mean_trades
    trades = paired.variant["n_trades"].astype(float)
    trades = trades[trades.map(math.isfinite)]
    if trades.empty:
        return _cannot(name, floor, "no pair with a finite variant n_trades")
    mean = float(trades.mean())
    return GateCheck(
        name,
        mean,
        floor,
        mean >= floor,
        f"mean variant BUY trades per fold {mean:.1f} over {len(trades)} pairs (needs ≥ {floor:g})",
    )


def effect_size_check(cohens_d: float, thresholds: GateThresholds) -> GateCheck:
    """Effect size: paired Cohen's d of Δf1_buy reaches the minimum."""
    name, floor = "effect_size", thresholds.min_cohens_d
    if math.isnan(cohens_d):
        return _cannot(name, floor, "Cohen's d undefined (fewer than 2 pairs or every Δf1_buy equal)")
    return GateCheck(name, cohens_d, floor, cohens_d >= floor, f"paired Cohen's d {cohens_d:+.3f} (needs ≥ {floor:g})")


def significance_check(p_value: float, p_adjusted: float, note: str, m: int, thresholds: GateThresholds) -> GateCheck:
    """Significance: the p-value of the gate's inference method, Benjamini–Hochberg adjusted, below alpha."""
    name, alpha = "significance", thresholds.alpha
    if math.isnan(p_adjusted):
        return _cannot(name, alpha, f"no p-value: {note}")
    return GateCheck(
        name,
        p_adjusted,
        alpha,
        p_adjusted < alpha,
        f"p {p_value:.3g} ({note}); Benjamini–Hochberg over {m} variant(s): {p_adjusted:.3g} (needs < {alpha:g})",
    )
