"""The input fingerprints a run carries in its tags, for one partition or a range of many."""

import json
from pathlib import Path

import dagster as dg

from cvn_assets.defs.build import build_defs
from cvn_assets.lineage.fingerprints import (
    FINGERPRINT_TAG,
    FINGERPRINTS_TAG,
    TAG_VALUE_LIMIT,
    SweepFingerprints,
    fingerprint_tags,
    run_fingerprint,
)
from cvn_assets_tests.conftest import make_settings, small_catalogue_document
from cvn_assets_tests.lineage.fingerprint_runs import CELLS, fingerprints_through_a_range_run


def test_one_partition_gets_one_plain_tag() -> None:
    tags = fingerprint_tags({"BTC": "0123abcd"})
    assert tags == {FINGERPRINT_TAG: "0123abcd"}
    assert run_fingerprint(tags, "BTC") == run_fingerprint(tags, None) == "0123abcd"


def test_a_range_of_many_cells_is_split_in_tags_an_index_row_can_hold() -> None:
    fingerprints = {cell: f"{index:016x}" for index, cell in enumerate(CELLS)}
    tags = fingerprint_tags(fingerprints)
    assert len(tags) > 1 and FINGERPRINTS_TAG in tags
    assert all(len(value) <= TAG_VALUE_LIMIT for value in tags.values())
    assert sum(len(json.loads(value)) for value in tags.values()) == len(CELLS)
    assert {cell: run_fingerprint(tags, cell) for cell in CELLS} == fingerprints
    assert run_fingerprint(tags, "DOGE|f1.baseline") is None


def test_unknown_fingerprints_are_left_out() -> None:
    assert fingerprint_tags({"BTC|f1.baseline": None, "BTC|f2.baseline": None}) == {}
    tags = fingerprint_tags({"BTC|f1.baseline": "aa", "BTC|f2.baseline": None})
    assert run_fingerprint(tags, "BTC|f1.baseline") == "aa" and run_fingerprint(tags, "BTC|f2.baseline") is None


def test_a_range_run_records_every_cells_fingerprint(instance: dg.DagsterInstance) -> None:
    expected, recorded = fingerprints_through_a_range_run(instance)
    assert recorded == expected


def test_skill_thresholds_re_gate_the_verdicts_without_retraining_the_cells(
    tmp_path: Path, small_data_dir: Path
) -> None:
    def fingerprints(skill: dict) -> tuple[str, str]:
        document = small_catalogue_document()
        document["skill"] = skill
        root = tmp_path / str(len(list(tmp_path.iterdir())))
        root.mkdir()
        defs = build_defs(make_settings(root, small_data_dir, document))
        sweep = defs.resources["sweep"]
        fingerprints = SweepFingerprints(defs, sweep.catalogue, sweep.name)
        return fingerprints.cell("crypto-fp", "f1", "baseline", []), fingerprints.gate("label_smoothing", ["c"], [])

    default_cell, default_gate = fingerprints({})
    stricter_cell, stricter_gate = fingerprints({"min_f1_lift": 0.02})
    assert stricter_cell == default_cell
    assert stricter_gate != default_gate
