import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.catalogue import load_catalogue, model_choices, parse_catalogue
from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.evaluation import result_rows
from cvn_assets.core.schema import RESULT_COLUMNS


def _metrics() -> pd.DataFrame:
    return pd.DataFrame({"model": ["xgboost", "lightgbm", "stack_logreg"], "status": "ok",
                         "f1_buy": [0.40, 0.42, 0.45], "n_trades": [60, 70, 65]})


def test_a_shared_cell_writes_one_row_per_factor_it_serves() -> None:
    rows = result_rows(_metrics(), sweep_id="s", crypto="BTC", fold="f1", config_id="baseline",
                       members=[("label_smoothing", "none"), ("cleanlab", "off")])
    assert list(rows.columns) == list(RESULT_COLUMNS)
    assert len(rows) == 2 * 3
    assert set(rows["config_id"]) == {"baseline"}


def test_model_choice_variants_keep_only_the_chosen_model_under_one_pairing_name() -> None:
    choices = {("ensemble", "xgb_only"): "xgboost", ("ensemble", "stack_logreg"): "stack_logreg"}
    rows = result_rows(_metrics(), sweep_id="s", crypto="BTC", fold="f1", config_id="baseline",
                       members=[("ensemble", "xgb_only"), ("ensemble", "stack_logreg")], model_choices=choices)
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
    document = {"sweep": {"universe": ["BTC"], "models": ["xgboost"]},
                "factors": {"ensemble": {"baseline": "x", "variants": {"x": {"model": "xgboost"},
                                                                       "l": {"model": "lightgbm"}}}}}
    with pytest.raises(CatalogueError, match="variant 'l': model 'lightgbm' is not trained by this sweep"):
        parse_catalogue(document)
