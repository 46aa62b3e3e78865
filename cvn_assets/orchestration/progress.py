"""Progress of a sweep's cell runs, counted from each asset of each cell as the step computes it.

The cell step reports what it finished (`cell_computed`), the sweep runner when a cell run starts and
ends (`cell_run`), and whoever shows progress listens while the sweep runs (`listening`): a bar on a
terminal, a line every few seconds otherwise (a log file, CI, the scheduled sweep's run log). Nothing
listens in a run launched from the UI or inside a worker process, where the calls do nothing.

The unit is one asset of one cell (a "cell asset"): a run computes each asset over all its cells before
most of the next, so whole cells finish only at the end, while cell assets finish all along the run.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Protocol

from tqdm import tqdm

PROGRESS_LINE_SECONDS = 10.0  # without a terminal: at most one progress line this often


class CellProgress(Protocol):
    """What listens to a cell run's progress. `computed` is called from the step's computing threads."""

    def run_started(self, name: str, cells: int, assets: int) -> None: ...

    def computed(self, asset: str, cell: str) -> None: ...

    def run_ended(self) -> None: ...


_LISTENERS: list[CellProgress] = []
_LISTENERS_LOCK = threading.Lock()


def _listeners() -> tuple[CellProgress, ...]:
    with _LISTENERS_LOCK:
        return tuple(_LISTENERS)


def cell_computed(asset: str, cell: str) -> None:
    """One asset of one cell is computed (called by the cell step, from its computing threads)."""
    for listener in _listeners():
        listener.computed(asset, cell)


@contextmanager
def cell_run(name: str, cells: int, assets: int) -> Iterator[None]:
    """A cell run of `cells` cells × `assets` assets, named as the runner names it in its lines."""
    for listener in _listeners():
        listener.run_started(name, cells, assets)
    try:
        yield
    finally:
        for listener in _listeners():
            listener.run_ended()


@contextmanager
def listening(listener: CellProgress | None) -> Iterator[None]:
    """`listener` hears every cell run started in this process while the block runs (None: nothing)."""
    if listener is None:
        yield
        return
    with _LISTENERS_LOCK:
        _LISTENERS.append(listener)
    try:
        yield
    finally:
        with _LISTENERS_LOCK:
            _LISTENERS.remove(listener)


def console_progress(
    stream: IO[str] | None = None, every_seconds: float = PROGRESS_LINE_SECONDS, write: Callable[[str], None] = print
) -> CellProgress:
    """A bar on `stream` (default stderr) when it is a terminal, else a line through `write` every `every_seconds`."""
    stream = stream if stream is not None else sys.stderr
    if not stream.isatty():
        return ProgressLines(write, every_seconds)
    try:
        # The bar goes to the terminal itself: Dagster copies a step's stderr into the run's compute
        # log, which would keep every frame of the bar.
        stream = os.fdopen(os.dup(stream.fileno()), "w", encoding=getattr(stream, "encoding", None))
    except (OSError, io.UnsupportedOperation):
        pass  # a stream without a descriptor of its own (a test's): drawn on as it is
    return ProgressBar(stream)


class _Tally:
    """Counts of the current run, shared by the bar and the lines (guarded by `lock`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.start("", 0, 0)

    def start(self, name: str, cells: int, assets: int) -> None:
        self.name, self.cells, self.total, self.done = name, cells, cells * assets, 0
        self.per_asset: Counter[str] = Counter()

    def add(self, asset: str) -> str:
        """Count one cell asset; what it says of its asset, e.g. "fold_metrics 12/25 cells"."""
        self.done += 1
        self.per_asset[asset] += 1
        return f"{asset} {self.per_asset[asset]}/{self.cells} cells"


class ProgressLines:
    """Plain progress lines for output that is not a terminal: at most one every `every_seconds`, each
    with the cell assets done of the run's total, the asset just computed and the time left at the run's
    average pace so far."""

    def __init__(
        self,
        write: Callable[[str], None],
        every_seconds: float = PROGRESS_LINE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write, self.every_seconds, self.clock = write, every_seconds, clock
        self.tally = _Tally()
        self.started = self.last_line = clock()

    def run_started(self, name: str, cells: int, assets: int) -> None:
        with self.tally.lock:
            self.tally.start(name, cells, assets)
            self.started = self.last_line = self.clock()

    def computed(self, asset: str, cell: str) -> None:
        with self.tally.lock:
            what = self.tally.add(asset)
            now = self.clock()
            if now - self.last_line < self.every_seconds:
                return
            self.last_line = now
            tally = self.tally
            left = (tally.total - tally.done) * (now - self.started) / tally.done
            line = (
                f"  ...   {tally.name}: {tally.done}/{tally.total} cell assets "
                f"({100 * tally.done // max(tally.total, 1)} %), {what}, about {_duration(left)} left"
            )
        self.write(line)

    def run_ended(self) -> None:
        """Nothing to close: the runner's own line says how the run ended."""


class ProgressBar:
    """A tqdm bar on a terminal: cell assets done of the run's total, the asset just computed, time left."""

    FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} cell assets [{elapsed}<{remaining}{postfix}]"

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.tally = _Tally()
        self.bar: tqdm | None = None

    def run_started(self, name: str, cells: int, assets: int) -> None:
        with self.tally.lock:
            self.tally.start(name, cells, assets)
            # smoothing=0: time left at the run's average pace, steadier than the recent one as
            # quick assets (labels) and slow ones (fits) alternate.
            self.bar = tqdm(
                total=self.tally.total,
                desc="cells",
                file=self.stream,
                leave=False,
                dynamic_ncols=True,
                smoothing=0,
                bar_format=self.FORMAT,
            )

    def computed(self, asset: str, cell: str) -> None:
        with self.tally.lock:
            what = self.tally.add(asset)
            if self.bar is not None:
                self.bar.set_postfix_str(what, refresh=False)
                self.bar.update()

    def run_ended(self) -> None:
        with self.tally.lock:
            if self.bar is not None:
                self.bar.close()
                self.bar = None


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
