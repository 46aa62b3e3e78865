"""A time column is found by its values when no column is named as one: what pandas writes for a
time-indexed frame (`to_csv`, `to_parquet`, `to_sql`) is read back without renaming anything."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from cvn_assets.core.data.columns import first_column_time
from cvn_assets.core.data.readers import read_ohlcv_file, read_ohlcv_table
from cvn_assets.core.errors import DataSourceError

HOURS = pd.date_range("2024-03-01", periods=4, freq="1h")
EXPECTED = list(HOURS.tz_localize("UTC"))


def _candles(index: pd.Index) -> pd.DataFrame:
    """Capitalised OHLCV names, as yfinance and most exports write them."""
    return pd.DataFrame(
        {
            "Open": [1.0, 2.0, 3.0, 4.0],
            "High": [2.0, 3.0, 4.0, 5.0],
            "Low": [0.5, 1.5, 2.5, 3.5],
            "Close": [1.5, 2.5, 3.5, 4.5],
            "Volume": [10, 11, 12, 13],
        },
        index=index,
    )


def _assert_read(frame: pd.DataFrame) -> None:
    assert frame["timestamp"].tolist() == EXPECTED
    assert frame["open"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert frame["volume"].tolist() == [10.0, 11.0, 12.0, 13.0]


@pytest.mark.parametrize(
    "index",
    [
        pytest.param(HOURS, id="unnamed-naive-index-empty-header"),
        pytest.param(HOURS.tz_localize("UTC"), id="unnamed-utc-index-with-offset"),
        pytest.param(HOURS.tz_localize("UTC").tz_convert("America/New_York"), id="exchange-local-time-converted"),
        pytest.param(HOURS.rename("Candle start"), id="index-named-freely"),
    ],
)
def test_to_csv_of_a_time_indexed_frame(tmp_path: Path, index: pd.DatetimeIndex) -> None:
    path = tmp_path / "BTC.csv"
    _candles(index).to_csv(path)
    _assert_read(read_ohlcv_file(path, "BTC"))


def test_unnamed_0_header_of_a_csv_read_and_written_again(tmp_path: Path) -> None:
    first, second = tmp_path / "first.csv", tmp_path / "BTC.csv"
    _candles(HOURS).to_csv(first)
    pd.read_csv(first).to_csv(second, index=False)
    assert second.read_text().startswith("Unnamed: 0,Open,")
    _assert_read(read_ohlcv_file(second, "BTC"))


def test_parquet_with_an_unnamed_datetime_index(tmp_path: Path) -> None:
    path = tmp_path / "BTC.parquet"
    _candles(HOURS).to_parquet(path)
    _assert_read(read_ohlcv_file(path, "BTC"))


def test_sql_table_written_by_to_sql_with_its_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'candles.sqlite'}"
    frame = _candles(HOURS).assign(crypto="BTC")
    frame.iloc[::-1].to_sql("candles", sa.create_engine(url))
    _assert_read(read_ohlcv_table(url, "candles", "BTC"))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        pytest.param(
            ",index,Open,High,Low,Close,Volume\n0,2024-03-01 00:00:00,1,2,0.5,1.5,10\n",
            "row numbers first",
            id="reset-index-row-numbers-are-not-time",
        ),
        pytest.param(
            ",Open,High,Low,Close,Volume\n1709251200,1,2,0.5,1.5,10\n",
            "bare numbers first",
            id="unnamed-numbers-are-not-taken-for-epochs",
        ),
        pytest.param(
            "symbol,when,open,high,low,close,volume\nBTC,2024-03-01,1,2,0.5,1.5,10\n",
            "time not first",
            id="unknown-time-name-elsewhere",
        ),
    ],
)
def test_a_first_column_without_timestamps_is_still_refused(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "BTC.csv"
    path.write_text(text)
    with pytest.raises(DataSourceError, match="no time column.*or timestamps .* in the first column") as info:
        read_ohlcv_file(path, "BTC")
    assert "\n" not in str(info.value), why


def test_a_bad_cell_below_a_timestamp_is_reported_on_its_row(tmp_path: Path) -> None:
    path = tmp_path / "BTC.csv"
    path.write_text(",Open,High,Low,Close,Volume\n2024-03-01 00:00,1,2,0.5,1.5,10\nsoon,1,2,0.5,1.5,10\n")
    with pytest.raises(DataSourceError, match=r"row 1 \(line 3\): cannot parse timestamp .* 'soon'"):
        read_ohlcv_file(path, "BTC")


@pytest.mark.parametrize(
    ("columns", "first", "expected"),
    [
        pytest.param(["", "open"], ["2024-03-01"], "", id="iso-date-text"),
        pytest.param(["Date", "x"], ["2024-03-01"], None, id="a-named-time-column-wins"),
        pytest.param(["Open", "x"], ["2024-03-01"], None, id="a-value-column-is-never-time"),
        pytest.param(["", "open"], ["12"], None, id="number-text"),
        pytest.param(["", "open"], [None], None, id="empty-column"),
    ],
)
def test_first_column_time(columns: list[str], first: list[object], expected: object) -> None:
    table = pd.DataFrame({columns[0]: pd.Series(first, dtype=object), columns[1]: ["1"] * len(first)})
    assert first_column_time(table, "BTC") == expected
