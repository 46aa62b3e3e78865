"""Gate verdict per variant of a factor against its baseline."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

import cvn_assets.core.gate.checks as checks
from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.gate.blocking import BlockingFailure, as_failures
from cvn_assets.core.gate.checks import GateCheck
from cvn_assets.core.gate.decision import Verdict, decide
from cvn_assets.core.gate.inference import NOTHING, Inference, infer
from cvn_assets.core.gate.pairs import PRIMARY_METRIC, PairedCells, pair_cells, select_factor
from cvn_assets.core.gate.statistics import benjamini_hochberg, cohens_d_paired
from cvn_assets.core.gate.thresholds import GateThresholds

__all__ = ["FactorVerdict", "GateCheck", "Verdict", "VariantVerdict", "evaluate_factor"]

LIFT_MEAN_CHECK = "f1_buy_lift.mean"


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
    inference: str

    @property
    def failed_gates(self) -> list[str]:
        """Names of the checks that were evaluated and failed."""
        return [c.name for c in self.checks if c.passed is False]

    @property
    def not_evaluable_gates(self) -> list[str]:
        """Names of the checks that were not evaluable."""
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
    inference: Inference
    cohens_d: float


def evaluate_factor(
    results: pd.DataFrame,
    factor: str,
    baseline: str,
    variants: Sequence[str] | None = None,
    model: str | None = None,
    universe_size: int | None = None,
    thresholds: GateThresholds = GateThresholds(),
    blocking_failures: Mapping[str, Sequence[str | BlockingFailure]] | None = None,
) -> list[FactorVerdict]:
    """Gate each non-baseline variant of `factor` against `baseline`, one `FactorVerdict` per model.

    `variants` restricts which variants are reported; Benjamini–Hochberg still corrects over every
    non-baseline variant of the factor present for the model. `universe_size` defaults to the
    number of distinct cryptos in the factor's rows. `blocking_failures` maps a variant to its
    failed blocking checks: one that invalidates f1_buy (a plain name does) makes the verdict
    INCONCLUSIVE, one bound to a secondary gate makes only that gate not evaluable. Failures listed
    under the baseline apply to every variant, since the comparison itself is then affected.
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
        adjusted = dict(zip(tested, benjamini_hochberg([statistics[v].inference.p_value for v in tested]), strict=True))
        blocked_baseline = [
            BlockingFailure(f"baseline {f.check}", f.gate) for f in as_failures(blocking.get(baseline, []))
        ]
        results_for_model = [
            _variant_verdict(
                factor,
                v,
                name,
                baseline,
                statistics[v],
                float(adjusted[v]),
                len(tested),
                universe,
                thresholds,
                [*blocked_baseline, *as_failures(blocking.get(v, []))],
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
    if deltas.empty:
        return _PairedStatistics(paired, deltas, NOTHING, math.nan)
    return _PairedStatistics(paired, deltas, infer(deltas, thresholds), cohens_d_paired(deltas.to_numpy(dtype=float)))


def primary_checks(
    deltas: pd.Series,
    inference: Inference,
    cohens_d: float,
    p_adjusted: float,
    n_tested: int,
    universe: int,
    thresholds: GateThresholds,
) -> tuple[list[GateCheck], int]:
    """The gates decided by Δf1_buy alone (lift, stability, per-asset, effect size, significance), in
    the gate table's order, and the number of cryptos improving."""
    per_asset, improving = checks.per_asset_check(deltas, universe, thresholds)
    lift = checks.lift_checks(deltas, inference.ci, thresholds)
    significance = checks.significance_check(inference.p_value, p_adjusted, inference.p_note, n_tested, thresholds)
    rest = [checks.stability_check(deltas, thresholds), per_asset, checks.effect_size_check(cohens_d, thresholds)]
    return [*lift, *rest, significance], improving


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
    blocking: list[BlockingFailure],
) -> VariantVerdict:
    primary, improving = primary_checks(
        stats.deltas, stats.inference, stats.cohens_d, p_adjusted, n_tested, universe, thresholds
    )
    lift, (stability, per_asset, effect_size, significance) = primary[:2], primary[2:]
    gate_checks = [
        *lift,
        *checks.joint_checks(stats.paired, thresholds),
        checks.calibration_check(stats.paired, thresholds),
        stability,
        per_asset,
        checks.density_check(stats.paired, thresholds),
        effect_size,
        significance,
    ]
    gate_checks = _without_blocked_gates(gate_checks, blocking)
    n_pairs = stats.paired.n
    mean = float(stats.deltas.mean()) if n_pairs else math.nan
    problems = [
        *(f"blocking check(s) failed: {f.check}" for f in blocking if f.gate is None),
        *_degenerate_primary(stats.paired),
    ]
    verdict, reasons = decide(n_pairs, mean, stats.inference.ci, gate_checks, problems, thresholds)
    if stats.paired.excluded:
        reasons.append(f"{len(stats.paired.excluded)} cell(s) excluded from the pairs (see excluded)")
    reasons.append(_mde_reason(stats.inference.mde, n_pairs, thresholds))
    return VariantVerdict(
        factor=factor,
        variant=variant,
        model=model,
        baseline=baseline,
        verdict=verdict,
        n_pairs=n_pairs,
        excluded=list(stats.paired.excluded),
        checks=gate_checks,
        mean_delta_f1=mean,
        ci_low=stats.inference.ci[0],
        ci_high=stats.inference.ci[1],
        cohens_d=stats.cohens_d,
        p_value=stats.inference.p_value,
        p_adjusted=p_adjusted,
        mde=stats.inference.mde,
        cryptos_improving=improving,
        universe_size=universe,
        reasons=reasons,
        inference=thresholds.inference,
    )


def _without_blocked_gates(gate_checks: list[GateCheck], blocking: list[BlockingFailure]) -> list[GateCheck]:
    """Each check of a gate named by a secondary blocking failure, made not evaluable."""
    by_gate: dict[str, list[str]] = {}
    for failure in blocking:
        if failure.gate is not None:
            by_gate.setdefault(failure.gate, []).append(failure.check)
    return [
        checks.not_evaluable(c, by_gate[c.name.split(".")[0]]) if c.name.split(".")[0] in by_gate else c
        for c in gate_checks
    ]


def _degenerate_primary(paired: PairedCells) -> list[str]:
    """f1_buy taking one single value on every paired row of a side: that side's model made the same
    call in every window (0.0 everywhere: it never predicted BUY), so there is nothing to compare."""
    problems = []
    for side, frame in (("baseline", paired.baseline), ("variant", paired.variant)):
        values = frame[PRIMARY_METRIC].to_numpy(dtype=float)
        if values.size >= 2 and float(values.max() - values.min()) == 0.0:
            problems.append(f"f1_buy is degenerate: the {side} reads {values[0]:g} on every one of {values.size} pairs")
    return problems


def _mde_reason(mde: float, n_pairs: int, thresholds: GateThresholds) -> str:
    if math.isnan(mde):
        return "minimum detectable effect unavailable: too few valid pairs or cryptos"
    floor = thresholds.min_mean_delta_f1
    could = "could" if mde <= floor else "could not"
    return (
        f"minimum detectable effect {mde:.4f} (power {thresholds.mde_power:.0%}, two-sided α {thresholds.alpha:g}, "
        f"{thresholds.inference}, {n_pairs} pairs): this sweep {could} detect a lift of {floor:+.4f}"
    )
