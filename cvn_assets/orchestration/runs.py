"""The runs of a sweep: what each covers, the tags naming its sweep, which runs are in flight, why one failed.

Every run a sweep creates, in process or through the run queue, carries the sweep's id (`cvn/sweep`),
so what a sweep has done is read back from the instance and not from the memory of the process that
started it: a sweep can be planned again by another process (the sweep sensor, a `--wait` follower, the
next `cvn-assets run` after a kill) and reach the same decisions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg

from cvn_assets.orchestration.run_failures import error_text, is_project_error
from cvn_assets.orchestration.run_settings import RANGE_END_TAG, RANGE_START_TAG

SWEEP_TAG = "cvn/sweep"
# The job a schedule (or the UI, or `cvn-assets run --submit`) starts a submitted sweep with, and its one op.
SWEEP_JOB = "sweep_job"
SWEEP_OP = "run_whole_sweep"
PARTITION_TAG = "dagster/partition"
# Dagster's tag on a failed run that its run-retry daemon will run again (as a new run with the same tags).
WILL_RETRY_TAG = "dagster/will_retry"
ACTIVE_STATUSES = (
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)
FAILED_STATUSES = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


@dataclass(frozen=True)
class PlannedRun:
    """One run a sweep needs: a job over one partition or a range of cell keys (`keys`, in order),
    its fingerprint tags, and the assets it selects (None: all the job's)."""

    job: str
    keys: tuple[str, ...]
    tags: Mapping[str, str] = field(default_factory=dict)
    assets: tuple[dg.AssetKey, ...] | None = None

    @property
    def name(self) -> str:
        return self.keys[0] if len(self.keys) == 1 else f"{self.keys[0]}...{self.keys[-1]}"

    @property
    def label(self) -> str:
        return f"{self.job}[{self.name}]"

    @property
    def partition_key(self) -> str | None:
        return self.keys[0] if len(self.keys) == 1 else None

    def run_tags(self, sweep_id: str) -> dict[str, str]:
        """The tags of the run: its sweep, its fingerprints and, over several cells, its partition range."""
        ranged = {RANGE_START_TAG: self.keys[0], RANGE_END_TAG: self.keys[-1]} if len(self.keys) > 1 else {}
        return {**self.tags, **ranged, SWEEP_TAG: sweep_id}

    def run_key(self, sweep_id: str) -> str:
        """Names this run within its sweep: the sweep sensor never submits the same one twice."""
        selection = ",".join(sorted(key.to_user_string() for key in self.assets)) if self.assets else "all"
        return f"{sweep_id}:{self.label}:{hashlib.sha256(selection.encode()).hexdigest()[:12]}"


def run_partitions(run: dg.DagsterRun, cell_partitions: dg.PartitionsDefinition) -> list[str]:
    """The partition keys a run covers: its partition, or every key of its range (a box of cells)."""
    if PARTITION_TAG in run.tags:
        return [run.tags[PARTITION_TAG]]
    start, end = run.tags.get(RANGE_START_TAG), run.tags.get(RANGE_END_TAG)
    if start and end:
        return [str(key) for key in cell_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))]
    return []


def run_label(run: dg.DagsterRun) -> str:
    """'job[partition]' or 'job[start...end]', as the runner names runs in its lines and failures."""
    if PARTITION_TAG in run.tags:
        return f"{run.job_name}[{run.tags[PARTITION_TAG]}]"
    if RANGE_START_TAG in run.tags:
        return f"{run.job_name}[{run.tags[RANGE_START_TAG]}...{run.tags.get(RANGE_END_TAG)}]"
    return run.job_name


def active_runs(instance: dg.DagsterInstance, jobs: Sequence[str]) -> list[dg.DagsterRun]:
    """The runs of these jobs not finished yet (queued or in progress): as many as run at once, not history."""
    return [run for run in instance.get_runs(dg.RunsFilter(statuses=list(ACTIVE_STATUSES))) if run.job_name in jobs]


def sweep_runs(instance: dg.DagsterInstance, sweep_id: str) -> list[dg.DagsterRun]:
    """Every run of one sweep, oldest first."""
    return list(reversed(instance.get_runs(dg.RunsFilter(tags={SWEEP_TAG: sweep_id}))))


def failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    """The error that failed the run; where it is not one the project raises on purpose (a bug, not
    bad input), where its stack trace is. A run failed from outside (its process gone) says why."""
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records:
        event = record.event_log_entry.dagster_event
        error = event.step_failure_data.error if event is not None and event.step_failure_data else None
        if error is not None:
            cause = error.cause or error
            trace = "" if is_project_error(cause) else f" (stack trace: run {run_id} in the UI)"
            return error_text(cause) + trace
    failed = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    messages = [r.event_log_entry.dagster_event.message for r in failed if r.event_log_entry.dagster_event]
    return next((message for message in messages if message), "run failed")
