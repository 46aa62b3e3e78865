"""A trained model packaged to score new bars: learner, calibrator, threshold and feature order.

The drift monitors score the newest candles with the current baseline model; the bundle is what the
model assets store for that. Bundles are pickles written and read by this deployment only (never
load one from an untrusted source).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.learners import Learner
from cvn_assets.core.training.calibration import CalibrationParams, Calibrator
from cvn_assets.core.training.fit import ModelOutcome, raw_scores


@dataclass
class ScoringBundle:
    """Everything needed to turn feature rows into calibrated P(BUY) and a BUY decision."""

    model: str
    learner: Learner
    calibrator: Calibrator
    calibration: CalibrationParams
    threshold: float
    feature_names: tuple[str, ...]

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated P(BUY) for each row of `features` (columns named as at training)."""
        missing = [name for name in self.feature_names if name not in features.columns]
        if missing:
            raise DataSourceError(f"model {self.model}: feature columns {missing} are missing")
        matrix = features[list(self.feature_names)].to_numpy(dtype=float)
        return np.asarray(self.calibrator.transform(raw_scores(self.learner, matrix, self.calibration)), dtype=float)


def bundle_from_outcome(
    outcome: ModelOutcome, calibration: CalibrationParams, feature_names: tuple[str, ...]
) -> ScoringBundle | None:
    """The outcome's bundle, or None when the fit failed (nothing to score with)."""
    if outcome.learner is None or outcome.calibrator is None:
        return None
    return ScoringBundle(
        outcome.model, outcome.learner, outcome.calibrator, calibration, float(outcome.threshold), feature_names
    )


def dump_bundle(bundle: ScoringBundle) -> bytes:
    return pickle.dumps(bundle, protocol=pickle.HIGHEST_PROTOCOL)


def load_bundle(payload: bytes, source: str) -> ScoringBundle:
    try:
        bundle = pickle.loads(payload)  # bundles are written by this deployment's own model assets
    except Exception as exc:  # any unpickling problem means the file is not a usable bundle
        raise DataSourceError(f"{source}: not a readable model bundle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(bundle, ScoringBundle):
        raise DataSourceError(f"{source}: holds a {type(bundle).__name__}, not a model bundle")
    return bundle
