"""Claims on the partitions of a run a sweep executes in process, so that two sweeps never compute them twice.

A sweep leaves to a run in flight the partitions it covers, but a run executed in process is visible
only once it has started: two sweeps planning at the same moment would both pick the same next run.
Dagster's run queue orders the runs it launches; runs executed in process need a lock of their own.
Before executing a run, the sweep inserts one row per partition into a table of the results database
(the insert is atomic: of two sweeps, one gets the rows, the other a conflict and plans again); the
rows go when the run ends. Rows left by a killed process are recognized by its process id and host
(`liveness`) and cleared by the next claimant.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa

from cvn_assets.core.results.store import open_table
from cvn_assets.orchestration.liveness import gone

CLAIMS_TABLE = "sweep_run_claims"


def _claims_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        CLAIMS_TABLE,
        metadata,
        sa.Column("job", sa.String(64), primary_key=True),
        sa.Column("partition_key", sa.String(512), primary_key=True),
        sa.Column("pid", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )


class RunClaims:
    """The claims table in the database at `url` (the results store's)."""

    def __init__(self, url: str) -> None:
        self.engine, self.table = open_table(url, _claims_table)
        self.pid, self.host = str(os.getpid()), socket.gethostname()

    @contextmanager
    def holding(self, job: str, keys: Sequence[str]) -> Iterator[bool]:
        """Whether this process got every partition of the run (held until the block ends), or another holds one."""
        rows = [
            {"job": job, "partition_key": key, "pid": self.pid, "host": self.host, "claimed_at": datetime.now(UTC)}
            for key in keys
        ]
        held = self._insert(rows) or (self._clear_stale(job, keys) and self._insert(rows))
        try:
            yield held
        finally:
            if held:
                with self.engine.begin() as connection:
                    connection.execute(
                        sa.delete(self.table).where(
                            self.table.c.job == job,
                            self.table.c.partition_key.in_(keys),
                            self.table.c.pid == self.pid,
                            self.table.c.host == self.host,
                        )
                    )

    def _insert(self, rows: list[dict[str, object]]) -> bool:
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.insert(self.table), rows)
        except sa.exc.IntegrityError:
            return False
        return True

    def _clear_stale(self, job: str, keys: Sequence[str]) -> bool:
        """Removes the claims on these partitions of processes that are gone; whether there were any."""
        table = self.table
        with self.engine.begin() as connection:
            holders = connection.execute(
                sa.select(table.c.pid, table.c.host)
                .distinct()
                .where(table.c.job == job, table.c.partition_key.in_(keys))
            ).all()
            gone_holders = [(pid, host) for pid, host in holders if gone(pid, host)]
            for pid, host in gone_holders:
                connection.execute(sa.delete(table).where(table.c.pid == pid, table.c.host == host))
        return bool(gone_holders)
