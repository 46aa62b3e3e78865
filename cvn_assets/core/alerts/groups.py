"""Per-cell alerts sent as one alert per sweep × variant × kind.

A sweep raises the same alert in many cells of a variant (cleanlab's drop rate near its cap in every
cell of `cl_filter`, say): one message per cell buries the one thing to know. The cells' alerts that
are new are recorded one by one (their detail: `cvn-assets alerts --detail`) under one group alert,
which names the cells and the worst value and is the only one logged and posted to the webhook.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cvn_assets.core.alerts.alert import SEVERITIES, Alert
from cvn_assets.core.alerts.sink import AlertSink
from cvn_assets.core.alerts.webhook import format_number

_DIGEST_CHARS = 16  # of a group key's digest of its cells' keys: enough to tell groups apart


@dataclass(frozen=True)
class CellAlert:
    """An alert about one cell (`cell`, e.g. "BTC|f1") of a variant's configuration in a sweep."""

    alert: Alert
    sweep: str
    variant: str
    cell: str


def group_cell_alerts(alerts: Sequence[CellAlert]) -> list[tuple[Alert, list[Alert]]]:
    """One (group alert, its cells' alerts) per sweep × variant × kind, in the order first seen.

    The group alert has the worst (highest) observed value of its cells, with that cell's threshold, the
    highest severity, a message naming the worst cell and every cell with its value, and a key made of
    the sweep, variant, kind and its cells' own keys: the same cells alerting again make the same group.
    """
    groups: dict[tuple[str, str, str], list[CellAlert]] = {}
    for cell_alert in alerts:
        groups.setdefault((cell_alert.sweep, cell_alert.variant, cell_alert.alert.kind), []).append(cell_alert)
    return [
        (_group_alert(sweep, variant, kind, members), [m.alert for m in members])
        for (sweep, variant, kind), members in groups.items()
    ]


def _group_alert(sweep: str, variant: str, kind: str, members: Sequence[CellAlert]) -> Alert:
    worst = max(members, key=lambda m: -float("inf") if m.alert.observed is None else m.alert.observed)
    severity = max((m.alert.severity for m in members), key=SEVERITIES.index)
    digest = hashlib.sha256("\n".join(sorted(m.alert.dedup_key for m in members)).encode()).hexdigest()[:_DIGEST_CHARS]
    cells = ", ".join(f"{m.cell} {format_number(m.alert.observed)}" for m in members)
    return Alert(
        kind=kind,
        severity=severity,
        subject=f"{len(members)} cell(s) of {variant} in sweep {sweep}",
        observed=worst.alert.observed,
        threshold=worst.alert.threshold,
        dedup_key=f"{kind}:{sweep}:{variant}:{digest}",
        message=f"worst {worst.cell}: {worst.alert.message}; cells: {cells}",
        details={
            "sweep": sweep,
            "variant": variant,
            "worst_cell": worst.cell,
            "cells": {m.cell: m.alert.observed for m in members},
        },
    )


def send_cell_alerts(sink: AlertSink, alerts: Sequence[CellAlert]) -> int:
    """Send the cells' alerts not recorded before, grouped; the number of group alerts sent."""
    known = sink.store.known([a.alert.dedup_key for a in alerts])
    fresh = [a for a in alerts if a.alert.dedup_key not in known]
    return sum(sink.send(group, members) for group, members in group_cell_alerts(fresh))
