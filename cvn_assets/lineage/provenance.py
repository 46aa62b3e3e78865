"""What an audited verdict, and each cell and crypto it rests on, was produced under, as recorded then.

A verdict records its catalogue snapshot and fingerprint, seed, code revision and library versions;
each cell's `fold_metrics` and each per-crypto asset records the same without the snapshot. The audit
reports these records; the current catalogue and environment only fill what a materialization from
before these records lacks (and the report names those fields), and are compared with the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cvn_assets.core.catalogue.loading import Catalogue
from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.secrets import scrub
from cvn_assets.lineage.records import PROVENANCE_KEY, environment

FIELDS = ("catalogue_fingerprint", "seed", "code_revision", "libraries")
# The verdicts' `lineage` summary, older than the provenance record, already held these.
SUMMARY_FIELDS = ("catalogue_fingerprint", "seed", "code_revision")


def recorded_provenance(metadata: Mapping[str, Any], name: str, current: Catalogue | None) -> dict[str, Any]:
    """The verdict's provenance as recorded, with `not_recorded` naming what came from the current environment."""
    if PROVENANCE_KEY in metadata:
        return {**metadata[PROVENANCE_KEY].value, "not_recorded": []}
    summary = dict(metadata["lineage"].value) if "lineage" in metadata else {}
    if current is None:
        raise DataSourceError(
            f"audit: the verdict of {name!r} records no catalogue snapshot and the current "
            "catalogue could not be loaded; set CVN_CATALOGUE to the catalogue of its sweep"
        )
    now = {**provenance_now(current), "catalogue": scrub(current.snapshot())}
    out: dict[str, Any] = {
        "catalogue": now["catalogue"],
        "libraries": now["libraries"],
        "not_recorded": ["catalogue", "libraries"],
    }
    for field in SUMMARY_FIELDS:
        if summary.get(field) not in (None, "None"):
            out[field] = int(summary[field]) if field == "seed" else summary[field]
        else:
            out[field] = now[field]
            out["not_recorded"].append(field)
    return out


def provenance_now(current: Catalogue | None) -> dict[str, Any]:
    """The catalogue fingerprint and seed (None when no catalogue loads), code revision and libraries of now."""
    return {
        "catalogue_fingerprint": current.fingerprint() if current else None,
        "seed": current.seed if current else None,
        **environment(),
    }


def differences(produced: Mapping[str, Any], reference: Mapping[str, Any]) -> list[str]:
    """The provenance fields in which two records differ."""
    return [field for field in FIELDS if produced.get(field) != reference.get(field)]


def now_section(recorded: Mapping[str, Any], current: Catalogue | None, error: str | None) -> dict[str, Any]:
    """Today's catalogue, code and libraries next to the verdict's, and where they differ from them."""
    now = provenance_now(current)
    compared = [f for f in FIELDS if f not in recorded.get("not_recorded", [])]
    if current is None:
        compared = [f for f in compared if f not in ("catalogue_fingerprint", "seed")]
    return {**now, "catalogue_error": error, "differs": [f for f in differences(now, recorded) if f in compared]}


def annotate(node: dict[str, Any], reference: Mapping[str, Any], asset: str | None = None) -> None:
    """Add to a cell or crypto node the provenance its `asset` (any of its assets for None: a data run's
    all record the same) recorded and how it differs from the verdict's."""
    produced = next(
        (a[PROVENANCE_KEY] for a in node["assets"] if (asset is None or a["asset"] == asset) and a.get(PROVENANCE_KEY)),
        None,
    )
    node[PROVENANCE_KEY] = produced
    node["provenance_differs"] = None if produced is None else differences(produced, reference)
