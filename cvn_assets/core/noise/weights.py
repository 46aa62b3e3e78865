"""Applying a cleanlab mask to the training rows of a fold and combining its weights with the
class-balancing weights."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.noise.mask import CleanlabMask
from cvn_assets.core.noise.params import MODE_FILTER, MODE_OFF, MODES
from cvn_assets.core.training.fit import combine_weights

__all__ = ["apply_cleanlab", "combine_weights"]


def apply_cleanlab(targets: pd.DataFrame, mask: CleanlabMask, mode: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The training rows to fit on and their cleanlab weights.

    ``targets`` is the training-targets frame (columns position, timestamp, hard_label, target) whose
    positions must match ``mask.frame`` row for row. ``filter`` drops the flagged (weight 0) rows and
    weights the rest 1.0; ``reweight`` keeps every row with its mask weight; ``off`` keeps every row
    with weight 1.0. ``mode`` must be the mode the mask was computed in. The kept rows are returned
    with a fresh index, aligned with the weights.
    """
    if mode not in MODES:
        raise CatalogueError(f"mode {mode!r} is not one of {list(MODES)}")
    if mode != mask.mode:
        raise ValueError(f"cleanlab mode {mode!r} does not match the mask, computed in mode {mask.mode!r}")
    ours, theirs = targets["position"].to_numpy(), mask.frame["position"].to_numpy()
    if ours.size != theirs.size:
        raise ValueError(f"targets have {ours.size} rows but the cleanlab mask has {theirs.size}")
    mismatch = np.flatnonzero(ours != theirs)
    if mismatch.size:
        row = int(mismatch[0])
        raise ValueError(
            f"targets row {row} is position {ours[row]} but the cleanlab mask row {row} is position {theirs[row]}"
        )
    weights = mask.frame["weight"].to_numpy(dtype=float)
    if mode == MODE_OFF:
        return targets.reset_index(drop=True), np.ones(ours.size)
    keep = weights > 0.0 if mode == MODE_FILTER else np.ones(ours.size, dtype=bool)
    return targets[keep].reset_index(drop=True), weights[keep].copy()
