"""The computations of a cell step: every selected asset of every cell of the run, from worker threads.

Each worker thread computes its tasks itself or, for a run of many cells, hands each to a worker
process and waits for it (`core.worker_processes`); the scheduling below is the same.

A task is one asset of one cell; it starts once the cell's upstream assets of the run are computed.
While Dagster records one asset (values, metadata, checks — in the step's own thread), the workers
already compute the next ones. An asset is handed back to be recorded as soon as all its cells are
computed (and its upstream assets of the run were), not in the run's order: a model whose fits end
early is recorded while the slower model still trains, instead of in the step's last seconds.

With more than one worker, a free worker prefers a task that runs well beside what the others run.
On threads, the cleanlab, ensemble and metrics computations are mostly Python, so two of them at once
run little faster than one. A fit in one native call (CatBoost) releases the GIL for its whole
length: the best partner of a Python task. A fit whose boosting rounds loop in Python (XGBoost,
LightGBM) takes the GIL back after every round and waits for it behind a Python task: it is best
beside another fit.

Each task reads only its own cell's inputs and seeds, so the values do not depend on the order or
the number of workers. With several threads computing, a task gets its own copies of its inputs
(see `core.thread_copies`), unless they go to a process (`copy_inputs=False`: pickling copies them).
A task that raises stops the scheduling (the assets finished before it are still handed back, then
its error); a failed blocking check stops every asset after its own (those before it still complete).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import dagster as dg

from cvn_assets.core.thread_copies import frames_copy
from cvn_assets.defs.assets.cell_types import Cell, Part

Task = tuple[int, int]  # (asset index in the run's order, cell index)
PYTHON, NATIVE, NATIVE_ROUNDS = "python", "native", "native_rounds"
# For each kind a worker is running, the kinds the free worker prefers to start, best first.
PARTNERS = {PYTHON: (NATIVE, NATIVE_ROUNDS, PYTHON), NATIVE: (PYTHON, NATIVE_ROUNDS, NATIVE),
            NATIVE_ROUNDS: (NATIVE, NATIVE_ROUNDS, PYTHON)}
ComputeTask = Callable[[int, Cell, Mapping[dg.AssetKey, Any]], Part]


class CellScheduler:
    """Runs the (asset, cell) tasks of one step on `workers` threads and hands back whole assets as they complete."""

    def __init__(self, keys: Sequence[dg.AssetKey], deps: Mapping[dg.AssetKey, Sequence[dg.AssetKey]],
                 cells: Sequence[Cell], stored: Mapping[dg.AssetKey, Mapping[str, Any]], compute: ComputeTask,
                 *, workers: int, kind: Callable[[dg.AssetKey], str], copy_inputs: bool = True) -> None:
        self._keys, self._cells, self._stored, self._compute = list(keys), list(cells), stored, compute
        self._index = {key: i for i, key in enumerate(self._keys)}
        self._deps = [[d for d in deps.get(key, ()) if d in self._index or d in stored] for key in self._keys]
        self._kinds = [kind(key) for key in self._keys]
        self._parts: list[dict[int, Part]] = [{} for _ in self._keys]
        self._pending: list[Task] = [(a, c) for a in range(len(self._keys)) for c in range(len(self._cells))]
        self._running: dict[Task, str] = {}
        self._error: BaseException | None = None
        self._last_asset = len(self._keys) - 1  # lowered by a failed blocking check
        self._closing = False
        self._copy_inputs = copy_inputs
        self.last_computed: float | None = None  # perf_counter() when the latest task finished
        self._condition = threading.Condition()
        count = max(1, min(workers, len(self._cells)))
        self._threads = [threading.Thread(target=self._work, name=f"cell-compute-{i}", daemon=True)
                         for i in range(count)]

    def __enter__(self) -> CellScheduler:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        with self._condition:
            self._closing = True  # running tasks finish; nothing new starts
            self._condition.notify_all()
        for thread in self._threads:
            thread.join()

    def completed(self) -> Iterator[tuple[int, dict[str, Part]]]:
        """Each asset (its index and every cell's part) as soon as all its cells are computed and its
        upstream assets of the run were handed back, lowest index first among those ready; then the error
        that stopped the step, if any (the assets finished before it are handed back first). After a failed
        blocking check, the assets after the failed one are not computed, so they are not handed back."""
        handed: set[int] = set()
        while True:
            with self._condition:
                while (index := self._ready_asset(handed)) is None:
                    if self._error is not None:
                        raise self._error
                    if all(i in handed for i in range(self._last_asset + 1)):
                        return
                    self._condition.wait()
                parts = {self._cells[c].key: part for c, part in sorted(self._parts[index].items())}
            handed.add(index)
            yield index, parts

    def _ready_asset(self, handed: set[int]) -> int | None:
        """The lowest asset not yet handed back whose cells are all computed and whose upstream assets of
        the run were handed back (lock held)."""
        for index in range(len(self._keys)):
            if (index not in handed and index <= self._last_asset and len(self._parts[index]) == len(self._cells)
                    and all(self._index[dep] in handed for dep in self._deps[index] if dep in self._index)):
                return index
        return None

    def _work(self) -> None:
        while True:
            with self._condition:
                task = self._next()
                if task is None:
                    self._condition.notify_all()
                    return
                self._running[task] = self._kinds[task[0]]
            asset, cell_index = task
            cell = self._cells[cell_index]
            try:
                part = self._compute(asset, cell, self._inputs(asset, cell_index))
            except BaseException as error:  # noqa: BLE001 - handed to the step's thread, which raises it
                with self._condition:
                    self._error = self._error or error
                    del self._running[task]
                    self._condition.notify_all()
                return
            with self._condition:
                self._parts[asset][cell_index] = part
                del self._running[task]
                self.last_computed = time.perf_counter()
                if part.check is not None and not part.check.passed:
                    self._last_asset = min(self._last_asset, asset)
                self._condition.notify_all()

    def _inputs(self, asset: int, cell_index: int) -> dict[dg.AssetKey, Any]:
        key = self._cells[cell_index].key
        with self._condition:
            inputs = {dep: (self._parts[self._index[dep]][cell_index].value if dep in self._index
                            else self._stored[dep][key]) for dep in self._deps[asset]}
        return frames_copy(inputs) if self._copy_inputs and len(self._threads) > 1 else inputs

    def _next(self) -> Task | None:
        """The next task to start (lock held), waiting while none is ready; None when there is nothing left."""
        while True:
            if self._error is not None or self._closing:
                return None
            self._pending = [t for t in self._pending if t[0] <= self._last_asset]
            if not self._pending:
                return None
            ready = [t for t in self._pending if self._ready(t)]
            if ready:
                others = set(self._running.values())
                task = min(ready, key=lambda t: (_rank(self._kinds[t[0]], others), t))
                self._pending.remove(task)
                return task
            self._condition.wait()

    def _ready(self, task: Task) -> bool:
        asset, cell_index = task
        return all(cell_index in self._parts[self._index[dep]] for dep in self._deps[asset] if dep in self._index)



def _rank(kind: str, others: set[str]) -> int:
    """How well a task of `kind` runs beside the running kinds (0 is best; all equal when none runs)."""
    return min((PARTNERS[other].index(kind) for other in others), default=0)
