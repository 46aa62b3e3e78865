"""The newest materialization of each partition of an asset, read without its older ones."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

PAGE = 1000


def latest_records(
    instance: dg.DagsterInstance, key: dg.AssetKey, partitions: Sequence[str]
) -> dict[str, dg.EventLogRecord]:
    """The latest materialization record of each partition that has one.

    Each query asks only for the partitions not found yet, newest first, as many records as there are
    such partitions: the partitions' older materializations are never read, so the cost does not grow
    with the instance's history. A query that finds nothing ends the search."""
    found: dict[str, dg.EventLogRecord] = {}
    wanted = sorted(set(partitions))
    while wanted:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=wanted), limit=min(len(wanted), PAGE), ascending=False
        )
        for record in page.records:
            found.setdefault(str(record.partition_key), record)
        if not page.records:
            break
        wanted = [partition for partition in wanted if partition not in found]
    return found
