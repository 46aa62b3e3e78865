"""Failed blocking checks, sorted by what they invalidate: f1_buy itself, or only one secondary gate.

A metric exactly 0.0 where it cannot be is a blocking check failure, not a result (SPEC §6). ECE
and ECE_HOLD feed only the calibration gate, so their failure makes that gate not evaluable; Brier,
log loss or any failure named without a metric describe the predictions f1_buy is computed from,
so they make the verdict INCONCLUSIVE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from cvn_assets.core.checks.sanity import degenerate_metric_failures

SECONDARY_GATE_OF_METRIC: Mapping[str, str] = {"ece": "calibration", "ece_hold": "calibration"}


@dataclass(frozen=True)
class BlockingFailure:
    """A failed blocking check; `gate` is the one secondary gate it invalidates, None for f1_buy itself."""

    check: str
    gate: str | None = None


def as_failures(failures: Sequence[str | BlockingFailure]) -> list[BlockingFailure]:
    """Failures given by name only invalidate f1_buy: nothing says their harm stops at one gate."""
    return [f if isinstance(f, BlockingFailure) else BlockingFailure(str(f)) for f in failures]


def blocking_failures_by_variant(rows: pd.DataFrame) -> dict[str, list[BlockingFailure]]:
    """Variant → its rows' degenerate metrics, one failure per cell and per what they invalidate."""
    out: dict[str, list[BlockingFailure]] = {}
    for (crypto, fold, variant, model), metrics in sorted(degenerate_metric_failures(rows).items()):
        by_gate: dict[str | None, list[str]] = {}
        for metric in metrics:
            by_gate.setdefault(SECONDARY_GATE_OF_METRIC.get(metric), []).append(metric)
        for gate, named in by_gate.items():
            check = f"degenerate {', '.join(named)} on {crypto} {fold} {model}"
            out.setdefault(variant, []).append(BlockingFailure(check, gate))
    return out
