"""Worker processes that call functions for the parent, keeping the large inputs they share.

Threads computing beside a Python thread wait for the GIL: a fit whose boosting rounds loop in Python
takes it back after every round, and the Python computations (cleanlab, ensembles, metrics) hold it
throughout. Worker processes share only the cores. concurrent.futures' process pool is not enough
here: its tasks cannot name the worker they run on, so every task would carry the per-crypto frames
(megabytes) again. A `Worker` remembers which shared values it already holds and sends each once per
generation (a run, or a sweep); the parent only sends the task's own arguments after that.

Workers are started with `spawn`: a process forked after a GBM has trained can hang (LightGBM's
OpenMP state is not fork-safe), and a spawned one starts from a clean interpreter. A worker ignores
Ctrl-C (the parent stops it) and exits when the parent's end of its pipe closes.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import multiprocessing
import os
import pickle
import queue
import resource
import signal
import sys
import threading
import traceback
import types
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any, TypeVar

T = TypeVar("T")
PROCESS_MODES = ("auto", "on", "off")
# From this many cells a run computes them in worker processes: starting them costs a few seconds,
# which a crypto's 25 cells repay many times and a backfill chunk of one configuration's folds does not.
MIN_CELLS_FOR_PROCESSES = 10
# name -> (key, value): the function gets `name=value`; the worker keeps the value under `key`.
SharedValues = Mapping[str, tuple[Hashable, Callable[[], Any]]]
# The native thread pools a process starts by default, one thread per core each: BLAS (numpy, scipy,
# scikit-learn) and OpenMP. Two workers on two cores, each with a pool per core, take turns on them.
NATIVE_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def native_thread_limits(threads: int) -> dict[str, str]:
    """The environment that sizes a worker's native thread pools to `threads` (the learners' own count)."""
    return {name: str(threads) for name in NATIVE_THREAD_VARIABLES}


def computes_in_processes(mode: str, cells: int) -> bool:
    """Whether a run of `cells` cells computes them in worker processes under `mode` (auto, on, off)."""
    if mode not in PROCESS_MODES:
        raise ValueError(f"the cell process mode must be one of {', '.join(PROCESS_MODES)}, got {mode!r}")
    if multiprocessing.current_process().daemon:
        return False  # a daemonic process may not start processes of its own
    return mode == "on" or (mode == "auto" and cells >= MIN_CELLS_FOR_PROCESSES)


class WorkerDied(RuntimeError):
    """The worker process ended while computing (killed, out of memory, or a crash in native code)."""


class Worker:
    """One worker process, and the shared values it holds for the current generation."""

    def __init__(self, warm_imports: Sequence[str] = (), environment: Mapping[str, str] | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, tuple(warm_imports), dict(environment or {})),
                                        daemon=True, name="cvn-worker")
        with _without_main_module():
            self._process.start()
        child.close()
        self._generation: Hashable = None
        self._held: set[Hashable] = set()
        self.values_sent = 0

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def call(self, function: Callable[..., T], *args: Any, shared: SharedValues | None = None,
             generation: Hashable = None) -> T:
        """`function(*args, **shared values)` in the worker; its exception, if it raises, with the
        worker's traceback as a note. Values of an earlier generation are dropped first."""
        if generation != self._generation:
            self._held = set()
        sending = {name: (key, key not in self._held, None if key in self._held else make())
                   for name, (key, make) in (shared or {}).items()}
        try:
            self._connection.send((generation, function, args, sending))
            status, value, detail = self._connection.recv()
        except (EOFError, OSError) as error:
            self.stop()
            raise WorkerDied(f"the worker process computing {_name(function)} ended "
                             f"(exit code {self._process.exitcode})") from error
        except BaseException:
            self.stop(kill=True)  # interrupted: a reply may still come, so this worker takes no other call
            raise
        self._generation = generation
        sent = [key for key, fresh, _ in sending.values() if fresh]
        self._held.update(sent)
        self.values_sent += len(sent)
        if status == "ok":
            return value
        error = _unpickled_error(value) or RuntimeError(detail)
        error.add_note(f"in worker process {self._process.pid}:\n{detail}")
        raise error

    def stop(self, kill: bool = False) -> None:
        self._connection.close()
        if kill:
            self._process.kill()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


