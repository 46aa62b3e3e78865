"""The cleanlab label-noise mask of one training window: which rows confident learning flags as
mislabeled, capped per class, and the weight each training row gets."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import pandas as pd

from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.labels.barriers import LABEL, TIMESTAMP
from cvn_assets.core.noise.inner_cv import out_of_sample_buy_probs
from cvn_assets.core.noise.params import MODE_FILTER, CleanlabParams

MASK_COLUMNS: tuple[str, ...] = (
    "position",
    "hard_label",
    "pred_prob_buy",
    "covered",
    "suspect",
    "flagged",
    "label_quality",
    "weight",
)
STAT_NAMES: tuple[str, ...] = (
    "suspect_count",
    "flagged_count",
    "drop_pct",
    "buy_drop_pct",
    "hold_drop_pct",
    "coverage_pct",
    "duration_seconds",
    "n_rows",
)
# cleanlab never flags a class holding this many examples or fewer; passed explicitly so the
# "too few rows" check below and the call agree.
MIN_EXAMPLES_PER_CLASS = 1
QUALITY_METHOD = "self_confidence"
_FIND_LABEL_ISSUES = threading.Lock()


@dataclass(frozen=True, eq=False)
class CleanlabMask:
    """Per-row outcome (columns MASK_COLUMNS, one row per training position in the order given),
    summary statistics (keys STAT_NAMES) and the mode that produced them."""

    frame: pd.DataFrame
    stats: dict[str, float | int]
    mode: str


def _percent(part: int, whole: int) -> float:
    # A class with no training rows lost none of them.
    return 100.0 * part / whole if whole else 0.0


def _hard_labels(labels: pd.DataFrame, positions: np.ndarray) -> np.ndarray:
    values: npt.NDArray[np.float64] = labels[LABEL].to_numpy(dtype=float)[positions]
    unlabeled = ~np.isin(values, (0.0, 1.0))
    if unlabeled.any():
        first = int(np.flatnonzero(unlabeled)[0])
        raise InsufficientDataError(
            f"cleanlab mask: training position {positions[first]} has label {float(values[first])}, "
            "not a hard 0/1 label"
        )
    return values.astype(np.int64)


def _check_inputs(features: pd.DataFrame, labels: pd.DataFrame, positions: np.ndarray) -> None:
    if len(features) != len(labels):
        raise ValueError(f"features have {len(features)} rows but labels have {len(labels)}; they must be aligned")
    if positions.ndim != 1:
        raise ValueError(f"train_positions must be one-dimensional, got shape {positions.shape}")
    if positions.size and (positions.min() < 0 or positions.max() >= len(labels)):
        raise ValueError(f"train_positions must lie in [0, {len(labels)}), got {positions.min()}..{positions.max()}")
    unique, counts = np.unique(positions, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"train_positions repeats position {int(unique[counts > 1][0])}")
    if TIMESTAMP in features.columns and TIMESTAMP in labels.columns:
        # `.array`, not `.to_numpy()`: a tz-aware column would become one Timestamp object per row.
        left, right = features[TIMESTAMP].array[positions], labels[TIMESTAMP].array[positions]
        mismatch = np.flatnonzero(np.asarray(left != right))
        if mismatch.size:
            at = int(positions[mismatch[0]])
            raise ValueError(
                f"features and labels disagree at position {at}: timestamp {left[mismatch[0]]} vs {right[mismatch[0]]}"
            )


def per_class_cap(max_drop_pct: float, class_rows: int) -> int:
    """floor(max_drop_pct % of class_rows): how many rows of one class the mask may flag.

    Computed exactly on the decimal the setting is written as: in binary floating point 0.7 is
    0.69999…, so 0.7 / 100 * 1000 floors to 6 and 2.28 * 2500 / 100 to 56 instead of 7 and 57.
    The shortest repr of a float is the decimal that reads back as it, i.e. what the catalogue says.
    """
    return math.floor(Fraction(repr(float(max_drop_pct))) * class_rows / 100)


def _cap_per_class(
    hard: np.ndarray, suspect: np.ndarray, quality: np.ndarray, positions: np.ndarray, max_drop_pct: float
) -> np.ndarray:
    """Keep, per class, at most floor(max_drop_pct % of the class's training rows) suspects: the lowest
    label-quality ones, ties broken by position."""
    flagged = np.zeros(hard.size, dtype=bool)
    for label in (0, 1):
        in_class = hard == label
        cap = per_class_cap(max_drop_pct, int(in_class.sum()))
        candidates = np.flatnonzero(in_class & suspect)
        ranked = candidates[np.lexsort((positions[candidates], quality[candidates]))]
        flagged[ranked[:cap]] = True
    return flagged


def _label_issues(hard: np.ndarray, probs: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(hard, minlength=2)
    if (counts <= MIN_EXAMPLES_PER_CLASS).any():
        raise InsufficientDataError(
            f"cleanlab needs more than {MIN_EXAMPLES_PER_CLASS} covered row(s) of each class, got HOLD={counts[0]}, "
            f"BUY={counts[1]} among {hard.size} covered of {n_rows} training rows"
        )
    # Imported here: cleanlab takes ~1.7 s to import, which every Dagster run would otherwise pay.
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    pred_probs = np.column_stack([1.0 - probs, probs])
    # n_jobs=1: cleanlab's default forks a process pool, and forking after an OpenMP gradient-boosting
    # model has trained in this process can hang (LightGBM does).
    # With n_jobs=1 cleanlab passes each class's rows through module globals, so two threads calling it
    # at once read each other's classes (seen as a shape mismatch, or silently wrong flags): one at a time.
    with _FIND_LABEL_ISSUES:
        issues = find_label_issues(
            labels=hard, pred_probs=pred_probs, n_jobs=1, min_examples_per_class=MIN_EXAMPLES_PER_CLASS
        )
    quality = get_label_quality_scores(labels=hard, pred_probs=pred_probs, method=QUALITY_METHOD)
    return np.asarray(issues, dtype=bool), np.asarray(quality, dtype=float)


def compute_cleanlab_mask(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    train_positions: np.ndarray,
    params: CleanlabParams,
    *,
    label_horizon: int,
    embargo_bars: int,
    seed: int = 0,
    n_threads: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> CleanlabMask:
    """Flag the training rows whose hard label confident learning finds suspect, and weight them.

    Out-of-sample P(BUY) comes from the purged, embargoed inner K-fold of ``out_of_sample_buy_probs``
    (inner model trained on hard labels with class-balancing weights); cleanlab's
    ``find_label_issues`` runs on the covered rows only, and at most ``max_drop_pct`` % of each class
    is flagged, least trustworthy first. Flagged rows get weight 0.0 (``filter``) or
    ``reweight_floor`` (``reweight``); every other row 1.0. Rows of slices skipped by the time budget
    keep P(BUY) 0.5, are not covered and are never flagged.

    In ``off`` mode nothing is computed: no inner model is trained and cleanlab is not called, so
    every weight is 1.0, nothing is suspect or flagged, ``pred_prob_buy`` and ``label_quality`` are
    NaN and ``coverage_pct`` is 0.0 (no row got an out-of-sample probability).

    ``label_horizon`` and ``embargo_bars`` purge and embargo the inner slices as the outer folds are.
    Raises ``InsufficientDataError`` when the covered rows lack a class (or hold too few rows of one)
    and ``TrainingError`` when the inner model fails.
    """
    start = clock()
    positions = np.asarray(train_positions)
    if positions.size and not np.issubdtype(positions.dtype, np.integer):
        raise ValueError(f"train_positions must be integer row positions, got dtype {positions.dtype}")
    positions = positions.astype(np.int64)
    _check_inputs(features, labels, positions)
    hard = _hard_labels(labels, positions)
    n_rows = int(positions.size)
    probs = np.full(n_rows, np.nan)
    covered = np.zeros(n_rows, dtype=bool)
    suspect = np.zeros(n_rows, dtype=bool)
    flagged = np.zeros(n_rows, dtype=bool)
    quality = np.full(n_rows, np.nan)
    weight = np.ones(n_rows)
    if not params.is_off:
        matrix = features.drop(columns=[TIMESTAMP], errors="ignore").to_numpy(dtype=float)
        oos = out_of_sample_buy_probs(
            matrix,
            hard,
            positions,
            params,
            label_horizon=label_horizon,
            embargo_bars=embargo_bars,
            seed=seed,
            n_threads=n_threads,
            clock=clock,
            start=start,
        )
        probs, covered = oos.pred_prob_buy, oos.covered
        suspect[covered], quality[covered] = _label_issues(hard[covered], probs[covered], n_rows)
        flagged = _cap_per_class(hard, suspect, quality, positions, params.max_drop_pct)
        weight[flagged] = 0.0 if params.mode == MODE_FILTER else params.reweight_floor
    frame = pd.DataFrame(
        {
            "position": positions,
            "hard_label": hard,
            "pred_prob_buy": probs,
            "covered": covered,
            "suspect": suspect,
            "flagged": flagged,
            "label_quality": quality,
            "weight": weight,
        },
        columns=list(MASK_COLUMNS),
    )
    n_buy, n_hold = int((hard == 1).sum()), int((hard == 0).sum())
    stats: dict[str, float | int] = {
        "suspect_count": int(suspect.sum()),
        "flagged_count": int(flagged.sum()),
        "drop_pct": _percent(int(flagged.sum()), n_rows),
        "buy_drop_pct": _percent(int((flagged & (hard == 1)).sum()), n_buy),
        "hold_drop_pct": _percent(int((flagged & (hard == 0)).sum()), n_hold),
        "coverage_pct": _percent(int(covered.sum()), n_rows),
        "duration_seconds": float(clock() - start),
        "n_rows": n_rows,
    }
    return CleanlabMask(frame, stats, params.mode)
