import math

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.data.features import build_features
from cvn_assets.core.data.loading import load_ohlcv
from cvn_assets.core.drift.statistics import (
    DriftThresholds,
    classify,
    concept_drift,
    feature_psi,
    output_sharpness,
    population_stability_index,
    sharpness_drift,
    top_features_by_importance,
)
from cvn_assets.core.errors import CatalogueError, DataSourceError, InsufficientDataError

BINS = DriftThresholds().psi_bins
EPS = DriftThresholds().psi_epsilon


def _psi_by_hand(q_counts: list[float], r_counts: list[float], epsilon: float) -> float:
    q = np.asarray(q_counts, dtype=float) / sum(q_counts) + epsilon
    r = np.asarray(r_counts, dtype=float) / sum(r_counts) + epsilon
    q, r = q / q.sum(), r / r.sum()
    return float(np.sum((r - q) * np.log(r / q)))


@pytest.fixture(scope="module")
def btc_features() -> pd.DataFrame:
    return build_features(load_ohlcv("BTC"))


@pytest.fixture(scope="module")
def rsi_halves(btc_features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """RSI of BTC: first half as the training window, second half as the recent window."""
    rsi = btc_features["rsi_14"].to_numpy()
    return rsi[: rsi.size // 2], rsi[rsi.size // 2 :]


def test_psi_of_a_sample_against_itself_is_zero() -> None:
    x = np.random.default_rng(0).normal(size=2_000)
    assert population_stability_index(x, x, BINS, EPS) == pytest.approx(0.0, abs=1e-12)
    assert population_stability_index(x, x[::-1], BINS, EPS) == pytest.approx(0.0, abs=1e-12)


def test_psi_of_two_samples_of_one_distribution_is_near_zero() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=5_000), rng.normal(size=5_000)
    assert 0.0 < population_stability_index(a, b, BINS, EPS) < 0.02


@pytest.mark.parametrize(
    ("shift_sd", "level"),
    [
        pytest.param(0.0, "ok", id="unshifted-second-half-is-stable"),
        pytest.param(0.25, "ok", id="quarter-sd-shift-still-stable"),
        pytest.param(0.625, "warn", id="five-eighths-sd-shift-warns"),
        pytest.param(1.0, "critical", id="one-sd-shift-is-critical"),
    ],
)
def test_psi_of_a_real_feature_grows_with_a_shift(
    rsi_halves: tuple[np.ndarray, np.ndarray], shift_sd: float, level: str
) -> None:
    reference, recent = rsi_halves
    thresholds = DriftThresholds()
    psi = population_stability_index(reference, recent + shift_sd * np.nanstd(reference), BINS, EPS)
    assert classify(psi, thresholds.psi_warn, thresholds.psi_critical) == level


def test_psi_of_a_real_feature_rises_monotonically_from_stable_to_critical(
    rsi_halves: tuple[np.ndarray, np.ndarray],
) -> None:
    reference, recent = rsi_halves
    sd = np.nanstd(reference)
    shifted = [population_stability_index(reference, recent + k * sd, BINS, EPS) for k in (0.25, 0.5, 0.75, 1.0)]
    scaled = [population_stability_index(reference, recent * k, BINS, EPS) for k in (1.0, 2.0, 3.0)]
    for series in (shifted, scaled):
        assert series == sorted(series)
        assert series[0] < 0.2 and series[-1] > 0.5


def test_empty_bins_stay_finite_through_epsilon() -> None:
    reference = np.arange(100, dtype=float)
    recent = np.full(50, 1_000.0)  # every recent row lands in the open top bin; nine bins are empty
    expected = _psi_by_hand([10] * 10, [0] * 9 + [50], EPS)
    assert population_stability_index(reference, recent, BINS, EPS) == pytest.approx(expected, rel=1e-12)
    assert math.isfinite(expected)
    assert population_stability_index(reference, recent, BINS, 1e-2) < expected


def test_tied_reference_merges_duplicate_edges_and_a_value_on_an_edge_goes_up() -> None:
    reference = np.array([0.0] * 50 + [1.0] * 30 + [2.0] * 20)
    # Quantile edges deduplicate to {0, 0.5, 1, 1.2, 2}:
    # bins (-inf, 0), [0, 0.5), [0.5, 1), [1, 1.2), [1.2, 2), [2, inf) hold 0, 50, 0, 30, 0, 20 reference rows.
    recent = np.r_[np.full(10, 1.0), np.full(10, 1.1)]  # on the edge 1 and inside [1, 1.2): same bin
    expected = _psi_by_hand([0, 50, 0, 30, 0, 20], [0, 0, 0, 20, 0, 0], EPS)
    assert population_stability_index(reference, recent, BINS, EPS) == pytest.approx(expected, rel=1e-12)
    assert population_stability_index(reference, reference[::-1], BINS, EPS) == pytest.approx(0.0, abs=1e-12)


def test_nans_are_dropped_from_both_sides() -> None:
    x = np.random.default_rng(2).normal(size=500)
    y = x + 0.3
    with_nans = population_stability_index(np.r_[x, [np.nan] * 40], np.r_[[np.nan] * 7, y], BINS, EPS)
    assert with_nans == population_stability_index(x, y, BINS, EPS)


@pytest.mark.parametrize(
    ("reference", "recent", "side"),
    [
        pytest.param(
            np.r_[np.arange(9.0), [np.nan] * 5], np.arange(100.0), "reference", id="reference-short-after-nan-drop"
        ),
        pytest.param(np.arange(100.0), np.arange(9.0), "recent", id="recent-shorter-than-bins"),
    ],
)
def test_fewer_rows_than_bins_is_refused(reference: np.ndarray, recent: np.ndarray, side: str) -> None:
    with pytest.raises(InsufficientDataError, match=f"{side} has 9 non-NaN rows"):
        population_stability_index(reference, recent, BINS, EPS)


@pytest.mark.parametrize(
    ("bins", "epsilon", "name"),
    [
        pytest.param(1, EPS, "bins", id="one-bin-cannot-show-a-shift"),
        pytest.param(2.5, EPS, "bins", id="fractional-bins"),
        pytest.param(BINS, 0.0, "epsilon", id="zero-epsilon-would-allow-inf"),
        pytest.param(BINS, 1.0, "epsilon", id="epsilon-swamps-the-shares"),
    ],
)
def test_bad_psi_parameters_are_refused(bins: int, epsilon: float, name: str) -> None:
    with pytest.raises(CatalogueError, match=f"PSI {name}"):
        population_stability_index(np.arange(50.0), np.arange(50.0), bins, epsilon)


@pytest.mark.parametrize(
    ("value", "critical", "level"),
    [
        pytest.param(0.0, 0.5, "ok", id="zero"),
        pytest.param(0.2, 0.5, "ok", id="exactly-warn-is-not-above-warn"),
        pytest.param(0.2000001, 0.5, "warn", id="just-above-warn"),
        pytest.param(0.5, 0.5, "warn", id="exactly-critical-is-not-above-critical"),
        pytest.param(0.5000001, 0.5, "critical", id="just-above-critical"),
        pytest.param(9.0, None, "warn", id="no-critical-level-caps-at-warn"),
    ],
)
def test_classify_boundaries(value: float, critical: float | None, level: str) -> None:
    assert classify(value, 0.2, critical) == level


def test_classify_refuses_nan() -> None:
    with pytest.raises(InsufficientDataError, match="NaN"):
        classify(float("nan"), 0.2, 0.5)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"psi_warn": -0.1}, "psi_warn", id="negative-threshold"),
        pytest.param({"psi_warn": 0.6}, "psi_warn", id="warn-above-critical"),
        pytest.param({"concept_gap_critical": float("inf")}, "concept_gap_critical", id="infinite-threshold"),
        pytest.param({"sharpness_margin_warn": "0.1"}, "sharpness_margin_warn", id="string-threshold"),
        pytest.param({"psi_bins": 1}, "psi_bins", id="single-bin"),
        pytest.param({"psi_bins": True}, "psi_bins", id="bool-is-not-a-bin-count"),
        pytest.param({"psi_epsilon": 0.0}, "psi_epsilon", id="zero-epsilon"),
        pytest.param({"top_features": 0}, "top_features", id="no-features-watched"),
    ],
)
def test_threshold_guardrails_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(CatalogueError, match=field):
        DriftThresholds(**overrides)


