"""Private copies of pandas values for threads that compute at once.

pandas objects are not safe to share between threads: reading one may consolidate its blocks or
fill a cache in place. And copying an object other threads read is itself safe only under a lock
(pandas' own advice), so every copy here is taken under one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

import pandas as pd

T = TypeVar("T")
_COPYING = threading.Lock()


def frames_copy(value: T) -> T:
    """Deep copies of the DataFrames in `value` (a frame or nested mappings of frames), taken under the lock."""
    with _COPYING:
        return _copy(value)


def _copy(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return value.copy(deep=True)
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    return value


class PerThreadCopies(Generic[T]):
    """Each thread's own copy of a shared value, made once per thread and key with `copy`, under the lock."""

    def __init__(self, copy: Callable[[T], T]) -> None:
        self._copy = copy
        self._local = threading.local()

    def get(self, key: Hashable, shared: T) -> T:
        copies: dict[Hashable, T] = self._local.__dict__.setdefault("copies", {})
        if key not in copies:
            with _COPYING:
                copies[key] = self._copy(shared)
        return copies[key]
