"""Cross-fitting over contiguous, purged blocks of one window (the validation window of a fold).

Several pieces learn from the validation window in turn: a base model's calibrator, an ensemble's
stacker or blend weights, the ensemble's calibrator, and each model's decision threshold. So that
none of them learns from predictions that an earlier piece fitted on the same rows, every piece
hands the next one cross-fitted predictions: the window is cut into contiguous blocks and each
block is predicted by a piece fitted on the other blocks only, purged of the rows whose label spans
overlap the block and embargoed after it (`folds.purged_inner_splits`). The blocks depend only on the
window's positions, the label horizon, the embargo and their number, so every piece of a fold cuts
the same blocks and a row's block is held out at every stage at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.folds import purged_inner_splits

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


def window_blocks(positions: np.ndarray, label_horizon: int, embargo_bars: int, n_blocks: int) -> CrossFitBlocks:
    """The cross-fit blocks of a window whose rows sit at the sorted bar `positions`."""
    rows = np.asarray(positions, dtype=np.int64)
    try:
        splits = purged_inner_splits(rows, label_horizon, embargo_bars, n_splits=n_blocks)
    except InsufficientDataError as exc:
        raise InsufficientDataError(f"cross-fitting over {n_blocks} blocks of {rows.size} validation rows: {exc}; "
                                    f"lower {BLOCKS_SETTING}") from exc
    as_rows = tuple((np.searchsorted(rows, fit), np.searchsorted(rows, held)) for fit, held in splits)
    return CrossFitBlocks(rows, as_rows)


def cross_fitted(blocks: CrossFitBlocks, fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 what: str) -> np.ndarray:
    """One prediction per row of the window, each from `fit_predict(fit_rows, held_rows)` of its block.

    `fit_predict` fits a fresh piece on `fit_rows` and returns its predictions for `held_rows`. A piece
    that cannot be fitted on a block's rows (e.g. they hold one class only) raises
    `InsufficientDataError` naming the block, `what` was being fitted and the setting to change.
    """
    out = np.full(blocks.positions.size, np.nan)
    for index, (fit_rows, held_rows) in enumerate(blocks, start=1):
        try:
            out[held_rows] = fit_predict(fit_rows, held_rows)
        except InsufficientDataError as exc:
            first, last = (int(blocks.positions[held_rows[i]]) for i in (0, -1))
            raise InsufficientDataError(
                f"{what}, cross-fitted without block {index} of {len(blocks)} (positions {first}..{last}): {exc}; "
                f"lower {BLOCKS_SETTING}"
            ) from exc
    unscored = np.flatnonzero(np.isnan(out))
    if unscored.size:
        raise ValueError(f"{what}: the cross-fit blocks hold out no block for {unscored.size} row(s), "
                         f"first at position {int(blocks.positions[unscored[0]])}")
    return out
