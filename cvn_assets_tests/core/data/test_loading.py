"""load_ohlcv reads any source, resamples to the bar, validates, and the content hash versions the data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from cvn_assets.core.data.embedded import EMBEDDED_CRYPTOS
from cvn_assets.core.data.loading import (
    OhlcvSourceSpec,
    load_ohlcv,
    load_ohlcv_once,
    ohlcv_content_hash,
    read_ohlcv_source,
)
from cvn_assets.core.data.validation import OhlcvRules, validate_ohlcv
from cvn_assets.core.errors import CatalogueError, DataSourceError, OhlcvValidationError
from cvn_assets.core.schema import OHLCV_COLUMNS

# Hourly rows of the embedded set after resampling (30-minute source rows pair up into hours).
EMBEDDED_HOURLY_ROWS = {"BTC": 17514, "ETH": 17512, "LTC": 17502, "XRP": 17503, "EOS": 17506}
HALF_HOUR_MS = 1_800_000
START_MS = pd.Timestamp("2024-03-01", tz="UTC").value // 1_000_000


@pytest.fixture(scope="module")
def embedded_hourly() -> dict[str, pd.DataFrame]:
    return {crypto: load_ohlcv(crypto) for crypto in EMBEDDED_CRYPTOS}


@pytest.mark.parametrize("crypto", EMBEDDED_CRYPTOS)
def test_default_source_is_embedded_resampled_to_hourly(embedded_hourly: dict[str, pd.DataFrame], crypto: str) -> None:
    frame = embedded_hourly[crypto]
    assert list(frame.columns) == list(OHLCV_COLUMNS)
    assert isinstance(frame.index, pd.RangeIndex)
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert len(frame) == EMBEDDED_HOURLY_ROWS[crypto]
    assert frame["timestamp"].is_monotonic_increasing and frame["timestamp"].is_unique
    assert (frame["timestamp"].dt.minute == 0).all()
    validate_ohlcv(frame, crypto, "1h")
    with pytest.raises(OhlcvValidationError, match="gap of"):
        validate_ohlcv(frame, crypto, "1h", OhlcvRules(max_gap_bars=1))


def test_embedded_content_hash_is_pinned(embedded_hourly: dict[str, pd.DataFrame]) -> None:
    """The data version of the default set: a change here means the default data changed."""
    expected = "66d5a40b18aace3eeb52f4c035dc364649fe19d623938b077a16bd32fb01b0b0"
    assert ohlcv_content_hash(embedded_hourly["BTC"]) == expected
    assert len({ohlcv_content_hash(f) for f in embedded_hourly.values()}) == len(EMBEDDED_CRYPTOS)


def _small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=3, freq="1h", tz="UTC"),
            "open": [1.0, 2.0, 3.0],
            "high": [2.0, 3.0, 4.0],
            "low": [0.5, 1.5, 2.5],
            "close": [1.5, 2.5, 3.5],
            "volume": [1.0, 2.0, 3.0],
        }
    )


def test_content_hash_depends_only_on_content() -> None:
    frame = _small()
    relabelled = frame.copy()
    relabelled.index = [7, 8, 9]
    assert ohlcv_content_hash(frame) == ohlcv_content_hash(relabelled)
    in_tokyo = frame.assign(timestamp=frame["timestamp"].dt.tz_convert("Asia/Tokyo"))
    assert ohlcv_content_hash(frame) == ohlcv_content_hash(in_tokyo)
    assert ohlcv_content_hash(frame) == ohlcv_content_hash(frame[list(reversed(OHLCV_COLUMNS))])


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda f: f.assign(volume=[1.0, 2.0, 3.0000001]), id="one-value"),
        pytest.param(lambda f: f.assign(timestamp=f["timestamp"] + pd.Timedelta("1ns")), id="one-nanosecond"),
        pytest.param(lambda f: f.iloc[:2], id="one-row-fewer"),
        pytest.param(lambda f: f.rename(columns={"open": "close", "close": "open"}), id="columns-swapped"),
    ],
)
def test_content_hash_changes_with_content(change) -> None:
    assert ohlcv_content_hash(change(_small())) != ohlcv_content_hash(_small())


def test_content_hash_needs_the_canonical_columns() -> None:
    with pytest.raises(DataSourceError, match=r"missing columns \['volume'\]"):
        ohlcv_content_hash(_small().drop(columns=["volume"]))


def _write_binance_30min(path: Path, n: int, skip: int | None = None, duplicate: int | None = None) -> None:
    lines = []
    for i in range(n):
        if i == skip:
            continue
        t = START_MS + i * HALF_HOUR_MS
        lines.append(f"{t},{10 + i},{12 + i},{9 + i},{11 + i},1.5,{t + HALF_HOUR_MS - 1},0,1,0,0,0")
        if i == duplicate:
            lines.append(lines[-1])
    path.write_text("\n".join(lines) + "\n")


def test_directory_source_is_read_resampled_and_validated(tmp_path: Path) -> None:
    _write_binance_30min(tmp_path / "ARBUSDC-30m.csv", 8)
    spec = OhlcvSourceSpec(directory=str(tmp_path), file_pattern="{crypto}-30m.csv")
    frame = load_ohlcv("ARBUSDC", spec)
    assert len(frame) == 4
    assert frame["open"].tolist() == [10.0, 12.0, 14.0, 16.0]
    assert frame["close"].tolist() == [12.0, 14.0, 16.0, 18.0]
    assert frame["volume"].tolist() == [3.0, 3.0, 3.0, 3.0]
    assert len(read_ohlcv_source("ARBUSDC", spec)) == 8


def test_a_file_is_parsed_once_while_unchanged_and_each_caller_gets_its_own_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cvn_assets.core.data import loading

    parsed: list[str] = []
    monkeypatch.setattr(loading, "load_ohlcv", lambda crypto, *args: parsed.append(crypto) or load_ohlcv(crypto, *args))
    path = tmp_path / "ARBUSDC.csv"
    _write_binance_30min(path, 8)
    spec = OhlcvSourceSpec(directory=str(tmp_path))
    first = load_ohlcv_once("ARBUSDC", spec)
    first.loc[0, "open"] = -1.0
    second = load_ohlcv_once("ARBUSDC", spec)
    assert parsed == ["ARBUSDC"]
    pd.testing.assert_frame_equal(second, load_ohlcv("ARBUSDC", spec))

    _write_binance_30min(path, 10)  # a changed file (another size) is read again
    assert len(load_ohlcv_once("ARBUSDC", spec)) == 5  # 10 half-hour rows, hourly bars
    _write_binance_30min(path, 10, duplicate=3)
    with pytest.raises(OhlcvValidationError):
        load_ohlcv_once("ARBUSDC", spec)
    with pytest.raises(OhlcvValidationError):  # a failure is not remembered as a frame
        load_ohlcv_once("ARBUSDC", spec)


def test_source_at_the_bar_is_kept_as_is(tmp_path: Path) -> None:
    _write_binance_30min(tmp_path / "OPUSDC.csv", 6)
    frame = load_ohlcv("OPUSDC", OhlcvSourceSpec(directory=str(tmp_path), bar="30min"))
    pd.testing.assert_frame_equal(frame, read_ohlcv_source("OPUSDC", OhlcvSourceSpec(directory=str(tmp_path))))


def test_source_row_problems_name_the_source_row_before_resampling(tmp_path: Path) -> None:
    """A duplicate would vanish into an hourly bin; it must be reported at its row in the file."""
    _write_binance_30min(tmp_path / "UNIUSDC.csv", 8, duplicate=5)
    with pytest.raises(OhlcvValidationError) as info:
        load_ohlcv("UNIUSDC", OhlcvSourceSpec(directory=str(tmp_path)))
    error = info.value
    assert (error.crypto, error.row, error.problem) == ("UNIUSDC", 6, "duplicate timestamp (same as row 5)")
    # A headerless Binance export: data row 6 is line 7, as its parse errors count.
    assert (error.source, error.line) == (str(tmp_path / "UNIUSDC.csv"), 7)


def test_gaps_are_judged_after_resampling(tmp_path: Path) -> None:
    _write_binance_30min(tmp_path / "LDOUSDC.csv", 8)
    text = (tmp_path / "LDOUSDC.csv").read_text().splitlines()
    old = str(START_MS + 7 * HALF_HOUR_MS)
    late = [line.replace(old, str(int(old) + 30 * 3_600_000), 1) for line in text[7:]]
    (tmp_path / "LDOUSDC.csv").write_text("\n".join(text[:7] + late) + "\n")
    spec = OhlcvSourceSpec(directory=str(tmp_path))
    gap = r"row 4 .*gap of 29 bars \(> 24 allowed\) after 2024-03-01 03:00"
    with pytest.raises(OhlcvValidationError, match=gap) as info:
        load_ohlcv("LDOUSDC", spec)
    # Row 4 is an hourly bar, no line of the file: the message says so rather than give a wrong line.
    assert str(info.value).startswith(f"{tmp_path / 'LDOUSDC.csv'} resampled to 1h (LDOUSDC): row 4 at ")
    assert info.value.line is None
    assert len(load_ohlcv("LDOUSDC", spec, OhlcvRules(max_gap_bars=29))) == 5


def test_coarser_source_than_bar_is_refused(tmp_path: Path) -> None:
    _write_binance_30min(tmp_path / "AAVEUSDC.csv", 4)
    with pytest.raises(DataSourceError) as info:
        load_ohlcv("AAVEUSDC", OhlcvSourceSpec(directory=str(tmp_path), bar="15min"))
    assert str(info.value).startswith(
        f"{tmp_path / 'AAVEUSDC.csv'} (AAVEUSDC): rows are at least 0 days 00:30:00 apart"
    )


def test_sql_source(tmp_path: Path) -> None:
    path = tmp_path / "market.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE ohlcv (crypto TEXT, timestamp TEXT, open REAL, high REAL, low REAL, close REAL, volume REAL)"
        )
        stamps = pd.date_range("2024-01-01", periods=4, freq="30min")
        conn.executemany(
            "INSERT INTO ohlcv VALUES (?, ?, ?, ?, ?, ?, ?)",
            [("BTC", str(t), 1.0 + i, 2.0 + i, 0.5 + i, 1.5 + i, 1.0) for i, t in enumerate(stamps)],
        )
    frame = load_ohlcv("BTC", OhlcvSourceSpec(sql_url=f"sqlite:///{path}", sql_table="ohlcv"))
    assert frame["timestamp"].tolist() == list(pd.date_range("2024-01-01", periods=2, freq="1h", tz="UTC"))
    assert frame["high"].tolist() == [3.0, 5.0]


def test_unknown_embedded_crypto() -> None:
    with pytest.raises(DataSourceError, match=r"no embedded OHLCV data for crypto 'ARBUSDC'"):
        load_ohlcv("ARBUSDC")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param(
            {"directory": "/data", "sql_url": "sqlite://", "sql_table": "t"},
            "either directory or sql_url",
            id="two-sources",
        ),
        pytest.param({"sql_url": "sqlite://"}, "must be set together", id="url-without-table"),
        pytest.param({"sql_table": "ohlcv"}, "must be set together", id="table-without-url"),
        pytest.param({"file_pattern": "BTC.csv"}, r"must contain \{crypto\}", id="pattern-without-placeholder"),
        pytest.param({"bar": "1ME"}, "not a fixed duration", id="calendar-bar"),
    ],
)
def test_source_spec_guardrails(kwargs: dict[str, str], match: str) -> None:
    with pytest.raises(CatalogueError, match=match):
        OhlcvSourceSpec(**kwargs)


def test_source_kind() -> None:
    assert OhlcvSourceSpec().kind == "embedded"
    assert OhlcvSourceSpec(directory="/data").kind == "files"
    assert OhlcvSourceSpec(sql_url="sqlite://", sql_table="t").kind == "sql"


HOURLY_HEADER = "timestamp,open,high,low,close,volume\n"


def _hourly_csv(path: Path, bad_close: str = "1.5", bad_low: str = "0.5") -> Path:
    rows = [
        "2024-01-01T00:00Z,1,2,0.5,1.5,3",
        "2024-01-01T01:00Z,1,2,0.5,1.5,3",
        f"2024-01-01T02:00Z,1,1,{bad_low},{bad_close},3",
    ]
    path.write_text(HOURLY_HEADER + "\n".join(rows) + "\n")
    return path


def test_validation_errors_name_the_file_row_and_line_as_its_parse_errors_do(tmp_path: Path) -> None:
    spec = OhlcvSourceSpec(directory=str(tmp_path))
    path = _hourly_csv(tmp_path / "BTC.csv", bad_close="abc")
    with pytest.raises(DataSourceError) as parse:
        load_ohlcv("BTC", spec)
    assert str(parse.value) == f"{path} (BTC): row 2 (line 4): cannot parse close 'abc'"
    _hourly_csv(path, bad_close="1.0", bad_low="2.5")
    with pytest.raises(OhlcvValidationError) as invalid:
        load_ohlcv("BTC", spec)
    assert str(invalid.value) == f"{path} (BTC): row 2 (line 4) at 2024-01-01 02:00:00+00:00: high 1.0 < low 2.5"


def test_a_header_only_file_is_named_in_the_no_rows_error(tmp_path: Path) -> None:
    path = tmp_path / "BTC.csv"
    path.write_text(HOURLY_HEADER)
    with pytest.raises(OhlcvValidationError) as info:
        load_ohlcv("BTC", OhlcvSourceSpec(directory=str(tmp_path)))
    assert str(info.value) == f"{path} (BTC): no rows"


def test_validation_errors_of_a_sql_source_name_the_table(tmp_path: Path) -> None:
    database = tmp_path / "ohlcv.sqlite"
    with sqlite3.connect(database) as conn:
        conn.execute(
            "CREATE TABLE candles (crypto TEXT, timestamp TEXT, open REAL, high REAL, low REAL, "
            "close REAL, volume REAL)"
        )
        conn.executemany(
            "INSERT INTO candles VALUES (?, ?, ?, ?, ?, ?, ?)",
            [("BTC", "2024-01-01T00:00Z", 1, 2, 0.5, 1.5, 3), ("BTC", "2024-01-01T01:00Z", 1, 2, 0.5, 1.5, -3)],
        )
    url = f"sqlite:///{database}"
    with pytest.raises(OhlcvValidationError) as info:
        load_ohlcv("BTC", OhlcvSourceSpec(sql_url=url, sql_table="candles"))
    assert str(info.value) == (
        f"table 'candles' at {url} (BTC): row 1 at 2024-01-01 01:00:00+00:00: negative volume -3.0"
    )
