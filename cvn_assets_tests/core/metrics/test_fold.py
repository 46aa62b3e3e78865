"""The fold-metrics row: its keys are the results-store metric columns, and its parts line up."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.labels.barriers import BarrierParams
from cvn_assets.core.metrics import CostModel, TradeSimulator, fold_metrics_row
from cvn_assets.core.schema import METRIC_COLUMNS

FREE = CostModel(taker_fee=0.0, spread=0.0, slippage=0.0, funding_per_8h=0.0)
Y = np.array([0, 1, 1, 0, 1, 0])
P = np.array([0.2, 0.7, 0.4, 0.6, 0.9, 0.1])
POSITIONS = np.array([0, 2, 4, 6, 8, 10])


def _simulator() -> TradeSimulator:
    """Flat candles at 100 except bar 3, whose high reaches 101; ATR 1, 1-bar trades taking profit 1 ATR up."""
    n = 12
    high = np.full(n, 100.0)
    high[3] = 101.0
    flat = np.full(n, 100.0)
    return TradeSimulator(
        flat, high, flat, flat, np.ones(n), BarrierParams(stop_atr=1.0, take_atr=1.0, horizon=1), FREE
    )


def test_keys_are_exactly_the_metric_columns_in_order() -> None:
    assert tuple(fold_metrics_row(Y, P, 0.5, POSITIONS, _simulator())) == METRIC_COLUMNS


def test_trades_are_taken_on_the_test_rows_at_or_above_the_threshold() -> None:
    row = fold_metrics_row(Y, P, 0.6, POSITIONS, _simulator())
    # rows 1, 3, 4 (bars 2, 6, 8) have p >= 0.6: bar 2's trade enters bar 3 and takes profit at 101 (+1 %);
    # bars 6 and 8 enter flat bars and exit at their close, 100 (0 %)
    assert row["n_trades"] == 3
    assert row["threshold"] == 0.6
    assert row["expectancy_gross"] == pytest.approx(0.01 / 3)
    assert row["win_rate"] == pytest.approx(1 / 3)
    assert row["precision_buy"] == pytest.approx(2 / 3)


def test_no_signal_on_test_keeps_classification_metrics_and_nan_trading() -> None:
    row = fold_metrics_row(Y, P, 0.95, POSITIONS, _simulator())
    assert row["n_trades"] == 0
    assert math.isnan(row["expectancy_net"]) and math.isnan(row["win_rate"])
    assert math.isfinite(row["auc"]) and math.isfinite(row["ece"])


@pytest.mark.parametrize(
    ("y", "p", "positions", "error", "match"),
    [
        pytest.param(
            Y, P[:-1], POSITIONS[:-1], InsufficientDataError, "row-aligned", id="probabilities_shorter_than_labels"
        ),
        pytest.param(Y, P, POSITIONS[:-1], InsufficientDataError, "row-aligned", id="positions_shorter_than_rows"),
        pytest.param(Y * 0.85, P, POSITIONS, ValueError, "hard 0/1", id="soft_test_labels"),
    ],
)
def test_fold_metrics_row_errors(y: np.ndarray, p: np.ndarray, positions: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        fold_metrics_row(y, p, 0.5, positions, _simulator())
