"""Validation reports the first problem of a frame with its crypto, row and an exact description."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.data.origin import OhlcvOrigin
from cvn_assets.core.data.validation import OhlcvRules, validate_ohlcv, validate_ohlcv_rows
from cvn_assets.core.errors import CatalogueError, OhlcvValidationError
from cvn_assets.core.schema import OHLCV_COLUMNS

T0 = pd.Timestamp("2024-01-01 00:00", tz="UTC")


def _good(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(T0, periods=n, freq="1h"),
            "open": np.full(n, 100.0),
            "high": np.full(n, 101.0),
            "low": np.full(n, 99.0),
            "close": np.full(n, 100.5),
            "volume": np.full(n, 10.0),
        }
    )


def _set(row: int, **values: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        for name, value in values.items():
            frame.loc[row, name] = value
        return frame

    return mutate


def _shift_from(row: int, hours: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row:, "timestamp"] = frame.loc[row:, "timestamp"] + pd.Timedelta(hours=hours)
        return frame

    return mutate


def _at(hours: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=hours)


CASES = [
    pytest.param(
        lambda f: f.drop(columns=["volume"]),
        None,
        "missing columns ['volume']; columns present: ['timestamp', 'open', 'high', 'low', 'close']",
        None,
        id="missing-column",
    ),
    pytest.param(
        lambda f: f.assign(timestamp=f["timestamp"].dt.tz_localize(None)),
        None,
        "timestamp column must be tz-aware UTC datetimes, got dtype datetime64[ns]",
        None,
        id="naive-timestamps",
    ),
    pytest.param(lambda f: f.assign(close="1.0"), None, "columns ['close'] must be numeric", None, id="text-prices"),
    pytest.param(lambda f: f.iloc[0:0], None, "no rows", None, id="empty-frame"),
    pytest.param(
        lambda f: pd.DataFrame(columns=list(OHLCV_COLUMNS)), None, "no rows", None, id="empty-before-dtype-checks"
    ),
    pytest.param(_set(2, close=np.nan), 2, "NaN or infinite value: close nan", _at(2), id="nan-close"),
    pytest.param(_set(4, volume=np.inf), 4, "NaN or infinite value: volume inf", _at(4), id="infinite-volume"),
    pytest.param(
        _set(3, high=np.nan, low=np.nan),
        3,
        "NaN or infinite value: high nan, low nan",
        _at(3),
        id="nan-names-every-column-of-the-row",
    ),
    pytest.param(_set(1, timestamp=pd.NaT), 1, "NaN or infinite value: timestamp NaT", None, id="missing-timestamp"),
    pytest.param(_set(1, open=0.0), 1, "non-positive price: open 0.0", _at(1), id="zero-open"),
    pytest.param(
        _set(5, low=-1.0, close=-0.5), 5, "non-positive price: low -1.0, close -0.5", _at(5), id="negative-prices"
    ),
    pytest.param(_set(2, volume=-5.0), 2, "negative volume -5.0", _at(2), id="negative-volume"),
    pytest.param(_set(3, high=101.0, low=102.5), 3, "high 101.0 < low 102.5", _at(3), id="high-below-low"),
    pytest.param(_set(1, close=104.0), 1, "high 101.0 < max(open, close) 104.0", _at(1), id="close-above-high"),
    pytest.param(_set(4, open=98.0), 4, "low 99.0 > min(open, close) 98.0", _at(4), id="open-below-low"),
    pytest.param(
        _set(3, timestamp=_at(1.5)),
        3,
        "timestamps not sorted: 2024-01-01 02:00:00+00:00 before 2024-01-01 01:30:00+00:00",
        _at(1.5),
        id="unsorted",
    ),
    pytest.param(_set(3, timestamp=_at(2)), 3, "duplicate timestamp (same as row 2)", _at(2), id="duplicate"),
    pytest.param(
        _set(3, timestamp=_at(2.5)),
        3,
        "rows 0 days 00:30:00 apart, closer than the 1h bar (resample the source to 1h)",
        _at(2.5),
        id="finer-than-bar",
    ),
    pytest.param(
        _shift_from(4, 31),
        4,
        "gap of 31 bars (> 24 allowed) after 2024-01-01 03:00:00+00:00; "
        "allow longer gaps with data.max_gap_bars in the catalogue or CVN_MAX_GAP_BARS",
        _at(35),
        id="gap-beyond-default-tolerance",
    ),
]


@pytest.mark.parametrize(("mutate", "row", "problem", "timestamp"), CASES)
def test_each_problem_is_reported_exactly(
    mutate: Callable[[pd.DataFrame], pd.DataFrame], row: int | None, problem: str, timestamp: pd.Timestamp | None
) -> None:
    with pytest.raises(OhlcvValidationError) as info:
        validate_ohlcv(mutate(_good()), "ARBUSDC")
    error = info.value
    assert (error.crypto, error.row, error.problem, error.timestamp) == ("ARBUSDC", row, problem, timestamp)
    where = "" if row is None else f": row {row}"
    when = "" if timestamp is None else f" at {timestamp}"
    assert str(error) == f"OHLCV for ARBUSDC{where}{when}: {problem}"


def test_an_origin_names_the_source_and_numbers_lines_as_the_readers_do() -> None:
    origin = OhlcvOrigin("/data/ARBUSDC.csv", first_line=2)
    with pytest.raises(OhlcvValidationError) as info:
        validate_ohlcv(_set(3, high=101.0, low=102.5)(_good()), "ARBUSDC", origin=origin)
    assert (info.value.source, info.value.line) == ("/data/ARBUSDC.csv", 5)
    assert str(info.value) == (
        f"/data/ARBUSDC.csv (ARBUSDC): {origin.locate(3)} at 2024-01-01 03:00:00+00:00: high 101.0 < low 102.5"
    )
    assert origin.locate(3) == "row 3 (line 5)"
    with pytest.raises(OhlcvValidationError, match=r"^table 't' at sqlite:///x.db \(ARBUSDC\): no rows$"):
        validate_ohlcv(_good().iloc[0:0], "ARBUSDC", origin=OhlcvOrigin("table 't' at sqlite:///x.db"))


@pytest.mark.parametrize(
    ("mutate", "row", "problem"),
    [
        pytest.param(
            lambda f: _set(4, close=np.nan)(_set(1, high=98.0)(f)),
            4,
            "NaN or infinite value: close nan",
            id="check-order-beats-row-order",
        ),
        pytest.param(_set(1, close=np.nan, volume=-1.0), 1, "NaN or infinite value: close nan", id="nan-before-volume"),
        pytest.param(
            lambda f: _set(2, volume=-1.0)(_set(5, timestamp=_at(0))(f)),
            2,
            "negative volume -1.0",
            id="values-before-order",
        ),
        pytest.param(
            lambda f: _set(4, high=98.0)(_set(2, high=98.5)(f)), 2, "high 98.5 < low 99.0", id="first-row-of-a-check"
        ),
    ],
)
def test_first_problem_in_check_order(mutate: Callable[[pd.DataFrame], pd.DataFrame], row: int, problem: str) -> None:
    """Checks run in a fixed order over the whole frame; the first failing check reports its first row."""
    with pytest.raises(OhlcvValidationError) as info:
        validate_ohlcv(mutate(_good()), "OPUSDC")
    assert (info.value.row, info.value.problem) == (row, problem)


@pytest.mark.parametrize(
    ("mutate", "bar", "rules"),
    [
        pytest.param(_shift_from(3, 24), "1h", OhlcvRules(), id="gap-exactly-at-tolerance"),
        pytest.param(_set(2, volume=0.0), "1h", OhlcvRules(), id="zero-volume-is-a-quiet-bar"),
        pytest.param(_set(2, high=100.5, low=100.0, open=100.0), "1h", OhlcvRules(), id="flat-body-touching-extremes"),
        pytest.param(_shift_from(3, 5), "1h", OhlcvRules(max_gap_bars=5), id="custom-tolerance"),
    ],
)
def test_valid_frames_pass(mutate: Callable[[pd.DataFrame], pd.DataFrame], bar: str, rules: OhlcvRules) -> None:
    frame = mutate(_good())
    validate_ohlcv(frame, "UNIUSDC", bar, rules)


def test_custom_tolerance_is_applied() -> None:
    with pytest.raises(OhlcvValidationError, match=r"gap of 3 bars \(> 2 allowed\)"):
        validate_ohlcv(_shift_from(3, 3)(_good()), "LDOUSDC", "1h", OhlcvRules(max_gap_bars=2))


@pytest.mark.parametrize(
    ("max_gap_bars", "fails"),
    [pytest.param(1, True, id="two-missing-4h-bars-exceed-1"), pytest.param(2, False, id="two-allowed")],
)
def test_gaps_are_counted_in_bars_of_the_requested_bar(max_gap_bars: int, fails: bool) -> None:
    frame = _good()
    frame["timestamp"] = pd.DatetimeIndex([_at(h) for h in (0, 4, 8, 20, 24, 28)])
    rules = OhlcvRules(max_gap_bars=max_gap_bars)
    if fails:
        with pytest.raises(OhlcvValidationError, match=r"row 3 .*gap of 2 bars \(> 1 allowed\) after 2024-01-01 08:00"):
            validate_ohlcv(frame, "BTC", "4h", rules)
    else:
        validate_ohlcv(frame, "BTC", "4h", rules)


def test_row_checks_ignore_the_bar() -> None:
    """validate_ohlcv_rows runs on source rows before resampling, so finer spacing and gaps pass there."""
    frame = _shift_from(3, 100)(_good())
    frame.loc[1, "timestamp"] = _at(0.5)
    validate_ohlcv_rows(frame, "AAVEUSDC")
    with pytest.raises(OhlcvValidationError, match="closer than the 1h bar"):
        validate_ohlcv(frame, "AAVEUSDC")


def test_row_is_the_position_not_the_index_label() -> None:
    frame = _set(2, high=98.0)(_good())
    frame.index = range(100, 106)
    with pytest.raises(OhlcvValidationError) as info:
        validate_ohlcv(frame, "BTC")
    assert info.value.row == 2


def test_large_frame_validates() -> None:
    frame = _good(20_000)
    validate_ohlcv(frame, "BTC")
    frame.loc[19_999, "volume"] = -1.0
    with pytest.raises(OhlcvValidationError, match="row 19999"):
        validate_ohlcv(frame, "BTC")


@pytest.mark.parametrize("value", [-1, 1.5, True, "24"], ids=["negative", "float", "bool", "text"])
def test_rules_guardrails(value: object) -> None:
    with pytest.raises(CatalogueError, match="max_gap_bars must be an integer >= 0"):
        OhlcvRules(max_gap_bars=value)  # type: ignore[arg-type]


def test_columns_are_the_shared_schema() -> None:
    assert tuple(_good().columns) == OHLCV_COLUMNS
