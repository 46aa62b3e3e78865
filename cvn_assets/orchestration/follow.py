"""Follows a submitted sweep until it is done, and reports it as the in-process sweep does.

`cvn-assets run --submit --wait`: the runs are the daemon's (the sweep sensor submits them, the run
queue starts them); this process only reads the instance. It says each run of the sweep as it ends,
plans the sweep again (`steps`) to know whether anything is left to run or to wait for, and when
nothing is, gives the same report as `run_sweep`: verdicts, gates waiting, failures, failed fits.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import dagster as dg

from cvn_assets.defs.alerts.sensors import scan_new_events
from cvn_assets.orchestration.report import SweepReport, close_report
from cvn_assets.orchestration.runs import FAILED_STATUSES, SWEEP_TAG, failure_message, run_label
from cvn_assets.orchestration.state import Selection
from cvn_assets.orchestration.steps import SweepPlanner

FINISHED = (dg.DagsterRunStatus.SUCCESS, *FAILED_STATUSES)


def follow_sweep(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    sweep_id: str,
    selection: Selection,
    log: Callable[[str], None] = print,
) -> SweepReport:
    """Waits for the sweep `sweep_id` to have nothing left to run or wait for, saying each run as it ends."""
    started = time.perf_counter()
    planner = SweepPlanner(defs, instance, sweep_id, selection)
    said: set[str] = set()
    while True:
        step = planner.step()  # before the runs are read: a run ending in between is read, not missed
        records = instance.get_run_records(dg.RunsFilter(tags={SWEEP_TAG: sweep_id}), ascending=True)
        for record in records:
            run = record.dagster_run
            if run.status in FINISHED and run.run_id not in said:
                said.add(run.run_id)
                log(_ended(instance, record))
        for note in step.notes:
            if note not in said:
                said.add(note)
                log(note)
        if step.finished:
            break
        time.sleep(planner.resource.poll_seconds)
    report = SweepReport(runs=len(records), executed=[run_label(record.dagster_run) for record in records])
    return close_report(defs, instance, report, step, started, log, scan_new_events)


def _ended(instance: dg.DagsterInstance, record: dg.RunRecord) -> str:
    run = record.dagster_run
    job, _, name = run_label(run).rstrip("]").partition("[")
    if run.status == dg.DagsterRunStatus.SUCCESS:
        seconds = (record.end_time or 0.0) - (record.start_time or record.end_time or 0.0)
        return f"  ok    {job:<16} {name:<28} {seconds:6.1f}s"
    return f"  FAIL  {job:<16} {name:<28} {failure_message(instance, run.run_id)}"
