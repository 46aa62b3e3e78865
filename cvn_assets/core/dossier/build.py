"""The content of a factor's results dossier, computed from results rows with the gate's own code."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from cvn_assets.core.catalogue.configs import JOINT_BASELINE_VARIANT
from cvn_assets.core.catalogue.loading import Catalogue
from cvn_assets.core.checks.sanity import degenerate_metric_failures
from cvn_assets.core.dossier.calibration import RELIABILITY_COLUMN, PooledBins, pool_reliability_bins
from cvn_assets.core.dossier.source import normalise_results
from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.gate import FactorVerdict, GateThresholds, VariantVerdict
from cvn_assets.core.gate.blocking import SECONDARY_GATE_OF_METRIC
from cvn_assets.core.gate.pairs import PRIMARY_METRIC, pair_cells
from cvn_assets.core.gate.sweep import JointDecision, evaluate_joint, evaluate_single_factor, gate_table
from cvn_assets.core.metrics.skill import SkillThresholds, skill_counts
from cvn_assets.core.schema import STATUS_OK
from cvn_assets.core.secrets import redact

PAIR_COLUMNS: tuple[str, ...] = ("baseline_f1_buy", "variant_f1_buy", "delta_f1_buy")
EXCLUDED_COLUMNS: tuple[str, ...] = ("variant", "crypto", "fold", "reason")
RELIABILITY_MISSING_NOTE = (
    f"The results table has no `{RELIABILITY_COLUMN}` column (for example a table imported from an older "
    "system), so no reliability diagram can be drawn."
)


@dataclass(frozen=True)
class VariantDetail:
    """One gated variant of the detail model: its verdict, its pairs and its pooled reliability bins."""

    verdict: VariantVerdict
    pairs: pd.DataFrame
    baseline_bins: PooledBins | None
    variant_bins: PooledBins | None


@dataclass(frozen=True)
class Dossier:
    """Everything a factor's dossier shows; pure data, rendered by `write_dossier`."""

    sweep_id: str | None
    factor: str
    baseline: str
    model: str
    models: tuple[str, ...]
    thresholds: GateThresholds
    summary: pd.DataFrame
    skill: pd.DataFrame
    skill_thresholds: SkillThresholds
    variants: tuple[VariantDetail, ...]
    cryptos: tuple[str, ...]
    folds: tuple[str, ...]
    excluded: pd.DataFrame
    reliability_note: str | None
    decision_reasons: tuple[str, ...]
    lineage: Mapping[str, str]


def build_dossier(
    results: pd.DataFrame,
    catalogue: Catalogue,
    factor_name: str,
    lineage: Mapping[str, str] | None = None,
    sweep_id: str | None = None,
) -> Dossier:
    """Gate `factor_name` (a factor or a joint rule of `catalogue`) on `results` and gather what to show.

    Figures and tables are drawn for the catalogue's primary model (or the factor's only model);
    the verdict summary covers every model. `sweep_id` titles the report (default: the table's only
    sweep). Secret-like lineage keys are masked.
    """
    if factor_name not in catalogue.gate_names():
        raise CatalogueError(f"unknown factor {factor_name!r}; the catalogue gates: {catalogue.gate_names()}")
    rows = normalise_results(results)
    if sweep_id is None and "sweep_id" in rows.columns:
        present = sorted({str(s) for s in rows["sweep_id"].dropna()})
        sweep_id = present[0] if len(present) == 1 else None
    verdicts, baseline, decision = _verdicts(catalogue, rows, factor_name)
    factor_rows = rows[rows["factor"] == factor_name]
    model = _detail_model(catalogue, verdicts)
    model_rows = factor_rows[factor_rows["model"] == model]
    has_bins = RELIABILITY_COLUMN in rows.columns
    gated = next((fv.variants for fv in verdicts if fv.model == model), [])
    details = tuple(_detail(v, model_rows, baseline, has_bins) for v in gated)
    return Dossier(
        sweep_id=sweep_id,
        factor=factor_name,
        baseline=baseline,
        model=model or "-",
        models=tuple(fv.model for fv in verdicts),
        thresholds=catalogue.pipeline.gate,
        summary=gate_table(verdicts, decision),
        variants=details,
        skill=_baseline_first(skill_counts(factor_rows, catalogue.pipeline.skill), baseline),
        skill_thresholds=catalogue.pipeline.skill,
        cryptos=_ordered_cryptos(catalogue, factor_rows),
        folds=_ordered_folds(factor_rows),
        excluded=_excluded(details, factor_rows, baseline, model),
        reliability_note=None if has_bins else RELIABILITY_MISSING_NOTE,
        decision_reasons=decision.reasons if decision else (),
        lineage={str(k): str(v) for k, v in sorted(redact(dict(lineage or {})).items())},
    )


