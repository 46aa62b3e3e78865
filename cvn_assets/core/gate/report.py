"""Gate verdicts as a table, as terminal text and as a JSON-ready dictionary."""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import pandas as pd

from cvn_assets.core.gate.checks import NOT_EVALUABLE, outcome
from cvn_assets.core.gate.evaluate import FactorVerdict, VariantVerdict
from cvn_assets.core.gate.inference import METHOD_LABELS

TABLE_COLUMNS: tuple[str, ...] = (
    "factor",
    "variant",
    "model",
    "baseline",
    "verdict",
    "n_pairs",
    "mean_delta_f1_buy",
    "ci_low",
    "ci_high",
    "cohens_d",
    "p_adjusted",
    "cryptos_improving",
    "mde",
    "failed_gates",
    "not_evaluable",
    "inference",
)


def verdict_table(verdicts: list[FactorVerdict]) -> pd.DataFrame:
    """One row per gated variant with its verdict and headline statistics."""
    rows = [
        {
            "factor": v.factor,
            "variant": v.variant,
            "model": v.model,
            "baseline": v.baseline,
            "verdict": str(v.verdict),
            "n_pairs": v.n_pairs,
            "mean_delta_f1_buy": v.mean_delta_f1,
            "ci_low": v.ci_low,
            "ci_high": v.ci_high,
            "cohens_d": v.cohens_d,
            "p_adjusted": v.p_adjusted,
            "cryptos_improving": f"{v.cryptos_improving}/{v.universe_size}",
            "mde": v.mde,
            "failed_gates": ", ".join(v.failed_gates),
            "not_evaluable": ", ".join(v.not_evaluable_gates),
            "inference": v.inference,
        }
        for factor in verdicts
        for v in factor.variants
    ]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def render_verdict_table(verdicts: list[FactorVerdict]) -> str:
    """Plain-text verdict table for a terminal, followed by the gates each variant did not pass."""
    table = verdict_table(verdicts)
    if table.empty:
        return "no variant gated"
    shown = pd.DataFrame(
        {
            "factor": table["factor"],
            "variant": table["variant"],
            "model": table["model"],
            "verdict": table["verdict"],
            "pairs": table["n_pairs"],
            "mean Δf1_buy": table["mean_delta_f1_buy"].map(lambda x: _number(x, "+.4f")),
            "CI": [_interval(lo, hi) for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)],
            "d": table["cohens_d"].map(lambda x: _number(x, "+.2f")),
            "p_adj": table["p_adjusted"].map(lambda x: _number(x, ".3g")),
            "improving": table["cryptos_improving"],
            "MDE": table["mde"].map(lambda x: _number(x, ".4f")),
        }
    )
    lines = [shown.to_string(index=False), ""]
    for row in table.itertuples(index=False):
        lines.append(
            f"{row.factor}/{row.variant} ({row.model}): failed: {row.failed_gates or '-'}; "
            f"{NOT_EVALUABLE}: {row.not_evaluable or '-'}"
        )
    methods = sorted(set(table["inference"]))
    lines.append(f"CI, p and MDE by: {'; '.join(METHOD_LABELS.get(m, m) for m in methods)}")
    return "\n".join(lines)


def verdicts_to_dict(verdicts: list[FactorVerdict]) -> dict[str, Any]:
    """JSON-ready dictionary of every verdict, gate check, statistic and excluded cell; NaN and ±inf → None."""
    return {
        "factors": [
            {
                "factor": factor.factor,
                "baseline": factor.baseline,
                "model": factor.model,
                "variants": [_variant_dict(v) for v in factor.variants],
            }
            for factor in verdicts
        ]
    }


def _variant_dict(v: VariantVerdict) -> dict[str, Any]:
    return {
        "variant": v.variant,
        "verdict": str(v.verdict),
        "n_pairs": v.n_pairs,
        "mean_delta_f1_buy": _finite(v.mean_delta_f1),
        "ci": [_finite(v.ci_low), _finite(v.ci_high)],
        "cohens_d": _finite(v.cohens_d),
        "p_value": _finite(v.p_value),
        "p_adjusted": _finite(v.p_adjusted),
        "mde": _finite(v.mde),
        "lift_detectable": v.lift_detectable,
        "inference": v.inference,
        "not_evaluable": v.not_evaluable_gates,
        "cryptos_improving": v.cryptos_improving,
        "universe_size": v.universe_size,
        "gates": [
            {
                "name": c.name,
                "observed": _finite(c.observed),
                "threshold": _finite(c.threshold),
                "passed": c.passed,
                "result": outcome(c.passed),
                "detail": c.detail,
            }
            for c in v.checks
        ],
        "excluded": [{"crypto": crypto, "fold": _plain(fold), "reason": reason} for crypto, fold, reason in v.excluded],
        "reasons": list(v.reasons),
    }


def _finite(value: float) -> float | None:
    # JSON has no infinity either: a statistic that overflowed is as unusable as one that is undefined.
    return float(value) if math.isfinite(value) else None


def _plain(value: Hashable) -> Any:
    """NumPy scalars (fold numbers read from a table) as plain Python values for JSON."""
    return value.item() if hasattr(value, "item") else value


def _interval(low: float, high: float) -> str:
    return f"[{_number(low, '+.4f')}, {_number(high, '+.4f')}]"


def _number(value: float, spec: str) -> str:
    return "n/a" if math.isnan(value) else format(value, spec)
