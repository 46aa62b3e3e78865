"""The input fingerprints a run carries in its tags, for one partition or a range of many."""

import hashlib
import json

import dagster as dg

from cvn_assets.defs.fingerprints import (
    FINGERPRINT_TAG, FINGERPRINTS_TAG, TAG_VALUE_LIMIT, fingerprint_tags, recorded_fingerprints, run_fingerprint,
)

# The whole default grid and then some: 5 cryptos × 5 folds × 10 configurations.
CELLS = [f"{crypto}|f{fold}.config_{config}" for crypto in ("BTC", "ETH", "LTC", "XRP", "EOS")
         for fold in range(1, 6) for config in range(10)]


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


def fingerprints_through_a_range_run(instance: dg.DagsterInstance) -> tuple[dict[str, str], dict[str, str]]:
    """The fingerprints a run over every cell of CELLS was tagged with, and those read back from the instance."""
    partitions = dg.StaticPartitionsDefinition(CELLS)

    @dg.asset(partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run())
    def cell(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return dg.MaterializeResult()

    # Hashes, as real fingerprints are: PostgreSQL compresses a repetitive tag below the index row's limit.
    fingerprints = {key: hashlib.sha256(key.encode()).hexdigest()[:16] for key in CELLS}
    tags = {"dagster/asset_partition_range_start": CELLS[0], "dagster/asset_partition_range_end": CELLS[-1],
            **fingerprint_tags(fingerprints)}
    assert dg.materialize([cell], instance=instance, tags=tags).success
    return fingerprints, recorded_fingerprints(instance, cell.key, CELLS)


def test_a_range_run_records_every_cells_fingerprint(instance: dg.DagsterInstance) -> None:
    expected, recorded = fingerprints_through_a_range_run(instance)
    assert recorded == expected
