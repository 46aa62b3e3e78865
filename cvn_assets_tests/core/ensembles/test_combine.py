"""run_ensemble: base predictions in, an outcome shaped like a base model's out, with no test leakage."""

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression

from cvn_assets.core.ensembles import EnsembleRunParams, register_ensemble, run_ensemble, unregister_ensemble
from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.core.training.calibration import CalibrationParams, cross_fitted_calibration
from cvn_assets.core.training.cross_fit import window_blocks
from cvn_assets.core.training.fit import ModelOutcome
from cvn_assets.core.training.folds import purged_inner_splits
from cvn_assets.core.training.thresholds import ThresholdParams
from cvn_assets_tests.core.ensembles.synthetic import VAL_START, base_frame

BUILT_IN = ("blend_auc", "blend_mean", "stack_logreg", "stack_xgb")
HORIZON, EMBARGO = 4, 3
COLUMNS = ["model", "window", "position", "timestamp", "y", "score", "p"]


def _run(name: str, frame: pd.DataFrame, calibration: CalibrationParams = CalibrationParams(), **kwargs):
    return run_ensemble(
        name,
        frame,
        calibration,
        ThresholdParams(),
        seed=7,
        n_threads=1,
        label_horizon=HORIZON,
        embargo_bars=EMBARGO,
        **kwargs,
    )


def _window(frame: pd.DataFrame, window: str) -> pd.DataFrame:
    return frame[frame["window"] == window].sort_values("position").reset_index(drop=True)


@pytest.mark.parametrize("name", BUILT_IN)
def test_outcome_has_the_base_model_schema_and_summary(name: str) -> None:
    frame = base_frame()
    outcome = _run(name, frame)
    assert outcome.status == "ok" and outcome.error is None
    predictions = outcome.predictions
    assert list(predictions.columns) == COLUMNS
    assert set(predictions["model"]) == {name}
    for window in ("validation", "test"):
        ours = _window(predictions, window)
        base = _window(frame[frame["model"] == "xgboost"], window)
        np.testing.assert_array_equal(ours["position"], base["position"])
        np.testing.assert_array_equal(ours["y"], base["y"])
        pd.testing.assert_series_equal(ours["timestamp"], base["timestamp"])
        assert ours["p"].between(0, 1).all()
    assert outcome.train_rows == 300
    assert 0.05 <= outcome.threshold <= 0.95
    empty = ModelOutcome("m", "ok", predictions.iloc[:0])
    assert outcome.summary().keys() == empty.summary().keys()
    assert outcome.summary()["model"] == name


@pytest.mark.parametrize("name", BUILT_IN)
def test_same_seed_same_outcome(name: str) -> None:
    first, second = _run(name, base_frame()), _run(name, base_frame())
    pd.testing.assert_frame_equal(first.predictions, second.predictions)
    assert first.threshold == second.threshold


def _fitted_state(name: str, ensemble: object) -> list[object]:
    if name.startswith("blend"):
        return [ensemble.weights_]
    if name == "stack_logreg":
        return [ensemble.model_.coef_, ensemble.model_.intercept_]
    return [bytes(ensemble.booster_.save_raw(raw_format="ubj"))]


