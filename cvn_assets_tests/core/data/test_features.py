"""Causal OHLCV features: no look-ahead on real data, warm-up lengths, hand-checked values, guardrails."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.data.features import FeatureParams, build_features, feature_names
from cvn_assets.core.data.loading import load_ohlcv
from cvn_assets.core.errors import CatalogueError, OhlcvValidationError


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    return load_ohlcv("BTC")


@pytest.fixture(scope="module")
def btc_features(btc: pd.DataFrame) -> pd.DataFrame:
    return build_features(btc)


def perturb_after(ohlcv: pd.DataFrame, t: int, seed: int) -> pd.DataFrame:
    """Copy of ``ohlcv`` whose bars after row t get new prices and volumes (still valid candles)."""
    rng = np.random.default_rng(seed)
    changed = ohlcv.copy()
    later = changed.index > t
    scale = rng.uniform(0.5, 1.5, size=later.sum())
    for column in ("open", "high", "low", "close"):
        changed.loc[later, column] = changed.loc[later, column] * scale
    changed.loc[later, "volume"] = rng.permutation(changed.loc[later, "volume"].to_numpy())
    return changed


def test_columns_are_timestamp_then_named_float_features(btc: pd.DataFrame, btc_features: pd.DataFrame) -> None:
    assert list(btc_features.columns) == ["timestamp", *feature_names()]
    assert len(btc_features) == len(btc) and btc_features.index.equals(btc.index)
    pd.testing.assert_series_equal(btc_features["timestamp"], btc["timestamp"])
    assert (btc_features.drop(columns="timestamp").dtypes == np.float64).all()


CUT_POINTS = [0, 20, 167, 168, 5_000, 12_345, 17_512]


@pytest.mark.parametrize("t", CUT_POINTS, ids=[f"t={t}" for t in CUT_POINTS])
def test_truncating_the_future_leaves_past_features_bit_identical(
    btc: pd.DataFrame, btc_features: pd.DataFrame, t: int
) -> None:
    truncated = build_features(btc.iloc[: t + 1].copy())
    pd.testing.assert_frame_equal(truncated, btc_features.iloc[: t + 1], check_exact=True)


@pytest.mark.parametrize("t", CUT_POINTS, ids=[f"t={t}" for t in CUT_POINTS])
def test_perturbing_the_future_leaves_past_features_bit_identical(
    btc: pd.DataFrame, btc_features: pd.DataFrame, t: int
) -> None:
    perturbed = build_features(perturb_after(btc, t, seed=t))
    pd.testing.assert_frame_equal(perturbed.iloc[: t + 1], btc_features.iloc[: t + 1], check_exact=True)
    # The perturbation must reach the features, or the comparison above proves nothing.
    after = perturbed.iloc[t + 1 :, 1:].to_numpy()
    assert not np.array_equal(after, btc_features.iloc[t + 1 :, 1:].to_numpy(), equal_nan=True)


@pytest.mark.parametrize(
    ("name", "warm_up"),
    [
        pytest.param("log_return_1", 1, id="return-needs-one-previous-close"),
        pytest.param("log_return_24", 24, id="return-lag-24"),
        pytest.param("volatility_24", 24, id="volatility-needs-24-returns"),
        pytest.param("volatility_168", 168, id="volatility-week"),
        pytest.param("atr_norm_14", 14, id="atr-warm-up-matches-labels"),
        pytest.param("bar_range", 0, id="range-uses-current-bar-only"),
        pytest.param("body", 0, id="body-uses-current-bar-only"),
        pytest.param("volume_z_24", 23, id="volume-window-includes-current-bar"),
        pytest.param("rsi_14", 14, id="rsi-needs-14-changes"),
        pytest.param("dist_high_168", 167, id="rolling-high-window-includes-current-bar"),
        pytest.param("dist_low_24", 23, id="rolling-low"),
        pytest.param("hour_sin", 0, id="calendar-never-missing"),
    ],
)
def test_warm_up_rows_are_nan_and_later_rows_are_finite(btc_features: pd.DataFrame, name: str, warm_up: int) -> None:
    values = btc_features[name].to_numpy()
    assert np.isnan(values[:warm_up]).all()
    assert np.isfinite(values[warm_up:]).all()


def candles(closes: list[float], start: str = "2024-01-01 00:00") -> pd.DataFrame:
    """Hourly candles with open = previous close, high/low 1 % around the bar, unit volume."""
    close = np.asarray(closes, dtype=float)
    opens = np.r_[close[0], close[:-1]]
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=len(close), freq="h", tz="UTC"),
            "open": opens,
            "high": np.maximum(opens, close) * 1.01,
            "low": np.minimum(opens, close) * 0.99,
            "close": close,
            "volume": np.ones(len(close)),
        }
    )


SMALL = FeatureParams(
    return_lags=(1, 2),
    volatility_windows=(3,),
    atr_period=2,
    volume_windows=(3,),
    rsi_periods=(2,),
    extreme_windows=(3,),
)


def test_hand_checked_price_features() -> None:
    features = build_features(candles([100.0, 110.0, 99.0, 121.0]), SMALL)
    np.testing.assert_allclose(features["log_return_1"], [np.nan, np.log(1.1), np.log(0.9), np.log(121 / 99)])
    np.testing.assert_allclose(features["log_return_2"].iloc[2:], [np.log(0.99), np.log(1.1)])
    np.testing.assert_allclose(features["body"], [0.0, 10 / 110, -11 / 99, 22 / 121])
    np.testing.assert_allclose(features["bar_range"].iloc[1], (110 * 1.01 - 100 * 0.99) / 110)
    assert features["dist_high_3"].iloc[3] == pytest.approx(1 / 1.01 - 1)
    assert features["dist_low_3"].iloc[3] == pytest.approx(121 / (99 * 0.99) - 1)


@pytest.mark.parametrize(
    ("closes", "expected"),
    [
        pytest.param([1.0, 2.0, 3.0, 4.0, 5.0], 1.0, id="only-gains-is-plus-one"),
        pytest.param([5.0, 4.0, 3.0, 2.0, 1.0], -1.0, id="only-losses-is-minus-one"),
        pytest.param([3.0, 3.0, 3.0, 3.0, 3.0], np.nan, id="no-change-is-undefined"),
    ],
)
def test_rsi_is_rescaled_to_plus_minus_one(closes: list[float], expected: float) -> None:
    rsi = build_features(candles(closes), SMALL)["rsi_2"].to_numpy()
    np.testing.assert_array_equal(rsi[2:], np.full(3, expected))


def test_constant_volume_gives_nan_z_score_not_infinity() -> None:
    features = build_features(candles([100.0, 101.0, 102.0, 103.0, 104.0]), SMALL)
    assert features["volume_z_3"].isna().all()


@pytest.mark.parametrize(
    ("start", "hour_sin", "hour_cos", "dow_sin", "dow_cos"),
    [
        pytest.param("2024-01-01 00:00", 0.0, 1.0, 0.0, 1.0, id="monday-midnight"),
        pytest.param("2024-01-03 06:00", 1.0, 0.0, np.sin(4 * np.pi / 7), np.cos(4 * np.pi / 7), id="wednesday-6h"),
        pytest.param("2024-01-07 18:00", -1.0, 0.0, np.sin(12 * np.pi / 7), np.cos(12 * np.pi / 7), id="sunday-18h"),
    ],
)
def test_calendar_encoding(start: str, hour_sin: float, hour_cos: float, dow_sin: float, dow_cos: float) -> None:
    row = build_features(candles([100.0], start=start), SMALL).iloc[0]
    np.testing.assert_allclose(
        row[["hour_sin", "hour_cos", "dow_sin", "dow_cos"]].to_numpy(dtype=float),
        [hour_sin, hour_cos, dow_sin, dow_cos],
        atol=1e-12,
    )


def test_empty_families_and_no_calendar_drop_their_columns(btc: pd.DataFrame) -> None:
    params = FeatureParams(return_lags=(), volume_windows=(), calendar=False)
    names = feature_names(params)
    assert not any(name.startswith(("log_return", "volume_z", "hour", "dow")) for name in names)
    assert list(build_features(btc.iloc[:300], params).columns) == ["timestamp", *names]


@pytest.mark.parametrize(
    ("overrides", "parameter"),
    [
        pytest.param({"return_lags": (0, 1)}, "return_lags", id="lag-zero"),
        pytest.param({"return_lags": [1, 2]}, "return_lags", id="list-not-tuple"),
        pytest.param({"volatility_windows": (1,)}, "volatility_windows", id="std-needs-two-bars"),
        pytest.param({"volume_windows": (24, 24)}, "volume_windows", id="duplicate-window"),
        pytest.param({"rsi_periods": (2.5,)}, "rsi_periods", id="fractional-period"),
        pytest.param({"extreme_windows": (-3,)}, "extreme_windows", id="negative-window"),
        pytest.param({"atr_period": 0}, "atr_period", id="atr-period-zero"),
        pytest.param({"calendar": "yes"}, "calendar", id="calendar-not-bool"),
    ],
)
def test_bad_feature_parameters_are_rejected_by_name(overrides: dict[str, object], parameter: str) -> None:
    with pytest.raises(CatalogueError, match=parameter):
        FeatureParams(**overrides)  # type: ignore[arg-type]


def test_missing_column_is_named(btc: pd.DataFrame) -> None:
    with pytest.raises(OhlcvValidationError, match=r"build_features needs columns \['volume'\]"):
        build_features(btc.drop(columns="volume"))


def test_non_datetime_timestamps_are_rejected(btc: pd.DataFrame) -> None:
    frame = btc.iloc[:50].assign(timestamp=lambda f: f["timestamp"].astype(str))
    with pytest.raises(OhlcvValidationError, match="datetime timestamps"):
        build_features(frame)
