"""Cross-fitting over contiguous, purged blocks of one window (the validation window of a fold).

Several pieces learn from the validation window in turn: a base model's calibrator, an ensemble's
stacker or blend weights, the ensemble's calibrator, and each model's decision threshold. So that
none of them learns from predictions that an earlier piece fitted on the same rows, every piece
hands the next one cross-fitted predictions: the window is cut into contiguous blocks and each
block is predicted by a piece fitted on the other blocks only, purged of the rows whose label spans
overlap the block and embargoed after it (`folds.purged_inner_splits`). The blocks depend only on the
window's positions, the label horizon, the embargo and their number, so every piece of a fold cuts
the same blocks and a row's block is held out at every stage at once.

Each block's P(BUY) is then restated from the BUY rate of the rows its piece was fitted on to the
BUY rate of the whole window (Bayes' rule for a change of prior). Without that, a block's
predictions sit at the other blocks' BUY rate, which moves against its own, so pooled validation
scores rank even pure noise below chance (mean AUC about 0.475 for a stacker over 5 blocks) and
thresholds are swept on levels the test calibrator never has. The window's rate is one number
shared by every block, so it says nothing about which rows are BUY.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.training.folds import purged_inner_splits

# The setting that sets the number of blocks, named in errors so a user knows what to change.
BLOCKS_SETTING = "calibration.cross_fit_blocks"


@dataclass(frozen=True, eq=False)
class CrossFitBlocks:
    """Row indices into one window's arrays: per block, the rows a piece may fit on and the rows it predicts."""

    positions: np.ndarray
    splits: tuple[tuple[np.ndarray, np.ndarray], ...]

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return iter(self.splits)

    def __len__(self) -> int:
        return len(self.splits)

    def within(self, rows: np.ndarray) -> CrossFitBlocks:
        """The same blocks restricted to `rows` (sorted row indices), indexed into `rows`.

        Used to nest: the fitting rows of one block, cut by the other blocks, so a piece fitted on
        them learns from cross-fitted predictions that never saw the outer block.
        """
        splits = []
        for fit, held in self.splits:
            held_inside = np.flatnonzero(np.isin(rows, held))
            if held_inside.size:
                splits.append((np.flatnonzero(np.isin(rows, fit)), held_inside))
        return CrossFitBlocks(self.positions[rows], tuple(splits))


def window_blocks(positions: np.ndarray, label_horizon: int, embargo_bars: int, n_blocks: int) -> CrossFitBlocks:
    """The cross-fit blocks of a window whose rows sit at the sorted bar `positions`."""
    rows = np.asarray(positions, dtype=np.int64)
    try:
        splits = purged_inner_splits(rows, label_horizon, embargo_bars, n_splits=n_blocks)
    except InsufficientDataError as exc:
        raise InsufficientDataError(
            f"cross-fitting over {n_blocks} blocks of {rows.size} validation rows: {exc}; lower {BLOCKS_SETTING}"
        ) from exc
    as_rows = tuple((np.searchsorted(rows, fit), np.searchsorted(rows, held)) for fit, held in splits)
    return CrossFitBlocks(rows, as_rows)


def cross_fitted(
    blocks: CrossFitBlocks, labels: np.ndarray, fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray], what: str
) -> np.ndarray:
    """One P(BUY) per row of the window, each from `fit_predict(fit_rows, held_rows)` of its block.

    `fit_predict` fits a fresh piece on `fit_rows` and returns its P(BUY) for `held_rows`, which are
    then restated for the BUY rate of the window's hard 0/1 `labels` (see the module doc). A piece
    that cannot be fitted on a block's rows (e.g. they hold one class only) raises
    `InsufficientDataError` naming the block, `what` was being fitted and the setting to change.
    """
    window_rate = _buy_rate(labels, "in the window")
    out = np.full(blocks.positions.size, np.nan)
    for index, (fit_rows, held_rows) in enumerate(blocks, start=1):
        try:
            fitted_rate = _buy_rate(labels[fit_rows], "among its fitting rows")
            out[held_rows] = shift_prior(fit_predict(fit_rows, held_rows), fitted_rate, window_rate)
        except InsufficientDataError as exc:
            first, last = (int(blocks.positions[held_rows[i]]) for i in (0, -1))
            raise InsufficientDataError(
                f"{what}, cross-fitted without block {index} of {len(blocks)} (positions {first}..{last}): {exc}; "
                f"lower {BLOCKS_SETTING}"
            ) from exc
    unscored = np.flatnonzero(np.isnan(out))
    if unscored.size:
        raise ValueError(
            f"{what}: the cross-fit blocks hold out no block for {unscored.size} row(s), "
            f"first at position {int(blocks.positions[unscored[0]])}"
        )
    return out


def _buy_rate(labels: np.ndarray, where: str) -> float:
    rate = float(np.mean(labels)) if labels.size else float("nan")
    if not 0.0 < rate < 1.0:
        raise InsufficientDataError(
            f"cross-fitting needs both classes {where}, got {labels.size} rows with {int(np.sum(labels))} BUY"
        )
    return rate


def shift_prior(p: np.ndarray, fitted_rate: float, window_rate: float) -> np.ndarray:
    """P(BUY) of a piece fitted where BUY had `fitted_rate`, restated for `window_rate` (Bayes' rule:
    the odds scale by the ratio of the prior odds; 0 and 1 stay put). Both rates lie in (0, 1)."""
    buy = p * (window_rate / fitted_rate)
    hold = (1.0 - p) * ((1.0 - window_rate) / (1.0 - fitted_rate))
    return buy / (buy + hold)
