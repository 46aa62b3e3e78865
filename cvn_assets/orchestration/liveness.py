"""Whether the process running a run is still there, for runs no daemon watches.

A run executed in process (`cvn-assets run`, `make run`) records the process and host that run it.
When that process is killed, nothing marks its run finished: Dagster's run monitoring watches only
runs that a run launcher started, in a daemon. The next sweep on the same host finds such a run still
in progress, sees that its process is gone, and marks it failed with the reason, so its cells are
planned again instead of being left to a run that will never end.

Runs in the queue count as in flight only while a daemon is there to start them.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence

import dagster as dg

PID_TAG = "cvn/pid"
HOST_TAG = "cvn/host"
# A daemon writes a heartbeat every 30 s or so; none for this long and the queue is not being served.
DAEMON_HEARTBEAT_SECONDS = 120.0
WAITING_STATUSES = (dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.QUEUED)


def process_tags() -> dict[str, str]:
    """The tags naming this process, for the runs it executes itself."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def process_gone(run: dg.DagsterRun) -> bool:
    """Whether the run names a process of this host that no longer exists (False when it cannot be known)."""
    return gone(run.tags.get(PID_TAG), run.tags.get(HOST_TAG))


def gone(pid: str | None, host: str | None) -> bool:
    """Whether process `pid` of `host` is known to no longer exist: only a process of this host can be checked."""
    if not pid or not pid.isdigit() or host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return False


def close_ghosts(instance: dg.DagsterInstance, runs: Sequence[dg.DagsterRun]) -> list[dg.DagsterRun]:
    """Marks failed, with the reason, each of these runs whose process is gone; returns the others."""
    alive = []
    for run in runs:
        if process_gone(run):
            instance.report_run_failed(
                run,
                f"the process that ran it (pid {run.tags[PID_TAG]} on "
                f"{run.tags[HOST_TAG]}) is gone: killed, or its machine restarted",
            )
        else:
            alive.append(run)
    return alive


def queue_served(instance: dg.DagsterInstance, max_age_seconds: float = DAEMON_HEARTBEAT_SECONDS) -> bool:
    """Whether a daemon has reported in lately, so queued runs will start."""
    now = time.time()
    return any(now - heartbeat.timestamp < max_age_seconds for heartbeat in instance.get_daemon_heartbeats().values())


def in_flight(instance: dg.DagsterInstance, runs: Sequence[dg.DagsterRun]) -> list[dg.DagsterRun]:
    """The runs still to be waited for: ghosts closed, and queued runs only while a daemon serves the queue."""
    alive = close_ghosts(instance, runs)
    if any(run.status in WAITING_STATUSES and PID_TAG not in run.tags for run in alive) and not queue_served(instance):
        return [run for run in alive if run.status not in WAITING_STATUSES or PID_TAG in run.tags]
    return alive
