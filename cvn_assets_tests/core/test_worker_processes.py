"""Worker processes: calls, shared values sent once per generation, errors and a worker that dies."""

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cvn_assets.core.worker_processes import (
    MIN_CELLS_FOR_PROCESSES, WorkerDied, WorkerPool, close_shared_pools, computes_in_processes, native_thread_limits,
    running_shared_pool, shared_pool, submitting_to,
)


class Refused(Exception):
    pass


def total(offset: int, *, numbers: list[int]) -> tuple[int, int]:
    return offset + sum(numbers), os.getpid()


def refuse(reason: str) -> None:
    raise Refused(reason)


def lock_result() -> threading.Lock:
    return threading.Lock()  # does not pickle


def exit_now(code: int) -> None:
    os._exit(code)


def pid_once_both_started(folder: str) -> int:
    """Marks this call as started, then waits (up to 60 s) until two calls have: only calls that run at
    once both return early."""
    Path(folder, str(os.getpid())).touch()
    deadline = time.monotonic() + 60
    while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid()


def environment_value(name: str) -> str | None:
    return os.environ.get(name)


def blas_threads() -> list[int]:
    import numpy  # noqa: F401 - loads the BLAS library whose pool is read below
    from threadpoolctl import threadpool_info

    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool(1)
    yield workers
    workers.close()


def test_a_shared_value_crosses_once_per_generation(pool: WorkerPool) -> None:
    numbers = list(range(1000))
    made: list[str] = []

    def shared(key: str) -> dict:
        return {"numbers": (key, lambda: made.append(key) or numbers)}

    with pool.worker() as worker:
        first, pid = worker.call(total, 1, shared=shared("a"), generation="run-1")
        second, same_pid = worker.call(total, 2, shared=shared("a"), generation="run-1")
        assert (first, second) == (sum(numbers) + 1, sum(numbers) + 2)
        assert pid == same_pid != os.getpid()
        assert made == ["a"] and worker.values_sent == 1
        worker.call(total, 0, shared=shared("b"), generation="run-1")  # another key: sent
        worker.call(total, 0, shared=shared("a"), generation="run-2")  # a new generation: sent again
    assert made == ["a", "b", "a"]


def test_an_error_is_raised_with_the_workers_traceback_and_the_worker_goes_on(pool: WorkerPool) -> None:
    with pool.worker() as worker:
        with pytest.raises(Refused, match="no such cell") as raised:
            worker.call(refuse, "no such cell")
        assert any("in worker process" in note and "refuse" in note for note in raised.value.__notes__)
        assert worker.call(total, 5, shared={"numbers": ("n", lambda: [1])})[0] == 6


def test_a_result_that_cannot_be_sent_back_says_so(pool: WorkerPool) -> None:
    with pool.worker() as worker:
        with pytest.raises(RuntimeError, match="lock_result could not be sent back"):
            worker.call(lock_result)
        assert worker.alive


def test_a_worker_that_dies_is_reported_and_replaced() -> None:
    pool = WorkerPool(1)
    try:
        with pool.worker() as worker:
            with pytest.raises(WorkerDied, match=r"exit_now ended \(exit code 3\)"):
                worker.call(exit_now, 3)
        with pool.worker() as replacement:
            assert replacement is not worker and replacement.alive
            assert replacement.call(total, 1, shared={"numbers": ("n", lambda: [2])})[0] == 3
    finally:
        pool.close()


def test_a_run_of_many_cells_computes_in_processes_unless_switched_off() -> None:
    assert computes_in_processes("auto", MIN_CELLS_FOR_PROCESSES)
    assert not computes_in_processes("auto", MIN_CELLS_FOR_PROCESSES - 1)
    assert computes_in_processes("on", 1)
    assert not computes_in_processes("off", 1000)
    with pytest.raises(ValueError, match="auto, on, off.*'sometimes'"):
        computes_in_processes("sometimes", 10)


def test_a_script_without_a_main_guard_is_not_run_again_in_its_workers(tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        import os
        from cvn_assets.core.worker_processes import WorkerPool
        with open({str(runs)!r}, "a") as log:
            log.write("script ran\\n")
        pool = WorkerPool(1)
        with pool.worker() as worker:
            assert worker.call(os.getpid) != os.getpid()
        pool.close()
    """))
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, str(script)], env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert runs.read_text() == "script ran\n"


def test_a_workers_native_thread_pools_are_sized_before_its_libraries_load() -> None:
    pool = WorkerPool(1, warm_imports=("numpy",), environment=native_thread_limits(1))
    try:
        with pool.worker() as worker:
            assert worker.call(environment_value, "OPENBLAS_NUM_THREADS") == "1"
            assert set(worker.call(blas_threads)) == {1}
    finally:
        pool.close()


def test_work_submitted_to_a_pool_runs_in_its_workers_at_once(tmp_path: Path) -> None:
    pool = WorkerPool(2)
    try:
        with submitting_to(pool) as submit:
            futures = [submit(pid_once_both_started, str(tmp_path)) for _ in range(2)]
            pids = [future.result() for future in futures]
    finally:
        pool.close()
    assert len(set(pids)) == 2 and os.getpid() not in pids


def test_only_a_pool_already_started_is_lent_to_other_work() -> None:
    close_shared_pools()
    assert running_shared_pool() is None
    started = shared_pool(1)
    assert running_shared_pool() is started
    close_shared_pools()
    assert running_shared_pool() is None
