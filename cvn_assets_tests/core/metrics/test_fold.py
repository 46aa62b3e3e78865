"""The fold-metrics row: its keys are the results-store metric columns, and its parts line up."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.metrics import CostModel, fold_metrics_row
from cvn_assets.core.schema import METRIC_COLUMNS

Y = np.array([0, 1, 1, 0, 1, 0])
P = np.array([0.2, 0.7, 0.4, 0.6, 0.9, 0.1])
RETURNS = np.array([-0.01, 0.03, 0.02, -0.02, 0.01, 0.0])
OFFSETS = np.array([4, 2, 3, 4, 1, 4])


def test_keys_are_exactly_the_metric_columns_in_order() -> None:
    assert tuple(fold_metrics_row(Y, P, 0.5, RETURNS, OFFSETS)) == METRIC_COLUMNS


def test_trades_are_the_test_rows_at_or_above_the_threshold() -> None:
    row = fold_metrics_row(Y, P, 0.6, RETURNS, OFFSETS, CostModel())
    # rows 1, 3, 4 have p >= 0.6
    assert row["n_trades"] == 3
    assert row["threshold"] == 0.6
    assert row["expectancy_gross"] == pytest.approx((0.03 - 0.02 + 0.01) / 3)
    mean_cost = float(np.mean(CostModel().trade_cost(np.array([2.0, 4.0, 1.0]))))
    assert row["expectancy_net"] == pytest.approx(row["expectancy_gross"] - mean_cost)
    assert row["precision_buy"] == pytest.approx(2 / 3)


def test_no_signal_on_test_keeps_classification_metrics_and_nan_trading() -> None:
    row = fold_metrics_row(Y, P, 0.95, RETURNS, OFFSETS)
    assert row["n_trades"] == 0
    assert math.isnan(row["expectancy_net"]) and math.isnan(row["win_rate"])
    assert math.isfinite(row["auc"]) and math.isfinite(row["ece"])


@pytest.mark.parametrize(
    ("y", "p", "returns", "error", "match"),
    [
        pytest.param(Y, P[:-1], RETURNS, InsufficientDataError, "row-aligned", id="probabilities_shorter_than_labels"),
        pytest.param(Y, P, RETURNS[:-1], InsufficientDataError, "row-aligned", id="returns_shorter_than_rows"),
        pytest.param(Y * 0.85, P, RETURNS, ValueError, "hard 0/1", id="soft_test_labels"),
    ],
)
def test_fold_metrics_row_errors(y: np.ndarray, p: np.ndarray, returns: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        fold_metrics_row(y, p, 0.5, returns, OFFSETS)
