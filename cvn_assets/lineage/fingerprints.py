"""Input fingerprints of the sweep's partition runs, and what earlier runs recorded.

A fingerprint hashes everything a partition's result depends on: its input data (the OHLCV content
hash), the parameters it uses, the code versions of its assets and the versions of the numerical
libraries. The runner tags each run with it and does not repeat a run whose partition was last
materialized, successfully, under the same fingerprint. This is recorded here rather than taken
from Dagster's staleness, which does not propagate through the multi-partitioned cell assets.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Iterable, Mapping, Sequence
from functools import cache, cached_property

import dagster as dg

from cvn_assets.core.catalogue.kinds import fingerprint
from cvn_assets.core.catalogue.loading import Catalogue, model_choices
from cvn_assets.lineage.materializations import LatestRecords, latest_records
from cvn_assets.orchestration.range_retry import failed_check_partitions

FINGERPRINT_TAG = "cvn/input_fingerprint"
# A run over a range of cells carries one fingerprint per partition, as JSON objects: the first under
# this tag, the next ones (if any) under `cvn/input_fingerprints.2`, `.3`, ...
FINGERPRINTS_TAG = "cvn/input_fingerprints"
# PostgreSQL indexes run tags by key and value, and an index row holds at most 2704 bytes: a run over
# the whole default grid (125 cells) needs 5 KB of fingerprints, so they are split in tags this long.
TAG_VALUE_LIMIT = 2000
# Distributions whose version can change a number in the results.
RESULT_LIBRARIES: tuple[tuple[str, ...], ...] = (
    ("cvn-assets",),
    ("numpy",),
    ("pandas",),
    ("scipy",),
    ("scikit-learn",),
    ("xgboost", "xgboost-cpu"),
    ("lightgbm",),
    ("catboost",),
    ("cleanlab",),
    ("sympy",),
)
CRYPTO_SECTIONS = ("labels", "events", "folds", "features", "checks")
CELL_SECTIONS = (
    "labels",
    "events",
    "folds",
    "features",
    "checks",
    "training",
    "calibration",
    "threshold",
    "costs",
    "learners",
)


def library_versions() -> dict[str, str]:
    """The installed version of each library a result depends on (a fresh copy of the process's lookup)."""
    return dict(_installed_versions())


@cache
def _installed_versions() -> tuple[tuple[str, str], ...]:
    # Looked up once per process: every cell records them, and each lookup scans the installed distributions.
    versions = {}
    for names in RESULT_LIBRARIES:
        for name in names:
            try:
                versions[names[0]] = importlib.metadata.version(name)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return tuple(versions.items())


class SweepFingerprints:
    """Fingerprints of the per-crypto, cell and gate runs of one sweep's Definitions."""

    def __init__(self, defs: dg.Definitions, catalogue: Catalogue, sweep_name: str) -> None:
        self.catalogue = catalogue
        self.sweep_name = sweep_name
        self._specs = list(defs.resolve_all_asset_specs())
        self._pipeline = catalogue.pipeline.snapshot()
        self._choices = model_choices(catalogue)

    @cached_property
    def _libraries(self) -> dict[str, str]:
        return library_versions()

    def _code_versions(self, keys: Iterable[dg.AssetKey]) -> dict[str, str | None]:
        wanted = set(keys)
        return {s.key.to_user_string(): s.code_version for s in self._specs if s.key in wanted}

    def crypto(self, crypto: str, content_hash: str, keys: Iterable[dg.AssetKey]) -> str:
        return fingerprint(
            {
                "crypto": crypto,
                "ohlcv_sha256": content_hash,
                "libraries": self._libraries,
                "pipeline": {s: self._pipeline[s] for s in CRYPTO_SECTIONS},
                "code": self._code_versions(keys),
            }
        )

    def cell(self, crypto_fingerprint: str, fold: str, config_id: str, keys: Iterable[dg.AssetKey]) -> str:
        config = self.catalogue.config(config_id)
        return fingerprint(
            {
                "crypto": crypto_fingerprint,
                "fold": fold,
                "config": config.fingerprint(),
                "sweep": self.sweep_name,
                "members": [list(m) for m in config.members],
                "seed": self.catalogue.seed,
                "models": list(self.catalogue.models),
                "ensembles": list(self.catalogue.ensembles),
                "model_choices": {f"{f}/{v}": m for (f, v), m in self._choices.items() if (f, v) in config.members},
                "pipeline": {s: self._pipeline[s] for s in CELL_SECTIONS},
                "libraries": self._libraries,
                "code": self._code_versions(keys),
            }
        )

    def gate(self, name: str, cell_fingerprints: Sequence[str], keys: Iterable[dg.AssetKey]) -> str:
        """A factor's gate, or a joint rule's (which depends on both of its factors)."""
        rules = {r.name: r.factors for r in self.catalogue.joint_rules}
        factors = self.catalogue.snapshot()["factors"]
        own = {f: factors[f] for f in rules.get(name, (name,))}
        return fingerprint(
            {
                "gate": name,
                "sweep": self.sweep_name,
                "cells": sorted(cell_fingerprints),
                "thresholds": self._pipeline["gate"],
                "skill": self._pipeline["skill"],
                "factors": own,
                "code": self._code_versions(keys),
            }
        )


def fingerprint_tags(fingerprints: Mapping[str, str | None]) -> dict[str, str]:
    """Run tags carrying the fingerprint of each partition the run materializes."""
    known = {p: fp for p, fp in fingerprints.items() if fp}
    if not known:
        return {}
    if len(fingerprints) == 1:
        return {FINGERPRINT_TAG: next(iter(known.values()))}
    chunks: list[dict[str, str]] = [{}]
    for partition, value in sorted(known.items()):
        if chunks[-1] and len(json.dumps({**chunks[-1], partition: value})) > TAG_VALUE_LIMIT:
            chunks.append({})
        chunks[-1][partition] = value
    return {_chunk_tag(index): json.dumps(chunk, sort_keys=True) for index, chunk in enumerate(chunks)}


def _chunk_tag(index: int) -> str:
    return FINGERPRINTS_TAG if index == 0 else f"{FINGERPRINTS_TAG}.{index + 1}"


def run_fingerprint(tags: Mapping[str, str], partition: str | None) -> str | None:
    """The fingerprint a run was given for one of its partitions."""
    if FINGERPRINTS_TAG in tags and partition is not None:
        index = 0
        while _chunk_tag(index) in tags:
            if (found := json.loads(tags[_chunk_tag(index)]).get(str(partition))) is not None:
                return str(found)
            index += 1
        return None
    return tags.get(FINGERPRINT_TAG)


def recorded_fingerprints(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    partitions: Sequence[str],
    finished_in_failed_runs: bool = False,
    latest: LatestRecords | None = None,
) -> dict[str, str]:
    """Fingerprint of the successful run that last materialized each partition (absent when none).

    With `finished_in_failed_runs`, also of a failed run whose blocking checks all passed for that
    partition: a range run that fails for one cell's check has finished the others (see `range_retry`)."""
    recorded = recorded_runs(instance, asset_key, partitions, finished_in_failed_runs, latest)
    return {partition: value for partition, (value, _) in recorded.items()}


def recorded_runs(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    partitions: Sequence[str],
    finished_in_failed_runs: bool = False,
    latest: LatestRecords | None = None,
) -> dict[str, tuple[str, str]]:
    """As `recorded_fingerprints`, with the id of the run that recorded each: (fingerprint, run id).

    `latest` finds the partitions' latest materializations (default: read now; a sweep passes its
    `LatestMaterializations` of the asset, which reads only what is new since its last call)."""
    records = latest(partitions) if latest is not None else latest_records(instance, asset_key, partitions)
    run_by_partition = {p: r.run_id for p, r in records.items()}
    if not run_by_partition:
        return {}
    runs = {run.run_id: run for run in instance.get_runs(dg.RunsFilter(run_ids=list(set(run_by_partition.values()))))}
    failed_checks: dict[str, set[str]] = {}
    out = {}
    for partition, run_id in run_by_partition.items():
        run = runs.get(run_id)
        recorded = run_fingerprint(run.tags, partition) if run is not None else None
        if run is None or not recorded:
            continue
        if run.status == dg.DagsterRunStatus.FAILURE and finished_in_failed_runs:
            if run_id not in failed_checks:
                failed_checks[run_id] = failed_check_partitions(instance, run_id)
            if partition not in failed_checks[run_id]:
                out[partition] = (recorded, run_id)
        elif run.status == dg.DagsterRunStatus.SUCCESS:
            out[partition] = (recorded, run_id)
    return out


def unchanged(expected: Mapping[str, str | None], recorded: Mapping[str, str]) -> set[str]:
    """Partitions whose recorded fingerprint equals the expected one (None never matches)."""
    return {p for p, fp in expected.items() if fp is not None and recorded.get(p) == fp}
