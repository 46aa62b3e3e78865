"""Running one ensemble on one cell: base predictions in, an outcome shaped like a base model's out.

Meta-models learn only from validation rows, never from test rows. Each piece that learns from the
validation window learns from predictions out-of-sample for every piece fitted before it, over the
same purged blocks of the window (see `cross_fit`): the base models' validation probabilities are
already cross-fitted calibrations, and the ensemble fitted on them predicts test; an ensemble that
learns from labels scores each validation block with a copy fitted on the other blocks, on base
calibrations nested inside those blocks (see `out_of_fold`); one that does not (the mean blend)
scores validation directly. The ensemble's calibrator is cross-fitted in turn before its threshold
sweep, and the one fitted on all validation rows calibrates test.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import logit

from cvn_assets.core.ensembles.base import Ensemble, check_training_labels
from cvn_assets.core.ensembles.out_of_fold import out_of_fold_scores
from cvn_assets.core.ensembles.registry import ensemble_base_models, make_ensemble
from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.metrics.classification import as_hard_labels
from cvn_assets.core.metrics.trades import TradeSimulator
from cvn_assets.core.schema import STATUS_OK, STATUS_TRAINING_FAILED
from cvn_assets.core.training.calibration import CalibrationParams, cross_fitted_calibration, make_calibrator
from cvn_assets.core.training.cross_fit import window_blocks
from cvn_assets.core.training.fit import ModelOutcome
from cvn_assets.core.training.thresholds import ThresholdParams, sweep_threshold

WINDOWS: tuple[str, ...] = ("validation", "test")
BASE_COLUMNS: tuple[str, ...] = ("model", "window", "position", "timestamp", "y", "score", "p")


@dataclass(frozen=True)
class EnsembleRunParams:
    """The clip applied before logit(score) margins (the cross-fit blocks are a calibration setting)."""

    margin_clip_eps: float = 1e-7

    def __post_init__(self) -> None:
        if not (isinstance(self.margin_clip_eps, float) and 0.0 < self.margin_clip_eps < 0.5):
            raise CatalogueError(f"margin_clip_eps must be a float in (0, 0.5), got {self.margin_clip_eps!r}")


@dataclass(frozen=True, eq=False)
class WindowMatrix:
    """One window of base predictions side by side: rows = positions (ascending), columns = base models;
    `matrix` holds their calibrated P(BUY), `scores` their raw scores (what their calibrators take)."""

    positions: np.ndarray
    timestamps: pd.api.extensions.ExtensionArray | np.ndarray
    y: np.ndarray
    matrix: np.ndarray
    scores: np.ndarray


@dataclass
class EnsembleOutcome(ModelOutcome):
    """What running one ensemble on one cell produced: a `ModelOutcome`, so base models and ensembles
    are reported alike, plus the fitted ensemble and any note it left (e.g. blend_auc's fallback)."""

    note: str | None = None
    ensemble: Ensemble | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.model


def base_matrices(base_predictions: pd.DataFrame, name: str, base_models: tuple[str, ...]) -> dict[str, WindowMatrix]:
    """Pivot the base models' prediction frames into one matrix of calibrated P(BUY) per window.

    A declared base model without predictions in a window (e.g. because it failed) or without a
    prediction for every position of that window raises `InsufficientDataError` naming it.
    """
    absent = [c for c in BASE_COLUMNS if c not in base_predictions.columns]
    if absent:
        raise InsufficientDataError(f"ensemble {name!r}: base predictions lack column(s) {absent}")
    return {w: _window_matrix(base_predictions[base_predictions["window"] == w], name, base_models, w) for w in WINDOWS}


def _window_matrix(frame: pd.DataFrame, name: str, base_models: tuple[str, ...], window: str) -> WindowMatrix:
    present = set(frame["model"])
    for model in base_models:
        if model not in present:
            raise InsufficientDataError(
                f"ensemble {name!r} needs the {window} predictions of base model {model!r}, which are missing "
                f"(a base model that failed fails the ensemble)"
            )
    frame = frame[frame["model"].isin(base_models)]
    repeated = frame[frame.duplicated(["model", "position"])]
    if not repeated.empty:
        row = repeated.iloc[0]
        raise ValueError(
            f"ensemble {name!r}: base model {row['model']!r} has {len(repeated)} repeated {window} "
            f"prediction(s), first at position {row['position']}"
        )
    wide = {
        column: frame.pivot(index="position", columns="model", values=column)
        .reindex(columns=list(base_models))
        .sort_index()
        for column in ("p", "score")
    }
    for column, what in (("p", "probability"), ("score", "score")):
        for model in base_models:
            holes = wide[column].index[wide[column][model].isna()]
            if holes.size:
                raise InsufficientDataError(
                    f"ensemble {name!r}: base model {model!r} has no {window} {what} at {holes.size} position(s) "
                    f"the other base models cover, first at position {holes[0]}"
                )
    # Instants as integers: grouping tz-aware timestamps goes through one Python object per row.
    instants = frame.assign(timestamp=_instants(frame["timestamp"]))
    per_position = instants.groupby("position")[["y", "timestamp"]].nunique()
    clash = per_position.index[(per_position > 1).any(axis=1)]
    if clash.size:
        raise ValueError(
            f"ensemble {name!r}: base models disagree on the {window} label or timestamp at "
            f"{clash.size} position(s), first at position {clash[0]}"
        )
    first = frame.groupby("position")[["y", "timestamp"]].first().reindex(wide["p"].index)
    return WindowMatrix(
        positions=wide["p"].index.to_numpy(dtype=np.int64),
        timestamps=first["timestamp"].array,
        y=as_hard_labels(first["y"].to_numpy(), f"ensemble {name!r} {window} labels"),
        matrix=wide["p"].to_numpy(dtype=np.float64),
        scores=wide["score"].to_numpy(dtype=np.float64),
    )


def _instants(timestamps: pd.Series) -> np.ndarray:
    if isinstance(timestamps.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(timestamps.dtype):
        moments: npt.NDArray[np.datetime64] = timestamps.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT"))
        return moments.view(np.int64)
    values: np.ndarray = timestamps.to_numpy()
    return values


def run_ensemble(
    name: str,
    base_predictions: pd.DataFrame,
    calibration: CalibrationParams,
    threshold: ThresholdParams,
    seed: int,
    n_threads: int,
    label_horizon: int,
    embargo_bars: int,
    *,
    params: Mapping[str, Any] | None = None,
    run: EnsembleRunParams = EnsembleRunParams(),
    windows: Mapping[str, WindowMatrix] | None = None,
    simulator: TradeSimulator | None = None,
) -> EnsembleOutcome:
    """Fit ensemble `name` on validation, predict test, calibrate and choose its threshold.

    `base_predictions` is the concatenation of the base models' prediction frames (columns model,
    window, position, timestamp, y, p). The test predictions come from the ensemble fitted on all
    validation rows; calibration and threshold use out-of-fold validation scores (see the module
    doc), and validation `p` is their cross-fitted calibration, which the threshold is swept on. The
    blocks are `calibration.cross_fit_blocks` purged by `label_horizon` and `embargo_bars`, as the base
    models' were. The returned frame's `score` is what the calibrator consumed, as for base models:
    logit(clipped ensemble P(BUY)) for temperature scaling, the probability otherwise. `windows`, when
    given, are `base_matrices` of those predictions already pivoted for this ensemble's base models.
    `simulator` trades the validation signals for a threshold objective that needs trades.

    Like `training.fit_and_predict`, a failing meta-model fit is recorded as `training_failed`;
    input problems (missing base model, one-class validation, unknown ensemble or parameter) raise.
    """
    started = time.perf_counter()
    if windows is None:
        windows = base_matrices(base_predictions, name, ensemble_base_models(name))
    validation, test = windows["validation"], windows["test"]
    check_training_labels(name, validation.matrix, validation.y)
    ensemble = make_ensemble(name, params, seed=seed, n_threads=n_threads)
    blocks = window_blocks(validation.positions, label_horizon, embargo_bars, calibration.cross_fit_blocks)
    fit_started = time.perf_counter()
    try:
        ensemble.fit(validation.matrix, validation.y)
        scores = {"test": ensemble.predict_proba(test.matrix)}
        scores["validation"] = (
            out_of_fold_scores(
                name,
                validation.scores,
                validation.y,
                calibration,
                blocks,
                params=params,
                seed=seed,
                n_threads=n_threads,
            )
            if ensemble.learns_from_labels
            else ensemble.predict_proba(validation.matrix)
        )
    except Exception as exc:  # a meta-model failure is recorded, not fatal to the sweep
        return EnsembleOutcome(
            name,
            STATUS_TRAINING_FAILED,
            empty_predictions(),
            fit_seconds=time.perf_counter() - fit_started,
            duration_seconds=time.perf_counter() - started,
            train_rows=validation.positions.size,
            error=f"{type(exc).__name__}: {exc}",
        )
    fit_seconds = time.perf_counter() - fit_started
    inputs = {w: _calibrator_input(scores[w], calibration, run.margin_clip_eps) for w in WINDOWS}
    calibrator = make_calibrator(calibration).fit(inputs["validation"], validation.y)
    calibrated = {
        "validation": cross_fitted_calibration(
            calibration, inputs["validation"], validation.y, blocks, f"ensemble {name!r}"
        ),
        "test": calibrator.transform(inputs["test"]),
    }
    trades = None if simulator is None else simulator.candidates(validation.positions)
    choice = sweep_threshold(calibrated["validation"], validation.y, threshold, trades=trades)
    frames = [
        pd.DataFrame(
            {
                "model": name,
                "window": w,
                "position": windows[w].positions,
                "timestamp": windows[w].timestamps,
                "y": windows[w].y.astype(int),
                "score": inputs[w],
                "p": calibrated[w],
            }
        )
        for w in WINDOWS
    ]
    return EnsembleOutcome(
        name,
        STATUS_OK,
        pd.concat(frames, ignore_index=True),
        choice.threshold,
        fit_seconds,
        duration_seconds=time.perf_counter() - started,
        train_rows=validation.positions.size,
        note=getattr(ensemble, "note_", None),
        ensemble=ensemble,
    )


def _calibrator_input(probabilities: np.ndarray, calibration: CalibrationParams, clip_eps: float) -> np.ndarray:
    # Temperature scaling rescales margins; an ensemble's margin is the logit of its probability,
    # clipped because calibrated base probabilities (hence blends) can be exactly 0 or 1.
    p = np.asarray(probabilities, dtype=np.float64)
    if calibration.method == "temperature":
        return np.asarray(logit(np.clip(p, clip_eps, 1.0 - clip_eps)), dtype=np.float64)
    return p


def empty_predictions() -> pd.DataFrame:
    """A prediction frame with no rows and the columns of a base model's frame."""
    return pd.DataFrame(
        {
            "model": pd.Series(dtype=str),
            "window": pd.Series(dtype=str),
            "position": pd.Series(dtype=int),
            "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
            "y": pd.Series(dtype=int),
            "score": pd.Series(dtype=float),
            "p": pd.Series(dtype=float),
        }
    )
