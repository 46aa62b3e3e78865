"""Binned calibration data of BUY probabilities: what a reliability diagram plots.

Bins follow the ECE convention: equal-width on [0, 1], left-closed, 1.0 in the last bin. Each
bin keeps its count next to its means so that bins of many cells can be pooled exactly (sum the
counts, weight the means by them).
"""

from __future__ import annotations

import numpy as np

from cvn_assets.core.metrics.classification import as_hard_labels, as_probabilities, check_same_length

DEFAULT_RELIABILITY_BINS = 10


def reliability_bins(y_true: np.ndarray, p: np.ndarray, n_bins: int = DEFAULT_RELIABILITY_BINS) -> dict[str, object]:
    """Per-bin count, mean predicted P(BUY) and fraction of BUY labels, as JSON-ready lists.

    Returns `{"n_bins", "edges", "count", "mean_predicted", "fraction_positive"}`; the means of an
    empty bin are None (there is nothing to average), never 0.0. An empty input gives all-zero counts.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    y_arr = as_hard_labels(y_true, "reliability labels")
    p_arr = as_probabilities(p, "reliability probabilities")
    check_same_length("reliability labels", y_arr, "reliability probabilities", p_arr)
    n_bins = int(n_bins)
    bins = np.minimum((p_arr * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    predicted = np.bincount(bins, weights=p_arr, minlength=n_bins)
    positives = np.bincount(bins, weights=y_arr.astype(np.float64), minlength=n_bins)
    return {
        "n_bins": n_bins,
        "edges": [float(edge) for edge in np.linspace(0.0, 1.0, n_bins + 1)],
        "count": [int(c) for c in counts],
        "mean_predicted": [float(s / c) if c else None for s, c in zip(predicted, counts, strict=True)],
        "fraction_positive": [float(s / c) if c else None for s, c in zip(positives, counts, strict=True)],
    }
