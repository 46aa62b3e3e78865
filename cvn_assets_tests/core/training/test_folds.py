"""Walk-forward folds and purged inner splits: ordering, purge, embargo, round trip, guardrails."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.data.loading import load_ohlcv
from cvn_assets.core.errors import CatalogueError, DataSourceError, InsufficientDataError
from cvn_assets.core.labels.barriers import BarrierParams, labeled_mask, triple_barrier_labels
from cvn_assets.core.training.fold_frames import folds_from_frame, folds_to_frame
from cvn_assets.core.training.folds import (
    WINDOW_NAMES,
    FoldParams,
    FoldWindows,
    fold_ids,
    purged_inner_splits,
    walk_forward_folds,
)

HORIZON = BarrierParams().horizon


@pytest.fixture(scope="module")
def btc_labels() -> pd.DataFrame:
    return triple_barrier_labels(load_ohlcv("BTC"))


@pytest.fixture(scope="module")
def btc_folds(btc_labels: pd.DataFrame) -> list[FoldWindows]:
    return walk_forward_folds(btc_labels["timestamp"], labeled_mask(btc_labels), HORIZON)


def hourly(n_rows: int) -> pd.Series:
    return pd.Series(pd.date_range("2024-01-01", periods=n_rows, freq="h", tz="UTC"))


def holed_mask(n_rows: int) -> np.ndarray:
    """Labeled mask with warm-up, tail and scattered holes (e.g. rows a user source left unlabeled)."""
    mask = np.ones(n_rows, dtype=bool)
    mask[:14] = mask[-4:] = False
    mask[np.arange(100, n_rows - 100, 37)] = False
    return mask


def test_five_folds_with_ids_in_time_order(btc_folds: list[FoldWindows]) -> None:
    assert [fold.fold for fold in btc_folds] == fold_ids() == ["f1", "f2", "f3", "f4", "f5"]


def test_windows_are_ordered_disjoint_and_labeled_only(btc_labels: pd.DataFrame, btc_folds: list[FoldWindows]) -> None:
    labeled = labeled_mask(btc_labels)
    for fold in btc_folds:
        assert fold.train.max() < fold.validation.min() and fold.validation.max() < fold.test.min()
        for name in WINDOW_NAMES:
            positions = fold.window(name)
            assert np.all(np.diff(positions) > 0) and labeled[positions].all()


def test_no_label_horizon_or_embargo_reaches_the_next_window(btc_folds: list[FoldWindows]) -> None:
    embargo = FoldParams().embargo_bars
    for fold in btc_folds:
        assert fold.train.max() + HORIZON + embargo < fold.validation.min()
        assert fold.validation.max() + HORIZON + embargo < fold.test.min()
        # Contiguous labels: exactly the horizon is purged and the embargo removed at each boundary.
        assert fold.dropped("train") == fold.dropped("validation") == (HORIZON, embargo)
        assert (fold.purged, fold.embargoed) == (2 * HORIZON, 2 * embargo)
        # Nothing more than that: the gap is the horizon plus the embargo and no wider.
        assert fold.validation.min() - fold.train.max() == HORIZON + embargo + 1


def test_test_windows_tile_the_tail_and_training_expands(
    btc_labels: pd.DataFrame, btc_folds: list[FoldWindows]
) -> None:
    tests = np.concatenate([fold.test for fold in btc_folds])
    labeled_positions = np.flatnonzero(labeled_mask(btc_labels))
    np.testing.assert_array_equal(tests, labeled_positions[labeled_positions >= btc_folds[0].test[0]])
    for earlier, later in itertools.pairwise(btc_folds):
        assert np.isin(earlier.train, later.train).all() and later.train.size > earlier.train.size
        assert earlier.test.max() < later.test.min()


@pytest.mark.parametrize("mask_kind", ["contiguous", "with-holes"])
def test_every_row_between_first_and_last_is_in_a_window_or_counted_as_dropped(mask_kind: str) -> None:
    n_rows = 6_000
    mask = holed_mask(n_rows) if mask_kind == "with-holes" else np.r_[np.zeros(14, bool), np.ones(n_rows - 14, bool)]
    params = FoldParams(n_folds=3, embargo_bars=10, min_window_rows=50)
    for fold in walk_forward_folds(hourly(n_rows), mask, 6, params):
        span = np.flatnonzero(mask)
        span = span[(span >= fold.train[0]) & (span <= fold.test[-1])]
        kept = sum(fold.window(name).size for name in WINDOW_NAMES)
        assert kept + fold.purged + fold.embargoed == span.size
        assert fold.train.max() + 6 + 10 < fold.validation.min()


def test_folds_are_deterministic(btc_labels: pd.DataFrame, btc_folds: list[FoldWindows]) -> None:
    again = walk_forward_folds(btc_labels["timestamp"].copy(), labeled_mask(btc_labels).copy(), HORIZON)
    assert again == btc_folds


def test_positions_are_read_only(btc_folds: list[FoldWindows]) -> None:
    with pytest.raises(ValueError, match="read-only"):
        btc_folds[0].train[0] = 0


def test_frame_describes_each_window(btc_labels: pd.DataFrame, btc_folds: list[FoldWindows]) -> None:
    frame = folds_to_frame(btc_folds, btc_labels["timestamp"])
    assert len(frame) == 3 * len(btc_folds)
    first = frame.iloc[0]
    assert (first["fold"], first["window"]) == ("f1", "train")
    assert first["start_timestamp"] == btc_labels["timestamp"].iloc[btc_folds[0].train[0]]
    assert first["end_position"] == btc_folds[0].train[-1] and first["n_rows"] == btc_folds[0].train.size
    assert frame.loc[frame["window"] == "test", ["purged", "embargoed"]].eq(0).all().all()


@pytest.mark.parametrize("mask_kind", ["contiguous", "with-holes"])
def test_frame_round_trips_exactly_through_parquet(tmp_path: Path, mask_kind: str) -> None:
    n_rows = 5_000
    mask = holed_mask(n_rows) if mask_kind == "with-holes" else np.ones(n_rows, bool)
    folds = walk_forward_folds(hourly(n_rows), mask, HORIZON, FoldParams(min_window_rows=100))
    frame = folds_to_frame(folds, hourly(n_rows))
    frame.to_parquet(tmp_path / "folds.parquet")
    assert folds_from_frame(pd.read_parquet(tmp_path / "folds.parquet")) == folds
    assert folds_from_frame(frame) == folds


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        pytest.param(lambda f: f.drop(columns="position_ranges"), "lacks columns", id="missing-column"),
        pytest.param(lambda f: f.iloc[1:], "one row per window", id="missing-window-row"),
        pytest.param(lambda f: f.assign(n_rows=f["n_rows"] + 1), "disagree", id="row-count-mismatch"),
        pytest.param(lambda f: f.assign(position_ranges="14:90:3"), "not a list of start:stop", id="bad-run-syntax"),
        pytest.param(lambda f: f.assign(position_ranges="x:y"), "not a list of start:stop", id="non-integer-run"),
        pytest.param(lambda f: f.assign(position_ranges="20:20,30:40"), "empty run", id="empty-run"),
    ],
)
def test_malformed_fold_frames_are_rejected(
    btc_labels: pd.DataFrame, btc_folds: list[FoldWindows], tamper: Callable[[pd.DataFrame], pd.DataFrame], message: str
) -> None:
    with pytest.raises(DataSourceError, match=message):
        folds_from_frame(tamper(folds_to_frame(btc_folds, btc_labels["timestamp"])))


def test_too_few_rows_names_how_many_are_needed() -> None:
    with pytest.raises(
        InsufficientDataError,
        match=r"need at least 2224 labeled rows .* got 1000 labeled of 1000 "
        r"rows; use a longer series, or lower folds.n_folds or folds.min_window_rows in the catalogue$",
    ):
        walk_forward_folds(hourly(1_000), np.ones(1_000, bool), HORIZON)


@pytest.mark.parametrize(
    ("overrides", "parameter"),
    [
        pytest.param({"n_folds": 0}, "n_folds", id="no-folds"),
        pytest.param({"embargo_bars": -1}, "embargo_bars", id="negative-embargo"),
        pytest.param({"embargo_bars": 1.5}, "embargo_bars", id="fractional-embargo"),
        pytest.param({"initial_train_blocks": 0}, "initial_train_blocks", id="no-initial-training"),
        pytest.param({"min_window_rows": 0}, "min_window_rows", id="empty-windows"),
    ],
)
def test_bad_fold_parameters_are_rejected_by_name(overrides: dict[str, object], parameter: str) -> None:
    with pytest.raises(CatalogueError, match=parameter):
        FoldParams(**overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("labeled", "horizon", "message"),
    [
        pytest.param(np.ones(3_000, bool), 0, "label_horizon", id="horizon-zero"),
        pytest.param(np.ones(3_000), HORIZON, "boolean mask", id="mask-not-bool"),
        pytest.param(np.ones(2_999, bool), HORIZON, "timestamps has 3000 rows", id="length-mismatch"),
    ],
)
def test_bad_fold_arguments_are_rejected(labeled: np.ndarray, horizon: int, message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        walk_forward_folds(hourly(3_000), labeled, horizon)


def test_zero_embargo_still_purges_the_horizon() -> None:
    folds = walk_forward_folds(hourly(3_000), np.ones(3_000, bool), 4, FoldParams(embargo_bars=0, min_window_rows=10))
    assert all(fold.validation.min() - fold.train.max() == 5 and fold.embargoed == 0 for fold in folds)


@pytest.mark.parametrize(
    ("n_splits", "horizon", "embargo"),
    [
        pytest.param(2, HORIZON, 24, id="default-cleanlab-cv"),
        pytest.param(3, HORIZON, 24, id="middle-slice-purged-on-both-sides"),
        pytest.param(4, 10, 0, id="no-embargo-long-horizon"),
    ],
)
def test_inner_splits_never_overlap_the_held_out_label_span(
    btc_folds: list[FoldWindows], n_splits: int, horizon: int, embargo: int
) -> None:
    positions = btc_folds[1].train
    splits = purged_inner_splits(positions, horizon, embargo, n_splits)
    np.testing.assert_array_equal(np.concatenate([held for _, held in splits]), positions)
    for train, held in splits:
        first, last = held[0], held[-1]
        assert np.all(np.diff(held) > 0) and not np.isin(train, held).any()
        # Label spans [t, t + horizon] of training rows stay clear of [first, last + horizon] ...
        assert not np.any((train <= last + horizon) & (train + horizon >= first))
        # ... the embargo follows that span, and nothing further is dropped.
        assert not np.any((train > last + horizon) & (train <= last + horizon + embargo))
        dropped = positions.size - held.size - train.size
        expected = (horizon if first > positions[0] else 0) + (horizon + embargo if last < positions[-1] else 0)
        assert dropped == expected


def test_inner_splits_with_holes_keep_rows_just_outside_the_purge() -> None:
    positions = np.r_[np.arange(0, 40), np.arange(50, 100)]
    (train_a, held_a), (train_b, held_b) = purged_inner_splits(positions, label_horizon=3, embargo_bars=5)
    np.testing.assert_array_equal(held_a, np.r_[np.arange(0, 40), np.arange(50, 55)])
    np.testing.assert_array_equal(train_a, np.arange(63, 100))  # 55..57 purged, 58..62 embargoed
    np.testing.assert_array_equal(train_b, np.r_[np.arange(0, 40), np.arange(50, 52)])  # 52..54 purged


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        pytest.param((np.arange(100), HORIZON, 24, 1), CatalogueError, "n_splits", id="one-split"),
        pytest.param((np.arange(100), 0, 24, 2), CatalogueError, "label_horizon", id="horizon-zero"),
        pytest.param((np.arange(100), HORIZON, -1, 2), CatalogueError, "embargo_bars", id="negative-embargo"),
        pytest.param((np.arange(100)[::-1], HORIZON, 24, 2), CatalogueError, "strictly increasing", id="unsorted"),
        pytest.param((np.arange(1), HORIZON, 24, 2), InsufficientDataError, "got 1", id="fewer-rows-than-splits"),
        pytest.param((np.arange(6), HORIZON, 24, 2), InsufficientDataError, "no training rows", id="all-purged"),
    ],
)
def test_bad_inner_split_arguments(arguments: tuple, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        purged_inner_splits(*arguments)
