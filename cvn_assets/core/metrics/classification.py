"""Classification metrics of BUY probabilities against hard labels, including per-class ECE.

Also holds the input checks shared by calibration and the threshold sweep: hard 0/1 labels and
finite probabilities in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sized

import numpy as np
import sklearn
from sklearn.metrics import (
    brier_score_loss,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from cvn_assets.core.errors import InsufficientDataError

DEFAULT_ECE_BINS = 15
# Predicted class by argmax of (P(HOLD), P(BUY)); a tie at exactly 0.5 counts as BUY.
ARGMAX_BUY_CUTOFF = 0.5
LOG_LOSS_EPS = 1e-7


def as_hard_labels(y: np.ndarray, name: str) -> np.ndarray:
    """Return `y` as a 1-D int array of 0/1, rejecting soft or other non-binary labels."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of hard 0/1 labels, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name}: expected numeric hard 0/1 labels, got dtype {arr.dtype}")
    bad = np.flatnonzero(~np.isin(arr, (0, 1)))
    if bad.size:
        row = int(bad[0])
        raise ValueError(
            f"{name}: labels must be hard 0/1 (smoothed labels belong to training only); "
            f"{bad.size} row(s) are not, first at row {row} with value {arr[row]!r}"
        )
    return arr.astype(np.int64)


def as_probabilities(p: np.ndarray, name: str) -> np.ndarray:
    """Return `p` as a 1-D float array, rejecting non-finite values and values outside [0, 1]."""
    arr = np.asarray(p)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of probabilities, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name}: expected numeric probabilities, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = np.flatnonzero(~(np.isfinite(arr) & (arr >= 0.0) & (arr <= 1.0)))
    if bad.size:
        row = int(bad[0])
        raise ValueError(
            f"{name}: probabilities must be finite and in [0, 1]; {bad.size} row(s) are not, "
            f"first at row {row} with value {arr[row]!r} (raw margins must go through a sigmoid first)"
        )
    return arr


def check_same_length(name_a: str, a: Sized, name_b: str, b: Sized) -> None:
    """Fail with InsufficientDataError when two row-aligned sequences differ in length."""
    if len(a) != len(b):
        raise InsufficientDataError(f"{name_a} has {len(a)} rows but {name_b} has {len(b)}; they must be row-aligned")


def _check_n_bins(n_bins: int) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")


def _binned_gap(correct: np.ndarray, confidence: np.ndarray, n_bins: int) -> float:
    """Weighted mean over equal-width confidence bins on [0, 1] of |accuracy - mean confidence|.

    Bins are left-closed, [k/n, (k+1)/n), except the last which also holds 1.0. Empty bins carry
    no weight. Returns NaN for an empty input. sklearn's `calibration_curve` drops the bin counts
    needed for the weighting, hence `np.bincount`.
    """
    n = confidence.size
    if n == 0:
        return math.nan
    bins = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)
    correct_sum = np.bincount(bins, weights=correct.astype(np.float64), minlength=n_bins)
    confidence_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
    # The sum of |correct_sum - confidence_sum| over bins equals sum_b n_b * |acc_b - conf_b|.
    return float(np.abs(correct_sum - confidence_sum).sum() / n)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = DEFAULT_ECE_BINS) -> float:
    """Binary expected calibration error of P(BUY) (Naeini et al., 2015).

    Rows are grouped into `n_bins` equal-width bins of p on [0, 1] (left-closed, 1.0 in the last);
    ECE = sum over bins of (n_b / n) * |mean(y in b) - mean(p in b)|, with y the hard 0/1 label.
    """
    _check_n_bins(n_bins)
    y_arr = as_hard_labels(y, "ECE labels")
    p_arr = as_probabilities(p, "ECE probabilities")
    check_same_length("ECE labels", y_arr, "ECE probabilities", p_arr)
    if y_arr.size == 0:
        raise InsufficientDataError("ECE needs at least one row, got an empty array")
    return _binned_gap(y_arr, p_arr, n_bins)


