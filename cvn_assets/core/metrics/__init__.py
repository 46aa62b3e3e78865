"""Fold metrics: classification and calibration quality, and trading results net of costs."""

from cvn_assets.core.metrics.classification import (
    DEFAULT_ECE_BINS,
    as_hard_labels,
    as_probabilities,
    classification_metrics,
    ece_per_class,
    expected_calibration_error,
)
from cvn_assets.core.metrics.fold import fold_metrics_row
from cvn_assets.core.metrics.reliability import DEFAULT_RELIABILITY_BINS, reliability_bins
from cvn_assets.core.metrics.trades import Candidates, Trades, TradeSimulator
from cvn_assets.core.metrics.trading import (
    TRADING_METRIC_NAMES,
    CostModel,
    equity_curve,
    max_drawdown,
    sortino_ratio,
    trading_metrics,
)

__all__ = [
    "DEFAULT_ECE_BINS",
    "DEFAULT_RELIABILITY_BINS",
    "TRADING_METRIC_NAMES",
    "Candidates",
    "CostModel",
    "TradeSimulator",
    "Trades",
    "as_hard_labels",
    "as_probabilities",
    "classification_metrics",
    "ece_per_class",
    "equity_curve",
    "expected_calibration_error",
    "fold_metrics_row",
    "max_drawdown",
    "reliability_bins",
    "sortino_ratio",
    "trading_metrics",
]
