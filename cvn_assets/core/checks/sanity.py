"""Sanity rules behind the blocking asset checks. Each returns what it observed and its threshold."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.noise.mask import per_class_cap
from cvn_assets.core.schema import STATUS_OK

# Metrics that cannot be exactly 0.0 on real test data: a 0.0 there is a bug (a past system reported
# ECE = 0.0 on every soft-label model), not a result. ECE_BUY is left out: it is measured on the few
# rows predicted BUY, where an exact 0.0 (e.g. two rows at p = 0.5, one BUY) is a legitimate value.
NEVER_ZERO_METRICS: tuple[str, ...] = ("ece", "ece_hold", "brier", "log_loss")


@dataclass(frozen=True)
class SanityThresholds:
    """Bands the checks enforce."""

    buy_rate_min: float = 0.05
    buy_rate_max: float = 0.40

    def __post_init__(self) -> None:
        if not 0.0 <= self.buy_rate_min < self.buy_rate_max <= 1.0:
            raise CatalogueError(
                f"buy_rate band [{self.buy_rate_min}, {self.buy_rate_max}] must satisfy 0 <= min < max <= 1"
            )


@dataclass(frozen=True)
class CheckOutcome:
    """A check's verdict with the value it observed and the threshold it compared against; `breakdown`
    holds the values behind `observed` (e.g. per model) when there are several."""

    passed: bool
    observed: float | str
    threshold: float | str
    detail: str
    breakdown: Mapping[str, object] = field(default_factory=dict)


def label_sanity(labels: pd.DataFrame, horizon: int, thresholds: SanityThresholds = SanityThresholds()) -> CheckOutcome:
    """BUY rate within the band, and no label in the last `horizon` rows (their barrier is unknown)."""
    labeled = labels["label"].dropna()
    buy_rate = float(labeled.mean()) if len(labeled) else math.nan
    tail_labeled = int(labels["label"].tail(horizon).notna().sum())
    in_band = thresholds.buy_rate_min <= buy_rate <= thresholds.buy_rate_max
    band = f"[{thresholds.buy_rate_min}, {thresholds.buy_rate_max}]"
    return CheckOutcome(
        in_band and tail_labeled == 0,
        round(buy_rate, 4),
        band,
        f"BUY rate {buy_rate:.4f} (band {band}); {tail_labeled} labeled row(s) in the last {horizon}",
    )


def training_targets_sanity(targets: pd.DataFrame, train_positions: np.ndarray) -> CheckOutcome:
    """Targets within [0, 1] and only on the fold's training rows."""
    values = targets["target"].to_numpy(dtype=float)
    outside = int(((values < 0) | (values > 1) | ~np.isfinite(values)).sum())
    foreign = int((~np.isin(targets["position"].to_numpy(), train_positions)).sum())
    return CheckOutcome(
        outside == 0 and foreign == 0,
        outside + foreign,
        0,
        f"{outside} target(s) outside [0, 1]; {foreign} row(s) outside the training window",
    )


def cleanlab_cap_sanity(mask: pd.DataFrame, max_drop_pct: float) -> CheckOutcome:
    """Flagged rows of each class within floor(max_drop_pct % of that class)."""
    worst = 0.0
    details = []
    for label, name in ((1, "BUY"), (0, "HOLD")):
        rows = mask[mask["hard_label"] == label]
        allowed = per_class_cap(max_drop_pct, len(rows))
        flagged = int(rows["flagged"].sum())
        worst = max(worst, flagged - allowed)
        details.append(f"{name} flagged {flagged} of {len(rows)} (cap {allowed})")
    return CheckOutcome(worst <= 0, float(worst), 0.0, "; ".join(details))


def prediction_sanity(predictions: pd.DataFrame) -> CheckOutcome:
    """Probabilities finite and within [0, 1]."""
    p = predictions["p"].to_numpy(dtype=float)
    bad = int((~np.isfinite(p) | (p < 0) | (p > 1)).sum())
    return CheckOutcome(bad == 0, bad, 0, f"{bad} of {p.size} probabilities not finite or outside [0, 1]")


def degenerate_metric_failures(rows: pd.DataFrame) -> dict[tuple[str, str, str, str], list[str]]:
    """(crypto, fold, variant, model) -> the metrics that are exactly 0.0 on an `ok` row."""
    failures: dict[tuple[str, str, str, str], list[str]] = {}
    ok = rows[rows["status"] == STATUS_OK]
    for column in NEVER_ZERO_METRICS:
        if column not in ok:
            continue
        for record in ok[ok[column] == 0.0].itertuples(index=False):
            key = (str(record.crypto), str(record.fold), str(record.variant), str(record.model))
            failures.setdefault(key, []).append(column)
    return failures


def degenerate_metrics_sanity(rows: pd.DataFrame) -> CheckOutcome:
    failures = degenerate_metric_failures(rows)
    listed = "; ".join(f"{'/'.join(k)}: {', '.join(v)}" for k, v in sorted(failures.items()))
    return CheckOutcome(
        not failures,
        len(failures),
        0,
        f"metrics exactly 0.0 where impossible: {listed}" if failures else "no degenerate metric",
    )


def blocking_failures_by_variant(rows: pd.DataFrame) -> Mapping[str, list[str]]:
    """Variant -> blocking-check failures found in its rows (what makes a gate verdict INCONCLUSIVE)."""
    out: dict[str, list[str]] = {}
    for (crypto, fold, variant, model), metrics in degenerate_metric_failures(rows).items():
        out.setdefault(variant, []).append(f"degenerate {', '.join(metrics)} on {crypto} {fold} {model}")
    return out
