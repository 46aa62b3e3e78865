"""Where a run's tasks compute: the process-wide pool of worker processes, or one thread of this process.

A worker pool is `concurrent.futures.ProcessPoolExecutor` started with `spawn`: a process forked
after a GBM has trained can hang (LightGBM's OpenMP state is not fork-safe), and a spawned one starts
from a clean interpreter. Its initializer sizes the native thread pools and imports the fit libraries
while the parent still prepares the run. One pool per size lives as long as this process, so a sweep
of several runs starts its workers once (concurrent.futures stops them as the interpreter exits).
"""

from __future__ import annotations

import importlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import types
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass

from cvn_assets.execution.shared import Share, keep, shared_values

PROCESS_MODES = ("auto", "on", "off")
# From this many cells a run computes them in worker processes: starting them costs a few seconds,
# which a crypto's 25 cells repay many times and a backfill chunk of one configuration's folds does not.
MIN_CELLS_FOR_PROCESSES = 10
# The native thread pools a process starts by default, one thread per core each: BLAS (numpy, scipy,
# scikit-learn) and OpenMP. Two workers on two cores, each with a pool per core, take turns on them.
NATIVE_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

PoolKey = tuple[int, tuple[str, ...], tuple[tuple[str, str], ...]]
_POOLS: dict[PoolKey, ProcessPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


@dataclass(frozen=True)
class TaskPool:
    """An executor for a run's tasks, and `share`, which hands a value every task reads to that executor
    once (the tasks then take `share(value)` in its place)."""

    executor: Executor
    share: Share


def native_thread_limits(threads: int) -> dict[str, str]:
    """The environment that sizes a worker's native thread pools to `threads` (the learners' own count)."""
    return {name: str(threads) for name in NATIVE_THREAD_VARIABLES}


def computes_in_processes(mode: str, cells: int) -> bool:
    """Whether a run of `cells` cells computes them in worker processes under `mode` (auto, on, off):
    under auto, from MIN_CELLS_FOR_PROCESSES cells, or from two inside `pool_for_every_run`."""
    if mode not in PROCESS_MODES:
        raise ValueError(f"the cell process mode must be one of {', '.join(PROCESS_MODES)}, got {mode!r}")
    if multiprocessing.current_process().daemon:
        return False  # a daemonic process may not start processes of its own
    small_runs_too = cells > 1 and _EVERY_RUN.active
    return mode == "on" or (mode == "auto" and (cells >= MIN_CELLS_FOR_PROCESSES or small_runs_too))


class _EveryRun(threading.local):
    active = False


_EVERY_RUN = _EveryRun()


@contextmanager
def pool_for_every_run() -> Iterator[None]:
    """Runs executed inside, in this thread, compute in the worker processes from two cells: a sweep that
    started the pool once for all its runs pays nothing more for its small runs."""
    previous, _EVERY_RUN.active = _EVERY_RUN.active, True
    try:
        yield
    finally:
        _EVERY_RUN.active = previous


@contextmanager
def task_pool(
    in_processes: bool, workers: int, warm_imports: Sequence[str] = (), environment: Mapping[str, str] | None = None
) -> Iterator[TaskPool]:
    """The shared worker pool of `workers` processes, or else one thread of this process (a run too
    small to repay starting processes computes its tasks one at a time, beside the caller's thread)."""
    if not in_processes:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cell-compute") as thread:
            yield TaskPool(thread, keep)
        return
    with shared_values() as share:
        yield TaskPool(worker_pool(workers, warm_imports, environment), share)


def worker_pool(
    workers: int, warm_imports: Sequence[str] = (), environment: Mapping[str, str] | None = None
) -> ProcessPoolExecutor:
    """The process-wide pool of `workers` worker processes, started now if it is not yet (or if a
    worker of it died); each worker sets `environment`, then imports `warm_imports`, as it starts."""
    key = (workers, tuple(warm_imports), tuple(sorted((environment or {}).items())))
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is not None and not _usable(pool):
            del _POOLS[key]
            pool.shutdown(wait=False)
            pool = None
        if pool is None:
            pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(tuple(warm_imports), dict(environment or {})),
            )
            with _without_main_module():
                for _ in range(workers):  # a call that finds no idle worker starts one (a start takes seconds)
                    pool.submit(os.getpid)
            _POOLS[key] = pool
        return pool


def running_pool() -> ProcessPoolExecutor | None:
    """A worker pool this process has already started, or None: workers other work may borrow while
    they are idle (none is started for it)."""
    with _POOLS_LOCK:
        return next((pool for pool in _POOLS.values() if _usable(pool)), None)


def close_pools() -> None:
    """Stops every worker pool of this process, once their tasks are done."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


def _usable(pool: ProcessPoolExecutor) -> bool:
    try:
        pool.submit(os.getpid)
    except BrokenProcessPool:  # a worker died: the executor takes no more work
        return False
    return True


@contextmanager
def _without_main_module() -> Iterator[None]:
    """Workers run only functions of importable modules, so they start without the parent's main
    module: spawn would otherwise run the parent's script again in each (all of it, in a script
    without an `if __name__ == "__main__"` guard)."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _start_worker(warm_imports: tuple[str, ...], environment: dict[str, str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its workers; Ctrl-C is the parent's
    os.environ.update(environment)  # before the imports: native libraries read it once, as they load
    parent = multiprocessing.parent_process()
    if parent is not None:
        # A worker waits for tasks on a queue it holds both ends of: without this it outlives a killed parent.
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True, name="parent-watch").start()
    for module in warm_imports:  # paid once while the parent prepares, not in the first task
        importlib.import_module(module)


def _exit_with(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(1)