@pytest.mark.parametrize("name", BUILT_IN)
def test_test_rows_cannot_change_anything_fitted(name: str) -> None:
    """Flip every test label and scramble every test probability: the fit must not notice."""
    frame = base_frame()
    tampered = frame.copy()
    test = tampered["window"] == "test"
    tampered.loc[test, "y"] = 1 - tampered.loc[test, "y"]
    tampered.loc[test, "p"] = np.random.default_rng(99).random(int(test.sum()))
    clean, leaky = _run(name, frame), _run(name, tampered)
    for ours, theirs in zip(_fitted_state(name, clean.ensemble), _fitted_state(name, leaky.ensemble), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    probe = np.random.default_rng(3).random((50, 3))
    np.testing.assert_array_equal(clean.ensemble.predict_proba(probe), leaky.ensemble.predict_proba(probe))
    pd.testing.assert_frame_equal(_window(clean.predictions, "validation"), _window(leaky.predictions, "validation"))
    assert clean.threshold == leaky.threshold


@pytest.mark.parametrize("name", BUILT_IN)
def test_test_labels_cannot_change_test_predictions(name: str) -> None:
    frame = base_frame()
    flipped = frame.copy()
    test = flipped["window"] == "test"
    flipped.loc[test, "y"] = 1 - flipped.loc[test, "y"]
    clean, leaky = _window(_run(name, frame).predictions, "test"), _window(_run(name, flipped).predictions, "test")
    pd.testing.assert_frame_equal(clean[["position", "score", "p"]], leaky[["position", "score", "p"]])


SPY = "spy_stack"


@pytest.fixture
def spy() -> Iterator[list[tuple[str, np.ndarray, np.ndarray | None]]]:
    """A label-learning ensemble that logs the matrices (and labels) it fits on and predicts.

    Its prediction is half the BUY rate it was fitted on plus half of its second column.
    """
    calls: list[tuple[str, np.ndarray, np.ndarray | None]] = []

    @register_ensemble(SPY, base_models=("a", "b"))
    class Spy:
        learns_from_labels = True

        def __init__(self, params=None, seed=0, n_threads=1) -> None:
            self.params = params

        def get_params(self) -> dict:
            return {}

        def fit(self, val_matrix: np.ndarray, y_val: np.ndarray) -> "Spy":
            calls.append(("fit", val_matrix.copy(), np.asarray(y_val).copy()))
            self.buy_rate_ = float(np.mean(y_val))
            return self

        def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
            calls.append(("predict", matrix.copy(), None))
            return 0.5 * self.buy_rate_ + 0.5 * matrix[:, 1]

    try:
        yield calls
    finally:
        unregister_ensemble(SPY)


def _spy_frame() -> pd.DataFrame:
    return base_frame(signal={"a": 0.0, "b": 0.5})


def _isotonic(scores: np.ndarray, y: np.ndarray, fit: np.ndarray, held: np.ndarray) -> np.ndarray:
    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores[fit], y[fit]).predict(scores[held])


def _restated(p: np.ndarray, fitted_rate: float, window_rate: float) -> np.ndarray:
    return expit(logit(p) + logit(window_rate) - logit(fitted_rate))


def test_each_validation_block_is_scored_by_a_copy_fitted_without_it_on_calibrations_that_never_saw_it(spy) -> None:
    frame = _spy_frame()
    outcome = _run(SPY, frame)
    val, test = _window(frame, "validation"), _window(frame, "test")
    columns = {
        w: f.pivot(index="position", columns="model", values="p")[["a", "b"]].to_numpy()
        for w, f in (("validation", val), ("test", test))
    }
    scores = val.pivot(index="position", columns="model", values="score")[["a", "b"]].to_numpy()
    y = val.drop_duplicates("position")["y"].to_numpy()
    positions = np.sort(val["position"].unique())
    splits = purged_inner_splits(positions, HORIZON, EMBARGO, n_splits=CalibrationParams().cross_fit_blocks)
    fits = [(matrix, labels) for kind, matrix, labels in spy if kind == "fit"]
    predicts = [matrix for kind, matrix, _ in spy if kind == "predict"]
    np.testing.assert_array_equal(fits[0][0], columns["validation"])
    np.testing.assert_array_equal(predicts[0], columns["test"])
    scored = _window(outcome.predictions, "validation")["score"].to_numpy()
    for (train_positions, held_positions), (matrix, labels), predicted in zip(
        splits, fits[1:], predicts[1:], strict=True
    ):
        fit, held = np.searchsorted(positions, train_positions), np.searchsorted(positions, held_positions)
        # The purge keeps every training label clear of the held-out labels' span.
        assert all(
            t + HORIZON < held_positions[0] or t > held_positions[-1] + HORIZON + EMBARGO for t in train_positions
        )
        np.testing.assert_array_equal(labels, y[fit])
        assert matrix.shape == (fit.size, 2)
        # The held block is scored on calibrators fitted on the copy's own training rows only.
        expected = np.column_stack([_isotonic(scores[:, j], y, fit, held) for j in range(2)])
        np.testing.assert_allclose(predicted, expected)
        raw = 0.5 * y[fit].mean() + 0.5 * expected[:, 1]
        np.testing.assert_allclose(scored[held], _restated(raw, y[fit].mean(), y.mean()))


