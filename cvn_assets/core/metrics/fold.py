"""One fold-metrics row: classification metrics of the test window plus trading metrics of its BUY signals."""

from __future__ import annotations

import numpy as np

from cvn_assets.core.metrics.classification import as_probabilities, check_same_length, classification_metrics
from cvn_assets.core.metrics.trading import CostModel, trading_metrics
from cvn_assets.core.schema import METRIC_COLUMNS


def fold_metrics_row(
    y_test: np.ndarray,
    p_test: np.ndarray,
    threshold: float,
    trade_returns: np.ndarray,
    exit_offsets: np.ndarray,
    costs: CostModel = CostModel(),
) -> dict[str, float | int]:
    """Metrics of calibrated test probabilities `p_test` at the validation-chosen `threshold`.

    Trades are the test rows with p_test >= threshold. Keys are exactly `METRIC_COLUMNS`, in order.
    """
    p_arr = as_probabilities(p_test, "test probabilities")
    check_same_length("test probabilities", p_arr, "trade returns", np.asarray(trade_returns))
    merged: dict[str, float | int] = {
        **classification_metrics(y_test, p_arr, threshold),
        **trading_metrics(trade_returns, exit_offsets, p_arr >= threshold, costs),
        "threshold": float(threshold),
    }
    return {column: merged[column] for column in METRIC_COLUMNS}
