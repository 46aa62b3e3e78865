"""Synthetic candles for tests that need a known data-generating process (stationary or shifted)."""

import numpy as np
import pandas as pd


def random_walk_ohlcv(n: int, seed: int, volatility: float = 0.01, start: str = "2020-01-01") -> pd.DataFrame:
    """Hourly candles of a stationary log random walk (constant volatility and volume level)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, volatility, n)))
    open_ = np.r_[close[0], close[:-1]]
    spread = np.abs(rng.normal(0.0, volatility, n)) * close
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=n, freq="1h", tz="UTC"),
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": rng.lognormal(10.0, 0.3, n),
        }
    )


def shifted(ohlcv: pd.DataFrame, bars: int, factor: float, seed: int) -> pd.DataFrame:
    """`ohlcv` followed by `bars` new candles whose volatility and volume are `factor` times larger."""
    tail = random_walk_ohlcv(bars, seed, volatility=0.01 * factor)
    scale = ohlcv["close"].iloc[-1] / tail["open"].iloc[0]
    for column in ("open", "high", "low", "close"):
        tail[column] *= scale
    tail["volume"] *= factor
    tail["timestamp"] = ohlcv["timestamp"].iloc[-1] + pd.to_timedelta(np.arange(1, bars + 1), unit="h")
    return pd.concat([ohlcv, tail], ignore_index=True)
