"""One fold-metrics row: classification metrics of the test window plus trading metrics of its BUY signals."""

from __future__ import annotations

import numpy as np

from cvn_assets.core.metrics.classification import as_probabilities, check_same_length, classification_metrics
from cvn_assets.core.metrics.trades import TradeSimulator
from cvn_assets.core.metrics.trading import trading_metrics
from cvn_assets.core.schema import METRIC_COLUMNS


def fold_metrics_row(
    y_test: np.ndarray,
    p_test: np.ndarray,
    threshold: float,
    positions: np.ndarray,
    simulator: TradeSimulator,
) -> dict[str, float | int]:
    """Metrics of calibrated test probabilities `p_test` at the validation-chosen `threshold`.

    `positions` are the bars of the test rows (ascending); the rows with p_test >= threshold are
    BUY signals, traded one position at a time by `simulator`. Keys are exactly `METRIC_COLUMNS`,
    in order.
    """
    p_arr = as_probabilities(p_test, "test probabilities")
    bars = np.asarray(positions)
    check_same_length("test probabilities", p_arr, "test positions", bars)
    merged: dict[str, float | int] = {
        **classification_metrics(y_test, p_arr, threshold),
        **trading_metrics(simulator.trades(bars[p_arr >= threshold])),
        "threshold": float(threshold),
    }
    return {column: merged[column] for column in METRIC_COLUMNS}
