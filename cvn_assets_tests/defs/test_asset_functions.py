"""Every asset of the graph is a function named after it, and what the step declares comes from those functions."""

import re
from pathlib import Path

import dagster as dg

from cvn_assets.defs.build import build_defs
from cvn_assets.defs.cells.computations import cell_assets
from cvn_assets.defs.data.assets import DATA_ASSETS
from cvn_assets.defs.settings import Settings

PACKAGE = Path(__file__).resolve().parents[2] / "cvn_assets"


def test_every_asset_of_the_graph_is_a_function_named_after_it(small_settings: Settings) -> None:
    source = "\n".join(path.read_text() for path in PACKAGE.rglob("*.py"))
    defined = set(re.findall(r"^\s*def (\w+)\(", source, flags=re.MULTILINE))
    keys = build_defs(small_settings).resolve_asset_graph().get_all_asset_keys()
    # A per-model asset ([oos_predictions, <model>]) is one function for every model.
    assert {key.path[0] for key in keys} - defined == set()


def test_cell_assets_read_what_their_functions_name() -> None:
    reads = {
        str(a): ({k.to_user_string() for k in a.cell_deps}, set(a.crypto_deps))
        for a in cell_assets(("xgboost", "lightgbm"), ("blend_mean",))
    }
    models = {"oos_predictions/xgboost", "oos_predictions/lightgbm"}
    crypto = {"features", "raw_labels", "fold_windows"}
    assert reads == {
        "smoothed_labels": (set(), {"raw_labels", "fold_windows"}),
        "cleanlab_mask": (set(), crypto),
        # The prices: validation trades for a threshold objective that needs them, and the test trades.
        "oos_predictions/xgboost": ({"smoothed_labels", "cleanlab_mask"}, crypto | {"ohlcv"}),
        "oos_predictions/lightgbm": ({"smoothed_labels", "cleanlab_mask"}, crypto | {"ohlcv"}),
        "stacked_ensemble": (models, {"ohlcv"}),
        "fold_metrics": (models | {"stacked_ensemble"}, {"ohlcv"}),
    }


def test_without_ensembles_there_is_no_ensemble_asset_and_the_metrics_read_the_models_only() -> None:
    assets = {str(a): a for a in cell_assets(("xgboost_focal",), ())}
    assert list(assets) == ["smoothed_labels", "cleanlab_mask", "oos_predictions/xgboost_focal", "fold_metrics"]
    assert {k.to_user_string() for k in assets["fold_metrics"].cell_deps} == {"oos_predictions/xgboost_focal"}
    # a model's kind is its library; its check is named after the model
    predictions = assets["oos_predictions/xgboost_focal"]
    assert predictions.kinds == {"xgboost", "parquet"}
    assert predictions.check == "xgboost_focal_probabilities_valid"


def test_per_crypto_assets_read_their_keyword_parameters_and_are_checked_by_named_functions() -> None:
    assert {a.key.to_user_string(): {k.to_user_string() for k in a.reads} for a in DATA_ASSETS} == {
        "ohlcv": set(),
        "features": {"ohlcv"},
        "raw_labels": {"ohlcv"},
        "fold_windows": {"raw_labels"},
    }
    assert {a.key.to_user_string(): a.check.__name__ for a in DATA_ASSETS if a.check} == {
        "ohlcv": "ohlcv_sanity",
        "raw_labels": "label_rate_and_tail",
    }
    assert all(a.description and a.key == dg.AssetKey(a.function.__name__) for a in DATA_ASSETS)
