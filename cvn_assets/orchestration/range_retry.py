"""What a failed cell run left undone, so that running its cells again reuses what it finished.

The cell step records each asset over the run's cells as soon as all of them are computed, and a
failed blocking check stops only the assets after its own. A failed run has therefore often recorded
most of its work — every asset up to the one that failed, for every cell — and names the cells whose
check failed. Running again, those cells each get a run of their own, and the others select only
the assets the failed run did not record for all of them (and what depends on those): the cell step
reads the rest from storage, as for any subset of the cell assets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class Leftover:
    """A failed run's cells that failed a blocking check, the other cells still missing an asset, and those assets."""

    failed_cells: list[str]
    cells: list[str]
    assets: list[dg.AssetKey]


def leftover(
    instance: dg.DagsterInstance,
    run_id: str,
    cells: Sequence[str],
    selected: Sequence[dg.AssetKey],
    downstream: Callable[[Collection[dg.AssetKey]], Collection[dg.AssetKey]],
) -> Leftover:
    """What run `run_id` over `cells` and the `selected` assets left undone; `downstream` gives the
    assets that depend on some assets (themselves included)."""
    recorded: dict[dg.AssetKey, set[str]] = defaultdict(set)
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records:
        if record.asset_key is not None and record.partition_key is not None:
            recorded[record.asset_key].add(record.partition_key)
    failed = failed_check_partitions(instance, run_id)
    rest = [cell for cell in cells if cell not in failed]
    missing = downstream({key for key in selected if not set(rest) <= recorded[key]})
    assets = [key for key in selected if key in missing]
    return Leftover([cell for cell in cells if cell in failed], rest if assets else [], assets)


def failed_check_partitions(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    """The partitions for which a blocking check of run `run_id` failed."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    evaluations = [
        r.event_log_entry.dagster_event.event_specific_data
        for r in records
        if r.event_log_entry.dagster_event is not None
    ]
    return {
        str(e.partition)
        for e in evaluations
        if isinstance(e, dg.AssetCheckEvaluation) and e.blocking and not e.passed and e.partition is not None
    }
