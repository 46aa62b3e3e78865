"""CatBoost through its native `CatBoost` + `Pool` API, trained on probabilities (soft labels honoured)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cvn_assets.core.errors import TrainingError
from cvn_assets.core.learners.param_check import check_rounds, dry_run_data
from cvn_assets.core.learners.registry import register_learner

# Symmetric depth-4 trees have 16 leaves, as XGBoost's depth-4 trees at most do.
DEFAULT_CATBOOST_PARAMS: dict[str, Any] = {
    "iterations": 300,
    "depth": 4,
    "learning_rate": 0.05,
    # CatBoost's trees depend on its thread count (with `CrossEntropy` on soft labels, predictions move
    # by up to 0.09 between 1 and 2 threads), so the count is a model parameter, set in the catalogue
    # and part of its fingerprint, not the run's `CVN_THREADS`: a catalogue gives the same model on any
    # machine and from any entry point.
    "thread_count": 1,
}

# `CrossEntropy` takes any label in [0, 1]. `Logloss` binarises labels at `target_border` (0.5), so
# soft targets 0.6 / 0.3 become BUY / HOLD again and the mean prediction returns to the hard BUY rate.
LOSS_FUNCTION = "CrossEntropy"
# Options every fit sets: the loss, silence, and no `catboost_info` folder.
_FIXED_OPTIONS: dict[str, Any] = {"loss_function": LOSS_FUNCTION, "verbose": False, "allow_writing_files": False}

# Set by the learner itself (loss, seed from the run; silence; no `catboost_info` folder); a user
# value for any of them is refused rather than silently overridden.
RESERVED = frozenset(
    {
        "loss_function",
        "objective",
        "random_seed",
        "allow_writing_files",
        "train_dir",
        "verbose",
        "silent",
        "logging_level",
        "verbose_eval",
        "metric_period",
    }
)


def canonical_catboost_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """User parameters under CatBoost's canonical names (`num_boost_round` → `iterations`, `eta` → ...)."""
    # The synonym table lives in the Python package only, in this function; using it keeps the
    # defaults' names in step with every alias a user may write (CatBoost itself would raise on a
    # default and a user value under two synonyms instead of letting the user's win).
    from catboost.core import _process_synonyms_groups

    canonical = dict(params)
    try:
        _process_synonyms_groups(canonical)
    except Exception as exc:  # CatBoostError, re-raised with the learner named
        raise TrainingError(f"catboost: {exc}") from exc
    return canonical


def resolve_catboost_params(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overridden by user parameters given under any synonym; reserved names raise.

    Unknown names are left to CatBoost, whose error names the option ("Unknown option {name}").
    """
    canonical = canonical_catboost_params(overrides)
    reserved = sorted(
        key
        for key, value in overrides.items()
        if key in RESERVED or set(canonical_catboost_params({key: value})) & RESERVED
    )
    if reserved:
        raise TrainingError(
            f"catboost: parameter(s) {reserved} are set by the learner (loss {LOSS_FUNCTION}, seed from "
            f"the run, no files written) and cannot be overridden"
        )
    return {**defaults, **canonical}


@register_learner("catboost")
class CatBoostLearner:
    """Oblivious gradient-boosted trees with the `CrossEntropy` loss.

    Deterministic for a given seed and `thread_count` (a parameter, default 1: the run's thread count
    `n_threads` only sets how many threads predict, which does not change a number). Never writes files
    (`allow_writing_files=False` prevents the `catboost_info` folder in the working directory).
    """

    name = "catboost"
    # All boosting rounds run in one native call (see `fit_loop_in_python`).
    fit_loop_in_python = False

    def __init__(self, params: Mapping[str, Any] | None = None, seed: int = 0, n_threads: int = 1) -> None:
        self.params = dict(params or {})
        self.seed = seed
        self.n_threads = n_threads

    def get_params(self) -> dict[str, Any]:
        resolved = resolve_catboost_params(DEFAULT_CATBOOST_PARAMS, self.params)
        return {**resolved, "random_seed": self.seed}

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> None:
        """Raise on a reserved or unknown option, or a value CatBoost refuses (checked by a one-round fit)."""
        from catboost import CatBoost, Pool

        resolved = cls(params).get_params()
        check_rounds(cls.name, "iterations", resolved.get("iterations"))
        features, targets = dry_run_data()
        CatBoost({**resolved, **_FIXED_OPTIONS, "iterations": 1}).fit(Pool(features, label=targets))

    def fit(
        self, features: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> CatBoostLearner:
        from catboost import CatBoost, Pool

        params = {**self.get_params(), **_FIXED_OPTIONS}
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        train = Pool(np.asarray(features, dtype=float), label=np.asarray(targets, dtype=float), weight=weight)
        self.model_ = CatBoost(params).fit(train)
        self.n_iterations_ = int(self.model_.tree_count_)
        return self

    def decision_margin(self, features: np.ndarray) -> npt.NDArray[np.float64]:
        from catboost import Pool

        margins = self.model_.predict(
            Pool(np.asarray(features, dtype=float)), prediction_type="RawFormulaVal", thread_count=self.n_threads
        )
        return np.asarray(margins, dtype=float)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        margins = self.decision_margin(features)
        return 1.0 / (1.0 + np.exp(-margins))

    def feature_importance(self, feature_names: list[str]) -> dict[str, float]:
        """CatBoost's model-only importance (`PredictionValuesChange`, summing to 100) per feature name.

        CatBoost exposes no per-split loss gain; its loss-based importance needs a dataset. The scale
        differs from XGBoost's and LightGBM's total gain, so compare rankings across models.
        """
        values = self.model_.get_feature_importance(type="PredictionValuesChange")
        if len(values) != len(feature_names):
            raise TrainingError(f"catboost: model has {len(values)} features but {len(feature_names)} names were given")
        return {name: float(value) for name, value in zip(feature_names, values, strict=True)}

    def to_bytes(self) -> bytes:
        """The model in CatBoost's binary `cbm` format (load with `CatBoost().load_model(blob=...)`)."""
        # `save_model` writes only to a path; a private temporary directory keeps the call pure.
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "model.cbm"
            self.model_.save_model(str(path), format="cbm")
            return path.read_bytes()
