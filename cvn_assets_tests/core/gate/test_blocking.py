"""Failed blocking checks sorted by what they invalidate: f1_buy itself or only the calibration gate."""

from __future__ import annotations

import pandas as pd

from cvn_assets.core.gate.blocking import BlockingFailure, as_failures, blocking_failures_by_variant


def row(variant: str, fold: str, **metrics: float) -> dict:
    values = {"ece": 0.05, "ece_hold": 0.04, "brier": 0.2, "log_loss": 0.6, **metrics}
    return {"crypto": "BTC", "fold": fold, "variant": variant, "model": "xgboost", "status": "ok", **values}


def test_ece_failures_bind_to_calibration_and_others_to_f1_buy() -> None:
    rows = pd.DataFrame(
        [
            row("mild", "f1", ece=0.0, ece_hold=0.0),
            row("mild", "f2", ece_hold=0.0, brier=0.0),
            row("none", "f1"),
        ]
    )
    assert blocking_failures_by_variant(rows) == {
        "mild": [
            BlockingFailure("degenerate ece, ece_hold on BTC f1 xgboost", "calibration"),
            BlockingFailure("degenerate ece_hold on BTC f2 xgboost", "calibration"),
            BlockingFailure("degenerate brier on BTC f2 xgboost", None),
        ]
    }


def test_a_failure_given_by_name_only_invalidates_f1_buy() -> None:
    kept = BlockingFailure("degenerate ece on BTC f1 xgboost", "calibration")
    assert as_failures(["ohlcv_valid", kept]) == [BlockingFailure("ohlcv_valid", None), kept]