def _as_base_models_calibrate(frame: pd.DataFrame) -> pd.DataFrame:
    """Validation p as the base models hand it on (cross-fitted isotonic of their scores), so it moves with the
    labels."""
    frame = frame.copy()
    for model in frame["model"].unique():
        rows = frame.index[(frame["model"] == model) & (frame["window"] == "validation")]
        ordered = frame.loc[rows].sort_values("position")
        blocks = window_blocks(ordered["position"].to_numpy(), HORIZON, EMBARGO, CalibrationParams().cross_fit_blocks)
        frame.loc[ordered.index, "p"] = cross_fitted_calibration(
            CalibrationParams(), ordered["score"].to_numpy(), ordered["y"].to_numpy(), blocks, model
        )
    return frame


@pytest.mark.parametrize("name", ["blend_auc", "stack_logreg", "stack_xgb"])
def test_a_blocks_validation_scores_do_not_move_when_its_own_labels_are_shuffled(name: str) -> None:
    """Swap a BUY and a HOLD inside one block (every BUY rate stays): nothing that scores it saw them."""
    frame = base_frame(seed=5)
    positions = np.sort(frame.loc[frame["window"] == "validation", "position"].unique())
    _, held = purged_inner_splits(positions, HORIZON, EMBARGO, n_splits=CalibrationParams().cross_fit_blocks)[2]
    block = frame[frame["position"].isin(held) & (frame["window"] == "validation")].drop_duplicates("position")
    buy, hold = block.loc[block["y"] == 1, "position"].iloc[0], block.loc[block["y"] == 0, "position"].iloc[-1]
    swapped = frame.copy()
    swapped.loc[swapped["position"] == buy, "y"] = 0
    swapped.loc[swapped["position"] == hold, "y"] = 1
    scores = [
        _window(_run(name, _as_base_models_calibrate(f)).predictions, "validation").set_index("position")["score"]
        for f in (frame, swapped)
    ]
    np.testing.assert_array_equal(scores[0].loc[held], scores[1].loc[held])
    assert not np.array_equal(scores[0].to_numpy(), scores[1].to_numpy()), "other blocks did learn from the swap"


def test_more_out_of_fold_splits_when_asked(spy) -> None:
    _run(SPY, _spy_frame(), CalibrationParams(cross_fit_blocks=3))
    assert sum(kind == "fit" for kind, _, _ in spy) == 1 + 3


def test_blend_mean_scores_validation_directly() -> None:
    frame = base_frame()
    outcome = _run("blend_mean", frame)
    mean = _window(frame, "validation").groupby("position")["p"].mean()
    np.testing.assert_allclose(_window(outcome.predictions, "validation")["score"], mean.to_numpy())


@pytest.mark.parametrize("name", BUILT_IN)
def test_temperature_scaling_uses_the_logit_of_the_ensemble_probability(name: str) -> None:
    frame = base_frame()
    certain = frame["position"].isin([VAL_START, VAL_START + 1])
    frame.loc[certain, "p"] = 1.0
    outcome = _run(name, frame, CalibrationParams(method="temperature"))
    scores = outcome.predictions["score"]
    assert np.isfinite(scores).all(), "a certain blend is clipped before the logit"
    assert scores.max() <= logit(1 - EnsembleRunParams().margin_clip_eps) + 1e-9
    assert outcome.predictions["p"].between(0, 1).all()


