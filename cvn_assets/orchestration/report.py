"""What a sweep run did, as `cvn-assets run` and the benchmark report it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import pandas as pd

from cvn_assets.core.alerts.rules import AlertThresholds
from cvn_assets.core.alerts.sink import AlertSink
from cvn_assets.core.schema import STATUS_TRAINING_FAILED
from cvn_assets.defs.alerts.sensors import alert_failed_runs
from cvn_assets.defs.jobs import GATE_JOB
from cvn_assets.defs.partitions import cell_key
from cvn_assets.orchestration.plan import GATE_ASSET
from cvn_assets.orchestration.resources import resource
from cvn_assets.orchestration.state import SweepStep

# Sends the alerts of what the instance recorded since the last scan: (instance, sink, thresholds, sweep) -> sent.
AlertScan = Callable[[dg.DagsterInstance, AlertSink, AlertThresholds, str], int]


@dataclass
class SweepReport:
    """What a sweep run did: runs launched, partitions skipped as unchanged, failures, verdicts, gates waiting."""

    runs: int = 0
    skipped: int = 0
    executed: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    # The run id of each failure that is a failed run (a joint rule left undecided is not one).
    failed_run_ids: dict[str, str] = field(default_factory=dict)
    # Fits that failed in this sweep's cell runs ("<cell> <model>" → error): recorded as `training_failed`
    # rows and alerts, the runs themselves succeed.
    failed_fits: dict[str, str] = field(default_factory=dict)
    verdicts: dict[str, pd.DataFrame] = field(default_factory=dict)
    # Gates not run because a configuration they compare was neither selected nor stored for every
    # selected cell (name → what is lacking): a partial run, not a failure.
    waiting: dict[str, str] = field(default_factory=dict)
    alerts: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


def failed_fits(rows: pd.DataFrame, cells: set[str]) -> dict[str, str]:
    """The `training_failed` rows of these cells, one per cell and model ("<cell> <model>" → error)."""
    failed = rows[rows["status"] == STATUS_TRAINING_FAILED]
    return {
        f"{key} {row.model}": str(row.error)
        for row in failed.itertuples(index=False)
        if (key := str(cell_key(row.crypto, row.fold, row.config_id))) in cells
    }


def close_report(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    report: SweepReport,
    step: SweepStep,
    started: float,
    log: Callable[[str], None],
    scan: AlertScan,
) -> SweepReport:
    """Completes `report` from the sweep's last step (nothing left to run or wait for): gates waiting and
    failures said, verdicts loaded, failed fits listed, and the alerts of what happened since the last scan
    sent (`scan`; the daemon's sensors do it on a schedule, a sweep without a daemon still leaves its alerts)."""
    sweep = resource(defs, "sweep")
    report.skipped = step.skipped
    report.waiting = dict(step.waiting)
    for name, reason in step.waiting.items():
        log(f"  wait  {GATE_JOB:<16} {name}: {reason}")
    for label, message in step.failures.items():
        if label not in step.failed_run_ids:  # a run's failure was said as it ended
            job, _, name = label.rstrip("]").partition("[")
            log(f"  FAIL  {job:<16} {name:<28} {message}")
    report.failures.update(step.failures)
    report.failed_run_ids.update(step.failed_run_ids)
    report.verdicts = {name: pd.DataFrame(_verdict_value(defs, instance, name)["table"]) for name in step.gated}
    if step.computed:
        failed = failed_fits(resource(defs, "results").store().read(sweep.name), step.computed)
        for name, error in failed.items():
            log(f"  FAIL  fit {name} (recorded as training_failed): {error}")
        report.failed_fits |= failed
    # The failed-run sensor never sees runs executed in a process of their own: Dagster reports only runs
    # launched from a code location. Its alerts are keyed on the run id, so a run it did see is not sent twice.
    sink = resource(defs, "alert_sink").sink(lambda _: None)
    report.alerts = scan(instance, sink, sweep.catalogue.pipeline.alerts, sweep.name) + alert_failed_runs(
        sink, report.failures, report.failed_run_ids
    )
    log(f"  alerts: {report.alerts} new (list them with `cvn-assets alerts`)")
    report.seconds = time.perf_counter() - started
    if report.skipped:
        log(f"  {report.skipped} partition(s) unchanged since their last run: skipped (--force recomputes them)")
    return report


def _verdict_value(defs: dg.Definitions, instance: dg.DagsterInstance, name: str) -> dict[str, Any]:
    """The stored gate_verdict value of gate `name` (a dict with its verdict table)."""
    value = defs.load_asset_value(GATE_ASSET, partition_key=name, instance=instance)
    if not isinstance(value, dict):
        raise TypeError(f"the stored gate_verdict of {name} is a {type(value).__name__}, not a verdict document")
    return value
