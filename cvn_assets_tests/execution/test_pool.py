"""The worker pool: started once per process, sized native thread pools, shared values sent once, no orphans."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from cvn_assets.execution import (
    MIN_CELLS_FOR_PROCESSES,
    close_pools,
    computes_in_processes,
    native_thread_limits,
    pool_for_every_run,
    run_tasks,
    running_pool,
    task_pool,
    worker_pool,
)

ORPHAN_SECONDS = 30  # a worker still alive this long after its parent was killed fails the test


def environment_value(name: str) -> str | None:
    return os.environ.get(name)


def blas_threads() -> list[int]:
    import numpy  # noqa: F401 - loads the BLAS library whose pool is read below
    from threadpoolctl import threadpool_info

    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def identity_in(value: list[int], offset: int) -> tuple[int, int, int]:
    """Which object the worker holds for `value` (and its process): the same id means loaded once."""
    return id(value), os.getpid(), sum(value) + offset


def test_a_run_of_many_cells_computes_in_processes_unless_switched_off() -> None:
    assert computes_in_processes("auto", MIN_CELLS_FOR_PROCESSES)
    assert not computes_in_processes("auto", MIN_CELLS_FOR_PROCESSES - 1)
    assert computes_in_processes("on", 1)
    assert not computes_in_processes("off", 1000)
    with pytest.raises(ValueError, match="auto, on, off.*'sometimes'"):
        computes_in_processes("sometimes", 10)


def test_a_shared_value_is_loaded_once_by_a_worker_and_its_file_goes_with_the_run() -> None:
    numbers = list(range(1000))
    try:
        with task_pool(True, 1) as pool:
            shared = pool.share(numbers)
            folder = Path(shared.path).parent
            results = [
                f.value
                for f in run_tasks(
                    ["sum"], [1, 2, 3], lambda key, cell, inputs: partial(identity_in, shared, cell), pool.executor
                )
            ]
        assert {identity for identity, _, _ in results} and len({identity for identity, _, _ in results}) == 1
        assert {pid for _, pid, _ in results} != {os.getpid()}
        assert sorted(total for _, _, total in results) == [sum(numbers) + c for c in (1, 2, 3)]
        assert not folder.exists()
    finally:
        close_pools()


def thread_and_pid(value: list[int]) -> tuple[int, int, int]:
    return threading.get_ident(), os.getpid(), id(value)


def test_a_small_run_computes_on_one_thread_of_this_process_with_the_values_themselves() -> None:
    numbers = [1, 2]
    with task_pool(False, 4) as pool:
        assert pool.share(numbers) is numbers
        results = [
            f.value
            for f in run_tasks(
                ["sum"], list(range(8)), lambda key, cell, inputs: partial(thread_and_pid, numbers), pool.executor
            )
        ]
    threads = {thread for thread, _, _ in results}
    assert len(threads) == 1 and threads != {threading.get_ident()}  # one compute thread, whatever the workers
    assert {(pid, value) for _, pid, value in results} == {(os.getpid(), id(numbers))}


def test_a_workers_native_thread_pools_are_sized_before_its_libraries_load() -> None:
    try:
        pool = worker_pool(1, warm_imports=("numpy",), environment=native_thread_limits(1))
        assert pool.submit(environment_value, "OPENBLAS_NUM_THREADS").result() == "1"
        assert set(pool.submit(blas_threads).result()) == {1}
    finally:
        close_pools()


def test_the_pool_is_started_once_per_process_and_lent_to_other_work_only_once_started() -> None:
    close_pools()
    assert running_pool() is None
    started = worker_pool(1)
    try:
        assert worker_pool(1) is started and running_pool() is started
    finally:
        close_pools()
    assert running_pool() is None


def test_workers_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    pids = tmp_path / "pids.txt"
    script = textwrap.dedent(f"""
        import os
        from cvn_assets.execution import worker_pool

        if __name__ == "__main__":
            pool = worker_pool(1)
            with open({str(pids)!r}, "w") as out:
                out.write(str(pool.submit(os.getpid).result()))
            os._exit(9)  # no clean shutdown: as if the run process were killed
    """)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # Not piped: a worker left alive would hold the pipes open, and the run would wait for it.
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
    )
    assert done.returncode == 9
    worker = int(pids.read_text())
    deadline = time.monotonic() + ORPHAN_SECONDS
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    orphaned = _alive(worker)
    if orphaned:
        os.kill(worker, signal.SIGKILL)
    assert not orphaned


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


def test_a_script_without_a_main_guard_is_not_run_again_in_its_workers(tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(f"""
        import os
        from cvn_assets.execution import close_pools, worker_pool

        with open({str(runs)!r}, "a") as log:
            log.write("script ran\\n")
        assert worker_pool(2).submit(os.getpid).result() != os.getpid()
        close_pools()
    """)
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, str(script)], env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert runs.read_text() == "script ran\n"


def test_a_small_run_computes_in_processes_only_inside_a_sweep_that_started_the_pool() -> None:
    assert not computes_in_processes("auto", 5)
    with pool_for_every_run():
        assert computes_in_processes("auto", 5)
        assert not computes_in_processes("auto", 1)  # one cell gains nothing from a worker
        assert not computes_in_processes("off", 5)
    assert not computes_in_processes("auto", 5)