def _without(frame: pd.DataFrame, drop: pd.Series) -> pd.DataFrame:
    return frame[~drop].reset_index(drop=True)


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        pytest.param(
            lambda f: _without(f, f["model"] == "catboost"),
            "validation predictions of base model 'catboost', which are missing",
            id="base-model-failed",
        ),
        pytest.param(
            lambda f: _without(f, (f["model"] == "catboost") & (f["window"] == "test")),
            "test predictions of base model 'catboost'",
            id="base-model-lost-its-test-rows",
        ),
        pytest.param(
            lambda f: _without(f, (f["model"] == "lightgbm") & (f["position"] == VAL_START + 5)),
            f"'lightgbm' has no validation probability at 1 position.*first at position {VAL_START + 5}",
            id="base-model-skipped-a-row",
        ),
        pytest.param(lambda f: f.drop(columns=["p"]), r"lack column\(s\) \['p'\]", id="no-probability-column"),
    ],
)
def test_missing_base_predictions_name_the_model(damage, match: str) -> None:
    with pytest.raises(InsufficientDataError, match=match):
        _run("stack_logreg", damage(base_frame()))


def test_repeated_base_prediction_is_refused() -> None:
    frame = base_frame()
    with pytest.raises(ValueError, match="'xgboost' has 1 repeated validation prediction"):
        _run("blend_mean", pd.concat([frame, frame.iloc[:1]], ignore_index=True))


def test_base_models_disagreeing_on_a_label_is_refused() -> None:
    frame = base_frame()
    row = frame.index[(frame["model"] == "catboost") & (frame["position"] == VAL_START + 3)]
    frame.loc[row, "y"] = 1 - frame.loc[row, "y"]
    with pytest.raises(ValueError, match=f"disagree on the validation label.*position {VAL_START + 3}"):
        _run("blend_mean", frame)


def test_one_class_validation_raises_instead_of_failing_the_fit() -> None:
    frame = base_frame()
    frame.loc[frame["window"] == "validation", "y"] = 0
    with pytest.raises(InsufficientDataError, match="'stack_xgb' needs both classes"):
        _run("stack_xgb", frame)


def test_unknown_ensemble_parameter_raises_before_any_fit() -> None:
    with pytest.raises(CatalogueError, match="'stack_xgb': unknown parameter"):
        _run("stack_xgb", base_frame(), params={"depth": 3})


def test_meta_model_failure_on_an_inner_split_is_recorded_as_training_failed() -> None:
    """All BUY labels in the first validation rows: the model fitted on the later half sees none."""
    frame = base_frame()
    validation = frame["window"] == "validation"
    frame.loc[validation, "y"] = (frame.loc[validation, "position"] < VAL_START + 60).astype(int)
    outcome = _run("stack_logreg", frame)
    assert outcome.status == "training_failed"
    assert outcome.error.startswith("InsufficientDataError") and "both classes" in outcome.error
    assert list(outcome.predictions.columns) == COLUMNS and outcome.predictions.empty
    assert outcome.train_rows == 300 and np.isnan(outcome.threshold)
    assert outcome.summary()["status"] == "training_failed"


def test_any_exception_of_a_meta_model_is_recorded() -> None:
    @register_ensemble("exploding", base_models=("xgboost",))
    class Exploding:
        learns_from_labels = False

        def __init__(self, params=None, seed=0, n_threads=1) -> None:
            self.params = params

        def get_params(self) -> dict:
            return {}

        def fit(self, val_matrix: np.ndarray, y_val: np.ndarray) -> "Exploding":
            raise RuntimeError("meta fit exploded")

        def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
            raise AssertionError("never reached")

    try:
        outcome = _run("exploding", base_frame())
    finally:
        unregister_ensemble("exploding")
    assert (outcome.status, outcome.error) == ("training_failed", "RuntimeError: meta fit exploded")
