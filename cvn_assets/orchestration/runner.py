"""Materializes a sweep (or a slice of it) on a Dagster instance, in process, and reports the verdicts.

Every run is recorded on the instance, so the web UI shows exactly what ran. Per-crypto work runs
once per crypto; a crypto whose data fails validation gets no downstream run. The cells to compute
run together, one run per range of cell keys — a box of neighbouring cryptos × neighbouring
fold.configuration keys, so the whole default grid is one run: a run's cost is paid once, and the
workers go from one crypto's cells to the next without waiting for a run to end and another to
start. A range whose run fails leaves what it finished: the cells whose blocking check failed run
again one per run, so each fails alone, and the others only for the assets the failed run did not
record (see `range_retry`); a failure that no check names runs again one crypto per run, then one
cell per run. A partition last materialized with the same input fingerprint is skipped (see `sweep_plan`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cache

import dagster as dg
import pandas as pd

from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.training.folds import fold_ids
from cvn_assets.core.gate.sweep import decide_joint
from cvn_assets.defs.cells.step import start_cell_workers
from cvn_assets.lineage.fingerprints import fingerprint_tags
from cvn_assets.defs.jobs import CELL_JOB, CRYPTO_DATA_JOB, GATE_JOB
from cvn_assets.defs.partitions import (
    CRYPTO_DIMENSION, FOLD_VARIANT_DIMENSION, box_keys, cell_boxes, cell_key, fold_variant_key, split_cell_key,
)
from cvn_assets.orchestration.progress import cell_run
from cvn_assets.orchestration.range_retry import leftover
from cvn_assets.orchestration.run_failures import error_text, gate_inputs_failed, is_project_error
from cvn_assets.orchestration.run_settings import QUIET_CONSOLE, RANGE_END_TAG, RANGE_START_TAG, planned_as_range
from cvn_assets.defs.resources import SweepResource
from cvn_assets.defs.alerts.sensors import alert_failed_runs, scan_all
from cvn_assets.orchestration.plan import GATE_ASSET, SweepPlan, gate_waits_for
from cvn_assets.orchestration.report import SweepReport, failed_fits
from cvn_assets.execution import computes_in_processes


def run_sweep(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    cryptos: Sequence[str] | None = None,
    folds: Sequence[str] | None = None,
    configs: Sequence[str] | None = None,
    gate: bool = True,
    log: Callable[[str], None] = print,
    force: bool = False,
) -> SweepReport:
    """Materialize the selected cells (default: the whole grid), then the gate of every factor.

    Partitions whose inputs, parameters and code are unchanged since their last successful run are
    skipped unless `force`.
    """
    started = time.perf_counter()
    sweep = _sweep_resource(defs)
    catalogue = sweep.catalogue
    plan = SweepPlan(defs, instance, catalogue, sweep.name, force)
    report = SweepReport()
    selected_cryptos = _selected("crypto", cryptos, catalogue.universe)
    all_folds = fold_ids(catalogue.pipeline.folds)
    selected_folds = _selected("fold", folds, all_folds)
    selected_configs = list(configs or catalogue.config_ids(include_joint=False))

    def cells_of(crypto: str, config_ids: Sequence[str]) -> list[tuple[str, str, str]]:
        return [(crypto, fold, config_id) for config_id in config_ids for fold in selected_folds]

    # A run of many changed cells computes them in worker processes: started now, they import the
    # learners while the crypto data runs.
    grid = [cell for crypto in selected_cryptos for cell in cells_of(crypto, selected_configs)]
    if computes_in_processes(sweep.cell_processes, len(grid) - len(plan.done_cells(grid))):
        start_cell_workers(sweep)
    data_job = defs.resolve_job_def(CRYPTO_DATA_JOB)
    done = plan.done_cryptos(selected_cryptos)
    ready = [crypto for crypto in selected_cryptos
             if crypto in done or _execute(data_job, crypto, instance, report, log, plan.crypto(crypto))]
    report.skipped += len(done)
    cell_job = defs.resolve_job_def(CELL_JOB)

    cell_partitions = cell_job.partitions_def
    if not isinstance(cell_partitions, dg.MultiPartitionsDefinition):
        raise TypeError(f"{CELL_JOB} must be partitioned by {CRYPTO_DIMENSION} × {FOLD_VARIANT_DIMENSION}")
    crypto_order, fv_order = ([str(k) for k in cell_partitions.get_partitions_def_for_dimension(d).get_partition_keys()]
                              for d in (CRYPTO_DIMENSION, FOLD_VARIANT_DIMENSION))

    def run_cells(config_ids: Sequence[str]) -> None:
        cells = [cell for crypto in ready for cell in cells_of(crypto, config_ids)]
        unchanged = plan.done_cells(cells)
        report.skipped += len(unchanged)
        todo = {key: cell for key, cell in ((str(cell_key(*c)), c) for c in cells) if key not in unchanged}
        fingerprints = {key: plan.cell(*cell) for key, cell in todo.items()}
        wanted = [(crypto, fold_variant_key(fold, config_id)) for crypto, fold, config_id in todo.values()]
        _CellRuns(cell_job, instance, report, log, fingerprints, crypto_order, fv_order, _downstream_in(defs),
                  plan.cell_assets).run(wanted)
        if todo:
            failed = failed_fits(defs.resources["results"].store().read(sweep.name), set(todo))
            for name, error in failed.items():
                log(f"  FAIL  fit {name} (recorded as training_failed): {error}")
            report.failed_fits |= failed

    run_cells(selected_configs)
    if not gate:
        return _finish(defs, instance, report, started, log)
    gate_job = defs.resolve_job_def(GATE_JOB)
    results = defs.resources["results"].store()

    def inputs_failed(name: str) -> str | None:
        return gate_inputs_failed(name, results.read(sweep.name), report.failures) if report.failures else None

    def record_verdicts(name: str) -> None:
        # Its inputs failed in this sweep: no run, whose failure would only repeat theirs.
        if blocked := inputs_failed(name):
            report.failures[f"{GATE_JOB}[{name}]"] = blocked
            log(f"  FAIL  {GATE_JOB:<16} {name:<28} {blocked}")
            return
        expected, behind = plan.gate(name, all_folds)
        if behind:
            log(f"  note  {name} reads {len(behind)} cell(s) materialized under other inputs, parameters or code "
                f"than the catalogue's now (e.g. {behind[0]}): run them to bring its verdict up to date")
        if plan.done_gate(name, expected):
            report.skipped += 1
            value = defs.load_asset_value(GATE_ASSET, partition_key=name, instance=instance)
            report.verdicts[name] = pd.DataFrame(value["table"])
            return
        result = _execute(gate_job, name, instance, report, log, expected)
        if result:
            report.verdicts[name] = pd.DataFrame(result.asset_value(GATE_ASSET)["table"])

    stored = cache(lambda: set(results.read(sweep.name)[["crypto", "fold", "config_id"]].itertuples(index=False)))
    for factor in catalogue.factors:
        # A gate whose inputs failed in this sweep reports that failure; one that merely lacks cells waits.
        waits = None if inputs_failed(factor.name) else gate_waits_for(
            catalogue, factor.name, selected_cryptos, selected_folds, selected_configs, stored)
        if waits:
            _wait(report, log, factor.name, waits)
        else:
            record_verdicts(factor.name)
    for rule in catalogue.joint_rules:
        if waiting := [name for name in rule.factors if name in report.waiting]:
            _wait(report, log, rule.name, f"waits for the gate of {' and '.join(waiting)}")
            continue
        rows = results.read(sweep.name)
        try:
            decision = decide_joint(catalogue, rule, rows)
        except InsufficientDataError as exc:  # a factor's own gate failed the same way, above
            blocked = next(filter(None, (gate_inputs_failed(f, rows, report.failures) for f in rule.factors)), exc)
            report.failures[f"{GATE_JOB}[{rule.name}]"] = f"joint rule not decided: {blocked}"
            continue
        log(f"  joint {rule.name}: " + "; ".join(decision.reasons))
        if decision.config_id is not None:
            run_cells([decision.config_id])
        record_verdicts(rule.name)
    return _finish(defs, instance, report, started, log)


def _wait(report: SweepReport, log: Callable[[str], None], name: str, reason: str) -> None:
    """A gate left for a later run (its cells are not all there yet): said, and not a failure."""
    report.waiting[name] = reason
    log(f"  wait  {GATE_JOB:<16} {name}: {reason}")


def _selected(what: str, chosen: Sequence[str] | None, known: Sequence[str]) -> list[str]:
    """The chosen names (default: every known one), checked before anything runs: an unknown one
    would otherwise surface as a Dagster partition error, or a missing cell after the plan."""
    unknown = [name for name in chosen or () if name not in known]
    if unknown:
        raise CatalogueError(f"unknown {what} {', '.join(map(repr, unknown))}; known: {list(known)}")
    return list(chosen or known)


def _finish(defs: dg.Definitions, instance: dg.DagsterInstance, report: SweepReport, started: float,
            log: Callable[[str], None]) -> SweepReport:
    # The daemon's sensors do this on a schedule; a run without a daemon still leaves its alerts. The
    # failed-run sensor never sees this process's runs: Dagster reports only runs launched from a location.
    sink = defs.resources["alert_sink"].sink(lambda _: None)
    sweep = _sweep_resource(defs)
    report.alerts = (scan_all(instance, sink, sweep.catalogue.pipeline.alerts, sweep.name)
                     + alert_failed_runs(sink, report.failures, report.failed_run_ids))
    log(f"  alerts: {report.alerts} new (list them with `cvn-assets alerts`)")
    report.seconds = time.perf_counter() - started
    if report.skipped:
        log(f"  {report.skipped} partition(s) unchanged since their last run: skipped (--force recomputes them)")
    return report


@dataclass
class _CellRuns:
    """Runs cells in boxes, one run per box. What a failed box left undone runs again (`range_retry`):
    the cells whose blocking check failed one per run, the others together, selecting only what the
    failed run did not record; when no check names the culprit, one crypto per run, then one cell per run."""

    job: dg.JobDefinition
    instance: dg.DagsterInstance
    report: SweepReport
    log: Callable[[str], None]
    fingerprints: dict[str, str | None]
    crypto_order: list[str]
    fv_order: list[str]
    downstream: Callable[[Collection[dg.AssetKey]], Collection[dg.AssetKey]]  # the assets depending on some (and them)
    all_assets: list[dg.AssetKey]

    def run(self, wanted: Sequence[tuple[str, str]], assets: Sequence[dg.AssetKey] | None = None) -> None:
        for cryptos, fvs in cell_boxes(self.crypto_order, self.fv_order, wanted):
            self._box(cryptos, fvs, assets)

    def _box(self, cryptos: Sequence[str], fvs: Sequence[str], assets: Sequence[dg.AssetKey] | None) -> None:
        keys = box_keys(cryptos, fvs)
        if len(keys) == 1:
            self._cell(keys[0], assets)
            return
        started = time.perf_counter()
        name = f"{keys[0]}...{keys[-1]}"
        tags = {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1],
                **fingerprint_tags({k: self.fingerprints[k] for k in keys})}
        with planned_as_range(), cell_run(name, len(keys), len(assets or self.all_assets)):
            result = self.job.execute_in_process(instance=self.instance, raise_on_error=False, run_config=QUIET_CONSOLE,
                                                 tags=tags, asset_selection=assets)
        self.report.runs += 1
        self.report.executed.append(f"{self.job.name}[{name}]")
        if result.success:
            self.log(f"  ok    {self.job.name:<16} {name} ({len(keys)} cells) {time.perf_counter() - started:6.1f}s")
            return
        left = leftover(self.instance, result.run_id, keys, assets or self.all_assets, self.downstream)
        rest = None if set(left.assets) == set(self.all_assets) else left.assets
        cells = [(crypto, fold_variant_key(fold, config)) for crypto, fold, config in map(split_cell_key, left.cells)]
        done = len(keys) - len(left.cells) - len(left.failed_cells)
        what = f"{done} cell(s) finished, {len(left.failed_cells)} failed a check, {len(left.cells)} left"
        if not left.cells and not left.failed_cells:  # every cell finished: the run failed after its last one
            self.report.failures[f"{self.job.name}[{name}]"] = _failure_message(result)
            self.report.failed_run_ids[f"{self.job.name}[{name}]"] = result.run_id
            self.log(f"  FAIL  {self.job.name:<16} {name} after finishing its cells: {_failure_message(result)}")
        elif left.failed_cells:
            self.log(f"  retry {self.job.name:<16} {name} without the cells that failed a check ({what}): "
                     f"{_failure_message(result)}")
            for key in left.failed_cells:  # each fails in a run of its own, with its own message
                self._cell(key, assets)
            self.run(cells, rest)
        elif len(cryptos) > 1:
            self.log(f"  retry {self.job.name:<16} {name} one crypto per run ({what}): {_failure_message(result)}")
            for crypto in cryptos:
                self.run([cell for cell in cells if cell[0] == crypto], rest)
        else:
            self.log(f"  retry {self.job.name:<16} {name} one cell per run ({what}): {_failure_message(result)}")
            for key in left.cells:
                self._cell(key, rest)

    def _cell(self, key: str, assets: Sequence[dg.AssetKey] | None) -> None:
        with cell_run(key, 1, len(assets or self.all_assets)):
            _execute(self.job, key, self.instance, self.report, self.log, self.fingerprints[key], assets)


def _execute(job: dg.JobDefinition, partition_key: str, instance: dg.DagsterInstance, report: SweepReport,
             log: Callable[[str], None], fingerprint: str | None,
             assets: Sequence[dg.AssetKey] | None = None) -> dg.ExecuteInProcessResult | None:
    started = time.perf_counter()
    result = job.execute_in_process(partition_key=partition_key, instance=instance, raise_on_error=False,
                                    run_config=QUIET_CONSOLE, tags=fingerprint_tags({partition_key: fingerprint}),
                                    asset_selection=assets)
    report.runs += 1
    report.executed.append(f"{job.name}[{partition_key}]")
    if result.success:
        log(f"  ok    {job.name:<16} {partition_key:<28} {time.perf_counter() - started:6.1f}s")
        return result
    message = _failure_message(result)
    report.failures[f"{job.name}[{partition_key}]"] = message
    report.failed_run_ids[f"{job.name}[{partition_key}]"] = result.run_id
    log(f"  FAIL  {job.name:<16} {partition_key:<28} {message}")
    return None


def _downstream_in(defs: dg.Definitions) -> Callable[[Collection[dg.AssetKey]], set[dg.AssetKey]]:
    graph = defs.resolve_asset_graph()
    return lambda keys: set(dg.AssetSelection.assets(*keys).downstream().resolve(graph)) if keys else set()


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The error that failed the run; where it is not one the project raises on purpose (a bug, not
    bad input), where its stack trace is."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.error
            if error is not None:
                cause = error.cause or error
                trace = "" if is_project_error(cause) else f" (stack trace: run {result.run_id} in the UI)"
                return error_text(cause) + trace
    return "run failed"


def _sweep_resource(defs: dg.Definitions) -> SweepResource:
    resource = defs.resources["sweep"]
    if not isinstance(resource, SweepResource):
        raise TypeError("Definitions must bind a SweepResource under the key 'sweep'")
    return resource
