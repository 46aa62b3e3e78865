"""Wall time, process CPU time (children included) and peak resident memory, overall and per stage."""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Usage:
    """A reading of this process: wall clock, CPU seconds of it and its waited-for children, of it alone
    (`own_cpu`: what the process does beside its worker processes), peak RSS."""

    wall: float
    cpu: float
    own_cpu: float
    peak_rss_mb: float

    @classmethod
    def now(cls) -> Usage:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        own_cpu = own.ru_utime + own.ru_stime
        return cls(
            time.perf_counter(),
            own_cpu + children.ru_utime + children.ru_stime,
            own_cpu,
            max(_megabytes(own.ru_maxrss), _megabytes(children.ru_maxrss)),
        )

    def since(self, start: Usage) -> dict[str, float]:
        """Wall and CPU seconds elapsed since `start`; the peak RSS is the process's peak so far."""
        return {
            "wall_seconds": self.wall - start.wall,
            "cpu_seconds": self.cpu - start.cpu,
            "own_cpu_seconds": self.own_cpu - start.own_cpu,
            "peak_rss_mb": self.peak_rss_mb,
        }


def children_peak_rss_mb() -> float:
    """The sum of the peak resident memory of this process's live child processes (the worker
    processes), read from /proc where there is one (0 elsewhere)."""
    return sum(_proc_peak_mb(child.pid) for child in multiprocessing.active_children() if child.pid is not None)


def _proc_peak_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024.0 for line in status.splitlines() if line.startswith("VmHWM:")), 0.0)


def _megabytes(max_rss: int) -> float:
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    return max_rss / (1024.0 * 1024.0) if sys.platform == "darwin" else max_rss / 1024.0


@dataclass
class StageTotals:
    """Seconds spent in one stage, summed over its calls."""

    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    calls: int = 0

    def as_dict(self) -> dict[str, float | int]:
        return {"wall_seconds": self.wall_seconds, "cpu_seconds": self.cpu_seconds, "calls": self.calls}


@dataclass
class StageClock:
    """Accumulates wall and CPU time per named stage (stages are not nested)."""

    stages: dict[str, StageTotals] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            totals = self.stages.setdefault(name, StageTotals())
            totals.wall_seconds += time.perf_counter() - wall
            totals.cpu_seconds += time.process_time() - cpu
            totals.calls += 1

    def add(self, other: StageClock, share: float = 1.0) -> None:
        """Adds `share` of another clock's times (e.g. of one of several cells computed at once) to this one's."""
        for name, totals in other.stages.items():
            mine = self.stages.setdefault(name, StageTotals())
            mine.wall_seconds += totals.wall_seconds * share
            mine.cpu_seconds += totals.cpu_seconds * share
            mine.calls += totals.calls

    def as_dict(self) -> dict[str, dict[str, float | int]]:
        return {name: totals.as_dict() for name, totals in self.stages.items()}
