"""What each materialization consumed, recorded in its own metadata.

Dagster's input event pointer names the upstream asset's latest materialization of any partition,
not the partition that was read; here every input's partitions are listed with the storage id, run
and data version of the materialization the IO manager loaded (the latest of that partition).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg

from cvn_assets.core.catalogue.loading import Catalogue
from cvn_assets.core.secrets import scrub
from cvn_assets.lineage.fingerprints import library_versions, run_fingerprint
from cvn_assets.lineage.materializations import latest_records

CONSUMED_KEY = "consumed_inputs"
# What a materialization was produced under (catalogue, seed, code revision, libraries): an audit
# read later reports this record, not the environment it happens to run in.
PROVENANCE_KEY = "provenance"
# Within one run a partition read by several steps is the same materialization: look it up once.
_RUN_CACHE: dict[str, dict[tuple[dg.AssetKey, str], dict[str, Any]]] = {}


def record_summary(record: dg.EventLogRecord) -> dict[str, Any]:
    materialization = record.asset_materialization
    tags = dict(materialization.tags or {}) if materialization is not None else {}
    return {
        "partition": record.partition_key,
        "storage_id": record.storage_id,
        "run_id": record.run_id,
        "data_version": tags.get("dagster/data_version"),
        "code_version": tags.get("dagster/code_version"),
    }


def consumed_inputs(
    context: dg.AssetExecutionContext, only: dict[str, Sequence[str]] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Per upstream asset, the partitions this step read and the materialization each one was.

    `only` narrows an input to the partitions actually used (e.g. the gate reads one factor's cells).
    """
    run_id = context.run.run_id
    if run_id not in _RUN_CACHE:
        _RUN_CACHE.clear()
        _RUN_CACHE[run_id] = {}
    cache = _RUN_CACHE[run_id]
    out: dict[str, list[dict[str, Any]]] = {}
    for input_name, key in context.assets_def.keys_by_input_name.items():
        name = key.to_user_string()
        partitions = (
            list(only[name])
            if only and name in only
            else [str(p) for p in context.asset_partition_keys_for_input(input_name)]
        )
        missing = [p for p in partitions if (key, p) not in cache]
        if missing:
            for partition, record in latest_records(context.instance, key, missing).items():
                cache[(key, partition)] = record_summary(record)
        out[name] = [cache[(key, p)] for p in partitions if (key, p) in cache]
    return out


def fingerprint_metadata(tags: Mapping[str, str], partition: str | None) -> dict[str, dg.MetadataValue]:
    fingerprint = run_fingerprint(tags, partition)
    return {"input_fingerprint": dg.MetadataValue.text(fingerprint)} if fingerprint else {}


class RunLineage:
    """Latest materialization of (asset, partition), looked up in bulk and remembered for one run.

    A cell step reads assets it produced itself a moment earlier; their records are fetched once
    per asset for the whole partition range, right after the step stored them.
    """

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self._known: dict[tuple[dg.AssetKey, str], dict[str, Any]] = {}

    def fetch(self, key: dg.AssetKey, partitions: Sequence[str]) -> None:
        missing = [p for p in dict.fromkeys(partitions) if (key, p) not in self._known]
        if missing:
            for partition, record in latest_records(self.instance, key, missing).items():
                self._known[(key, partition)] = record_summary(record)

    def consumed(self, reads: Mapping[dg.AssetKey, str]) -> dict[str, list[dict[str, Any]]]:
        """Per upstream asset, the materialization of the partition read (fetched earlier)."""
        return {
            key.to_user_string(): [self._known[(key, p)]] if (key, p) in self._known else [] for key, p in reads.items()
        }


@cache
def code_revision() -> str:
    """The git commit of the package source (with `+dirty` for local changes), or `unknown`."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "cvn_assets"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def environment() -> dict[str, Any]:
    """The code revision and library versions of this process (now, not when anything was materialized)."""
    return {"code_revision": code_revision(), "libraries": library_versions()}


def provenance(catalogue: Catalogue, with_snapshot: bool = False) -> dict[str, Any]:
    """The catalogue fingerprint, seed, code revision and library versions a materialization is produced
    under, with the (scrubbed) catalogue snapshot for a verdict, whose audit lists every parameter."""
    out: dict[str, Any] = {"catalogue_fingerprint": catalogue.fingerprint(), "seed": catalogue.seed, **environment()}
    if with_snapshot:
        out["catalogue"] = scrub(catalogue.snapshot())
    return out


def provenance_metadata(catalogue: Catalogue) -> dict[str, dg.MetadataValue]:
    return {PROVENANCE_KEY: dg.MetadataValue.json(provenance(catalogue))}
