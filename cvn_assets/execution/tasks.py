"""A run's tasks, one per key and cell, computed by an executor and handed back as they complete.

A key stands for what a task computes (one asset of one cell); the task of a key for a cell starts
once the tasks of that key's dependencies for the same cell have completed, and reads their values
(or, for a dependency that is not one of the run's keys, the value given in `stored`). Each task
reads only its own cell's values, so the values do not depend on the order or the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Hashable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
C = TypeVar("C", bound=Hashable)
# What the task of a key for a cell calls, given the values of its dependencies for that cell.
MakeTask = Callable[[K, C, dict[K, Any]], Callable[[], Any]]


class WorkerDied(RuntimeError):
    """A worker process ended while computing (killed, out of memory, or a crash in native code)."""


@dataclass(frozen=True)
class Finished(Generic[K, C]):
    """The value of one key for one cell."""

    key: K
    cell: C
    value: Any


def run_tasks(
    keys: Sequence[K],
    cells: Sequence[C],
    make_task: MakeTask[K, C],
    executor: Executor,
    *,
    deps: Mapping[K, Sequence[K]] | None = None,
    stored: Mapping[K, Mapping[C, Any]] | None = None,
    stops: Callable[[Any], bool] | None = None,
) -> Generator[Finished[K, C], None, None]:
    """Each task's value as soon as it is computed (upstream before downstream, for one cell).

    A value for which `stops(value)` is true starts no task of a later key (in `keys` order): the
    earlier keys' tasks still complete. A task that raises cancels the tasks not started, waits for
    the running ones, then raises its error with a note naming its key and cell.
    """
    deps, stored = deps or {}, stored or {}
    order = {key: index for index, key in enumerate(keys)}
    values: dict[tuple[K, int], Any] = {}
    waiting = [(key, cell) for key in keys for cell in range(len(cells))]
    running: dict[Future[Any], tuple[K, int]] = {}
    last = len(keys) - 1  # lowered by a value that stops the run

    def start_ready() -> None:
        nonlocal waiting
        later: list[tuple[K, int]] = []
        for key, cell in waiting:
            if order[key] > last:
                continue
            if not all((dep, cell) in values for dep in deps.get(key, ()) if dep in order):
                later.append((key, cell))
                continue
            inputs = {
                dep: values[(dep, cell)] if dep in order else stored[dep][cells[cell]] for dep in deps.get(key, ())
            }
            running[executor.submit(make_task(key, cells[cell], inputs))] = (key, cell)
        waiting = later

    try:
        start_ready()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            finished = []
            for future in sorted(done, key=lambda f: (order[running[f][0]], running[f][1])):
                key, cell = running.pop(future)
                value = _value(future, key, cells[cell])
                if order[key] > last:
                    continue  # started before a value stopped the run
                values[(key, cell)] = value
                if stops is not None and stops(value):
                    last = min(last, order[key])
                finished.append(Finished(key, cells[cell], value))
            # The tasks these values make ready start before the caller handles the values: a caller
            # that records a finished asset for a while (Dagster's events) does not keep the workers waiting.
            start_ready()
            yield from finished
    finally:
        for future in running:
            future.cancel()
        wait(running)


def _value(future: Future[Any], key: Hashable, cell: Hashable) -> Any:
    try:
        return future.result()
    except BrokenProcessPool as error:
        raise WorkerDied(
            f"the worker process computing {key} of cell {cell} ended (killed, out of memory, "
            "or a crash in native code)"
        ) from error
    except Exception as error:
        error.add_note(f"while computing {key} of cell {cell}")
        raise
