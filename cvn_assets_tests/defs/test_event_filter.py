"""The CUSUM event filter in the asset graph: on, fewer bars are labelled, trained on, tested and traded."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from cvn_assets.core.data.loading import load_ohlcv
from cvn_assets.core.labels.barriers import triple_barrier_labels
from cvn_assets.core.labels.events import EventFilterParams, cusum_events
from cvn_assets.core.training.fold_frames import folds_from_frame
from cvn_assets.defs.build import build_defs
from cvn_assets_tests.conftest import SMALL_ROWS, make_settings, small_catalogue_document

CELL = "ETH|f2.baseline"


def _sweep(root: Path, data_dir: Path, instance: dg.DagsterInstance, events: dict | None) -> dict[str, object]:
    """Raw labels, fold plan and result row of one ETH cell (windows small enough for the filtered bars)."""
    document = small_catalogue_document(("ETH",))
    document["folds"] = {"min_window_rows": 50, "embargo_bars": 4}
    if events is not None:
        document["events"] = events
    root.mkdir()
    defs = build_defs(make_settings(root, data_dir, document))
    assert defs.resolve_job_def("crypto_data_job").execute_in_process(partition_key="ETH", instance=instance).success
    assert defs.resolve_job_def("cell_job").execute_in_process(partition_key=CELL, instance=instance).success
    frames = defs.resources["artifacts"].frames()
    labels = frames.require(dg.AssetKey("raw_labels"), "ETH")
    folds = {f.fold: f for f in folds_from_frame(frames.require(dg.AssetKey("fold_windows"), "ETH"))}
    rows = defs.resources["results"].store().read("test_sweep")
    return {"labels": labels, "fold": folds["f2"], "row": rows[rows["model"] == "xgboost"].iloc[0]}


def test_the_filter_on_labels_trains_and_trades_only_event_bars_and_off_changes_nothing(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    ohlcv = load_ohlcv("ETH").head(SMALL_ROWS).reset_index(drop=True)
    off = _sweep(tmp_path / "off", small_data_dir, instance, None)
    on = _sweep(tmp_path / "on", small_data_dir, instance, {"cusum": True})

    pd.testing.assert_frame_equal(off["labels"].reset_index(drop=True), triple_barrier_labels(ohlcv), check_exact=True)
    events = np.flatnonzero(cusum_events(ohlcv, EventFilterParams(cusum=True)))
    labelled = np.flatnonzero(on["labels"]["label"].notna().to_numpy())
    assert np.isin(labelled, events).all()
    assert len(labelled) < 0.6 * off["labels"]["label"].notna().sum()
    for window in ("train", "validation", "test"):
        assert np.isin(on["fold"].window(window), events).all(), window
    assert on["row"]["train_rows"] < off["row"]["train_rows"]
    assert on["row"]["test_rows"] == len(on["fold"].test) < off["row"]["test_rows"]


def test_too_few_event_bars_for_the_folds_names_the_filter_settings(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    document = small_catalogue_document(("ETH",))
    document["events"] = {"cusum": True}
    defs = build_defs(make_settings(tmp_path, small_data_dir, document))
    result = defs.resolve_job_def("crypto_data_job").execute_in_process(
        partition_key="ETH", instance=instance, raise_on_error=False
    )
    message = result.get_step_failure_events()[0].step_failure_data.error.cause.message.strip()
    assert "ETH: walk-forward folds need at least 2224 labeled rows" in message and "\n" not in message
    assert message.endswith(
        "the CUSUM event filter labels only its event bars: lower "
        "events.threshold_vol_multiple or set events.cusum to false"
    )