def _baseline_first(counts: pd.DataFrame, baseline: str) -> pd.DataFrame:
    return counts.sort_values("variant", key=lambda variants: variants != baseline, kind="stable")


def _verdicts(
    catalogue: Catalogue, rows: pd.DataFrame, name: str
) -> tuple[list[FactorVerdict], str, JointDecision | None]:
    rules = {rule.name: rule for rule in catalogue.joint_rules}
    present = sorted({str(f) for f in rows["factor"].dropna()})
    needed = rules[name].factors if name in rules else (name,)
    absent = [factor for factor in needed if factor not in present]
    if absent:
        raise InsufficientDataError(
            f"factor(s) {absent} have no rows in the results table, so {name!r} cannot be "
            f"gated; factors present: {present}"
        )
    if name in rules:
        verdicts, decision = evaluate_joint(catalogue, rules[name], rows)
        return verdicts, JOINT_BASELINE_VARIANT, decision
    return evaluate_single_factor(catalogue, rows, name), catalogue.factor(name).baseline, None


def _detail_model(catalogue: Catalogue, verdicts: list[FactorVerdict]) -> str | None:
    models = [fv.model for fv in verdicts]
    if not models:
        return None
    return catalogue.primary_model if catalogue.primary_model in models else sorted(models)[0]


def _detail(verdict: VariantVerdict, model_rows: pd.DataFrame, baseline: str, has_bins: bool) -> VariantDetail:
    paired = pair_cells(model_rows, baseline, verdict.variant)
    base, var = paired.sides(PRIMARY_METRIC)
    pairs = pd.DataFrame(
        {"baseline_f1_buy": base, "variant_f1_buy": var, "delta_f1_buy": var - base}, columns=list(PAIR_COLUMNS)
    )
    if not has_bins:
        return VariantDetail(verdict, pairs, None, None)
    cells = list(pairs.index)
    return VariantDetail(verdict, pairs, _bins(model_rows, baseline, cells), _bins(model_rows, verdict.variant, cells))


def _bins(model_rows: pd.DataFrame, variant: str, cells: list[tuple[str, str]]) -> PooledBins | None:
    side = model_rows[model_rows["variant"] == variant].set_index(["crypto", "fold"])
    documents = [(f"{variant} {crypto} {fold}", side.loc[(crypto, fold), RELIABILITY_COLUMN]) for crypto, fold in cells]
    return pool_reliability_bins(documents)


def _excluded(
    details: tuple[VariantDetail, ...], factor_rows: pd.DataFrame, baseline: str, model: str | None
) -> pd.DataFrame:
    """Cells left out of the pairs (with the failing row's error) and cells failing a blocking check.

    A blocking check fails a variant whichever model it hit, so blocked cells of every model are listed.
    """
    model_rows = factor_rows[factor_rows["model"] == model]
    failed = model_rows[model_rows["status"] != STATUS_OK]
    errors = (
        {
            (str(v), str(c), str(f)): str(e)
            for v, c, f, e in zip(failed["variant"], failed["crypto"], failed["fold"], failed["error"], strict=True)
            if isinstance(e, str)
        }
        if "error" in failed.columns
        else {}
    )
    records = []
    for detail in details:
        variant = detail.verdict.variant
        for crypto, fold, reason in detail.verdict.excluded:
            keys = ((baseline, crypto, str(fold)), (variant, crypto, str(fold)))
            messages = [errors[key] for key in keys if key in errors]
            shown = reason + (f" ({_short('; '.join(messages))})" if messages else "")
            records.append({"variant": variant, "crypto": crypto, "fold": str(fold), "reason": shown})
    for (crypto, fold, variant, blocked_model), metrics in sorted(degenerate_metric_failures(factor_rows).items()):
        gates = sorted({SECONDARY_GATE_OF_METRIC.get(m, "") for m in metrics})
        effect = "verdict INCONCLUSIVE" if "" in gates else f"{', '.join(gates)} not evaluable"
        records.append(
            {
                "variant": variant,
                "crypto": crypto,
                "fold": fold,
                "reason": f"blocking check failed: {', '.join(metrics)} exactly 0.0 on model "
                f"{blocked_model} ({effect})",
            }
        )
    return pd.DataFrame(records, columns=list(EXCLUDED_COLUMNS))


def _short(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _ordered_cryptos(catalogue: Catalogue, rows: pd.DataFrame) -> tuple[str, ...]:
    present = {str(c) for c in rows["crypto"].dropna()}
    return tuple([c for c in catalogue.universe if c in present] + sorted(present - set(catalogue.universe)))


def _ordered_folds(rows: pd.DataFrame) -> tuple[str, ...]:
    return tuple(sorted({str(f) for f in rows["fold"].dropna()}, key=natural_key))


def natural_key(text: str) -> tuple[tuple[int, object], ...]:
    """Sort key that puts f2 before f10."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)
