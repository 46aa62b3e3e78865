"""Values every task of a run reads (a crypto's frames, the run's resources), sent to each worker once.

A task of a process pool carries its arguments each time, and a crypto's frames weigh megabytes:
pickled into every task they cost the parent milliseconds per task. `share(value)` writes the value
to a file once and stands for it; a worker loads the file the first time a task names it and keeps
it for the next tasks (the file name is new for every value, so a kept value is never stale).
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
# Values a worker keeps: a run's resources and each of its cryptos' frames, with room for the next run's.
KEPT_VALUES = 32
Share = Callable[[Any], Any]


def keep(value: T) -> T:
    """`share` for tasks computed in this process: the value itself."""
    return value


class Shared:
    """Stands for a value written to `path`: it pickles as the path and loads back as the value."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[[str], Any], tuple[str]]:
        return _load, (self.path,)


@contextmanager
def shared_values() -> Iterator[Share]:
    """`share(value)` for tasks sent to worker processes; the files go when the block ends."""
    folder = Path(tempfile.mkdtemp(prefix="cvn-shared-"))

    def share(value: Any) -> Any:
        path = folder / f"{uuid.uuid4().hex}.pickle"
        path.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        return Shared(str(path))

    try:
        yield share
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@lru_cache(maxsize=KEPT_VALUES)
def _load(path: str) -> Any:
    return pickle.loads(Path(path).read_bytes())
