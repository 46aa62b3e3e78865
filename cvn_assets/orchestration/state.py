"""What a sweep is (its selection) and what one step of its planning found (see `steps`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

from cvn_assets.orchestration.cell_runs import CellFailures
from cvn_assets.orchestration.runs import PlannedRun


@dataclass(frozen=True)
class Selection:
    """What a sweep covers; an empty tuple means everything the catalogue has."""

    cryptos: tuple[str, ...] = ()
    folds: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()
    gate: bool = True
    force: bool = False


@dataclass
class SweepStep:
    """What one look at the instance found: runs to start now, runs in flight waited for, and results so far."""

    runs: list[PlannedRun] = field(default_factory=list)
    waiting_for: dict[str, str] = field(default_factory=dict)  # label of a run in flight -> its status
    skipped: int = 0  # partitions found done by runs before this sweep
    computed: set[str] = field(default_factory=set)  # cells this sweep's runs materialized
    failures: dict[str, str] = field(default_factory=dict)
    failed_run_ids: dict[str, str] = field(default_factory=dict)
    gated: list[str] = field(default_factory=list)  # gates whose verdict is up to date
    waiting: dict[str, str] = field(default_factory=dict)  # gates that lack cells no run of the sweep computes
    notes: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return not self.runs and not self.waiting_for


@dataclass
class Situation:
    """The instance as one step sees it: this sweep's runs, the partitions of runs in flight, failures."""

    own: set[str]
    busy: dict[str, dict[str, dg.DagsterRun]]  # job -> partition -> the run in flight covering it
    failed: dict[str, dict[str, dg.DagsterRun]]  # job -> partition -> this sweep's latest run that failed it
    cells: CellFailures
    ran: set[tuple[str, tuple[str, ...], frozenset[dg.AssetKey]]]  # (job, partitions, assets) of its ended runs
