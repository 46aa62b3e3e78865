"""The audit of a gate verdict: from the verdict down to the candles, read from the instance's event log.

Every link is a materialization (asset, partition, storage id, run): the verdict lists the cells it
read, each cell's run holds its assets and checks, and each cell asset lists the per-crypto
materializations it read, whose run holds the OHLCV with its content hash.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from cvn_assets.core.catalogue.loading import Catalogue
from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.secrets import scrub
from cvn_assets.defs.partitions import split_cell_key
from cvn_assets.lineage.fingerprints import run_fingerprint
from cvn_assets.lineage.materializations import latest_records
from cvn_assets.lineage.provenance import annotate, now_section, recorded_provenance
from cvn_assets.lineage.records import CONSUMED_KEY, PROVENANCE_KEY

GATE = dg.AssetKey("gate_verdict")
FOLD_METRICS = dg.AssetKey("fold_metrics")
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


def verdict_configs(snapshot: Mapping[str, Any], name: str, variant: str | None) -> set[str]:
    """Configurations a gate (or one of its variants, with the baseline it is paired with) reads, from a
    catalogue snapshot (the one recorded with the verdict, so another catalogue's verdict can be audited)."""
    factors = snapshot.get("factors", {})
    if name in factors and variant is not None and variant == factors[name]["baseline"]:
        others = sorted(v for v in factors[name].get("variants", ()) if v != variant)
        raise DataSourceError(
            f"audit: {variant!r} is the baseline of {name!r}, the variants are gated against it "
            f"and it has no verdict of its own; audit one of {others} or the whole factor"
        )
    configs, found = set(), False
    for config_id, members in snapshot.get("configs", {}).items():
        for factor, member_variant in members:
            baseline = factor in factors and factors[factor]["baseline"]
            if factor == name and (variant is None or member_variant in (variant, baseline, "baseline")):
                configs.add(config_id)
            found = found or (factor, member_variant) == (name, variant)
    if variant is not None and not found:
        raise DataSourceError(f"audit: {name!r} has no variant {variant!r} in the catalogue of its verdict")
    return configs


def audit_tree(
    instance: dg.DagsterInstance,
    recorded: Mapping[str, Any],
    name: str,
    consumed_cells: Sequence[Mapping],
    verdict: Mapping[str, Any],
    variant: str | None = None,
    now: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole tree below a verdict whose `consumed_cells` (fold_metrics records) are known.

    `recorded` is the verdict's provenance (`audit_provenance`), with its catalogue snapshot; `now`,
    for an audit read after the fact, today's catalogue, code and libraries compared with it."""
    wanted = verdict_configs(recorded["catalogue"], name, variant)
    cells = [c for c in consumed_cells if split_cell_key(c["partition"])[2] in wanted]
    known = StorageIds()
    known.add(FOLD_METRICS.to_user_string(), cells)
    data_runs: dict[str, str] = {}
    cell_nodes = []
    runs: dict[str, RunEvents] = {}
    for cell in sorted(cells, key=lambda c: c["partition"]):
        node = {**cell, **run_contents(instance, cell["run_id"], known, cell["partition"], runs)}
        for asset in node["assets"]:
            for upstream, records in asset.get("consumed", {}).items():
                for record in records:
                    if upstream == "fold_windows":
                        data_runs.setdefault(str(record["partition"]), record["run_id"])
        cell_nodes.append(node)
    data = {
        crypto: {"run_id": run_id, **run_contents(instance, run_id, known)}
        for crypto, run_id in sorted(data_runs.items())
    }
    for node in cell_nodes:
        annotate(node, recorded, FOLD_METRICS.to_user_string())
    for node in data.values():
        annotate(node, recorded)
    return scrub(
        {
            "verdict": dict(verdict),
            "variant": variant or "all",
            "catalogue": recorded["catalogue"],
            "catalogue_fingerprint": recorded["catalogue_fingerprint"],
            "seed": recorded["seed"],
            "environment": {"code_revision": recorded["code_revision"], "libraries": recorded["libraries"]},
            "not_recorded": list(recorded.get("not_recorded", [])),
            "now": dict(now) if now is not None else None,
            "cells": cell_nodes,
            "data": data,
        }
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
            for upstream, consumed in _consumed(materialization.metadata).items():
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


def audit_verdict(
    instance: dg.DagsterInstance,
    name: str,
    variant: str | None = None,
    current: Catalogue | None = None,
    current_error: str | None = None,
) -> dict[str, Any]:
    """The audit of the latest verdict of a factor or joint rule, as recorded when it was produced.

    `current` (the catalogue of today's environment, None when it does not load, with `current_error`)
    only fills what an older verdict did not record, and is compared with the record."""
    record = latest_records(instance, GATE, [name]).get(name)
    if record is None:
        raise DataSourceError(f"audit: no gate verdict for {name!r} on this instance; run the sweep first")
    verdict_materialization = record.asset_materialization
    assert verdict_materialization is not None, "fetch_materializations returns materialization records"
    metadata = verdict_materialization.metadata
    if CONSUMED_KEY not in metadata:
        raise DataSourceError(
            f"audit: the verdict of {name!r} (run {record.run_id}) records no consumed inputs; re-run its gate"
        )
    contents = run_contents(instance, record.run_id)
    verdict = {
        "asset": GATE.to_user_string(),
        "partition": name,
        "storage_id": record.storage_id,
        "run_id": record.run_id,
        "timestamp": record.timestamp,
        "table": _rows(metadata, variant),
        "checks": contents["checks"],
        "code_version": (verdict_materialization.tags or {}).get("dagster/code_version"),
    }
    recorded = recorded_provenance(metadata, name, current)
    return audit_tree(
        instance,
        recorded,
        name,
        _consumed(metadata).get("fold_metrics", []),
        verdict,
        variant,
        now_section(recorded, current, current_error),
    )


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
                "consumed": _consumed(metadata),
                **{k: _plain(metadata[k]) for k in SHOWN_METADATA if k in metadata},
            }
        )
    checks = [
        {
            "asset": evaluation.asset_key.to_user_string(),
            "check": evaluation.check_name,
            "partition": evaluation.partition,
            "passed": evaluation.passed,
            "blocking": evaluation.blocking,
            **{k: _plain(evaluation.metadata[k]) for k in ("observed", "threshold") if k in evaluation.metadata},
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


def _consumed(metadata: Mapping[str, dg.MetadataValue]) -> Mapping[str, Any]:
    """Per upstream asset, the reads (JSON records) a materialization recorded; none when it recorded nothing."""
    if CONSUMED_KEY not in metadata:
        return {}
    consumed = metadata[CONSUMED_KEY].value
    if not isinstance(consumed, Mapping):
        raise DataSourceError(
            f"audit: a materialization's {CONSUMED_KEY!r} metadata is not a mapping of asset to reads"
        )
    return consumed


def _rows(metadata: Mapping[str, Any], variant: str | None) -> list[dict[str, Any]]:
    if "verdicts" not in metadata:
        return []
    rows = [dict(r.data) for r in metadata["verdicts"].value.records]
    return [r for r in rows if variant is None or r.get("variant") == variant]


def _plain(value: Any) -> Any:
    inner = getattr(value, "value", value)
    if isinstance(inner, str | int | float | bool | list | dict) or inner is None:
        return inner
    return str(inner)