class WorkerPool:
    """`size` workers, lent one at a time; a worker that died is replaced when it is handed back.

    `warm_imports` are imported by each worker as it starts; `environment` is set in each worker
    before that (e.g. `native_thread_limits`)."""

    def __init__(self, size: int, warm_imports: Sequence[str] = (), environment: Mapping[str, str] | None = None
                 ) -> None:
        self.size = size
        self._warm_imports = tuple(warm_imports)
        self._environment = dict(environment or {})
        self._workers = [Worker(self._warm_imports, self._environment) for _ in range(size)]
        self._idle: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        for worker in self._workers:
            self._idle.put(worker)

    @contextmanager
    def worker(self) -> Iterator[Worker]:
        """A worker of this pool (waits while all are lent)."""
        worker = self._idle.get()
        try:
            yield worker
        finally:
            if not worker.alive:
                self._workers.remove(worker)
                worker = Worker(self._warm_imports, self._environment)
                self._workers.append(worker)
            self._idle.put(worker)

    def peak_rss_mb(self) -> float:
        """The sum of the workers' peak resident memory (call it while none is lent)."""
        return sum(worker.call(_peak_rss_mb) for worker in self._workers if worker.alive)

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()


_SHARED: dict[tuple[int, tuple[str, ...], tuple[tuple[str, str], ...]], WorkerPool] = {}
_SHARED_LOCK = threading.Lock()


def shared_pool(size: int, warm_imports: Sequence[str] = (), environment: Mapping[str, str] | None = None
                ) -> WorkerPool:
    """The process-wide pool of `size` such workers (started once, then reused by every later caller,
    so a sweep of several runs starts its workers once)."""
    key = (size, tuple(warm_imports), tuple(sorted((environment or {}).items())))
    with _SHARED_LOCK:
        if key not in _SHARED:
            if not _SHARED:
                atexit.register(_close_at_exit)
            _SHARED[key] = WorkerPool(size, warm_imports, environment)
        return _SHARED[key]


def running_shared_pool() -> WorkerPool | None:
    """A shared pool this process has already started, or None: workers other work may borrow while
    they are idle (none is started for it)."""
    with _SHARED_LOCK:
        return next(iter(_SHARED.values()), None)


@contextmanager
def submitting_to(pool: WorkerPool) -> Iterator[Callable[..., Future[Any]]]:
    """`submit(function, *args)`: a Future of `function(*args)` computed in one of the pool's workers,
    as many at once as the pool has workers."""
    def in_worker(function: Callable[..., T], *args: Any) -> T:
        with pool.worker() as worker:
            return worker.call(function, *args)

    with ThreadPoolExecutor(max_workers=pool.size, thread_name_prefix="pool-submit") as threads:
        yield lambda function, *args: threads.submit(in_worker, function, *args)


def close_shared_pools() -> float:
    """Stops the shared pools' workers; returns the sum of their peak resident memory in MB."""
    with _SHARED_LOCK:
        peak = 0.0
        for pool in _SHARED.values():
            try:
                peak += pool.peak_rss_mb()
            finally:
                pool.close()
        _SHARED.clear()
        return peak


def _close_at_exit() -> None:
    with contextlib.suppress(Exception):  # the interpreter is ending: a worker already gone is no news
        close_shared_pools()


_MAIN_SWAP = threading.Lock()


@contextmanager
def _without_main_module() -> Iterator[None]:
    """A worker runs only functions of importable modules, so it starts without the parent's main
    module: spawn would otherwise run the parent's script again in it (all of it, in a script without
    an `if __name__ == "__main__"` guard)."""
    with _MAIN_SWAP:
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = main


def _serve(connection: Connection, warm_imports: tuple[str, ...], environment: dict[str, str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its workers; Ctrl-C is the parent's
    os.environ.update(environment)  # before the imports: native libraries read it once, as they load
    for module in warm_imports:  # paid once while the parent prepares, not in the first task
        importlib.import_module(module)
    generation: Hashable = None
    held: dict[Hashable, Any] = {}
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        new_generation, function, args, sending = message
        if new_generation != generation:
            generation, held = new_generation, {}
        try:
            for key, fresh, value in sending.values():
                if fresh:
                    held[key] = value
            reply = ("ok", function(*args, **{name: held[key] for name, (key, _, _) in sending.items()}), "")
        except BaseException as error:  # noqa: BLE001 - handed to the parent, which raises it
            reply = ("error", _pickled_error(error), traceback.format_exc())
        try:
            connection.send(reply)
        except Exception:  # noqa: BLE001 - the value does not pickle: the parent gets the reason
            connection.send(("error", None, f"the result of {_name(function)} could not be sent back:\n"
                             f"{traceback.format_exc()}"))


def _peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _pickled_error(error: BaseException) -> bytes | None:
    try:
        return pickle.dumps(error)
    except Exception:  # noqa: BLE001 - the traceback text still reaches the parent
        return None


def _unpickled_error(payload: bytes | None) -> BaseException | None:
    # An exception class whose constructor takes other arguments than it stores may not load back.
    try:
        error = pickle.loads(payload) if payload is not None else None
    except Exception:  # noqa: BLE001
        return None
    return error if isinstance(error, BaseException) else None


def _name(function: Callable[..., Any]) -> str:
    return getattr(function, "__qualname__", repr(function))
