"""The next runs of a sweep, decided from what the instance holds: one planner for both launchers.

A sweep is a selection (cryptos × folds × configurations, gates or not, forced or not) and an id that
tags its runs. Each `SweepPlanner.step` looks at the instance — what is materialized under which
fingerprint, which runs are in flight (this sweep's or another's), what this sweep's runs did — and
says which runs to start now, which runs in flight the sweep waits for, and what it found: partitions
skipped, failures, verdicts, gates waiting. The in-process launcher (`runner`) executes each
step's runs until a step has none; the sweep sensor (`submit`) submits them to the run queue each time
a run finishes. Order: each crypto's data; the cells of the cryptos whose data is there (`cell_runs`);
the gate of each factor whose cells are all settled; each joint rule once both its factors' gates
are, its candidate's cells, then its gate (`gates`). A partition covered by a run in flight is
left to that run: two sweeps never compute the same cell at once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from functools import cache

import dagster as dg

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.training.folds import fold_ids
from cvn_assets.defs.jobs import CELL_JOB, CRYPTO_DATA_JOB, GATE_JOB
from cvn_assets.defs.partitions import (
    CRYPTO_DIMENSION,
    FOLD_VARIANT_DIMENSION,
    cell_key,
    split_cell_key,
)
from cvn_assets.defs.resources import SweepResource
from cvn_assets.lineage.fingerprints import fingerprint_tags
from cvn_assets.orchestration.cell_runs import CellFailures, Final, plan_cell_runs
from cvn_assets.orchestration.gates import plan_gates
from cvn_assets.orchestration.liveness import in_flight
from cvn_assets.orchestration.plan import SweepPlan
from cvn_assets.orchestration.resources import resource
from cvn_assets.orchestration.runs import (
    FAILED_STATUSES,
    WILL_RETRY_TAG,
    PlannedRun,
    active_runs,
    failure_message,
    run_label,
    run_partitions,
    sweep_runs,
)
from cvn_assets.orchestration.state import Selection, Situation, SweepStep

SWEEP_JOBS = (CRYPTO_DATA_JOB, CELL_JOB, GATE_JOB)
PARENT_RUN_TAG = "dagster/parent_run_id"


class SweepPlanner:
    """Plans one sweep, step after step; fingerprints are computed once, the instance is read at each step."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, sweep_id: str, selection: Selection) -> None:
        sweep = resource(defs, "sweep")
        if not isinstance(sweep, SweepResource):
            raise TypeError("Definitions must bind a SweepResource under the key 'sweep'")
        self.defs, self.instance, self.sweep_id, self.selection = defs, instance, sweep_id, selection
        self.resource = sweep
        self.catalogue = sweep.catalogue
        self.cryptos = _selected("crypto", selection.cryptos, self.catalogue.universe)
        self.all_folds = fold_ids(self.catalogue.pipeline.folds)
        self.folds = _selected("fold", selection.folds, self.all_folds)
        self.configs = [self.catalogue.config(c).config_id for c in selection.configs] or self.catalogue.config_ids(
            include_joint=False
        )
        self.plan = SweepPlan(defs, instance, self.catalogue, sweep.name, selection.force)
        self.results = resource(defs, "results").store()
        partitions = defs.resolve_job_def(CELL_JOB).partitions_def
        if not isinstance(partitions, dg.MultiPartitionsDefinition):
            raise TypeError(f"{CELL_JOB} must be partitioned by {CRYPTO_DIMENSION} × {FOLD_VARIANT_DIMENSION}")
        self.cell_partitions = partitions
        self.crypto_order, self.fv_order = (
            [str(key) for key in partitions.get_partitions_def_for_dimension(dimension).get_partition_keys()]
            for dimension in (CRYPTO_DIMENSION, FOLD_VARIANT_DIMENSION)
        )
        graph = defs.resolve_asset_graph()
        self.downstream: Callable[[Collection[dg.AssetKey]], set[dg.AssetKey]] = lambda keys: (
            set(dg.AssetSelection.assets(*keys).downstream().resolve(graph)) if keys else set()
        )
        self._messages: dict[str, str] = {}

    def step(self) -> SweepStep:
        """What the sweep does next, as the instance stands now."""
        step, situation = SweepStep(), self._situation()
        rows = cache(lambda: self.results.read(self.resource.name))
        stored = cache(
            lambda: {
                str(cell_key(c, f, v))
                for c, f, v in zip(rows()["crypto"], rows()["fold"], rows()["config_id"], strict=True)
            }
        )
        ready, data_pending = self._data(step, situation)
        unsettled = self.cells(step, situation, self.configs, ready, stored)
        if data_pending:
            unsettled = set(self.configs)  # a crypto's data still to come: its cells too
        if self.selection.gate:
            plan_gates(self, step, situation, unsettled, ready, rows, stored)
        for planned in [p for p in step.runs if (p.job, p.keys, frozenset(p.assets or ())) in situation.ran]:
            # It ended and left its partitions as they were (their rows lost, say): said, not run forever.
            step.runs.remove(planned)
            step.failures[planned.label] = "ran in this sweep but left its partitions not done"
        return step

    def cells_to_compute(self) -> int:
        """How many selected cells are not done (before any runs: whether computing them warrants workers)."""
        cells = [(c, f, v) for c in self.cryptos for v in self.configs for f in self.folds]
        rows = self.results.read(self.resource.name)
        stored = {
            str(cell_key(c, f, v)) for c, f, v in zip(rows["crypto"], rows["fold"], rows["config_id"], strict=True)
        }
        return len(cells) - len(self.plan.done_cells(cells, lambda: stored))

    def _situation(self) -> Situation:
        runs = sweep_runs(self.instance, self.sweep_id)
        retried = {run.tags[PARENT_RUN_TAG] for run in runs if PARENT_RUN_TAG in run.tags}
        failed = [run for run in runs if run.status in FAILED_STATUSES]
        # Dagster's run retries run again a run lost with its worker: until the new run exists, wait for it.
        retrying = [run for run in failed if run.tags.get(WILL_RETRY_TAG) == "true" and run.run_id not in retried]
        final = [run for run in failed if run.tags.get(WILL_RETRY_TAG) != "true"]
        busy: dict[str, dict[str, dg.DagsterRun]] = {job: {} for job in SWEEP_JOBS}
        for run in [*in_flight(self.instance, active_runs(self.instance, SWEEP_JOBS)), *retrying]:
            busy[run.job_name].update(dict.fromkeys(self._partitions(run), run))
        latest: dict[str, dict[str, dg.DagsterRun]] = {job: {} for job in SWEEP_JOBS}
        for run in final:
            if run.job_name in latest:
                latest[run.job_name].update(dict.fromkeys(self._partitions(run), run))
        cells = CellFailures(
            self.instance,
            [run for run in final if run.job_name == CELL_JOB],
            self._partitions,
            self.plan.cell_assets,
            self.downstream,
        )
        ran = {
            (run.job_name, tuple(self._partitions(run)), frozenset(run.asset_selection or ()))
            for run in runs
            if run.status in (*FAILED_STATUSES, dg.DagsterRunStatus.SUCCESS)
        }
        return Situation({run.run_id for run in runs}, busy, latest, cells, ran)

    def _partitions(self, run: dg.DagsterRun) -> list[str]:
        return run_partitions(run, self.cell_partitions)

    def fail(self, step: SweepStep, run: dg.DagsterRun) -> None:
        """A run of this sweep failed and is not run again: a failure of the sweep, with the run's error."""
        if run.run_id not in self._messages:
            self._messages[run.run_id] = failure_message(self.instance, run.run_id)
        step.failures[run_label(run)] = self._messages[run.run_id]
        step.failed_run_ids[run_label(run)] = run.run_id

    def wait_for(self, step: SweepStep, run: dg.DagsterRun) -> None:
        step.waiting_for[run_label(run)] = run.status.value

    def _data(self, step: SweepStep, situation: Situation) -> tuple[list[str], bool]:
        """Plans the data runs still needed: (the cryptos whose data is there, whether some is still to come)."""
        done = self.plan.done_cryptos(self.cryptos, situation.own)
        ready, pending = [], False
        for crypto in self.cryptos:
            if crypto in done:
                ready.append(crypto)
                step.skipped += done[crypto] not in situation.own
            elif (run := situation.busy[CRYPTO_DATA_JOB].get(crypto)) is not None:
                self.wait_for(step, run)
                pending = True
            elif (run := situation.failed[CRYPTO_DATA_JOB].get(crypto)) is not None:
                self.fail(step, run)
            else:
                step.runs.append(
                    PlannedRun(CRYPTO_DATA_JOB, (crypto,), fingerprint_tags({crypto: self.plan.crypto(crypto)}))
                )
                pending = True
        return ready, pending

    def cells(
        self,
        step: SweepStep,
        situation: Situation,
        configs: Sequence[str],
        ready: Sequence[str],
        stored: Callable[[], set[str]],
    ) -> set[str]:
        """Plans the runs of the cells of `configs` at the `ready` cryptos still to compute; returns the
        configurations some of whose cells are not settled yet (to compute, or being computed)."""
        cells = [(crypto, fold, config) for crypto in ready for config in configs for fold in self.folds]
        done = self.plan.done_cells(cells, stored, situation.own)
        todo, unsettled = {}, set()
        for cell in cells:
            key = str(cell_key(*cell))
            if key in done:
                if done[key] in situation.own:
                    step.computed.add(key)
                else:
                    step.skipped += 1
                run = situation.failed[CELL_JOB].get(key)
                if run is not None and run.run_id == done[key] and situation.cells.finished_all(run):
                    self.fail(step, run)  # it failed after finishing its cells: said, not computed again
            elif (run := situation.busy[CELL_JOB].get(key)) is not None:
                self.wait_for(step, run)
                unsettled.add(cell[2])
            elif isinstance(attempt := situation.cells.next_attempt(key), Final):
                self.fail(step, attempt.run)
            else:
                todo[key] = attempt
                unsettled.add(cell[2])
        step.runs += plan_cell_runs(
            todo,
            self.crypto_order,
            self.fv_order,
            self.resource.cells_per_run,
            lambda keys: fingerprint_tags({k: self.plan.cell(*split_cell_key(k)) for k in keys}),
        )
        return unsettled


def _selected(what: str, chosen: Sequence[str], known: Sequence[str]) -> list[str]:
    """The chosen names (default: every known one), checked before anything runs: an unknown one
    would otherwise surface as a Dagster partition error, or a missing cell after the plan."""
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise CatalogueError(f"unknown {what} {', '.join(map(repr, unknown))}; known: {list(known)}")
    return list(chosen or known)
