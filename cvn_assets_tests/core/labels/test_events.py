"""The CUSUM event filter: events of a hand-computed series, which bars it labels, and nothing changed when off."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.catalogue.pipeline_params import build_pipeline_params
from cvn_assets.core.data.loading import load_ohlcv
from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.labels.barriers import BarrierParams, triple_barrier_labels
from cvn_assets.core.labels.events import (
    EventFilterParams,
    cusum_events,
    cusum_thresholds,
    event_labels,
    restrict_to_events,
    symmetric_cusum,
)
from cvn_assets.core.training.folds import FoldParams, walk_forward_folds

# Log returns in % of bars 1..10 (bar 0 has none). With vol_window 2 and a multiple of √2 the threshold is
# h_t = √2 · std(r_{t-2}, r_{t-1}) = |r_{t-1} − r_{t-2}|, defined from bar 3 on.
RETURNS_PCT = [1.0, 3.0, 1.0, 2.0, -1.5, -3.0, 1.0, 4.0, 0.0, -2.0]
HAND_PARAMS = EventFilterParams(cusum=True, threshold_vol_multiple=math.sqrt(2.0), vol_window=2)
# bar  r     h                 S⁺ (after)          S⁻ (after)            event
#  1   +1    -                 0 (warm-up)         0                     -
#  2   +3    -                 0 (warm-up)         0                     -
#  3   +1    |3 − 1|   = 2     1                   0                     -
#  4   +2    |1 − 3|   = 2     3 > 2 → event, 0    0                     4
#  5   −1.5  |2 − 1|   = 1     0                   −1.5 < −1 → event, 0  5
#  6   −3    |−1.5 − 2| = 3.5  0                   −3 (not < −3.5)       -
#  7   +1    |−3 + 1.5| = 1.5  1                   −2 < −1.5 → event, 0  7
#  8   +4    |1 + 3|   = 4     1 + 4 = 5 > 4 → event (S⁺ kept its 1)      8
#  9    0    |4 − 1|   = 3     0                   0                     -
# 10   −2    |0 − 4|   = 4     0                   −2                    -
HAND_EVENTS = [4, 5, 7, 8]
HAND_THRESHOLDS_PCT = [math.nan, math.nan, math.nan, 2.0, 2.0, 1.0, 3.5, 1.5, 4.0, 3.0, 4.0]


def _closes(returns_pct: list[float]) -> np.ndarray:
    return 100.0 * np.exp(np.concatenate(([0.0], np.cumsum(np.array(returns_pct) / 100.0))))


def test_thresholds_are_the_multiple_of_the_volatility_of_the_previous_returns() -> None:
    thresholds = cusum_thresholds(_closes(RETURNS_PCT), HAND_PARAMS) * 100.0
    np.testing.assert_allclose(thresholds, HAND_THRESHOLDS_PCT, rtol=1e-9, equal_nan=True)


def test_events_of_a_hand_computed_series() -> None:
    ohlcv = pd.DataFrame({"close": _closes(RETURNS_PCT)})
    assert np.flatnonzero(cusum_events(ohlcv, HAND_PARAMS)).tolist() == HAND_EVENTS


@pytest.mark.parametrize(
    ("returns", "threshold", "expected"),
    [
        pytest.param([0.4, 0.4, 0.4], 1.0, [2], id="upward-drift-crosses-on-its-third-bar"),
        pytest.param([-0.6, -0.6, -0.6, -0.6], 1.0, [1, 3], id="downward-drift-restarts-after-each-event"),
        pytest.param([0.5, -0.5, 0.5, -0.5], 0.9, [], id="noise-around-zero-never-crosses"),
        pytest.param([1.0, 0.0], 1.0, [], id="reaching-the-threshold-is-not-crossing-it"),
        pytest.param([0.8, math.nan, 0.8], 1.0, [], id="a-missing-return-restarts-the-sums"),
    ],
)
def test_symmetric_cusum_with_given_thresholds(returns: list[float], threshold: float, expected: list[int]) -> None:
    events = symmetric_cusum(np.array(returns), np.full(len(returns), threshold))
    assert np.flatnonzero(events).tolist() == expected


@pytest.fixture(scope="module")
def eth() -> pd.DataFrame:
    return load_ohlcv("ETH").head(6000)


def test_when_on_only_the_event_bars_keep_a_label_and_a_trade(eth: pd.DataFrame) -> None:
    params = EventFilterParams(cusum=True)
    labels = triple_barrier_labels(eth)
    filtered = event_labels(eth, BarrierParams(), params)
    events = cusum_events(eth, params)
    kept = filtered["label"].notna().to_numpy()
    np.testing.assert_array_equal(kept, labels["label"].notna().to_numpy() & events)
    assert 0 < kept.sum() < 0.6 * labels["label"].notna().sum()
    assert filtered.loc[~kept, ["exit_offset", "trade_return"]].isna().all().all()
    assert filtered.loc[~kept, "outcome"].isna().all()
    pd.testing.assert_frame_equal(filtered[kept], labels[kept])
    pd.testing.assert_series_equal(filtered["atr"], labels["atr"])


def test_when_on_fewer_rows_enter_each_fold_and_every_one_is_an_event(eth: pd.DataFrame) -> None:
    params, folds = EventFilterParams(cusum=True), FoldParams(min_window_rows=100)
    events = np.flatnonzero(cusum_events(eth, params))
    every_bar = walk_forward_folds(eth["timestamp"], triple_barrier_labels(eth)["label"].notna().to_numpy(), 4, folds)
    filtered = event_labels(eth, BarrierParams(), params)
    on_events = walk_forward_folds(eth["timestamp"], filtered["label"].notna().to_numpy(), 4, folds)
    for full, kept in zip(every_bar, on_events, strict=True):
        assert len(kept.train) < len(full.train) and len(kept.test) < len(full.test)
        for window in (kept.train, kept.validation, kept.test):
            assert np.isin(window, events).all()


def test_off_by_default_the_labels_are_byte_identical(eth: pd.DataFrame) -> None:
    assert build_pipeline_params({}).events == EventFilterParams(cusum=False)
    labels = triple_barrier_labels(eth)
    assert restrict_to_events(labels, eth, EventFilterParams()) is labels
    unfiltered = event_labels(eth, BarrierParams(), EventFilterParams())
    pd.testing.assert_frame_equal(unfiltered, labels, check_exact=True)
    np.testing.assert_array_equal(
        pd.util.hash_pandas_object(unfiltered).to_numpy(), pd.util.hash_pandas_object(labels).to_numpy()
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        pytest.param({"cusum": "yes"}, "cusum must be true or false, got str 'yes'", id="text-for-a-switch"),
        pytest.param({"cusum": True, "vol_window": 1}, "vol_window must be an integer >= 2", id="window-of-one"),
        pytest.param({"vol_window": 24.0}, "vol_window must be an integer, got float", id="fractional-window"),
        pytest.param(
            {"threshold_vol_multiple": 0},
            "threshold_vol_multiple must be a positive number, got 0",
            id="zero-threshold",
        ),
        pytest.param(
            {"threshold_vol_multiple": math.inf},
            "threshold_vol_multiple must be a positive number",
            id="infinite-threshold",
        ),
        pytest.param({"window": 24}, "unknown key 'window' \\(did you mean 'vol_window'\\?\\)", id="misspelt-key"),
    ],
)
def test_bad_event_settings_fail_in_one_line_naming_the_section_and_key(section: dict, message: str) -> None:
    with pytest.raises(CatalogueError, match=message) as error:
        build_pipeline_params({"events": section})
    assert str(error.value).startswith("catalogue section `events`: ") and "\n" not in str(error.value)
