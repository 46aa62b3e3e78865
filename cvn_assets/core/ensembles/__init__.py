"""Ensembles over the base models' out-of-sample predictions: one registry, one module per family."""

from cvn_assets.core.ensembles.base import Ensemble
from cvn_assets.core.ensembles.combine import EnsembleOutcome, EnsembleRunParams, run_ensemble
from cvn_assets.core.ensembles.registry import (
    ensemble_base_models,
    ensemble_names,
    make_ensemble,
    register_ensemble,
    unregister_ensemble,
)

__all__ = [
    "Ensemble",
    "EnsembleOutcome",
    "EnsembleRunParams",
    "ensemble_base_models",
    "ensemble_names",
    "make_ensemble",
    "register_ensemble",
    "run_ensemble",
    "unregister_ensemble",
]
