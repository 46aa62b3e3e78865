"""run_tasks: values equal to a serial computation, tasks at once, handed back as they complete, errors named."""

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from multiprocessing.managers import SyncManager
from typing import Any

import pytest

from cvn_assets.execution import Finished, WorkerDied, close_pools, run_tasks, worker_pool

CELLS = [1, 2, 3]
WAIT_SECONDS = 60  # how long a task waits for the other; a serial run fails the test after it


def scaled(cell: int) -> int:
    return 10 * cell


def plus_one(value: int) -> int:
    return value + 1


def both(first: int, second: int) -> tuple[int, int]:
    return first, second


def meet(mine: Any, theirs: Any) -> bool:
    """Says this task started, then waits for the other: both return True only if they run at once."""
    mine.set()
    return theirs.wait(WAIT_SECONDS)


def after(event: Any | None, label: str) -> str:
    if event is not None:
        event.wait(WAIT_SECONDS)
    return label


def exit_now(code: int) -> None:
    os._exit(code)


class Refused(Exception):
    pass


def refuse(reason: str) -> None:
    raise Refused(reason)


def task(key: str, cell: int, inputs: dict[str, Any]) -> partial[Any]:
    """a = 10·cell; b = a + 1; c = (a, b) — a small graph of three keys."""
    if key == "a":
        return partial(scaled, cell)
    if key == "b":
        return partial(plus_one, inputs["a"])
    return partial(both, inputs["a"], inputs["b"])


DEPS = {"b": ["a"], "c": ["a", "b"]}


@pytest.fixture(scope="module")
def processes() -> Iterator[ProcessPoolExecutor]:
    yield worker_pool(2)
    close_pools()


@pytest.fixture(scope="module")
def manager() -> Iterator[SyncManager]:
    with SyncManager() as started:
        yield started


def test_values_in_worker_processes_equal_the_serial_computation(processes: ProcessPoolExecutor) -> None:
    finished = list(run_tasks(["a", "b", "c"], CELLS, task, processes, deps=DEPS))
    expected = (
        {("a", c): 10 * c for c in CELLS}
        | {("b", c): 10 * c + 1 for c in CELLS}
        | {("c", c): (10 * c, 10 * c + 1) for c in CELLS}
    )
    assert {(f.key, f.cell): f.value for f in finished} == expected
    assert len(finished) == len(expected)
    # a cell's upstream value is handed back before its downstream ones
    for cell in CELLS:
        order = [f.key for f in finished if f.cell == cell]
        assert order == ["a", "b", "c"]


def test_a_dependency_outside_the_run_is_read_from_the_stored_values() -> None:
    with ThreadPoolExecutor(max_workers=1) as thread:
        finished = list(run_tasks(["b"], CELLS, task, thread, deps=DEPS, stored={"a": {c: -c for c in CELLS}}))
    assert {f.cell: f.value for f in finished} == {c: 1 - c for c in CELLS}


def test_two_tasks_run_at_once_in_two_workers(processes: ProcessPoolExecutor, manager: SyncManager) -> None:
    events = [manager.Event(), manager.Event()]

    def waiting(key: str, cell: int, inputs: dict[str, Any]) -> partial[bool]:
        return partial(meet, events[cell], events[1 - cell])

    finished = list(run_tasks(["meet"], [0, 1], waiting, processes))
    assert [f.value for f in finished] == [True, True]


def test_values_are_handed_back_as_they_complete_not_as_submitted(
    processes: ProcessPoolExecutor, manager: SyncManager
) -> None:
    slow_may_end = manager.Event()

    def slow_first(key: str, cell: str, inputs: dict[str, Any]) -> partial[str]:
        return partial(after, slow_may_end if cell == "slow" else None, cell)

    order = []
    for finished in run_tasks(["wait"], ["slow", "fast"], slow_first, processes):
        order.append(finished.value)
        slow_may_end.set()  # only once the fast task is handed back
    assert order == ["fast", "slow"]


def test_a_worker_that_dies_is_a_one_line_error_naming_the_cell_and_the_pool_is_replaced() -> None:
    pool = worker_pool(1)

    def dying(key: str, cell: str, inputs: dict[str, Any]) -> partial[None]:
        return partial(exit_now, 3)

    with pytest.raises(WorkerDied) as raised:
        list(run_tasks(["oos_predictions/xgboost"], ["BTC|f2.baseline"], dying, pool))
    message = str(raised.value)
    assert "\n" not in message
    assert "computing oos_predictions/xgboost of cell BTC|f2.baseline ended" in message
    replacement = worker_pool(1)
    assert replacement is not pool and replacement.submit(plus_one, 1).result() == 2


def test_an_error_names_its_key_and_cell_and_nothing_after_it_starts() -> None:
    started: list[tuple[str, int]] = []

    def failing_on_two(key: str, cell: int, inputs: dict[str, Any]) -> partial[Any]:
        started.append((key, cell))
        return partial(refuse, "no such fold") if (key, cell) == ("a", 2) else task(key, cell, inputs)

    with ThreadPoolExecutor(max_workers=1) as thread:
        with pytest.raises(Refused, match="no such fold") as raised:
            list(run_tasks(["a", "b", "c"], CELLS, failing_on_two, thread, deps=DEPS))
    assert "while computing a of cell 2" in raised.value.__notes__
    assert ("b", 2) not in started and ("c", 2) not in started


def test_a_stopping_value_lets_earlier_keys_finish_and_starts_no_later_key() -> None:
    started: list[tuple[str, int]] = []

    def recording(key: str, cell: int, inputs: dict[str, Any]) -> partial[Any]:
        started.append((key, cell))
        return task(key, cell, inputs)

    gate = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(gate.wait)  # every task is submitted before the first one runs
        run = run_tasks(["a", "b", "c"], CELLS, recording, thread, deps=DEPS, stops=lambda value: value == 21)
        gate.set()
        finished: list[Finished[str, int]] = list(run)
    assert {(f.key, f.cell) for f in finished} == {("a", c) for c in CELLS} | {("b", c) for c in CELLS}
    assert not [s for s in started if s[0] == "c"]


def test_the_tasks_a_value_makes_ready_start_before_the_caller_gets_it() -> None:
    """A caller that spends a while on each value (recording it) does not keep the workers waiting."""
    submitted: list[tuple[str, int]] = []

    def make_task(key: str, cell: int, inputs: dict[str, Any]) -> partial[str]:
        submitted.append((key, cell))
        return partial(str, key)

    with ThreadPoolExecutor(max_workers=1) as executor:
        for finished in run_tasks(["model", "metrics"], [1], make_task, executor, deps={"metrics": ["model"]}):
            if finished.key == "model":
                assert submitted == [("model", 1), ("metrics", 1)]
