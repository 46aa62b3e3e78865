"""Gate verdict per variant of a factor against its baseline."""

from __future__ import annotations

import enum
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.gate import checks
from cvn_assets.core.gate.checks import GateCheck
from cvn_assets.core.gate.pairs import PRIMARY_METRIC, PairedCells, pair_cells, select_factor
from cvn_assets.core.gate.statistics import (
    benjamini_hochberg,
    bootstrap_mean_ci,
    cohens_d_paired,
    minimum_detectable_effect,
    wilcoxon_p,
)
from cvn_assets.core.gate.thresholds import GateThresholds

__all__ = ["FactorVerdict", "GateCheck", "Verdict", "VariantVerdict", "evaluate_factor"]

LIFT_MEAN_CHECK = "f1_buy_lift.mean"


class Verdict(enum.StrEnum):
    """Outcome of the gate for one variant."""

    LOCK = "LOCK"
    KEEP_AVAILABLE = "KEEP_AVAILABLE"
    ABANDON = "ABANDON"
    INCONCLUSIVE = "INCONCLUSIVE"


@dataclass(frozen=True)
class VariantVerdict:
    """Gate outcome of one variant of a factor, for one model, with every statistic behind it."""

    factor: str
    variant: str
    model: str
    baseline: str
    verdict: Verdict
    n_pairs: int
    excluded: list[tuple[str, Hashable, str]]
    checks: list[GateCheck]
    mean_delta_f1: float
    ci_low: float
    ci_high: float
    cohens_d: float
    p_value: float
    p_adjusted: float
    mde: float
    cryptos_improving: int
    universe_size: int
    reasons: list[str]

    @property
    def failed_gates(self) -> list[str]:
        """Names of the checks that were evaluated and failed."""
        return [c.name for c in self.checks if c.passed is False]

    @property
    def unevaluated_gates(self) -> list[str]:
        """Names of the checks that could not be evaluated."""
        return [c.name for c in self.checks if c.passed is None]

    @property
    def lift_detectable(self) -> bool | None:
        """Whether the sweep could detect the required f1_buy lift (MDE ≤ lift); None if unknown."""
        if math.isnan(self.mde):
            return None
        floor = next(c.threshold for c in self.checks if c.name == LIFT_MEAN_CHECK)
        return self.mde <= floor


@dataclass(frozen=True)
class FactorVerdict:
    """Gate outcomes of every gated variant of a factor for one model."""

    factor: str
    baseline: str
    model: str
    variants: list[VariantVerdict]


@dataclass(frozen=True)
class _PairedStatistics:
    paired: PairedCells
    deltas: pd.Series
    ci: tuple[float, float]
    cohens_d: float
    p_value: float
    p_note: str
    mde: float


def evaluate_factor(
    results: pd.DataFrame,
    factor: str,
    baseline: str,
    variants: Sequence[str] | None = None,
    model: str | None = None,
    universe_size: int | None = None,
    thresholds: GateThresholds = GateThresholds(),
    blocking_failures: Mapping[str, list[str]] | None = None,
) -> list[FactorVerdict]:
    """Gate each non-baseline variant of `factor` against `baseline`, one `FactorVerdict` per model.

    `variants` restricts which variants are reported; Benjamini–Hochberg still corrects over every
    non-baseline variant of the factor present for the model. `universe_size` defaults to the
    number of distinct cryptos in the factor's rows. `blocking_failures` maps a variant to the names
    of its failed blocking checks; failures listed under the baseline make every variant
    INCONCLUSIVE, since the comparison itself is then invalid.
    """
    rows, wanted, others = select_factor(results, factor, baseline, variants)
    universe = _universe_size(rows, factor, universe_size)
    blocking = blocking_failures or {}
    models = sorted(map(str, rows["model"].dropna().unique()))
    if model is not None:
        if model not in models:
            raise InsufficientDataError(f"factor {factor!r}: model {model!r} has no rows; models present: {models}")
        models = [model]
    verdicts = []
    for name in models:
        model_rows = rows[rows["model"] == name]
        present = set(model_rows["variant"])
        absent = [v for v in [baseline, *wanted] if v not in present]
        if absent:
            raise InsufficientDataError(
                f"factor {factor!r}, model {name!r}: variant(s) {absent} have no rows; "
                f"variants present: {sorted(present)}"
            )
        tested = [v for v in others if v in present]
        statistics = {v: _paired_statistics(pair_cells(model_rows, baseline, v), thresholds) for v in tested}
        adjusted = dict(zip(tested, benjamini_hochberg([statistics[v].p_value for v in tested]), strict=True))
        blocked_baseline = list(blocking.get(baseline, []))
        results_for_model = [
            _variant_verdict(
                factor, v, name, baseline, statistics[v], float(adjusted[v]), len(tested), universe, thresholds,
                [*(f"baseline {c}" for c in blocked_baseline), *blocking.get(v, [])],
            )
            for v in wanted
        ]
        verdicts.append(FactorVerdict(factor, baseline, name, results_for_model))
    return verdicts


def _universe_size(rows: pd.DataFrame, factor: str, universe_size: int | None) -> int:
    seen = int(rows["crypto"].nunique())
    if universe_size is None:
        return seen
    if universe_size < max(seen, 1):
        raise CatalogueError(
            f"universe_size {universe_size} is smaller than the {seen} crypto(s) in the results of factor {factor!r}"
        )
    return universe_size


