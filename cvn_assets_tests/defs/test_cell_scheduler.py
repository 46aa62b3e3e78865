"""The cell step's task scheduler: dependencies, order of hand-back, errors, blocking checks, pairing."""

import threading
from collections.abc import Mapping
from typing import Any

import dagster as dg
import pytest

from cvn_assets.core.sanity import CheckOutcome
from cvn_assets.defs.assets.cell_scheduler import NATIVE, NATIVE_ROUNDS, PYTHON, CellScheduler
from cvn_assets.defs.assets.cell_types import Cell, Part

LABELS, FIT, METRICS = dg.AssetKey("labels"), dg.AssetKey(["fit", "x"]), dg.AssetKey("metrics")
STORED = dg.AssetKey("stored")
CELLS = [Cell.of(f"BTC|f{i}.baseline") for i in range(1, 5)]
DEPS = {LABELS: (), FIT: (LABELS, STORED), METRICS: (FIT,)}


def _kind(key: dg.AssetKey) -> str:
    return NATIVE if key.path[0] == "fit" else PYTHON


def _stored() -> dict[dg.AssetKey, dict[str, Any]]:
    return {STORED: {cell.key: f"stored:{cell.key}" for cell in CELLS}}


def _chain(index: int, cell: Cell, inputs: Mapping[dg.AssetKey, Any]) -> Part:
    # Each value says what it was computed from, so a wrong input shows in the result.
    return Part(f"{index}({cell.key}; {', '.join(str(inputs[k]) for k in sorted(inputs))})")


def _values(workers: int) -> list[dict[str, Any]]:
    with CellScheduler([LABELS, FIT, METRICS], DEPS, CELLS, _stored(), _chain, workers=workers,
                       kind=_kind) as scheduler:
        handed = [(index, {k: p.value for k, p in parts.items()}) for index, parts in scheduler.completed()]
    assert [index for index, _ in handed] == [0, 1, 2]  # each chain asset waits for the one it reads
    return [values for _, values in handed]


def test_each_task_reads_its_own_cells_inputs_whatever_the_number_of_workers() -> None:
    serial = _values(1)
    assert serial == _values(2) == _values(3)
    assert serial[2]["BTC|f2.baseline"] == ("2(BTC|f2.baseline; 1(BTC|f2.baseline; 0(BTC|f2.baseline; ), "
                                            "stored:BTC|f2.baseline))")
    assert list(serial[0]) == [cell.key for cell in CELLS]


def test_a_failing_task_hands_back_what_finished_before_it_then_its_error() -> None:
    def compute(index: int, cell: Cell, inputs: Mapping[dg.AssetKey, Any]) -> Part:
        if index == 1 and cell.fold == "f3":
            raise ValueError("fit exploded in BTC|f3.baseline")
        return _chain(index, cell, inputs)

    with CellScheduler([LABELS, FIT, METRICS], DEPS, CELLS, _stored(), compute, workers=2,
                       kind=_kind) as scheduler:
        handed = []
        with pytest.raises(ValueError, match=r"fit exploded in BTC\|f3.baseline"):
            for index, parts in scheduler.completed():
                handed.append((index, len(parts)))
    assert handed == [(0, len(CELLS))]


def test_a_failed_blocking_check_stops_every_asset_after_its_own() -> None:
    started: list[int] = []

    def compute(index: int, cell: Cell, inputs: Mapping[dg.AssetKey, Any]) -> Part:
        started.append(index)
        failed = index == 0 and cell.fold == "f1"
        outcome = CheckOutcome(not failed, 1.0 if failed else 0.0, 0.5, "bad targets" if failed else "ok")
        return Part(index, check=outcome)

    with CellScheduler([LABELS, FIT, METRICS], DEPS, CELLS, _stored(), compute, workers=1,
                       kind=_kind) as scheduler:
        handed = list(scheduler.completed())
    assert [index for index, _ in handed] == [0]  # nothing after the failed asset is computed or handed back
    assert not handed[0][1]["BTC|f1.baseline"].check.passed  # type: ignore[union-attr]
    assert set(started) == {0}


def test_a_free_worker_pairs_a_fit_with_a_python_task() -> None:
    """With LABELS (Python) running in one worker, the other starts a ready fit before the next LABELS."""
    order: list[tuple[int, str]] = []
    fit_started = threading.Event()
    lock = threading.Lock()

    def compute(index: int, cell: Cell, inputs: Mapping[dg.AssetKey, Any]) -> Part:
        with lock:
            order.append((index, cell.fold))
        if index == 1:
            fit_started.set()
        if (index, cell.fold) == (0, "f2"):
            fit_started.wait(timeout=30)  # held until the other worker has started a fit
        return Part(index)

    with CellScheduler([LABELS, FIT], {LABELS: (), FIT: (LABELS,)}, CELLS, {}, compute, workers=2,
                       kind=_kind) as scheduler:
        list(scheduler.completed())
    assert order.index((1, "f1")) < order.index((0, "f3"))


def test_a_fit_looping_in_python_is_paired_with_a_native_fit_rather_than_python_work() -> None:
    """With an XGBoost-like fit running, the free worker starts a CatBoost-like fit before Python work
    that comes earlier in the run's order."""
    rounds, native = dg.AssetKey(["fit", "rounds"]), dg.AssetKey(["fit", "native"])
    kinds = {rounds: NATIVE_ROUNDS, LABELS: PYTHON, native: NATIVE}
    order: list[int] = []
    second_started = threading.Event()
    lock = threading.Lock()

    def compute(index: int, cell: Cell, inputs: Mapping[dg.AssetKey, Any]) -> Part:
        with lock:
            order.append(index)
            if len(order) == 2:
                second_started.set()
        if index == 0:
            second_started.wait(timeout=30)  # the rounds fit runs until the other worker has chosen
        return Part(index)

    with CellScheduler([rounds, LABELS, native], {}, CELLS[:2], {}, compute, workers=2,
                       kind=kinds.__getitem__) as scheduler:
        list(scheduler.completed())
    assert order[:2] == [0, 2]  # lowest task first would have started LABELS (1) beside the rounds fit


def test_an_asset_is_handed_back_as_soon_as_it_is_computed_not_in_the_runs_order() -> None:
    """Two independent fits: the one whose cells finish first is recorded first, even if it comes later."""
    slow, fast = dg.AssetKey(["fit", "slow"]), dg.AssetKey(["fit", "fast"])
    fast_handed = threading.Event()
    handed: list[int] = []

    def compute(index: int, cell: Cell, inputs: Mapping[dg.AssetKey, Any]) -> Part:
        if index == 0 and cell.fold == "f1":
            assert fast_handed.wait(timeout=30), "the fast asset was not handed back while the slow one computed"
        return Part(index)

    with CellScheduler([slow, fast, METRICS], {METRICS: (slow, fast)}, CELLS[:2], {}, compute, workers=2,
                       kind=_kind) as scheduler:
        for index, _ in scheduler.completed():
            handed.append(index)
            if index == 1:
                fast_handed.set()
    assert handed == [1, 0, 2]  # the downstream asset still waits for both
