"""The fold plan as a table (one row per fold × window) and back: what the `fold_windows` asset stores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.training.folds import TEST, TRAIN, VALIDATION, WINDOW_NAMES, FoldWindows

FOLD_FRAME_COLUMNS: tuple[str, ...] = (
    "fold",
    "window",
    "start_timestamp",
    "end_timestamp",
    "start_position",
    "end_position",
    "n_rows",
    "purged",
    "embargoed",
    "position_ranges",
)


def _encode_ranges(positions: np.ndarray) -> str:
    """Positions as half-open runs "start:stop,start:stop" (a window is one run unless labels have gaps)."""
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    starts = positions[np.r_[0, breaks]]
    stops = positions[np.r_[breaks - 1, positions.size - 1]] + 1
    return ",".join(f"{start}:{stop}" for start, stop in zip(starts, stops, strict=True))


def _decode_ranges(text: str, where: str) -> np.ndarray:
    try:
        bounds = [tuple(int(bound) for bound in run.split(":")) for run in text.split(",")]
        runs = [np.arange(start, stop, dtype=np.int64) for start, stop in bounds if start < stop]
    except ValueError as exc:
        raise DataSourceError(f"{where}: position_ranges {text!r} is not a list of start:stop runs") from exc
    if len(runs) != len(bounds):
        raise DataSourceError(f"{where}: position_ranges {text!r} has an empty run")
    return np.concatenate(runs)


def folds_to_frame(folds: list[FoldWindows], timestamps: pd.Series) -> pd.DataFrame:
    """One row per (fold, window): bounds, row count, rows purged/embargoed from the window's end,
    and the exact positions as half-open runs, so ``folds_from_frame`` can rebuild the folds."""
    records = []
    for fold in folds:
        for name in WINDOW_NAMES:
            positions = fold.window(name)
            start, end = fold.bounds(name, timestamps)
            purged, embargoed = fold.dropped(name)
            records.append(
                (
                    fold.fold,
                    name,
                    start,
                    end,
                    int(positions[0]),
                    int(positions[-1]),
                    int(positions.size),
                    purged,
                    embargoed,
                    _encode_ranges(positions),
                )
            )
    return pd.DataFrame.from_records(records, columns=list(FOLD_FRAME_COLUMNS))


def folds_from_frame(frame: pd.DataFrame) -> list[FoldWindows]:
    """Rebuild the folds stored by ``folds_to_frame``, checking each window's positions against its
    stored row count and end positions."""
    missing = [column for column in FOLD_FRAME_COLUMNS if column not in frame.columns]
    if missing:
        raise DataSourceError(f"fold table lacks columns {missing}")
    folds = []
    for fold, rows in frame.groupby("fold", sort=False):
        windows = {row.window: row for row in rows.itertuples(index=False)}
        if sorted(windows) != sorted(WINDOW_NAMES) or len(rows) != len(WINDOW_NAMES):
            raise DataSourceError(f"fold {fold} must have one row per window {WINDOW_NAMES}, got {list(rows.window)}")
        positions = {
            name: _decode_ranges(str(row.position_ranges), f"fold {fold} {name}") for name, row in windows.items()
        }
        for name, row in windows.items():
            stored = (row.n_rows, row.start_position, row.end_position)
            if stored != (positions[name].size, positions[name][0], positions[name][-1]):
                raise DataSourceError(f"fold {fold} {name}: position_ranges disagree with n_rows/start/end positions")
        folds.append(
            FoldWindows(
                str(fold),
                positions[TRAIN],
                positions[VALIDATION],
                positions[TEST],
                int(windows[TRAIN].purged),
                int(windows[TRAIN].embargoed),
                int(windows[VALIDATION].purged),
                int(windows[VALIDATION].embargoed),
            )
        )
    return folds
