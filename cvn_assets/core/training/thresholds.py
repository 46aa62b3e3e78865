"""The one decision-threshold sweep, run on the calibrated validation probabilities of every model.

Signal rule everywhere: BUY iff p >= threshold. The objective is F1 of BUY (`f1`, the default) or the
net expectancy of the trades the signals take on validation (`expectancy_net`, traded one position
at a time as on test). There is no fallback threshold: without validation rows, without BUY labels,
or when no grid threshold gives enough BUY signals (and, for `expectancy_net`, enough trades), the
sweep fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.metrics.classification import as_hard_labels, as_probabilities, check_same_length
from cvn_assets.core.metrics.trades import Candidates

ThresholdObjective = Literal["f1", "expectancy_net"]
THRESHOLD_OBJECTIVES: tuple[ThresholdObjective, ...] = get_args(ThresholdObjective)
OBJECTIVE_F1, OBJECTIVE_EXPECTANCY_NET = THRESHOLD_OBJECTIVES

# Grid values are rounded so that e.g. 0.05 + 25 * 0.01 compares equal to the literal 0.3.
GRID_DECIMALS = 10


@dataclass(frozen=True)
class ThresholdParams:
    """Candidate thresholds grid_start, grid_start + grid_step, ..., grid_stop (inclusive), and what they
    are judged by.

    A candidate is eligible only if it yields at least `min_buy_signals` BUY signals on validation.
    `objective` `f1` picks the eligible threshold with the highest validation F1 of BUY;
    `expectancy_net` the one whose validation trades (one position at a time, cost v3) have the
    highest mean net return, among those taking at least `min_trades` trades — 30 by default, the
    usual count below which a mean of trade returns is too noisy to rank thresholds by.
    """

    grid_start: float = 0.05
    grid_stop: float = 0.95
    grid_step: float = 0.01
    min_buy_signals: int = 1
    objective: ThresholdObjective = OBJECTIVE_F1
    min_trades: int = 30

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
        for name in ("min_buy_signals", "min_trades"):
            count = getattr(self, name)
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise CatalogueError(f"threshold {name} must be an integer >= 1, got {count!r}")
        if self.objective not in THRESHOLD_OBJECTIVES:
            raise CatalogueError(
                f"unknown threshold objective {self.objective!r}; allowed: {', '.join(THRESHOLD_OBJECTIVES)}"
            )

    def grid(self) -> np.ndarray:
        """The candidate thresholds, ascending."""
        n_steps = int(np.floor((self.grid_stop - self.grid_start) / self.grid_step + 1e-9))
        grid = self.grid_start + self.grid_step * np.arange(n_steps + 1)
        return np.round(grid, GRID_DECIMALS)


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold, the validation F1 of BUY it reaches and the BUY signals it gives; under the
    `expectancy_net` objective also the trades it takes and their mean net return (None otherwise)."""

    threshold: float
    f1_buy: float
    n_signals: int
    n_trades: int | None = None
    expectancy_net: float | None = None


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


def _expectancy_per_threshold(
    p: np.ndarray, grid: np.ndarray, n_signals: np.ndarray, trades: Candidates
) -> tuple[np.ndarray, np.ndarray]:
    """Mean net return and number of the validation trades taken at every grid threshold (NaN, 0 without one).

    Thresholds giving the same number of signals give the same signal set, so each set is traded once.
    """
    expectancy = np.full(grid.size, np.nan)
    n_trades = np.zeros(grid.size, dtype=np.int64)
    done: dict[int, tuple[float, int]] = {}
    for index, threshold in enumerate(grid):
        count = int(n_signals[index])
        if count not in done:
            net = trades.take(p >= threshold).net
            done[count] = (float(np.mean(net)) if net.size else np.nan, int(net.size))
        expectancy[index], n_trades[index] = done[count]
    return expectancy, n_trades


def sweep_threshold(
    p_val: np.ndarray,
    y_val: np.ndarray,
    params: ThresholdParams = ThresholdParams(),
    *,
    trades: Candidates | None = None,
) -> ThresholdChoice:
    """Grid threshold maximising the objective of `params` on validation, among eligible thresholds.

    `trades` (needed by the `expectancy_net` objective only) are the candidate trades of the
    validation rows, row-aligned with `p_val`. Tie rule: among thresholds with an equal best value,
    the lowest one wins (the grid is ascending and the first maximum is taken).
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
    if params.objective == OBJECTIVE_F1:
        best = int(np.argmax(np.where(eligible, f1, -np.inf)))
        return ThresholdChoice(threshold=float(grid[best]), f1_buy=float(f1[best]), n_signals=int(n_signals[best]))
    if trades is None:
        raise InsufficientDataError(
            "threshold objective expectancy_net needs the validation window's trades "
            "(prices); none were given (threshold.objective f1 needs none)"
        )
    check_same_length("validation probabilities", p, "validation trades", trades)
    expectancy, n_trades = _expectancy_per_threshold(p, grid, n_signals, trades)
    eligible &= n_trades >= params.min_trades
    if not np.any(eligible):
        raise InsufficientDataError(
            f"no threshold in [{grid[0]}, {grid[-1]}] takes >= threshold.min_trades={params.min_trades} trades on "
            f"{y.size} validation rows (most: {int(n_trades.max())})"
        )
    best = int(np.argmax(np.where(eligible, expectancy, -np.inf)))
    return ThresholdChoice(
        threshold=float(grid[best]),
        f1_buy=float(f1[best]),
        n_signals=int(n_signals[best]),
        n_trades=int(n_trades[best]),
        expectancy_net=float(expectancy[best]),
    )
