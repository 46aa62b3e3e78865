"""Materializes a sweep (or a slice of it) on a Dagster instance, in process, and reports the verdicts.

The fast path of `make run` and `cvn-assets run`: no daemon, each run executed in this process, one
after another, as the sweep planner (`steps`) plans them step after step — per-crypto data, the
cells in runs of at most `cells_per_run` neighbouring cells, the gates, the joint rules. `submit` is the
other launcher of the same plan, through the run queue. Every run is recorded on the instance, tagged
with its sweep and with this process (`liveness`): the UI shows exactly what ran, and after a kill
the next sweep marks the killed run failed and computes its cells again. A partition last materialized
with the same input fingerprint is skipped; one being computed by a run in flight (another sweep's) is
left to that run and waited for. A failed run of cells leaves what it finished (`cell_runs`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack, nullcontext

import dagster as dg

from cvn_assets.defs.alerts.sensors import scan_new_events
from cvn_assets.defs.cells.step import start_cell_workers
from cvn_assets.defs.jobs import CELL_JOB
from cvn_assets.execution import computes_in_processes, pool_for_every_run
from cvn_assets.orchestration.cell_runs import retry_reason
from cvn_assets.orchestration.claims import RunClaims
from cvn_assets.orchestration.liveness import process_tags
from cvn_assets.orchestration.progress import cell_run
from cvn_assets.orchestration.range_retry import leftover
from cvn_assets.orchestration.report import SweepReport, close_report
from cvn_assets.orchestration.resources import resource
from cvn_assets.orchestration.run_settings import QUIET_CONSOLE, RANGE_END_TAG, RANGE_START_TAG, planned_as_range
from cvn_assets.orchestration.runs import PlannedRun, failure_message
from cvn_assets.orchestration.state import Selection, SweepStep
from cvn_assets.orchestration.steps import SweepPlanner

__all__ = ["QUIET_CONSOLE", "RANGE_END_TAG", "RANGE_START_TAG", "run_sweep", "new_sweep_id"]
# A run another sweep claimed shows up in flight within moments: look again after this long.
CLAIMED_WAIT_SECONDS = 0.5


def new_sweep_id() -> str:
    return uuid.uuid4().hex


def run_sweep(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    cryptos: Sequence[str] | None = None,
    folds: Sequence[str] | None = None,
    configs: Sequence[str] | None = None,
    gate: bool = True,
    log: Callable[[str], None] = print,
    force: bool = False,
) -> SweepReport:
    """Materialize the selected cells (default: the whole grid), then the gate of every factor.

    Partitions whose inputs, parameters and code are unchanged since their last successful run are
    skipped unless `force`.
    """
    started = time.perf_counter()
    selection = Selection(tuple(cryptos or ()), tuple(folds or ()), tuple(configs or ()), gate, force)
    planner = SweepPlanner(defs, instance, new_sweep_id(), selection)
    sweep = planner.resource
    # Runs of many cells compute them in worker processes, and so do the small runs of a large sweep:
    # started now, once for all its runs, the workers import the learners while the crypto data runs.
    in_pool = computes_in_processes(sweep.cell_processes, planner.cells_to_compute())
    if in_pool:
        start_cell_workers(sweep)
    report = SweepReport()
    with pool_for_every_run() if in_pool else nullcontext():
        step = _InProcess(defs, instance, planner, report, log).run()
    return close_report(defs, instance, report, step, started, log, scan_new_events)


class _InProcess:
    """Executes the runs each step plans, in this process, until a step has none left to run or to wait for."""

    def __init__(
        self,
        defs: dg.Definitions,
        instance: dg.DagsterInstance,
        planner: SweepPlanner,
        report: SweepReport,
        log: Callable[[str], None],
    ) -> None:
        self.defs, self.instance, self.planner, self.report, self.log = defs, instance, planner, report, log
        self.claims = RunClaims(resource(defs, "results").url)

    def run(self) -> SweepStep:
        said: set[str] = set()
        while True:
            step = self.planner.step()
            for note in step.notes:
                if note not in said:
                    said.add(note)
                    self.log(note)
            if step.runs:
                # One run, then a fresh look: another sweep may have started some of the others meanwhile.
                with self.claims.holding(step.runs[0].job, step.runs[0].keys) as held:
                    if held:
                        self._execute(step.runs[0])
                if not held:  # another sweep is starting it: its run is about to be in flight
                    time.sleep(CLAIMED_WAIT_SECONDS)
                continue
            if not step.waiting_for:
                return step
            waiting = f"  wait  for {len(step.waiting_for)} run(s) in flight of another sweep: " + ", ".join(
                f"{label} ({status.lower()})" for label, status in step.waiting_for.items()
            )
            if waiting not in said:
                said.add(waiting)
                self.log(waiting)
            time.sleep(self.planner.resource.poll_seconds)

    def _execute(self, planned: PlannedRun) -> None:
        job = self.defs.resolve_job_def(planned.job)
        assets = list(planned.assets) if planned.assets else None
        started = time.perf_counter()
        with ExitStack() as stack:
            if len(planned.keys) > 1:
                stack.enter_context(planned_as_range())
            if planned.job == CELL_JOB:
                stack.enter_context(
                    cell_run(planned.name, len(planned.keys), len(assets or self.planner.plan.cell_assets))
                )
            result = job.execute_in_process(
                partition_key=planned.partition_key,
                instance=self.instance,
                raise_on_error=False,
                run_config=QUIET_CONSOLE,
                tags={**planned.run_tags(self.planner.sweep_id), **process_tags()},
                asset_selection=assets,
            )
        self.report.runs += 1
        self.report.executed.append(planned.label)
        seconds = time.perf_counter() - started
        name = planned.name if len(planned.keys) == 1 else f"{planned.name} ({len(planned.keys)} cells)"
        if result.success:
            self.log(f"  ok    {planned.job:<16} {name:<28} {seconds:6.1f}s")
            return
        message = failure_message(self.instance, result.run_id)
        if len(planned.keys) > 1:
            left = leftover(
                self.instance,
                result.run_id,
                planned.keys,
                assets or self.planner.plan.cell_assets,
                self.planner.downstream,
            )
            if (reason := retry_reason(planned.keys, left)) is not None:
                self.log(f"  retry {planned.job:<16} {planned.name} {reason}: {message}")
                return
            self.log(f"  FAIL  {planned.job:<16} {planned.name} after finishing its cells: {message}")
            return
        self.log(f"  FAIL  {planned.job:<16} {planned.name:<28} {message}")
