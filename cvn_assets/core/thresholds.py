"""The one decision-threshold sweep, run on the calibrated validation probabilities of every model.

Signal rule everywhere: BUY iff p >= threshold. There is no fallback threshold: without validation
rows, without BUY labels, or when no grid threshold gives enough BUY signals, the sweep fails.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.metrics.classification import as_hard_labels, as_probabilities, check_same_length

# Grid values are rounded so that e.g. 0.05 + 25 * 0.01 compares equal to the literal 0.3.
GRID_DECIMALS = 10


@dataclass(frozen=True)
class ThresholdParams:
    """Candidate thresholds grid_start, grid_start + grid_step, ..., grid_stop (inclusive).

    A candidate is eligible only if it yields at least `min_buy_signals` BUY signals on validation.
    """

    grid_start: float = 0.05
    grid_stop: float = 0.95
    grid_step: float = 0.01
    min_buy_signals: int = 1

    def __post_init__(self) -> None:
        bounds = (self.grid_start, self.grid_stop, self.grid_step)
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in bounds):
            raise CatalogueError(f"threshold grid bounds must be finite numbers, got {bounds!r}")
        if not 0.0 <= self.grid_start <= self.grid_stop <= 1.0:
            raise CatalogueError(
                f"threshold grid must satisfy 0 <= grid_start <= grid_stop <= 1, "
                f"got grid_start={self.grid_start}, grid_stop={self.grid_stop}"
            )
        if self.grid_step <= 0:
            raise CatalogueError(f"threshold grid_step must be > 0, got {self.grid_step}")
        count = self.min_buy_signals
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise CatalogueError(f"min_buy_signals must be an integer >= 1, got {self.min_buy_signals!r}")

    def grid(self) -> np.ndarray:
        """The candidate thresholds, ascending."""
        n_steps = int(np.floor((self.grid_stop - self.grid_start) / self.grid_step + 1e-9))
        grid = self.grid_start + self.grid_step * np.arange(n_steps + 1)
        return np.round(grid, GRID_DECIMALS)


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold, the validation F1 of BUY it reaches and the BUY signals it gives."""

    threshold: float
    f1_buy: float
    n_signals: int


def _buy_f1_per_threshold(p: np.ndarray, y: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F1 of BUY and the number of BUY signals for every grid threshold.

    Counted with sorted searches instead of calling sklearn's f1_score once per threshold: one
    O(n log n) pass gives the same 2TP / (2TP + FP + FN) for the whole grid.
    """
    all_sorted = np.sort(p)
    buy_sorted = np.sort(p[y == 1])
    n_signals = all_sorted.size - np.searchsorted(all_sorted, grid, side="left")
    true_pos = buy_sorted.size - np.searchsorted(buy_sorted, grid, side="left")
    # 2TP + FP + FN = n_signals + n_buy_labels, which is > 0 because BUY labels exist.
    f1 = 2.0 * true_pos / (n_signals + buy_sorted.size)
    return f1, n_signals


def sweep_threshold(
    p_val: np.ndarray,
    y_val: np.ndarray,
    params: ThresholdParams = ThresholdParams(),
) -> ThresholdChoice:
    """Grid threshold maximising F1 of BUY on validation, among thresholds with enough BUY signals.

    Tie rule: among thresholds with equal best F1, the lowest one wins (the grid is ascending and
    the first maximum is taken).
    """
    p = as_probabilities(p_val, "validation probabilities")
    y = as_hard_labels(y_val, "validation labels")
    check_same_length("validation probabilities", p, "validation labels", y)
    if p.size == 0:
        raise InsufficientDataError("threshold sweep needs validation rows, got none (no default threshold is used)")
    if not np.any(y == 1):
        raise InsufficientDataError(
            f"threshold sweep needs BUY labels on validation, got 0 among {y.size} rows (F1 of BUY is undefined)"
        )
    grid = params.grid()
    f1, n_signals = _buy_f1_per_threshold(p, y, grid)
    eligible = n_signals >= params.min_buy_signals
    if not np.any(eligible):
        raise InsufficientDataError(
            f"no threshold in [{grid[0]}, {grid[-1]}] gives >= {params.min_buy_signals} BUY signal(s) on "
            f"{y.size} validation rows (highest validation probability {float(p.max()):.4f})"
        )
    best = int(np.argmax(np.where(eligible, f1, -np.inf)))
    return ThresholdChoice(threshold=float(grid[best]), f1_buy=float(f1[best]), n_signals=int(n_signals[best]))
