"""What a sweep run reports beside its runs: the fits that failed in them."""

import pandas as pd

from cvn_assets.orchestration.report import failed_fits


def test_failed_fits_names_each_failed_cell_and_model_of_the_cells_asked_about() -> None:
    rows = pd.DataFrame(
        {
            "crypto": ["BTC", "BTC", "BTC", "ETH"],
            "fold": ["f1", "f1", "f1", "f1"],
            "config_id": ["baseline", "baseline", "baseline", "baseline"],
            "factor": ["label_smoothing", "cleanlab", "label_smoothing", "label_smoothing"],
            "model": ["xgboost", "xgboost", "catboost", "xgboost"],
            "status": ["training_failed", "training_failed", "ok", "training_failed"],
            "error": ["max_depth must be >= 0", "max_depth must be >= 0", "", "out of memory"],
        }
    )
    # one entry per cell and model (a cell serves several factors); cells not asked about are left out
    assert failed_fits(rows, {"BTC|f1.baseline"}) == {"BTC|f1.baseline xgboost": "max_depth must be >= 0"}
    assert failed_fits(rows, set()) == {}
