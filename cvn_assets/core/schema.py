"""Column names shared by the core, the results store and the gate."""

from __future__ import annotations

OHLCV_COLUMNS: tuple[str, ...] = ("timestamp", "open", "high", "low", "close", "volume")

RESULT_KEY_COLUMNS: tuple[str, ...] = ("sweep_id", "crypto", "fold", "factor", "variant", "model")

METRIC_COLUMNS: tuple[str, ...] = (
    "f1_buy",
    "precision_buy",
    "recall_buy",
    "auc",
    "brier",
    "log_loss",
    "ece",
    "ece_hold",
    "ece_buy",
    "threshold",
    # Skill against the trivial rule that says BUY on every test bar (see `classification_metrics`).
    "buy_signal_rate",
    "always_buy_f1",
    "f1_lift_over_always_buy",
    "n_trades",
    "win_rate",
    "mean_return",
    "sortino",
    "max_drawdown",
    "expectancy_gross",
    "expectancy_net",
)

INFO_COLUMNS: tuple[str, ...] = (
    "config_id",
    "status",
    "error",
    "train_rows",
    "val_rows",
    "test_rows",
    "fit_seconds",
    "duration_seconds",
    "reliability_bins",
)

# Stored as text: identifiers, status messages and JSON documents (reliability bins of the test window).
TEXT_COLUMNS: frozenset[str] = frozenset({"config_id", "status", "error", "reliability_bins"})

RESULT_COLUMNS: tuple[str, ...] = RESULT_KEY_COLUMNS + INFO_COLUMNS + METRIC_COLUMNS

STATUS_OK = "ok"
STATUS_TRAINING_FAILED = "training_failed"
