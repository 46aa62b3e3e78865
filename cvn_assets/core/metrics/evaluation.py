"""Fold metrics of one cell from its out-of-sample predictions (one row per model)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from cvn_assets.core.catalogue.model_choice import SELECTED_MODEL
from cvn_assets.core.metrics import TradeSimulator, fold_metrics_row, reliability_bins
from cvn_assets.core.schema import METRIC_COLUMNS, RESULT_COLUMNS, STATUS_OK


def cell_metrics(
    predictions: pd.DataFrame,
    models: pd.DataFrame,
    simulator: TradeSimulator,
) -> pd.DataFrame:
    """Metrics on the test window for every model of a cell, its BUY signals traded by `simulator`.

    `simulator` holds the crypto's prices (row-aligned with the predictions' positions), barriers and
    costs. `models` has one row per model (model, status, error, threshold, fit_seconds); a model that
    failed to train yields a row with its status and error and no metrics. `reliability_bins` holds
    the JSON of the test window's binned calibration (the data of a reliability diagram).
    """
    rows = []
    # One pass over the string columns instead of comparing them again for every model and window.
    windows = {key: frame for key, frame in predictions.groupby(["model", "window"], sort=False)}
    empty = predictions.iloc[:0]
    for model in models.itertuples(index=False):
        row: dict[str, object] = {
            "model": model.model,
            "status": model.status,
            "error": model.error,
            "fit_seconds": float(model.fit_seconds),
            "train_rows": int(model.train_rows),
            "duration_seconds": float(model.duration_seconds),
        }
        test = windows.get((model.model, "test"), empty)
        validation = windows.get((model.model, "validation"), empty)
        row.update(val_rows=len(validation), test_rows=len(test))
        if model.status == STATUS_OK:
            row.update(
                fold_metrics_row(
                    test["y"].to_numpy(),
                    test["p"].to_numpy(),
                    float(model.threshold),
                    test["position"].to_numpy(),
                    simulator,
                )
            )
            row["reliability_bins"] = json.dumps(reliability_bins(test["y"].to_numpy(), test["p"].to_numpy()))
        else:
            row.update({name: np.nan for name in METRIC_COLUMNS})
            row["reliability_bins"] = None
        rows.append(row)
    return pd.DataFrame(rows)


def result_rows(
    metrics: pd.DataFrame,
    *,
    sweep_id: str,
    crypto: str,
    fold: str,
    config_id: str,
    members: Iterable[tuple[str, str]],
    model_choices: Mapping[tuple[str, str], str] | None = None,
    extra: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """Rows of the results table: a cell's metrics repeated for every (factor, variant) it stands for.

    For a model-choice variant only the chosen model's row is kept, named SELECTED_MODEL so that
    every variant of that factor pairs with its baseline in the gate.
    """
    frames = []
    for factor, variant in members:
        frame = metrics.copy()
        chosen = (model_choices or {}).get((factor, variant))
        if chosen is not None:
            frame = frame[frame["model"] == chosen].assign(model=SELECTED_MODEL)
        frame["sweep_id"], frame["crypto"], frame["fold"] = sweep_id, crypto, fold
        frame["factor"], frame["variant"], frame["config_id"] = factor, variant, config_id
        for key, value in (extra or {}).items():
            frame[key] = value
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    for column in RESULT_COLUMNS:
        if column not in out:
            out[column] = np.nan
    return out[list(RESULT_COLUMNS)]
