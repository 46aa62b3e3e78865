"""A verdict's provenance as recorded; the current environment only fills what an older verdict lacks, named so."""

import dagster as dg
import pytest

from cvn_assets.core.catalogue.loading import load_catalogue
from cvn_assets.core.errors import DataSourceError
from cvn_assets.lineage.provenance import annotate, now_section, recorded_provenance
from cvn_assets.lineage.records import PROVENANCE_KEY, environment, provenance


def test_a_recorded_provenance_is_reported_as_recorded() -> None:
    recorded = {
        "catalogue_fingerprint": "abc",
        "seed": 3,
        "code_revision": "r0",
        "libraries": {"numpy": "0.1"},
        "catalogue": {"factors": {}, "configs": {}},
    }
    out = recorded_provenance({PROVENANCE_KEY: dg.MetadataValue.json(recorded)}, "f", current=None)
    assert out == {**recorded, "not_recorded": []}
    now = now_section(out, load_catalogue(), None)
    assert now["differs"] == ["catalogue_fingerprint", "seed", "code_revision", "libraries"]
    assert now_section(out, None, "catalogue file not found")["differs"] == ["code_revision", "libraries"]


def test_an_older_verdict_takes_only_what_it_lacks_from_the_current_environment() -> None:
    current = load_catalogue()
    summary = {"catalogue_fingerprint": "old-fp", "seed": "5", "code_revision": "r0", "cells_read": "10"}
    out = recorded_provenance({"lineage": dg.MetadataValue.json(summary)}, "f", current)
    assert (out["catalogue_fingerprint"], out["seed"], out["code_revision"]) == ("old-fp", 5, "r0")
    assert out["not_recorded"] == ["catalogue", "libraries"] and out["libraries"] == environment()["libraries"]
    assert now_section(out, current, None)["differs"] == ["catalogue_fingerprint", "seed", "code_revision"]
    with pytest.raises(DataSourceError, match="CVN_CATALOGUE"):
        recorded_provenance({"lineage": dg.MetadataValue.json(summary)}, "f", current=None)


def test_cells_are_compared_with_the_verdict() -> None:
    reference = provenance(load_catalogue())
    node = {"assets": [{"asset": "fold_metrics", PROVENANCE_KEY: {**reference, "code_revision": "r0"}}]}
    annotate(node, reference, "fold_metrics")
    assert node["provenance_differs"] == ["code_revision"]
    unrecorded = {"assets": [{"asset": "fold_metrics"}]}
    annotate(unrecorded, reference)
    assert unrecorded[PROVENANCE_KEY] is None and unrecorded["provenance_differs"] is None
