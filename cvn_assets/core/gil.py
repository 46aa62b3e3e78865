"""How often the interpreter hands the GIL between threads while cells are computed at once.

The boosting loops of XGBoost and LightGBM run in Python around native rounds: each round releases
the GIL and takes it back. While another thread runs Python (cleanlab, ensembles, metrics, or the
orchestrator recording results), each take-back waits until that thread lets go of the GIL, which it
does every switch interval (5 ms by default); hundreds of rounds per fit make that seconds per fit.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

# Short enough that a fit's rounds barely wait; long enough that switching costs little.
COMPUTE_SWITCH_INTERVAL = 0.001


@contextmanager
def short_switch_interval(seconds: float = COMPUTE_SWITCH_INTERVAL) -> Iterator[None]:
    """The interpreter's switch interval is at most `seconds` inside the block, and restored after it."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, seconds))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)
