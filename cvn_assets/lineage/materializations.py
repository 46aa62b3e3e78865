"""The newest materialization of each partition of an asset, read without its older ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import dagster as dg

PAGE = 1000
# Partitions -> the latest materialization record of each that has one.
LatestRecords = Callable[[Sequence[str]], dict[str, dg.EventLogRecord]]


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


class LatestMaterializations:
    """The latest materialization of each partition of one asset, kept current from a cursor.

    A sweep's planner asks at every step which of its partitions are done. The first time a partition
    is asked for, its latest record is read (`latest_records`); after that, each lookup reads only the
    asset's materializations recorded since the newest one seen, whichever run made them. A sweep of
    many steps over many partitions so reads each record once, instead of every partition at every
    step (a cost that grew with the square of the sweep's size). Storage ids grow with each event, as
    Dagster's own cursors over the event log assume."""

    def __init__(self, instance: dg.DagsterInstance, key: dg.AssetKey) -> None:
        self.instance, self.key = instance, key
        self._latest: dict[str, dg.EventLogRecord] = {}
        self._read: set[str] = set()
        self._cursor: int | None = None

    def __call__(self, partitions: Sequence[str]) -> dict[str, dg.EventLogRecord]:
        """The latest materialization record of each of `partitions` that has one."""
        if self._cursor is None:
            newest = self.instance.fetch_materializations(self.key, limit=1, ascending=False).records
            self._cursor = newest[0].storage_id if newest else 0
        else:
            self._catch_up()
        unread = sorted(set(partitions) - self._read)
        if unread:
            for record in latest_records(self.instance, self.key, unread).values():
                self._keep(record)
            self._read.update(unread)
        return {p: self._latest[p] for p in partitions if p in self._latest}

    def _catch_up(self) -> None:
        while True:
            page = self.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=self.key, after_storage_id=self._cursor), limit=PAGE, ascending=True
            )
            for record in page.records:  # in storage order: the last is the newest
                self._keep(record)
                self._cursor = record.storage_id
            if len(page.records) < PAGE:
                return

    def _keep(self, record: dg.EventLogRecord) -> None:
        partition = str(record.partition_key)
        known = self._latest.get(partition)
        if known is None or record.storage_id > known.storage_id:
            self._latest[partition] = record
