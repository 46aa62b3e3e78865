"""How the sweep runner creates its in-process runs: console echo, partition range tags, planned events."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

# Every event is still stored on the instance; only the console echo is limited to problems.
# The runner prints each failure in one line; Dagster's console would add the step's stack
# trace, which the run's event log keeps for the UI.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# Dagster's switch, read when a run is created: a range run announces each asset's planned
# materialization as one event over the range instead of one per cell (a write each). Dagster then
# does not mark a failed range's cells as failed; the runner re-runs a failed range one cell per run,
# and those runs (created without the switch) mark their own cells.
PLANNED_AS_RANGE = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


@contextmanager
def planned_as_range() -> Iterator[None]:
    """Runs created inside plan a range's materializations as one event per asset (see PLANNED_AS_RANGE)."""
    previous = os.environ.get(PLANNED_AS_RANGE)
    os.environ[PLANNED_AS_RANGE] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(PLANNED_AS_RANGE, None)
        else:
            os.environ[PLANNED_AS_RANGE] = previous
