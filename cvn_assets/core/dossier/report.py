"""The dossier's sections as document blocks: verdicts, gate table, thresholds, figures, tables, lineage."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection

import numpy as np

import cvn_assets.core.dossier.formatting as fmt
from cvn_assets.core.dossier.build import Dossier
from cvn_assets.core.dossier.document import Block, Bullets, Heading, Image, Paragraph, Table
from cvn_assets.core.dossier.figure_names import CONFIDENCE_INTERVALS, HEATMAP, RELIABILITY
from cvn_assets.core.gate.checks import NOT_EVALUABLE
from cvn_assets.core.gate.error_rates import method_statement

# A catalogue snapshot is long; the report shows its start, the verdict's metadata keeps all of it.
NOTHING_GATED = "No variant was gated, so there is nothing to show here."
SKILL_MISSING_NOTE = (
    "The results table records no `buy_signal_rate` or `f1_lift_over_always_buy` (it was written "
    "before they existed), so skill against always-BUY cannot be counted."
)


def dossier_title(dossier: Dossier) -> str:
    sweep = f" — sweep {dossier.sweep_id}" if dossier.sweep_id else ""
    return f"Results dossier: {dossier.factor}{sweep}"


def dossier_blocks(dossier: Dossier, figures: Collection[str]) -> list[Block]:
    """Every section of the dossier; an image block only for a figure in `figures`."""
    return [
        Heading(1, dossier_title(dossier)),
        Paragraph(
            f"Each variant is compared with the baseline `{dossier.baseline}` on the (crypto, fold) cells "
            f"where both are `ok`. Figures and detailed tables are for model `{dossier.model}`; the verdict "
            f"table covers every model gated ({', '.join(f'`{m}`' for m in dossier.models) or 'none'})."
        ),
        *_verdicts(dossier),
        *_skill(dossier),
        *_gate_tables(dossier),
        *_thresholds(dossier),
        *_figure_section(
            "Δf1_buy per crypto × fold",
            HEATMAP,
            figures,
            dossier,
            "Δf1_buy heat map: variant minus baseline per crypto and fold, one panel per variant",
        ),
        *_reliability(dossier, figures),
        *_figure_section(
            "Confidence intervals",
            CONFIDENCE_INTERVALS,
            figures,
            dossier,
            f"Mean Δf1_buy per variant with its confidence interval ({dossier.thresholds.inference})",
        ),
        *_per_crypto(dossier),
        *_excluded(dossier),
        *_minimum_detectable_effect(dossier),
        *_lineage(dossier),
    ]


def _verdicts(dossier: Dossier) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Verdicts")]
    summary = dossier.summary
    if summary.empty:
        return [*blocks, Paragraph(NOTHING_GATED)]
    if "mean_delta_f1_buy" not in summary.columns:  # a joint rule whose candidate did not run
        blocks.append(Table(tuple(map(str, summary.columns)), fmt.table_rows(summary.astype(str))))
    else:
        skill = {
            (str(r.variant), str(r.model)): f"{r.cells_with_skill}/{r.cells}"
            for r in dossier.skill.itertuples(index=False)
            if not r.not_recorded
        }
        columns = (
            "variant",
            "model",
            "verdict",
            "cells with skill",
            "pairs",
            "mean Δf1_buy",
            "CI",
            "Cohen's d",
            "p (BH)",
            "cryptos improving",
            "MDE",
            "failed gates",
            NOT_EVALUABLE,
        )
        rows = tuple(
            (
                str(r.variant),
                str(r.model),
                str(r.verdict),
                skill.get((str(r.variant), str(r.model)), "n/a"),
                str(r.n_pairs),
                fmt.number_text(r.mean_delta_f1_buy, "+.4f"),
                fmt.interval_text(r.ci_low, r.ci_high),
                fmt.number_text(r.cohens_d, "+.2f"),
                fmt.number_text(r.p_adjusted, ".3g"),
                str(r.cryptos_improving),
                fmt.number_text(r.mde, ".4f"),
                str(r.failed_gates) or "-",
                str(r.not_evaluable) or "-",
            )
            for r in summary.itertuples(index=False)
        )
        blocks.append(Table(columns, rows))
    if dossier.decision_reasons:
        blocks += [Paragraph("Joint rule decision:"), Bullets(tuple(dossier.decision_reasons))]
    return blocks


def _skill(dossier: Dossier) -> list[Block]:
    rule = dossier.skill_thresholds
    blocks: list[Block] = [
        Heading(2, "Skill against always-BUY"),
        Paragraph(
            f"Signalling BUY on every test bar scores an F1 of 2π/(1+π), π the test BUY rate. A model has "
            f"skill on a cell when its f1_buy beats that by more than {rule.min_f1_lift:g} and it signals BUY "
            f"on at most {rule.max_buy_signal_rate:.0%} of the test bars; a failed cell has none. Lifts "
            f"between variants without skill compare models that do no better than the trivial rule."
        ),
    ]
    if dossier.skill.empty:
        return [*blocks, Paragraph(NOTHING_GATED)]
    if dossier.skill["mean_buy_signal_rate"].isna().all():
        return [*blocks, Paragraph(SKILL_MISSING_NOTE)]
    columns = ("variant", "model", "skill", "mean f1_buy", "mean always-BUY F1", "mean lift", "mean BUY signal rate")
    rows = tuple(
        (
            str(r.variant),
            str(r.model),
            str(r.skill),
            fmt.number_text(r.mean_f1_buy, ".4f"),
            fmt.number_text(r.mean_always_buy_f1, ".4f"),
            fmt.number_text(r.mean_f1_lift_over_always_buy, "+.4f"),
            fmt.number_text(r.mean_buy_signal_rate, ".1%"),
        )
        for r in dossier.skill.itertuples(index=False)
    )
    return [*blocks, Table(columns, rows)]


def _gate_tables(dossier: Dossier) -> list[Block]:
    blocks: list[Block] = [Heading(2, f"Gate table ({dossier.model})")]
    if not dossier.variants:
        return [*blocks, Paragraph(NOTHING_GATED)]
    for detail in dossier.variants:
        verdict = detail.verdict
        rows = tuple(
            (
                check.name,
                fmt.number_text(check.observed, ".4g"),
                fmt.number_text(check.threshold, ".4g"),
                fmt.outcome_text(check.passed),
                check.detail,
            )
            for check in verdict.checks
        )
        blocks += [
            Heading(3, f"{verdict.variant}: {verdict.verdict}"),
            Table(("gate", "observed", "threshold", "result", "detail"), rows),
            Bullets(tuple(verdict.reasons)),
        ]
    return blocks


def _thresholds(dossier: Dossier) -> list[Block]:
    rows = tuple(
        (field.name, fmt.setting_text(getattr(dossier.thresholds, field.name)))
        for field in dataclasses.fields(dossier.thresholds)
    )
    return [
        Heading(2, "Thresholds"),
        Paragraph(method_statement(dossier.thresholds.inference)),
        Table(("threshold", "value"), rows),
    ]


def _figure_section(title: str, name: str, figures: Collection[str], dossier: Dossier, caption: str) -> list[Block]:
    if name in figures:
        return [Heading(2, title), Image(name, caption)]
    return [Heading(2, title), Paragraph(NOTHING_GATED if not dossier.variants else "No data to draw.")]


def _reliability(dossier: Dossier, figures: Collection[str]) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Reliability diagrams")]
    if dossier.reliability_note:
        return [*blocks, Paragraph(dossier.reliability_note)]
    if RELIABILITY not in figures:
        reason = NOTHING_GATED if not dossier.variants else "No paired cell has reliability bins recorded."
        return [*blocks, Paragraph(reason)]
    return [
        *blocks,
        Paragraph(
            "Test-window predictions pooled over each variant's paired cells (bin counts summed, bin "
            "means weighted by their counts); the closer to the diagonal, the better calibrated."
        ),
        Image(RELIABILITY, "Reliability diagrams: baseline vs each variant"),
    ]


def _per_crypto(dossier: Dossier) -> list[Block]:
    blocks: list[Block] = [Heading(2, f"Per crypto ({dossier.model})")]
    rows = []
    for detail in dossier.variants:
        pairs = detail.pairs
        for crypto in dossier.cryptos:
            cells = pairs[pairs.index.get_level_values("crypto") == crypto] if len(pairs) else pairs
            deltas = cells["delta_f1_buy"].to_numpy(dtype=float)
            mean = float(deltas.mean()) if deltas.size else math.nan
            variance = float(np.var(deltas, ddof=1)) if deltas.size >= 2 else math.nan
            rows.append(
                (
                    detail.verdict.variant,
                    crypto,
                    str(deltas.size),
                    fmt.mean_text(cells["baseline_f1_buy"]),
                    fmt.mean_text(cells["variant_f1_buy"]),
                    fmt.number_text(mean, "+.4f"),
                    fmt.number_text(variance, ".5f"),
                    "-" if math.isnan(mean) else ("yes" if mean > 0.0 else "no"),
                )
            )
    if not rows:
        return [*blocks, Paragraph(NOTHING_GATED)]
    columns = (
        "variant",
        "crypto",
        "pairs",
        "baseline f1_buy",
        "variant f1_buy",
        "mean Δf1_buy",
        "variance of Δ across folds",
        "improving",
    )
    return [*blocks, Table(columns, tuple(rows))]


def _excluded(dossier: Dossier) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Excluded cells")]
    if dossier.excluded.empty:
        return [*blocks, Paragraph("None: every cell paired, and no blocking check failed.")]
    return [
        *blocks,
        Paragraph(
            "Cells left out of the pairs (a side failed or has no finite f1_buy) and cells "
            "failing a blocking sanity check."
        ),
        Table(tuple(dossier.excluded.columns), fmt.table_rows(dossier.excluded)),
    ]


def _minimum_detectable_effect(dossier: Dossier) -> list[Block]:
    thresholds = dossier.thresholds
    blocks: list[Block] = [
        Heading(2, "Minimum detectable effect"),
        Paragraph(
            f"Smallest true mean Δf1_buy the gate's test ({thresholds.inference}) at two-sided α "
            f"{thresholds.alpha:g} detects with power {thresholds.mde_power:.0%}, given the observed spread "
            "of Δf1_buy (between cryptos, unless the inference treats cells as independent); compare it with "
            f"the required lift {thresholds.min_mean_delta_f1:+.4f}."
        ),
    ]
    if not dossier.variants:
        return [*blocks, Paragraph(NOTHING_GATED)]
    rows = []
    for detail in dossier.variants:
        verdict = detail.verdict
        deltas = detail.pairs["delta_f1_buy"].to_numpy(dtype=float)
        sd = float(np.std(deltas, ddof=1)) if deltas.size >= 2 else math.nan
        detectable = {True: "yes", False: "no", None: "unknown"}[verdict.lift_detectable]
        rows.append(
            (
                verdict.variant,
                str(verdict.n_pairs),
                fmt.number_text(sd, ".4f"),
                fmt.number_text(verdict.mde, ".4f"),
                f"{thresholds.min_mean_delta_f1:+.4f}",
                detectable,
            )
        )
    columns = ("variant", "pairs", "sd of Δf1_buy", "MDE", "required lift", "lift detectable")
    return [*blocks, Table(columns, tuple(rows))]


def _lineage(dossier: Dossier) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Lineage")]
    if not dossier.lineage:
        return [*blocks, Paragraph("No lineage recorded for this verdict.")]
    return [*blocks, Table(("item", "value"), tuple((k, fmt.clip(v)) for k, v in dossier.lineage.items()))]
