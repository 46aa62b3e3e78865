"""The submitting launcher: a sweep's runs go through the instance's run queue, requested by a sensor.

A submitted sweep is a run of `sweep_job` (from the schedule, the UI, or `cvn-assets run --submit`),
whose config is the sweep's selection and whose id is the sweep's id. The sweep sensor watches runs
finish (a cursor over Dagster's run status changes): when the sweep job's run ends it opens the sweep,
and each time a run ends it plans every open sweep again (`steps`, the planner the in-process
launcher uses) and requests the runs of its next step. Dagster creates each as a queued run: the run
coordinator's limits, the run launcher (a process or a Kubernetes pod per run) and run monitoring
apply to every one. Run keys make a request the sensor repeats a no-op. A sweep closes when it has
nothing left to run or to wait for.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from cvn_assets.defs.settings import Settings
from cvn_assets.orchestration.liveness import process_tags
from cvn_assets.orchestration.run_settings import QUIET_CONSOLE
from cvn_assets.orchestration.runs import SWEEP_JOB, SWEEP_OP, SWEEP_TAG, PlannedRun
from cvn_assets.orchestration.state import Selection
from cvn_assets.orchestration.steps import SWEEP_JOBS, SweepPlanner

SWEEP_SENSOR = "sweep_sensor"
# Run status changes read per tick and kind: a first tick on a long history catches up over several ticks.
STATUS_BATCH = 500
FINISHED_EVENTS = (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.RUN_CANCELED)


def selection_of(config: Mapping[str, Any]) -> Selection:
    """The selection of a sweep job's op config (empty lists: everything)."""
    return Selection(
        tuple(config.get("cryptos") or ()),
        tuple(config.get("folds") or ()),
        tuple(config.get("configs") or ()),
        bool(config.get("gate", True)),
        bool(config.get("force", False)),
    )


def sweep_run_config(selection: Selection) -> dict[str, Any]:
    """The run config of a sweep job run for `selection`."""
    return {
        "ops": {
            SWEEP_OP: {
                "config": {
                    "cryptos": list(selection.cryptos),
                    "folds": list(selection.folds),
                    "configs": list(selection.configs),
                    "gate": selection.gate,
                    "force": selection.force,
                }
            }
        }
    }


def run_request(planned: PlannedRun, sweep_id: str) -> dg.RunRequest:
    """The request of one planned run: its job, partition or range, assets, and a key unique in its sweep."""
    return dg.RunRequest(
        run_key=planned.run_key(sweep_id),
        job_name=planned.job,
        partition_key=planned.partition_key,
        tags=planned.run_tags(sweep_id),
        asset_selection=list(planned.assets) if planned.assets else None,
    )


def announce_sweep(
    defs: dg.Definitions, instance: dg.DagsterInstance, sweep_id: str, selection: Selection, log: Callable[[str], None]
) -> None:
    """Checks the selection and says what the sweep starts with; the sensor submits it when this run ends."""
    step = SweepPlanner(defs, instance, sweep_id, selection).step()
    counts: dict[str, int] = {}
    for planned in step.runs:
        counts[planned.job] = counts.get(planned.job, 0) + 1
    first = ", ".join(f"{n} {job} run(s)" for job, n in counts.items()) or "no run: every partition is up to date"
    log(
        f"sweep {sweep_id}: {first}; {len(step.waiting_for)} run(s) in flight to wait for; {step.skipped} "
        f"partition(s) unchanged. The {SWEEP_SENSOR} submits its runs to the run queue (a daemon must be running)."
    )


def submit_sweep(defs: dg.Definitions, instance: dg.DagsterInstance, selection: Selection) -> str:
    """Submits a sweep from this process, as the schedule does: one run of the sweep job, whose id is the sweep's."""
    SweepPlanner(defs, instance, "", selection)  # a bad selection fails here, in one line, before any run
    result = defs.resolve_job_def(SWEEP_JOB).execute_in_process(
        run_config={**sweep_run_config(selection), **QUIET_CONSOLE},
        instance=instance,
        tags=process_tags(),
        raise_on_error=False,
    )
    if not result.success:
        raise RuntimeError(f"the sweep job run {result.run_id} failed: see its log in the UI")
    return result.run_id


@dataclass
class SweepCursor:
    """The sensor's cursor: where it is in each kind of run status change, and the sweeps still open."""

    events: dict[str, str | None] = field(default_factory=dict)
    open: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str | None) -> SweepCursor:
        return cls(**json.loads(text)) if text else cls()

    def dumps(self) -> str:
        return json.dumps({"events": self.events, "open": self.open}, sort_keys=True)


