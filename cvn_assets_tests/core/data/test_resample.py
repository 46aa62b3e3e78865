"""Resampling aggregates OHLCV correctly, keeps gaps visible and never refines a bar."""

from __future__ import annotations

import pandas as pd
import pytest

from cvn_assets.core.data.resample import bar_timedelta, resample_ohlcv, source_resolution
from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.schema import OHLCV_COLUMNS


def _frame(times: list[str], rows: list[tuple[float, float, float, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(OHLCV_COLUMNS[1:]))
    frame.insert(0, "timestamp", pd.to_datetime(times, utc=True))
    return frame


def test_thirty_minute_bars_to_hourly_by_hand() -> None:
    source = _frame(
        ["2024-01-01 00:00", "2024-01-01 00:30", "2024-01-01 01:00", "2024-01-01 03:30", "2024-01-01 04:00"],
        [
            (10.0, 12.0, 9.0, 11.0, 1.0),
            (11.0, 15.0, 10.5, 14.0, 2.0),
            (14.0, 14.5, 13.0, 13.5, 4.0),
            (20.0, 21.0, 19.0, 20.5, 8.0),
            (20.5, 22.0, 20.0, 21.5, 16.0),
        ],
    )
    expected = _frame(
        ["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 03:00", "2024-01-01 04:00"],
        [
            (10.0, 15.0, 9.0, 14.0, 3.0),  # open first, high max, low min, close last, volume sum
            (14.0, 14.5, 13.0, 13.5, 4.0),  # a lone source row passes through
            (20.0, 21.0, 19.0, 20.5, 8.0),  # 03:30 is labelled by its bin's left edge; 02:00 stays absent
            (20.5, 22.0, 20.0, 21.5, 16.0),
        ],
    )
    result = resample_ohlcv(source, "1h")
    pd.testing.assert_frame_equal(result, expected)
    assert isinstance(result.index, pd.RangeIndex)
    assert str(result["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_bins_are_closed_on_the_left() -> None:
    """A row stamped exactly on the hour opens that hour's bin; it never closes the previous one."""
    source = _frame(["2024-01-01 00:45", "2024-01-01 01:00"], [(1.0, 1.0, 1.0, 1.0, 1.0), (2.0, 2.0, 2.0, 2.0, 2.0)])
    result = resample_ohlcv(source, "1h")
    assert result["timestamp"].dt.hour.tolist() == [0, 1]
    assert result["volume"].tolist() == [1.0, 2.0]


def test_same_bar_is_unchanged() -> None:
    source = _frame(
        ["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 03:00"],
        [(1.0, 2.0, 0.5, 1.5, 3.0), (2.0, 3.0, 1.5, 2.5, 4.0), (3.0, 4.0, 2.5, 3.5, 5.0)],
    )
    pd.testing.assert_frame_equal(resample_ohlcv(source, "1h"), source)


def test_four_hour_bins_start_at_midnight_utc() -> None:
    times = [f"2024-01-01 {h:02d}:00" for h in range(1, 9)]
    source = _frame(times, [(float(h), float(h) + 1, float(h) - 0.5, float(h) + 0.5, 1.0) for h in range(1, 9)])
    result = resample_ohlcv(source, "4h")
    assert result["timestamp"].dt.hour.tolist() == [0, 4, 8]
    assert result["volume"].tolist() == [3.0, 4.0, 1.0]


@pytest.mark.parametrize(
    ("times", "bar", "match"),
    [
        pytest.param(
            ["2024-01-01 00:00", "2024-01-01 01:00"], "30min", "input is coarser", id="finer-than-input-refused"
        ),
        pytest.param(["2024-01-01 01:00", "2024-01-01 00:00"], "1h", "not sorted", id="unsorted-input-refused"),
        pytest.param(["2024-01-01 00:00"], "1ME", "not a fixed duration", id="calendar-month-is-not-fixed"),
        pytest.param(["2024-01-01 00:00"], "hourly", "not a fixed duration", id="unknown-alias"),
        pytest.param(["2024-01-01 00:00"], "0h", "positive duration", id="zero-width-bar"),
    ],
)
def test_refusals(times: list[str], bar: str, match: str) -> None:
    source = _frame(times, [(1.0, 1.0, 1.0, 1.0, 1.0)] * len(times))
    with pytest.raises(DataSourceError, match=match):
        resample_ohlcv(source, bar)


@pytest.mark.parametrize(
    ("bar", "expected"),
    [
        ("30min", pd.Timedelta(minutes=30)),
        ("1h", pd.Timedelta(hours=1)),
        ("4h", pd.Timedelta(hours=4)),
        ("1D", pd.Timedelta(days=1)),
    ],
)
def test_bar_timedelta(bar: str, expected: pd.Timedelta) -> None:
    assert bar_timedelta(bar) == expected


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        pytest.param(
            ["2024-01-01 00:00", "2024-01-01 02:00", "2024-01-01 02:30"], pd.Timedelta("30min"), id="smallest-step-wins"
        ),
        pytest.param(["2024-01-01 00:00", "2024-01-01 00:00"], None, id="duplicates-only"),
        pytest.param(["2024-01-01 00:00"], None, id="single-row"),
    ],
)
def test_source_resolution(times: list[str], expected: pd.Timedelta | None) -> None:
    assert source_resolution(_frame(times, [(1.0, 1.0, 1.0, 1.0, 1.0)] * len(times))) == expected
