"""The file store of asset values: one file per partition, whatever dots the partition key holds."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from cvn_assets.defs.frame_store import FrameStore

KEY = dg.AssetKey("smoothed_labels")


def test_cells_of_one_crypto_and_fold_keep_their_own_values(tmp_path: Path) -> None:
    store = FrameStore(tmp_path)
    cells = ["BTC|f1.baseline", "BTC|f1.ls_mild", "BTC|f1.ls_x_cl"]
    for index, cell in enumerate(cells):
        store.write(KEY, cell, pd.DataFrame({"target": [float(index)]}))
    assert [store.require(KEY, cell)["target"].iloc[0] for cell in cells] == [0.0, 1.0, 2.0]
    assert sorted(p.name for p in (tmp_path / "smoothed_labels" / "BTC").iterdir()) == [
        "f1.baseline.parquet",
        "f1.ls_mild.parquet",
        "f1.ls_x_cl.parquet",
    ]


def test_mappings_of_frames_and_json_values_round_trip(tmp_path: Path) -> None:
    store = FrameStore(tmp_path)
    predictions = {"predictions": pd.DataFrame({"p": [0.2, 0.7]}), "models": pd.DataFrame({"model": ["xgboost"]})}
    store.write(dg.AssetKey(["oos_predictions", "xgboost"]), "ETH|f2.cl_filter", predictions)
    store.write(dg.AssetKey("gate_verdict"), "label_smoothing", {"verdict": "LOCK"})
    stored = store.require(dg.AssetKey(["oos_predictions", "xgboost"]), "ETH|f2.cl_filter")
    assert sorted(stored) == ["models", "predictions"]
    pd.testing.assert_frame_equal(stored["predictions"], predictions["predictions"])
    assert store.require(dg.AssetKey("gate_verdict"), "label_smoothing") == {"verdict": "LOCK"}
    assert store.read(dg.AssetKey("gate_verdict"), "cleanlab") is None


def test_a_missing_value_is_named_with_its_partition(tmp_path: Path) -> None:
    missing = r"smoothed_labels partition BTC\|f3.baseline has not been materialized"
    with pytest.raises(FileNotFoundError, match=missing):
        FrameStore(tmp_path).require(KEY, "BTC|f3.baseline")


def test_a_value_that_cannot_be_stored_leaves_the_stored_one(tmp_path: Path) -> None:
    store = FrameStore(tmp_path)
    store.write(KEY, "BTC|f1.baseline", pd.DataFrame({"target": [1.0]}))
    with pytest.raises(TypeError, match="cannot store a list"):
        store.write(KEY, "BTC|f1.baseline", [1, 2])
    assert store.require(KEY, "BTC|f1.baseline")["target"].tolist() == [1.0]
