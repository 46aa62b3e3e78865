"""Computing a run's tasks at once: a standard pool of worker processes, and tasks handed back as they complete.

`task_pool` gives the executor (worker processes for a run of many cells, else one thread) and
`run_tasks` yields each task's value as soon as it is computed. Nothing here knows Dagster: the cell
step and the benchmark's plain loop compute through the same pool.
"""

from cvn_assets.execution.pool import (
    MIN_CELLS_FOR_PROCESSES,
    PROCESS_MODES,
    TaskPool,
    close_pools,
    computes_in_processes,
    native_thread_limits,
    pool_for_every_run,
    running_pool,
    task_pool,
    worker_pool,
)
from cvn_assets.execution.tasks import Finished, WorkerDied, run_tasks

__all__ = [
    "MIN_CELLS_FOR_PROCESSES",
    "PROCESS_MODES",
    "Finished",
    "TaskPool",
    "WorkerDied",
    "close_pools",
    "computes_in_processes",
    "native_thread_limits",
    "pool_for_every_run",
    "run_tasks",
    "running_pool",
    "task_pool",
    "worker_pool",
]