def test_feature_psi_gives_one_row_per_feature_in_order(btc_features: pd.DataFrame) -> None:
    half = len(btc_features) // 2
    reference = btc_features.iloc[:half]
    recent = btc_features.iloc[half:].assign(rsi_14=lambda f: f["rsi_14"] + np.nanstd(reference["rsi_14"]))
    table = feature_psi(reference, recent, ["rsi_14", "hour_sin"], DriftThresholds())
    assert list(table.columns) == ["feature", "psi", "level"]
    assert table["feature"].tolist() == ["rsi_14", "hour_sin"]
    assert table["level"].tolist() == ["critical", "ok"]


def test_feature_psi_refuses_missing_columns_and_names_short_features() -> None:
    frame = pd.DataFrame({"a": np.arange(50.0), "b": [np.nan] * 45 + [1.0] * 5})
    with pytest.raises(DataSourceError, match=r"recent window lacks feature columns \['c'\]"):
        feature_psi(frame.assign(c=1.0), frame, ["a", "c"])
    with pytest.raises(InsufficientDataError, match="feature 'b'"):
        feature_psi(frame, frame, ["a", "b"])


@pytest.mark.parametrize(
    ("importance", "n", "expected"),
    [
        pytest.param({"a": 0.1, "b": 0.5, "c": 0.3}, 2, ["b", "c"], id="highest-first"),
        pytest.param({"z": 0.2, "a": 0.2, "m": 0.2, "q": 0.9}, 3, ["q", "a", "m"], id="ties-broken-by-name"),
        pytest.param({"a": 1.0}, 5, ["a"], id="fewer-features-than-n"),
    ],
)
def test_top_features_by_importance(importance: dict[str, float], n: int, expected: list[str]) -> None:
    assert top_features_by_importance(importance, n) == expected