def finished_runs(instance: dg.DagsterInstance, cursor: SweepCursor) -> list[dg.DagsterRun]:
    """The runs that finished since the cursor (which moves past them)."""
    run_ids: list[str] = []
    for kind in FINISHED_EVENTS:
        page = instance.fetch_run_status_changes(
            kind, limit=STATUS_BATCH, cursor=cursor.events.get(kind.value), ascending=True
        )
        run_ids += [record.run_id for record in page.records]
        if page.records:
            cursor.events[kind.value] = page.cursor
    if not run_ids:
        return []
    # In the order they finished (the instance lists runs newest first).
    by_id = {run.run_id: run for run in instance.get_runs(dg.RunsFilter(run_ids=run_ids))}
    return [by_id[run_id] for run_id in dict.fromkeys(run_ids) if run_id in by_id]


def sweep_requests(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: SweepCursor, log: Callable[[str], None]
) -> list[dg.RunRequest]:
    """The runs to request now: nothing unless a run finished; then the next step of every open sweep."""
    finished = finished_runs(instance, cursor)
    if not finished:
        return []
    # In the order their runs finished: of two sweeps opened at once, the older is served first.
    opened = list(
        dict.fromkeys(
            run.run_id for run in finished if run.job_name == SWEEP_JOB and run.status == dg.DagsterRunStatus.SUCCESS
        )
    )
    known = {*cursor.open, *opened}
    named = [
        s for s in dict.fromkeys(run.tags[SWEEP_TAG] for run in finished if SWEEP_TAG in run.tags) if s not in known
    ]
    markers = {run.run_id: run for run in instance.get_runs(dg.RunsFilter(run_ids=[*cursor.open, *opened, *named]))}
    requests, still_open = [], []
    requested: set[tuple[str, str]] = set()  # (job, partition) of this tick's requests, not yet runs
    for sweep_id in dict.fromkeys([*cursor.open, *opened, *named]):
        marker = markers.get(sweep_id)
        if marker is None or marker.job_name != SWEEP_JOB or marker.status != dg.DagsterRunStatus.SUCCESS:
            continue  # a sweep run in process (`cvn-assets run`) is not the sensor's
        step = SweepPlanner(defs, instance, sweep_id, selection_of(_op_config(marker))).step()
        for planned in step.runs:  # two open sweeps needing a partition: the first requests it, both wait for it
            if requested.isdisjoint((planned.job, key) for key in planned.keys):
                requests.append(run_request(planned, sweep_id))
                requested.update((planned.job, key) for key in planned.keys)
        if step.finished:
            log(f"sweep {sweep_id} finished: {len(step.gated)} verdict(s), {len(step.failures)} failure(s)")
        else:
            still_open.append(sweep_id)
    cursor.open = still_open
    return requests


def _op_config(run: dg.DagsterRun) -> Mapping[str, Any]:
    """The sweep selection in a sweep job run's config (the schedule's runs have none: everything)."""
    config: Mapping[str, Any] = run.run_config if isinstance(run.run_config, Mapping) else {}
    selection: Mapping[str, Any] = config.get("ops", {}).get(SWEEP_OP, {}).get("config", {})
    return selection


def build_sweep_sensor(
    settings: Settings, jobs: Sequence[dg.UnresolvedAssetJobDefinition], load_defs: Callable[[], dg.Definitions]
) -> dg.SensorDefinition:
    """The sweep sensor of the code location built from `settings` (its Definitions given by `load_defs`),
    requesting runs of the sweep's `jobs`."""
    built: list[dg.Definitions] = []

    @dg.sensor(
        name=SWEEP_SENSOR,
        jobs=[job for job in jobs if job.name in SWEEP_JOBS],
        minimum_interval_seconds=settings.sweep_sensor_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Submits the runs of each sweep job's sweep to the run queue: per-crypto data, then the "
        "cells of each crypto whose data is there, each gate once its cells are, the joint rules.",
    )
    def sweep_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        if not built:  # the Definitions hold this sensor: built on its first tick, not while they are
            built.append(load_defs())
        started = time.monotonic()
        cursor = SweepCursor.parse(context.cursor)
        requests = sweep_requests(built[0], context.instance, cursor, context.log.info)
        if requests:
            context.log.info(
                f"{len(requests)} run(s) requested for {len(cursor.open)} open sweep(s) "
                f"in {time.monotonic() - started:.1f}s"
            )
        return dg.SensorResult(run_requests=requests, cursor=cursor.dumps())

    return sweep_sensor
