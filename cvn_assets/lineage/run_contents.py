"""What one run recorded, read once per audit: its materializations and check evaluations by partition,
and the storage ids of the materializations its assets read."""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from cvn_assets.core.errors import DataSourceError
from cvn_assets.lineage.fingerprints import run_fingerprint
from cvn_assets.lineage.records import CONSUMED_KEY, PROVENANCE_KEY

RUN_EVENTS = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION}
SHOWN_METADATA = (
    "content_sha256",
    "source",
    "rows",
    "first_bar",
    "last_bar",
    "status",
    "learner",
    "threshold",
    "mlflow_run_id",
    "mlflow_url",
    "model_path",
    "input_fingerprint",
    "training_failed",
    PROVENANCE_KEY,
)


class StorageIds:
    """Index storage ids of materializations, by (asset, partition, run), as their readers recorded them.

    On SQLite a run's own event ids are per run; the asset index's id is the one other records cite.
    Every materialization lists the upstream ones it consumed with that id, so an audit walking down
    from the verdict learns each id from the level above it and queries only what no reader names.
    """

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str | None, str], int] = {}
        self._runs_read: set[str] = set()

    def learn_from_run(self, run_id: str, materializations: Sequence[dg.AssetMaterialization]) -> None:
        """The ids every materialization of a run consumed (once per run)."""
        if run_id in self._runs_read:
            return
        self._runs_read.add(run_id)
        for materialization in materializations:
            for upstream, consumed in consumed_of(materialization.metadata).items():
                self.add(upstream, consumed)

    def add(self, asset: str, consumed: Sequence[Mapping[str, Any]]) -> None:
        for record in consumed:
            if record.get("storage_id") is not None and record.get("run_id"):
                partition = record.get("partition")
                self._ids[(asset, None if partition is None else str(partition), str(record["run_id"]))] = int(
                    record["storage_id"]
                )

    def resolve(self, instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None, run_id: str) -> int | None:
        known = self._ids.get((key.to_user_string(), partition, run_id))
        if known is not None:
            return known
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None), limit=50
        ).records
        return next((r.storage_id for r in records if r.run_id == run_id), None)


class RunEvents:
    """A run's materializations and check evaluations, in their order, and also by partition (a range
    run holds hundreds of cells, and an audit reads them cell by cell)."""

    def __init__(self, run: dg.DagsterRun | None, records: Sequence[dg.EventLogRecord]) -> None:
        self.run = run
        events = [event for event in (r.event_log_entry.dagster_event for r in records) if event is not None]
        self.materializations = [
            event.step_materialization_data.materialization
            for event in events
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
        ]
        self.checks = [
            event.asset_check_evaluation_data
            for event in events
            if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ]
        self._materializations_of: dict[str | None, list[dg.AssetMaterialization]] = defaultdict(list)
        for materialization in self.materializations:
            self._materializations_of[materialization.partition].append(materialization)
        self._checks_of: dict[str | None, list[Any]] = defaultdict(list)
        for evaluation in self.checks:
            self._checks_of[evaluation.partition].append(evaluation)

    def of(self, partition: str | None) -> tuple[list[dg.AssetMaterialization], list[Any]]:
        """The materializations and check evaluations of one partition, or all of them for None."""
        if partition is None:
            return self.materializations, self.checks
        return self._materializations_of.get(partition, []), self._checks_of.get(partition, [])


def run_contents(
    instance: dg.DagsterInstance,
    run_id: str,
    known: StorageIds | None = None,
    partition: str | None = None,
    runs: dict[str, RunEvents] | None = None,
) -> dict[str, Any]:
    """Materializations (with what they consumed) and check results of one run, or of one of its
    partitions (a run may cover a range of cells).

    `known` holds the storage ids learnt so far (and learns the ones this run's materializations
    consumed); `runs` keeps each run's events for the next partition of the same run.
    """
    runs = {} if runs is None else runs
    if run_id not in runs:
        runs[run_id] = _run_events(instance, run_id)
    contents = runs[run_id]
    run = contents.run
    known = StorageIds() if known is None else known
    known.learn_from_run(run_id, contents.materializations)
    materializations, evaluations = contents.of(partition)
    assets = []
    for materialization in materializations:
        metadata = materialization.metadata
        tags = materialization.tags or {}
        assets.append(
            {
                "asset": materialization.asset_key.to_user_string(),
                "partition": materialization.partition,
                "storage_id": known.resolve(instance, materialization.asset_key, materialization.partition, run_id),
                "code_version": tags.get("dagster/code_version"),
                "data_version": tags.get("dagster/data_version"),
                "consumed": consumed_of(metadata),
                **{k: plain(metadata[k]) for k in SHOWN_METADATA if k in metadata},
            }
        )
    checks = [
        {
            "asset": evaluation.asset_key.to_user_string(),
            "check": evaluation.check_name,
            "partition": evaluation.partition,
            "passed": evaluation.passed,
            "blocking": evaluation.blocking,
            **{k: plain(evaluation.metadata[k]) for k in ("observed", "threshold") if k in evaluation.metadata},
        }
        for evaluation in evaluations
    ]
    return {
        "run_status": run.status.value if run else "unknown",
        "job": run.job_name if run else None,
        "fingerprint": run_fingerprint(run.tags, partition) if run else None,
        "assets": assets,
        "checks": checks,
    }


# A finished run's events no longer change, and every gate of a sweep reads the same range runs.
_FINISHED_RUNS: OrderedDict[str, RunEvents] = OrderedDict()
FINISHED_RUNS_KEPT = 64


def _run_events(instance: dg.DagsterInstance, run_id: str) -> RunEvents:
    if run_id in _FINISHED_RUNS:
        _FINISHED_RUNS.move_to_end(run_id)
        return _FINISHED_RUNS[run_id]
    run = instance.get_run_by_id(run_id)
    events = RunEvents(run, instance.get_records_for_run(run_id, of_type=RUN_EVENTS).records)
    if run is not None and run.is_finished:
        _FINISHED_RUNS[run_id] = events
        while len(_FINISHED_RUNS) > FINISHED_RUNS_KEPT:
            _FINISHED_RUNS.popitem(last=False)
    return events


def consumed_of(metadata: Mapping[str, dg.MetadataValue]) -> Mapping[str, Any]:
    """Per upstream asset, the reads (JSON records) a materialization recorded; none when it recorded nothing."""
    if CONSUMED_KEY not in metadata:
        return {}
    consumed = metadata[CONSUMED_KEY].value
    if not isinstance(consumed, Mapping):
        raise DataSourceError(
            f"audit: a materialization's {CONSUMED_KEY!r} metadata is not a mapping of asset to reads"
        )
    return consumed


def plain(value: Any) -> Any:
    inner = getattr(value, "value", value)
    if isinstance(inner, str | int | float | bool | list | dict) or inner is None:
        return inner
    return str(inner)
