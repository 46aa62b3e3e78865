"""The latest materialization of each partition, found without reading the partitions' older history."""

import dagster as dg
import pytest

from cvn_assets.lineage.materializations import LatestMaterializations, latest_records

KEY = dg.AssetKey("fold_metrics")


def _materialize(instance: dg.DagsterInstance, partition: str, version: int) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=KEY, partition=partition, metadata={"version": version})
    )


def records_read(instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, how many records each query of materializations returns, one entry a query."""
    read: list[int] = []
    real = instance.fetch_materializations

    def counted(*args: object, **kwargs: object) -> dg.EventRecordsResult:
        result = real(*args, **kwargs)
        read.append(len(result.records))
        return result

    monkeypatch.setattr(instance, "fetch_materializations", counted)
    return read


def versions(found: dict[str, dg.EventLogRecord]) -> dict[str, object]:
    return {p: r.asset_materialization.metadata["version"].value for p, r in found.items() if r.asset_materialization}


def test_each_partition_gets_its_latest_record_and_older_ones_are_not_read(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    _materialize(instance, "old", 1)  # materialized once, long ago
    for version in range(1, 31):  # then the others, again and again: 60 records newer than "old"'s
        _materialize(instance, "a", version)
        _materialize(instance, "b", version)
    read = records_read(instance, monkeypatch)
    found = latest_records(instance, KEY, ["a", "b", "old", "never"])
    assert {p: r.asset_materialization.metadata["version"].value for p, r in found.items()} == {
        "a": 30,
        "b": 30,
        "old": 1,
    }
    # each query reads at most as many records as partitions still missing (4, then 2, then 1), not the 61
    assert read == [4, 1, 0]


def test_the_sweeps_lookup_stays_current_and_reads_only_what_is_new(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    for version in range(1, 11):
        _materialize(instance, "a", version)
    _materialize(instance, "b", 1)
    latest = LatestMaterializations(instance, KEY)
    assert versions(latest(["a", "b", "c"])) == {"a": 10, "b": 1}

    _materialize(instance, "b", 2)  # recorded after the first lookup, by any run
    _materialize(instance, "c", 1)
    _materialize(instance, "d", 1)  # a partition not asked for yet
    read = records_read(instance, monkeypatch)
    found = versions(latest(["a", "b", "c", "d"]))
    assert found == versions(latest_records(instance, KEY, ["a", "b", "c", "d"])) == {"a": 10, "b": 2, "c": 1, "d": 1}
    assert read[0] == 3  # the 3 records made since the first lookup, not the partitions' 14
    read.clear()
    latest(["a", "b", "c", "d"])
    assert read == [0]  # nothing new: one query that finds nothing
