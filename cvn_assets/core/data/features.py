"""Causal OHLCV features for the BUY-vs-HOLD classifier.

Every value at row t is computed from bars 0..t only, so a model never sees the future it is asked
to predict. Rows whose look-back window is not yet full are NaN (XGBoost routes missing values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvn_assets.core.errors import CatalogueError, OhlcvValidationError
from cvn_assets.core.labels.barriers import (
    CLOSE,
    HIGH,
    LOW,
    OPEN,
    TIMESTAMP,
    VOLUME,
    is_positive_int,
    require_columns,
    wilder_atr,
)
from cvn_assets.core.schema import OHLCV_COLUMNS

HOURS_PER_DAY = 24
DAYS_PER_WEEK = 7


@dataclass(frozen=True)
class FeatureParams:
    """Look-back lengths, in bars, of every feature family.

    ``return_lags``: log returns close_t / close_{t-k}; ``volatility_windows``: rolling standard
    deviation of one-bar log returns; ``atr_period``: Wilder ATR normalised by the close;
    ``volume_windows``: z-score of log(1 + volume) against its rolling mean and deviation;
    ``rsi_periods``: Wilder RSI rescaled to [-1, 1]; ``extreme_windows``: distance of the close to
    the rolling high and low; ``calendar``: sine/cosine of hour of day and day of week.
    An empty tuple switches a family off.
    """

    return_lags: tuple[int, ...] = (1, 2, 4, 8, 24)
    volatility_windows: tuple[int, ...] = (24, 168)
    atr_period: int = 14
    volume_windows: tuple[int, ...] = (24, 168)
    rsi_periods: tuple[int, ...] = (14,)
    extreme_windows: tuple[int, ...] = (24, 168)
    calendar: bool = True

    def __post_init__(self) -> None:
        minimum = {
            "return_lags": 1,
            "volatility_windows": 2,
            "volume_windows": 2,
            "rsi_periods": 1,
            "extreme_windows": 1,
        }
        for name, lowest in minimum.items():
            values = getattr(self, name)
            if not isinstance(values, tuple) or not all(is_positive_int(v) and v >= lowest for v in values):
                raise CatalogueError(
                    f"feature parameter {name} must be a tuple of integers >= {lowest}, got {values!r}"
                )
            if len(set(values)) != len(values):
                raise CatalogueError(f"feature parameter {name} has duplicate entries: {values!r}")
        if not is_positive_int(self.atr_period):
            raise CatalogueError(f"feature parameter atr_period must be an integer >= 1, got {self.atr_period!r}")
        if not isinstance(self.calendar, bool):
            raise CatalogueError(f"feature parameter calendar must be a bool, got {self.calendar!r}")


def feature_names(params: FeatureParams = FeatureParams()) -> list[str]:
    """Names of the feature columns ``build_features`` returns for ``params``, in column order."""
    names = [f"log_return_{lag}" for lag in params.return_lags]
    names += [f"volatility_{window}" for window in params.volatility_windows]
    names += [f"atr_norm_{params.atr_period}", "bar_range", "body"]
    names += [f"volume_z_{window}" for window in params.volume_windows]
    names += [f"rsi_{period}" for period in params.rsi_periods]
    for window in params.extreme_windows:
        names += [f"dist_high_{window}", f"dist_low_{window}"]
    if params.calendar:
        names += ["hour_sin", "hour_cos", "dow_sin", "dow_cos"]
    return names


def _wilder_rsi(close: pd.Series, period: int) -> pd.Series:
    """Wilder RSI mapped from [0, 100] to [-1, 1]: (mean gain - mean loss) / (mean gain + mean loss)."""
    change = close.diff()
    gain = change.clip(lower=0.0).ewm(alpha=1.0 / period, adjust=False, min_periods=period).mean()
    loss = (-change).clip(lower=0.0).ewm(alpha=1.0 / period, adjust=False, min_periods=period).mean()
    total = gain + loss
    # A window with no price change at all has no defined oscillator value.
    return (gain - loss) / total.where(total > 0)


def _rolling_z(values: pd.Series, window: int) -> pd.Series:
    """(x_t - rolling mean) / rolling std over the last ``window`` bars including t; NaN when flat."""
    rolling = values.rolling(window, min_periods=window)
    spread = rolling.std()
    return (values - rolling.mean()) / spread.where(spread > 0)


def _cyclic(values: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """Sine and cosine encoding, so the last hour of a day sits next to the first."""
    angle = 2.0 * np.pi * values.astype(np.float64) / period
    return np.sin(angle), np.cos(angle)


def build_features(ohlcv: pd.DataFrame, params: FeatureParams = FeatureParams()) -> pd.DataFrame:
    """Feature frame for ``ohlcv``: a ``timestamp`` column plus float64 features named by
    ``feature_names(params)``, one row per input bar in input order, free of look-ahead."""
    require_columns(ohlcv, OHLCV_COLUMNS, "build_features")
    timestamps = ohlcv[TIMESTAMP]
    if not pd.api.types.is_datetime64_any_dtype(timestamps):
        crypto = str(ohlcv.attrs.get("crypto", "unnamed frame"))
        problem = f"build_features needs datetime timestamps, got dtype {timestamps.dtype}"
        raise OhlcvValidationError(crypto, None, problem)
    close = ohlcv[CLOSE].astype(np.float64)
    high = ohlcv[HIGH].astype(np.float64)
    low = ohlcv[LOW].astype(np.float64)
    log_close = pd.Series(np.log(close.to_numpy()), index=ohlcv.index)
    one_bar_return = log_close.diff()

    columns: dict[str, pd.Series | np.ndarray] = {}
    for lag in params.return_lags:
        columns[f"log_return_{lag}"] = log_close.diff(lag)
    for window in params.volatility_windows:
        columns[f"volatility_{window}"] = one_bar_return.rolling(window, min_periods=window).std()
    columns[f"atr_norm_{params.atr_period}"] = wilder_atr(ohlcv, params.atr_period) / close
    columns["bar_range"] = (high - low) / close
    columns["body"] = (close - ohlcv[OPEN].astype(np.float64)) / close
    # Volume is heavy-tailed; its logarithm keeps one spike from dominating a window's deviation.
    log_volume = pd.Series(np.log1p(ohlcv[VOLUME].to_numpy(dtype=np.float64)), index=ohlcv.index)
    for window in params.volume_windows:
        columns[f"volume_z_{window}"] = _rolling_z(log_volume, window)
    for period in params.rsi_periods:
        columns[f"rsi_{period}"] = _wilder_rsi(close, period)
    for window in params.extreme_windows:
        columns[f"dist_high_{window}"] = close / high.rolling(window, min_periods=window).max() - 1.0
        columns[f"dist_low_{window}"] = close / low.rolling(window, min_periods=window).min() - 1.0
    if params.calendar:
        columns["hour_sin"], columns["hour_cos"] = _cyclic(timestamps.dt.hour.to_numpy(), HOURS_PER_DAY)
        columns["dow_sin"], columns["dow_cos"] = _cyclic(timestamps.dt.dayofweek.to_numpy(), DAYS_PER_WEEK)

    features = pd.DataFrame(
        {name: np.asarray(values, dtype=np.float64) for name, values in columns.items()}, index=ohlcv.index
    )
    features.insert(0, TIMESTAMP, timestamps)
    return features