def _paired_statistics(paired: PairedCells, thresholds: GateThresholds) -> _PairedStatistics:
    deltas = paired.deltas(PRIMARY_METRIC)
    values = deltas.to_numpy(dtype=float)
    ci, d, mde = (math.nan, math.nan), math.nan, math.nan
    if values.size >= 2:
        ci = bootstrap_mean_ci(values, thresholds.bootstrap_resamples, thresholds.ci_level, thresholds.bootstrap_seed)
        d = cohens_d_paired(values)
        sd = float(np.std(values, ddof=1))
        mde = minimum_detectable_effect(sd, values.size, thresholds.alpha, thresholds.mde_power)
    p_value, note = math.nan, "no valid pair"
    if values.size >= 1:
        wilcoxon = wilcoxon_p(values)
        p_value, note = wilcoxon.p_value, wilcoxon.note
    return _PairedStatistics(paired, deltas, ci, d, p_value, note, mde)


def _variant_verdict(
    factor: str,
    variant: str,
    model: str,
    baseline: str,
    stats: _PairedStatistics,
    p_adjusted: float,
    n_tested: int,
    universe: int,
    thresholds: GateThresholds,
    blocking: list[str],
) -> VariantVerdict:
    per_asset, improving = checks.per_asset_check(stats.deltas, universe, thresholds)
    gate_checks = [
        *checks.lift_checks(stats.deltas, stats.ci, thresholds),
        *checks.joint_checks(stats.paired, thresholds),
        checks.calibration_check(stats.paired, thresholds),
        checks.stability_check(stats.deltas, thresholds),
        per_asset,
        checks.density_check(stats.paired, thresholds),
        checks.effect_size_check(stats.cohens_d, thresholds),
        checks.significance_check(stats.p_value, p_adjusted, stats.p_note, n_tested, thresholds),
    ]
    n_pairs = stats.paired.n
    mean = float(stats.deltas.mean()) if n_pairs else math.nan
    verdict, reasons = _decide(n_pairs, mean, stats.ci, gate_checks, blocking, thresholds)
    if stats.paired.excluded:
        reasons.append(f"{len(stats.paired.excluded)} cell(s) excluded from the pairs (see excluded)")
    reasons.append(_mde_reason(stats.mde, n_pairs, thresholds))
    return VariantVerdict(
        factor=factor, variant=variant, model=model, baseline=baseline, verdict=verdict, n_pairs=n_pairs,
        excluded=list(stats.paired.excluded), checks=gate_checks, mean_delta_f1=mean,
        ci_low=stats.ci[0], ci_high=stats.ci[1], cohens_d=stats.cohens_d, p_value=stats.p_value,
        p_adjusted=p_adjusted, mde=stats.mde, cryptos_improving=improving, universe_size=universe, reasons=reasons,
    )


def _decide(
    n_pairs: int,
    mean: float,
    ci: tuple[float, float],
    gate_checks: list[GateCheck],
    blocking: list[str],
    thresholds: GateThresholds,
) -> tuple[Verdict, list[str]]:
    """Verdict order: INCONCLUSIVE, then ABANDON, then LOCK, else KEEP_AVAILABLE."""
    reasons = []
    if n_pairs < thresholds.min_valid_pairs:
        reasons.append(f"only {n_pairs} valid pair(s); at least {thresholds.min_valid_pairs} are needed")
    if blocking:
        reasons.append(f"blocking check(s) failed: {', '.join(blocking)}")
    if reasons:
        return Verdict.INCONCLUSIVE, reasons
    low, high = ci
    level = f"CI{thresholds.ci_level * 100:g}"
    if high < 0.0:
        return Verdict.ABANDON, [
            f"f1_buy regresses: mean Δf1_buy {mean:+.4f}, {level} [{low:+.4f}, {high:+.4f}] lies entirely below 0"
        ]
    failed = [c.name for c in gate_checks if c.passed is False]
    unevaluated = [c.name for c in gate_checks if c.passed is None]
    if not failed and not unevaluated:
        return Verdict.LOCK, [f"every gate passed: mean Δf1_buy {mean:+.4f}, {level} [{low:+.4f}, {high:+.4f}]"]
    if failed:
        reasons.append(f"gate(s) failed: {', '.join(failed)}")
    if unevaluated:
        reasons.append(f"gate(s) that could not be evaluated, so do not count as passed: {', '.join(unevaluated)}")
    reasons.append(f"no significant regression: {level} upper bound {high:+.4f} is not below 0")
    return Verdict.KEEP_AVAILABLE, reasons


def _mde_reason(mde: float, n_pairs: int, thresholds: GateThresholds) -> str:
    if math.isnan(mde):
        return "minimum detectable effect unavailable: fewer than 2 valid pairs"
    floor = thresholds.min_mean_delta_f1
    could = "could" if mde <= floor else "could not"
    return (
        f"minimum detectable effect {mde:.4f} (power {thresholds.mde_power:.0%}, two-sided α {thresholds.alpha:g}, "
        f"{n_pairs} pairs): this sweep {could} detect a lift of {floor:+.4f}"
    )
