"""The newest materialization of each partition of an asset, read from the event log a page at a time."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

PAGE = 1000


def latest_records(instance: dg.DagsterInstance, key: dg.AssetKey,
                   partitions: Sequence[str]) -> dict[str, dg.EventLogRecord]:
    """The latest materialization record of each partition that has one (newest pages first)."""
    wanted: set[str] = set(partitions)
    found: dict[str, dg.EventLogRecord] = {}
    cursor = None
    while wanted - set(found):
        page = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, asset_partitions=list(wanted)),
                                               limit=PAGE, cursor=cursor, ascending=False)
        for record in page.records:
            found.setdefault(str(record.partition_key), record)
        if not page.has_more:
            break
        cursor = page.cursor
    return found
