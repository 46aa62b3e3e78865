"""The gates' part of a sweep step: each factor's gate once its cells are settled, then each joint rule.

A factor's gate runs when no cell of its configurations is still to compute or being computed in the
sweep; one whose configurations lack cells the sweep does not compute waits (a partial run, not a
failure); one whose inputs failed in this sweep reports that failure instead of running. A joint rule
waits for the gates of both its factors, decides its candidate from the results, has the candidate's
cells computed, then runs its own gate.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from functools import cache
from typing import Protocol

import dagster as dg
import pandas as pd

from cvn_assets.core.catalogue.loading import Catalogue
from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.gate.sweep import decide_joint
from cvn_assets.defs.jobs import GATE_JOB
from cvn_assets.lineage.fingerprints import fingerprint_tags
from cvn_assets.orchestration.plan import SweepPlan
from cvn_assets.orchestration.run_failures import gate_inputs_failed
from cvn_assets.orchestration.runs import PlannedRun
from cvn_assets.orchestration.state import Situation, SweepStep


class SweepPlanner(Protocol):
    """What planning a sweep's gates reads and calls of the sweep's planner (`steps.SweepPlanner`)."""

    catalogue: Catalogue
    cryptos: list[str]
    folds: list[str]
    all_folds: list[str]
    configs: list[str]
    plan: SweepPlan

    def cells(
        self,
        step: SweepStep,
        situation: Situation,
        configs: Sequence[str],
        ready: Sequence[str],
        stored: Callable[[], set[str]],
    ) -> set[str]: ...

    def wait_for(self, step: SweepStep, run: dg.DagsterRun) -> None: ...

    def fail(self, step: SweepStep, run: dg.DagsterRun) -> None: ...


PENDING, DONE, WAITING, FAILED = "pending", "done", "waiting", "failed"


def plan_gates(
    planner: SweepPlanner,
    step: SweepStep,
    situation: Situation,
    unsettled: Collection[str],
    ready: list[str],
    rows: Callable[[], pd.DataFrame],
    stored: Callable[[], set[str]],
) -> None:
    """Plans the gate runs the step can start: `unsettled` are the configurations whose cells are not all
    settled, `ready` the cryptos whose data is there, `rows` the sweep's results, `stored` their cell keys."""
    catalogue = planner.catalogue

    def inputs_failed(name: str) -> str | None:
        return gate_inputs_failed(name, rows(), step.failures) if step.failures else None

    def gate(name: str) -> str:
        return _gate(planner, step, situation, name, inputs_failed(name))

    stored_cells = cache(lambda: set(rows()[["crypto", "fold", "config_id"]].itertuples(index=False, name=None)))
    states = {}
    for factor in catalogue.factors:
        configs = {c.config_id for c in catalogue.configs() if any(m[0] == factor.name for m in c.members)}
        if configs & set(unsettled):
            states[factor.name] = PENDING
        elif not inputs_failed(factor.name) and (
            waits := gate_waits_for(
                catalogue, factor.name, planner.cryptos, planner.folds, planner.configs, stored_cells
            )
        ):
            step.waiting[factor.name] = waits
            states[factor.name] = WAITING
        else:
            states[factor.name] = gate(factor.name)
    for rule in catalogue.joint_rules:
        if PENDING in (states[name] for name in rule.factors):
            continue
        if waiting := [name for name in rule.factors if states[name] == WAITING]:
            step.waiting[rule.name] = f"waits for the gate of {' and '.join(waiting)}"
            continue
        try:
            decision = decide_joint(catalogue, rule, rows())
        except InsufficientDataError as exc:  # a factor's own gate failed the same way, above
            blocked = next(filter(None, (gate_inputs_failed(f, rows(), step.failures) for f in rule.factors)), exc)
            step.failures[f"{GATE_JOB}[{rule.name}]"] = f"joint rule not decided: {blocked}"
            continue
        step.notes.append(f"  joint {rule.name}: " + "; ".join(decision.reasons))
        if decision.config_id is None or not planner.cells(step, situation, [decision.config_id], ready, stored):
            gate(rule.name)


def _gate(planner: SweepPlanner, step: SweepStep, situation: Situation, name: str, blocked: str | None) -> str:
    """The gate of `name`: done, in flight, failed in this sweep, blocked by its inputs' failure, or to run."""
    label = f"{GATE_JOB}[{name}]"
    if blocked:  # its inputs failed in this sweep: no run, whose failure would only repeat theirs
        step.failures[label] = blocked
        return FAILED
    expected, behind = planner.plan.gate(name, planner.all_folds)
    if behind:
        step.notes.append(
            f"  note  {name} reads {len(behind)} cell(s) materialized under other inputs, parameters "
            f"or code than the catalogue's now (e.g. {behind[0]}): run them to bring its verdict up "
            "to date"
        )
    if (run_id := planner.plan.done_gate(name, expected, situation.own)) is not None:
        step.skipped += run_id not in situation.own
        step.gated.append(name)
        return DONE
    if (run := situation.busy[GATE_JOB].get(name)) is not None:
        planner.wait_for(step, run)
        return PENDING
    if (run := situation.failed[GATE_JOB].get(name)) is not None:
        planner.fail(step, run)
        return FAILED
    step.runs.append(PlannedRun(GATE_JOB, (name,), fingerprint_tags({name: expected})))
    return PENDING


def gate_waits_for(
    catalogue: Catalogue,
    factor: str,
    cryptos: Collection[str],
    folds: Collection[str],
    selected: Collection[str],
    stored: Callable[[], Collection[tuple[str, str, str]]],
) -> str | None:
    """What the gate of `factor` still lacks in a run of the `selected` configurations over `cryptos` × `folds`:
    e.g. "baseline none has 0/25 cells, aggressive has 0/25 cells", or None when it can be gated.

    A configuration of the factor that the run did not select needs every one of those cells in the
    results store (`stored`: the (crypto, fold, config_id) cells there, read only when needed); a selected
    one was run now, so a cell of it that is missing failed, which the run reports as a failure instead.
    """
    baseline = catalogue.factor(factor).baseline
    total = len(cryptos) * len(folds)
    lacking = []
    for config in catalogue.configs():
        variants = [variant for name, variant in config.members if name == factor]
        if not variants or config.config_id in selected:
            continue
        cells = stored()
        have = sum((crypto, fold, config.config_id) in cells for crypto in cryptos for fold in folds)
        if have < total:
            label = f"baseline {baseline}" if baseline in variants else ", ".join(variants)
            lacking.append(f"{label} has {have}/{total} cells")
    return ", ".join(lacking) or None