def ece_per_class(y: np.ndarray, p: np.ndarray, n_bins: int = DEFAULT_ECE_BINS) -> tuple[float, float]:
    """Predicted-class conditional ECE, returned as (ece_hold, ece_buy).

    Binary classwise ECE is symmetric (the HOLD reliability curve mirrors the BUY one), so it cannot
    tell the classes apart. Instead each class is scored on the rows the model predicts as that class
    by argmax:

    - ECE_BUY: rows with p >= 0.5; confidence p, correct when y == 1.
    - ECE_HOLD: rows with p < 0.5; confidence 1 - p, correct when y == 0.

    Each is the weighted |accuracy - mean confidence| over `n_bins` equal-width bins of its confidence
    on [0, 1], normalised by the size of its own subset. A class with no predicted rows gets NaN: the
    value cannot be evaluated, and is never reported as 0.0.
    """
    _check_n_bins(n_bins)
    y_arr = as_hard_labels(y, "per-class ECE labels")
    p_arr = as_probabilities(p, "per-class ECE probabilities")
    check_same_length("per-class ECE labels", y_arr, "per-class ECE probabilities", p_arr)
    buy = p_arr >= ARGMAX_BUY_CUTOFF
    ece_buy = _binned_gap(y_arr[buy] == 1, p_arr[buy], n_bins)
    ece_hold = _binned_gap(y_arr[~buy] == 0, 1.0 - p_arr[~buy], n_bins)
    return ece_hold, ece_buy


def always_buy_f1(buy_rate: float) -> float:
    """F1 of BUY of the trivial rule that says BUY on every bar, when a share `buy_rate` of bars is BUY.

    Its precision is the BUY rate π and its recall 1, so F1 = 2π / (1 + π); 0 when no bar is BUY.
    """
    return 2.0 * buy_rate / (1.0 + buy_rate)


def classification_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """BUY-class classification and calibration metrics of probabilities `p` against hard labels `y`.

    Signals are BUY iff p >= threshold. Precision / recall / F1 follow sklearn with zero_division=0.
    AUC is NaN when `y` holds a single class (undefined). Log loss clips p to [1e-7, 1 - 1e-7].
    `buy_signal_rate` is the share of rows signalled BUY, `always_buy_f1` the F1 of signalling BUY on
    every row, and `f1_lift_over_always_buy` how far f1_buy rises above that trivial rule (≤ 0: no skill).
    """
    y_arr = as_hard_labels(y, "labels")
    p_arr = as_probabilities(p, "probabilities")
    check_same_length("labels", y_arr, "probabilities", p_arr)
    if y_arr.size == 0:
        raise InsufficientDataError("classification metrics need at least one row, got an empty array")
    if not (isinstance(threshold, int | float | np.floating) and 0.0 <= float(threshold) <= 1.0):
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    pred = (p_arr >= threshold).astype(np.int64)
    single_class = np.unique(y_arr).size < 2
    ece_hold, ece_buy = ece_per_class(y_arr, p_arr)
    # The arrays were validated above; scikit-learn's own re-validation costs more than the metrics.
    with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
        metrics = _sklearn_metrics(y_arr, p_arr, pred, single_class)
    trivial = always_buy_f1(float(y_arr.mean()))
    return metrics | {
        "ece": expected_calibration_error(y_arr, p_arr),
        "ece_hold": ece_hold,
        "ece_buy": ece_buy,
        "buy_signal_rate": float(pred.mean()),
        "always_buy_f1": trivial,
        "f1_lift_over_always_buy": metrics["f1_buy"] - trivial,
    }


def _sklearn_metrics(y_arr: np.ndarray, p_arr: np.ndarray, pred: np.ndarray, single_class: bool) -> dict[str, float]:
    # One call for the three: each sklearn metric checks its inputs again, which costs more than the counting.
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_arr, pred, pos_label=1, average="binary", zero_division=0
    )
    return {
        "f1_buy": float(f1),
        "precision_buy": float(precision),
        "recall_buy": float(recall),
        "auc": math.nan if single_class else float(roc_auc_score(y_arr, p_arr)),
        "brier": float(brier_score_loss(y_arr, p_arr, pos_label=1)),
        "log_loss": float(log_loss(y_arr, np.clip(p_arr, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS), labels=[0, 1])),
    }