@pytest.mark.parametrize(
    ("importance", "n", "error"),
    [
        pytest.param({}, 5, InsufficientDataError, id="no-importance"),
        pytest.param({"a": float("nan")}, 5, DataSourceError, id="nan-importance"),
        pytest.param({"a": 1.0}, 0, CatalogueError, id="zero-features"),
    ],
)
def test_top_features_errors(importance: dict[str, float], n: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        top_features_by_importance(importance, n)


@pytest.mark.parametrize(
    ("recent_f1", "oos_f1", "gap", "level"),
    [
        pytest.param(0.40, 0.42, 0.02, "ok", id="small-gap"),
        pytest.param(0.50, 0.40, -0.10, "ok", id="recent-better-than-oos"),
        pytest.param(0.40, 0.47, 0.07, "warn", id="gap-between-warn-and-critical"),
        pytest.param(0.30, 0.45, 0.15, "critical", id="gap-above-critical"),
    ],
)
def test_concept_drift_levels(recent_f1: float, oos_f1: float, gap: float, level: str) -> None:
    result = concept_drift(recent_f1, oos_f1, DriftThresholds())
    assert result.value == pytest.approx(gap)
    assert result.level == level
    assert (result.metric, result.threshold_warn, result.threshold_critical) == ("concept_drift", 0.05, 0.10)


@pytest.mark.parametrize(
    ("recent_f1", "error"),
    [
        pytest.param(float("nan"), InsufficientDataError, id="undefined-recent-f1"),
        pytest.param(1.2, DataSourceError, id="not-an-f1-score"),
    ],
)
def test_concept_drift_refuses_bad_scores(recent_f1: float, error: type[Exception]) -> None:
    with pytest.raises(error, match="recent_f1"):
        concept_drift(recent_f1, 0.4)


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        pytest.param([0.5, 0.5], 0.5, id="coin-flips"),
        pytest.param([0.0, 1.0], 1.0, id="certain"),
        pytest.param([0.2, 0.9], 0.85, id="hold-and-buy-confidence-both-count"),
    ],
)
def test_output_sharpness(p: list[float], expected: float) -> None:
    assert output_sharpness(np.array(p)) == pytest.approx(expected)


def test_output_sharpness_refuses_empty_and_out_of_range() -> None:
    with pytest.raises(InsufficientDataError, match="no probabilities"):
        output_sharpness(np.array([]))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        output_sharpness(np.array([0.2, 1.5]))


@pytest.mark.parametrize(
    ("recent_p", "level"),
    [
        pytest.param([0.65, 0.35], "ok", id="slightly-sharper-within-margin"),
        pytest.param([0.8, 0.2], "warn", id="sharper-than-training-plus-margin"),
        pytest.param([0.5, 0.5], "ok", id="softer-than-training"),
    ],
)
def test_sharpness_drift_levels(recent_p: list[float], level: str) -> None:
    result = sharpness_drift(np.array(recent_p), np.array([0.6, 0.4, 0.4, 0.6]), DriftThresholds())
    assert result.level == level
    assert result.threshold_warn == pytest.approx(0.7)
    assert result.threshold_critical is None
