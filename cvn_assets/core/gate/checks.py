"""The individual gates, each turning paired cells into one or more `GateCheck`s."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from cvn_assets.core.gate.pairs import PairedCells
from cvn_assets.core.gate.thresholds import GateThresholds


@dataclass(frozen=True)
class GateCheck:
    """One gate condition: what was observed, what it is compared with, and the outcome.

    `passed` is None when the condition cannot be evaluated (no usable data); that is not a pass.
    """

    name: str
    observed: float
    threshold: float
    passed: bool | None
    detail: str


def _cannot(name: str, threshold: float, detail: str) -> GateCheck:
    return GateCheck(name, math.nan, threshold, None, f"cannot evaluate: {detail}")


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
        "f1_buy_lift.mean", mean, floor, mean >= floor,
        f"mean Δf1_buy {mean:+.4f} over {len(deltas)} pairs (needs ≥ {floor:+.4f})",
    )
    low, high = ci
    if math.isnan(low):
        return [mean_check, _cannot("f1_buy_lift.ci_low", 0.0, "fewer than 2 pairs for a bootstrap CI")]
    ci_check = GateCheck(
        "f1_buy_lift.ci_low", low, 0.0, low > 0.0,
        f"bootstrap CI{thresholds.ci_level * 100:g} of mean Δf1_buy [{low:+.4f}, {high:+.4f}] "
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
        checks.append(GateCheck(
            name, mean, threshold, passed,
            f"mean Δ{metric} {mean:+.4f} over {len(deltas)} of {paired.n} pairs (needs {rule} {threshold:+.4f})",
        ))
    return checks


def calibration_check(paired: PairedCells, thresholds: GateThresholds) -> GateCheck:
    """Calibration: mean ECE_HOLD of the variant ≤ the baseline's + tolerance.

    A side whose ECE_HOLD is NaN or exactly 0.0 on every paired row is degenerate (ECE computed on
    soft labels once returned 0.0), so the gate reports "cannot evaluate" instead of a pass.
    """
    name, tolerance = "calibration", thresholds.calibration_tolerance
    if paired.n == 0:
        return _cannot(name, tolerance, "no valid pair")
    for side, frame in (("baseline", paired.baseline), ("variant", paired.variant)):
        ece = frame["ece_hold"].astype(float)
        if bool((ece.isna() | (ece == 0.0)).all()):
            return _cannot(name, tolerance, f"{side} ECE_HOLD is NaN or exactly 0.0 on every paired row")
    base, var = paired.sides("ece_hold")
    if base.empty:
        return _cannot(name, tolerance, "no pair with a finite ECE_HOLD on both sides")
    gap = float(var.mean() - base.mean())
    return GateCheck(
        name, gap, tolerance, gap <= tolerance,
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
        name, observed, ceiling, observed <= ceiling,
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
        "per_asset", share, floor, share >= floor,
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
        name, mean, floor, mean >= floor,
        f"mean variant BUY trades per fold {mean:.1f} over {len(trades)} pairs (needs ≥ {floor:g})",
    )


def effect_size_check(cohens_d: float, thresholds: GateThresholds) -> GateCheck:
    """Effect size: paired Cohen's d of Δf1_buy reaches the minimum."""
    name, floor = "effect_size", thresholds.min_cohens_d
    if math.isnan(cohens_d):
        return _cannot(name, floor, "Cohen's d undefined (fewer than 2 pairs or every Δf1_buy equal)")
    return GateCheck(name, cohens_d, floor, cohens_d >= floor, f"paired Cohen's d {cohens_d:+.3f} (needs ≥ {floor:g})")


def significance_check(p_value: float, p_adjusted: float, note: str, m: int, thresholds: GateThresholds) -> GateCheck:
    """Significance: Benjamini–Hochberg adjusted Wilcoxon p below alpha."""
    name, alpha = "significance", thresholds.alpha
    if math.isnan(p_adjusted):
        return _cannot(name, alpha, "no valid pair for the Wilcoxon test")
    return GateCheck(
        name, p_adjusted, alpha, p_adjusted < alpha,
        f"Wilcoxon p {p_value:.3g} ({note}); Benjamini–Hochberg over {m} variant(s): "
        f"{p_adjusted:.3g} (needs < {alpha:g})",
    )
