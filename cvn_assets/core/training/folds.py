"""Walk-forward outer folds and purged inner splits (López de Prado, AFML ch. 7) over labeled bars.

The labeled timeline is cut into ``initial_train_blocks + n_folds + 1`` contiguous equal blocks.
Fold i (1-based) trains on the expanding window of blocks [0, initial_train_blocks + i - 1),
validates on the next block and tests on the one after (defaults: 8 blocks; fold 1 trains on 0-1,
validates on 2, tests on 3; fold 5 trains on 0-5, validates on 6, tests on 7). Windows are
contiguous and in time order; successive test windows tile the tail without overlapping. Expanding
rather than sliding training windows give each fold all the history it could have had at that date.

At each boundary (train -> validation, validation -> test) the purge drops every row of the earlier
window whose label horizon reaches the next window (t + horizon >= its first position) and the
embargo drops the ``embargo_bars`` rows just before the purged ones, so the earlier window's last
label ends ``embargo_bars`` bars before the next window opens. Positions are bar positions in the
label frame; unlabeled rows never enter any window.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd

from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.labels.barriers import is_positive_int

TRAIN = "train"
VALIDATION = "validation"
TEST = "test"
WINDOW_NAMES: tuple[str, ...] = (TRAIN, VALIDATION, TEST)


def _is_count(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool) and int(value) >= 0


@dataclass(frozen=True)
class FoldParams:
    """Walk-forward geometry.

    ``n_folds`` outer folds; ``embargo_bars`` bars kept clear before each next window (24 = one day of
    hourly bars); ``initial_train_blocks`` blocks in fold 1's training window (validation and test
    are one block each); ``min_window_rows`` the fewest rows a window may keep after purge and
    embargo — 250 lets a test window hold about 50 BUY labels at a 20 % BUY rate, the density the
    gate asks of each fold.
    """

    n_folds: int = 5
    embargo_bars: int = 24
    initial_train_blocks: int = 2
    min_window_rows: int = 250

    def __post_init__(self) -> None:
        for name in ("n_folds", "initial_train_blocks", "min_window_rows"):
            if not is_positive_int(getattr(self, name)):
                raise CatalogueError(f"fold parameter {name} must be an integer >= 1, got {getattr(self, name)!r}")
        if not _is_count(self.embargo_bars):
            raise CatalogueError(f"fold parameter embargo_bars must be an integer >= 0, got {self.embargo_bars!r}")

    @property
    def n_blocks(self) -> int:
        """Number of equal blocks the labeled timeline is cut into."""
        return self.initial_train_blocks + self.n_folds + 1


def fold_ids(params: FoldParams = FoldParams()) -> list[str]:
    """Fold identifiers "f1".."f{n_folds}", in time order."""
    return [f"f{index}" for index in range(1, params.n_folds + 1)]


@dataclass(frozen=True, eq=False)
class FoldWindows:
    """Row positions (into the label frame) of one fold's train, validation and test windows, with
    how many rows the purge and the embargo removed from the training and validation windows."""

    fold: str
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    train_purged: int = 0
    train_embargoed: int = 0
    validation_purged: int = 0
    validation_embargoed: int = 0

    def __post_init__(self) -> None:
        for name in WINDOW_NAMES:
            positions = np.array(getattr(self, name), dtype=np.int64)
            positions.setflags(write=False)
            object.__setattr__(self, name, positions)

    @property
    def purged(self) -> int:
        """Rows removed by the purge across the fold's two boundaries."""
        return self.train_purged + self.validation_purged

    @property
    def embargoed(self) -> int:
        """Rows removed by the embargo across the fold's two boundaries."""
        return self.train_embargoed + self.validation_embargoed

    def window(self, name: str) -> np.ndarray:
        """Positions of window ``name`` ("train", "validation" or "test")."""
        if name not in WINDOW_NAMES:
            raise CatalogueError(f"window must be one of {WINDOW_NAMES}, got {name!r}")
        positions: np.ndarray = getattr(self, name)
        return positions

    def dropped(self, name: str) -> tuple[int, int]:
        """(purged, embargoed) row counts removed from the end of window ``name``."""
        if name == TEST:
            return 0, 0
        self.window(name)
        return getattr(self, f"{name}_purged"), getattr(self, f"{name}_embargoed")

    def bounds(self, name: str, timestamps: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last timestamp of window ``name`` (both inclusive)."""
        positions = self.window(name)
        return timestamps.iloc[positions[0]], timestamps.iloc[positions[-1]]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FoldWindows):
            return NotImplemented
        return (
            self.fold == other.fold
            and all(np.array_equal(self.window(name), other.window(name)) for name in WINDOW_NAMES)
            and all(self.dropped(name) == other.dropped(name) for name in WINDOW_NAMES)
        )

    __hash__ = None  # type: ignore[assignment]  # arrays are unhashable; equality is by value


def _purge_and_embargo(
    window: np.ndarray, next_start: int, label_horizon: int, embargo_bars: int
) -> tuple[np.ndarray, int, int]:
    """Drop the rows of ``window`` whose label reaches ``next_start`` and the embargo before them."""
    purge_from = next_start - label_horizon
    embargo_from = purge_from - embargo_bars
    purged = int(np.count_nonzero(window >= purge_from))
    embargoed = int(np.count_nonzero((window >= embargo_from) & (window < purge_from)))
    return window[window < embargo_from], purged, embargoed


def _check_horizon(label_horizon: int) -> None:
    if not is_positive_int(label_horizon):
        raise CatalogueError(f"label_horizon must be an integer >= 1, got {label_horizon!r}")


def walk_forward_folds(
    timestamps: pd.Series, labeled: np.ndarray, label_horizon: int, params: FoldParams = FoldParams()
) -> list[FoldWindows]:
    """Walk-forward folds over the labeled rows, purged and embargoed as described in the module doc.

    ``timestamps`` and ``labeled`` (a boolean mask) are aligned with the label frame;
    ``label_horizon`` is the number of bars a label looks ahead (the vertical barrier).
    """
    _check_horizon(label_horizon)
    mask = np.asarray(labeled)
    if mask.dtype != np.bool_:
        raise CatalogueError(f"labeled must be a boolean mask, got dtype {mask.dtype}")
    if mask.shape != (len(timestamps),):
        raise CatalogueError(f"labeled has shape {mask.shape} but timestamps has {len(timestamps)} rows")
    usable = np.flatnonzero(mask)
    per_block = params.min_window_rows + label_horizon + params.embargo_bars
    needed = params.n_blocks * per_block
    if usable.size < needed:
        raise InsufficientDataError(
            f"walk-forward folds need at least {needed} labeled rows ({params.n_blocks} blocks x "
            f"({params.min_window_rows} min_window_rows + {label_horizon} label_horizon + "
            f"{params.embargo_bars} embargo_bars)), got {usable.size} labeled of {mask.size} rows; use a longer "
            f"series, or lower folds.n_folds or folds.min_window_rows in the catalogue"
        )
    # Purge and embargo remove at most label_horizon + embargo_bars positions from a block's end, so
    # every block of at least per_block rows keeps min_window_rows.
    blocks = np.array_split(usable, params.n_blocks)
    folds = []
    first_val_blocks = range(params.initial_train_blocks, params.n_blocks - 1)
    for fold, first_val_block in zip(fold_ids(params), first_val_blocks, strict=True):
        validation, test = blocks[first_val_block], blocks[first_val_block + 1]
        train, train_purged, train_embargoed = _purge_and_embargo(
            np.concatenate(blocks[:first_val_block]), int(validation[0]), label_horizon, params.embargo_bars
        )
        validation, val_purged, val_embargoed = _purge_and_embargo(
            validation, int(test[0]), label_horizon, params.embargo_bars
        )
        folds.append(
            FoldWindows(fold, train, validation, test, train_purged, train_embargoed, val_purged, val_embargoed)
        )
    return folds


def purged_inner_splits(
    positions: np.ndarray, label_horizon: int, embargo_bars: int, n_splits: int = 2
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Purged, embargoed, time-ordered K-fold over one training window (for an inner CV).

    ``positions`` (sorted bar positions) is cut into ``n_splits`` contiguous slices, each held out in
    turn. A training row t is purged when its label span [t, t + horizon] overlaps the held-out
    labels' span [first, last + horizon], on either side; the ``embargo_bars`` rows after that span
    are embargoed. Returns (training positions, held-out positions) per slice, in time order.
    """
    _check_horizon(label_horizon)
    if not _is_count(embargo_bars):
        raise CatalogueError(f"embargo_bars must be an integer >= 0, got {embargo_bars!r}")
    if not is_positive_int(n_splits) or n_splits < 2:
        raise CatalogueError(f"n_splits must be an integer >= 2, got {n_splits!r}")
    rows = np.asarray(positions, dtype=np.int64)
    if rows.ndim != 1 or np.any(np.diff(rows) <= 0):
        raise CatalogueError("positions must be a one-dimensional, strictly increasing array of bar positions")
    if rows.size < n_splits:
        raise InsufficientDataError(
            f"inner CV with n_splits {n_splits} needs at least {n_splits} rows, got {rows.size}"
        )
    splits = []
    for held_out in np.array_split(rows, n_splits):
        first, last = int(held_out[0]), int(held_out[-1])
        before, after = rows < first, rows > last
        purged = (before & (rows + label_horizon >= first)) | (after & (rows <= last + label_horizon))
        embargoed = after & (rows > last + label_horizon) & (rows <= last + label_horizon + embargo_bars)
        train = rows[(before | after) & ~purged & ~embargoed]
        if train.size == 0:
            raise InsufficientDataError(
                f"inner CV slice {first}..{last} leaves no training rows out of {rows.size} after purging "
                f"label_horizon {label_horizon} and embargo_bars {embargo_bars}"
            )
        splits.append((train, held_out.copy()))
    return splits
