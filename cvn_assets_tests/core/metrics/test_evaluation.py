import json

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.catalogue.loading import load_catalogue, model_choices, parse_catalogue
from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.labels.barriers import BarrierParams
from cvn_assets.core.metrics import TradeSimulator, reliability_bins
from cvn_assets.core.metrics.evaluation import cell_metrics, result_rows
from cvn_assets.core.schema import RESULT_COLUMNS


def _metrics() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["xgboost", "lightgbm", "stack_logreg"],
            "status": "ok",
            "f1_buy": [0.40, 0.42, 0.45],
            "n_trades": [60, 70, 65],
        }
    )


def test_a_shared_cell_writes_one_row_per_factor_it_serves() -> None:
    rows = result_rows(
        _metrics(),
        sweep_id="s",
        crypto="BTC",
        fold="f1",
        config_id="baseline",
        members=[("label_smoothing", "none"), ("cleanlab", "off")],
    )
    assert list(rows.columns) == list(RESULT_COLUMNS)
    assert len(rows) == 2 * 3
    assert set(rows["config_id"]) == {"baseline"}


def test_model_choice_variants_keep_only_the_chosen_model_under_one_pairing_name() -> None:
    choices = {("ensemble", "xgb_only"): "xgboost", ("ensemble", "stack_logreg"): "stack_logreg"}
    rows = result_rows(
        _metrics(),
        sweep_id="s",
        crypto="BTC",
        fold="f1",
        config_id="baseline",
        members=[("ensemble", "xgb_only"), ("ensemble", "stack_logreg")],
        model_choices=choices,
    )
    assert rows[["variant", "model"]].values.tolist() == [["xgb_only", "selected"], ["stack_logreg", "selected"]]
    assert rows["f1_buy"].tolist() == [0.40, 0.45]
    assert np.isnan(rows["auc"]).all()


def test_the_ensemble_factor_reuses_the_baseline_cells() -> None:
    catalogue = load_catalogue()
    assert "en_lgb_only" not in catalogue.config_ids()
    members = catalogue.config("baseline").members
    assert ("ensemble", "stack_xgb") in members and ("ensemble", "xgb_only") in members
    assert model_choices(catalogue)[("ensemble", "blend_auc")] == "blend_auc"


def test_a_model_choice_the_sweep_does_not_train_is_refused() -> None:
    document = {
        "sweep": {"universe": ["BTC"], "models": ["xgboost"]},
        "factors": {"ensemble": {"baseline": "x", "variants": {"x": {"model": "xgboost"}, "l": {"model": "lightgbm"}}}},
    }
    with pytest.raises(CatalogueError, match="variant 'l': model 'lightgbm' is not trained by this sweep"):
        parse_catalogue(document)


def _cell(n_test: int = 120) -> tuple[pd.DataFrame, pd.DataFrame, TradeSimulator]:
    """Predictions of one ok and one failed model on a cell, its model summaries and its prices."""
    rng = np.random.default_rng(5)
    n = 400
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    simulator = TradeSimulator(close, close * 1.01, close * 0.99, close, close * 0.01)
    test_positions = np.arange(n - n_test, n)
    validation_positions = np.arange(n - 2 * n_test, n - n_test)
    frames = []
    for window, positions in (("validation", validation_positions), ("test", test_positions)):
        p = rng.uniform(0, 1, positions.size)
        frames.append(
            pd.DataFrame(
                {
                    "model": "xgboost",
                    "window": window,
                    "position": positions,
                    "y": (rng.uniform(0, 1, positions.size) < p).astype(float),
                    "p": p,
                }
            )
        )
    models = pd.DataFrame(
        {
            "model": ["xgboost", "lightgbm"],
            "status": ["ok", "training_failed"],
            "error": [None, "lightgbm: boom"],
            "threshold": [0.5, np.nan],
            "fit_seconds": [1.0, 0.5],
            "train_rows": [160, 160],
            "duration_seconds": [1.2, 0.6],
        }
    )
    return pd.concat(frames, ignore_index=True), models, simulator


def test_cell_metrics_record_the_test_windows_reliability_bins_for_ok_models_only() -> None:
    predictions, models, simulator = _cell()
    metrics = cell_metrics(predictions, models, simulator).set_index("model")
    test = predictions[predictions["window"] == "test"]
    stored = json.loads(metrics.loc["xgboost", "reliability_bins"])
    assert stored == reliability_bins(test["y"].to_numpy(), test["p"].to_numpy())
    assert sum(stored["count"]) == metrics.loc["xgboost", "test_rows"] == 120
    assert metrics.loc["lightgbm", "reliability_bins"] is None


def test_reliability_bins_survive_the_results_rows_as_a_text_column() -> None:
    predictions, models, simulator = _cell()
    rows = result_rows(
        cell_metrics(predictions, models, simulator),
        sweep_id="s",
        crypto="BTC",
        fold="f1",
        config_id="baseline",
        members=[("label_smoothing", "none")],
    )
    ok = rows[rows["status"] == "ok"]
    assert json.loads(ok["reliability_bins"].iloc[0])["n_bins"] == 10


def test_cell_metrics_trade_the_test_window_one_position_at_a_time() -> None:
    predictions, models, _ = _cell()
    flat = np.full(400, 100.0)
    simulator = TradeSimulator(flat, flat, flat, flat, np.ones(400), BarrierParams(horizon=4))
    metrics = cell_metrics(predictions, models.assign(threshold=[0.0, np.nan]), simulator).set_index("model")
    # every test bar 280..399 signals; flat prices end each trade at its vertical barrier 4 bars on, so the
    # trades start at bars 280, 284, ..., 392 (396 has only 3 bars after it): (392 - 280) / 4 + 1 = 29
    assert metrics.loc["xgboost", "n_trades"] == 29
    assert metrics.loc["xgboost", "expectancy_gross"] == 0.0
