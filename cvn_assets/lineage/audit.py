"""The audit of a gate verdict: from the verdict down to the candles, read from the instance's event log.

Every link is a materialization (asset, partition, storage id, run): the verdict lists the cells it
read, each cell's run holds its assets and checks, and each cell asset lists the per-crypto
materializations it read, whose run holds the OHLCV with its content hash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from cvn_assets.core.catalogue.loading import Catalogue
from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.secrets import scrub
from cvn_assets.defs.partitions import split_cell_key
from cvn_assets.lineage.materializations import latest_records
from cvn_assets.lineage.provenance import annotate, now_section, recorded_provenance
from cvn_assets.lineage.records import CONSUMED_KEY
from cvn_assets.lineage.run_contents import RunEvents, StorageIds, consumed_of, run_contents

GATE = dg.AssetKey("gate_verdict")
FOLD_METRICS = dg.AssetKey("fold_metrics")


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
        consumed_of(metadata).get("fold_metrics", []),
        verdict,
        variant,
        now_section(recorded, current, current_error),
    )


def _rows(metadata: Mapping[str, Any], variant: str | None) -> list[dict[str, Any]]:
    if "verdicts" not in metadata:
        return []
    rows = [dict(r.data) for r in metadata["verdicts"].value.records]
    return [r for r in rows if variant is None or r.get("variant") == variant]
