"""The ensemble registry: discovery, registration of a new ensemble, declared base models."""

from collections.abc import Iterator

import numpy as np
import pytest

from cvn_assets.core.ensembles import (
    ensemble_base_models,
    ensemble_names,
    make_ensemble,
    register_ensemble,
    run_ensemble,
    unregister_ensemble,
)
from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.training.calibration import CalibrationParams
from cvn_assets.core.training.thresholds import ThresholdParams
from cvn_assets_tests.core.ensembles.synthetic import base_frame

THROWAWAY = "throwaway_max"


@pytest.fixture
def throwaway() -> Iterator[str]:
    """An ensemble defined outside the package: the max of two base models."""

    @register_ensemble(THROWAWAY, base_models=("lightgbm", "xgboost"))
    class MaxBlend:
        learns_from_labels = False

        def __init__(self, params=None, seed=0, n_threads=1) -> None:
            self.params = dict(params or {})
            self.seed = seed
            self.n_threads = n_threads

        def get_params(self) -> dict:
            return {"seed": self.seed, "n_threads": self.n_threads}

        def fit(self, val_matrix: np.ndarray, y_val: np.ndarray) -> "MaxBlend":
            self.n_columns_ = val_matrix.shape[1]
            return self

        def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
            return matrix.max(axis=1)

    try:
        yield THROWAWAY
    finally:
        unregister_ensemble(THROWAWAY)


def test_a_new_ensemble_is_listed_and_runs_without_other_changes(throwaway: str) -> None:
    assert throwaway in ensemble_names()
    assert ensemble_base_models(throwaway) == ("lightgbm", "xgboost")
    frame = base_frame()
    outcome = run_ensemble(
        throwaway, frame, CalibrationParams(), ThresholdParams(), seed=0, n_threads=1, label_horizon=3, embargo_bars=2
    )
    assert outcome.status == "ok"
    assert outcome.ensemble.n_columns_ == 2, "only the declared base models are passed, not catboost"
    val = frame[frame["window"] == "validation"].pivot(index="position", columns="model", values="p")
    ours = outcome.predictions.query("window == 'validation'").set_index("position")["score"]
    np.testing.assert_allclose(ours.to_numpy(), val[["lightgbm", "xgboost"]].max(axis=1).to_numpy())


def test_unregistering_removes_the_ensemble(throwaway: str) -> None:
    unregister_ensemble(throwaway)
    assert throwaway not in ensemble_names()


def test_unknown_ensemble_lists_the_registered_ones() -> None:
    with pytest.raises(CatalogueError, match="unknown ensemble 'nope'; registered: .*stack_logreg"):
        make_ensemble("nope")
    with pytest.raises(CatalogueError, match="unknown ensemble 'nope'"):
        ensemble_base_models("nope")


@pytest.mark.parametrize(
    ("base_models", "match"),
    [
        pytest.param((), "non-empty sequence", id="consumes-nothing"),
        pytest.param("xgboost", "non-empty sequence", id="a-string-is-not-a-list-of-models"),
        pytest.param(("xgboost", ""), "non-empty sequence", id="blank-model-name"),
        pytest.param(("xgboost", "xgboost"), "lists a model twice", id="same-model-twice"),
    ],
)
def test_malformed_base_model_declaration_is_refused(base_models: object, match: str) -> None:
    with pytest.raises(CatalogueError, match=f"ensemble 'bad': base_models .*{match}"):
        register_ensemble("bad", base_models=base_models)
    assert "bad" not in ensemble_names()
