"""Cross-fit blocks of a window against hand-computed purged blocks, and the cross-fitted predictions."""

from __future__ import annotations

import numpy as np
import pytest

from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.training.cross_fit import CrossFitBlocks, cross_fitted, shift_prior, window_blocks


@pytest.mark.parametrize(
    ("positions", "horizon", "embargo", "n_blocks", "expected"),
    [
        pytest.param(
            np.arange(10, 30),
            2,
            1,
            4,
            # Held-out blocks 10-14, 15-19, 20-24, 25-29. Before a block, rows whose label reaches its
            # first bar (t + 2 >= first) are purged; after it, rows up to last + 2 are purged and the
            # next one embargoed.
            [
                (np.arange(8, 20), np.arange(0, 5)),
                (np.r_[0:3, 13:20], np.arange(5, 10)),
                (np.r_[0:8, 18:20], np.arange(10, 15)),
                (np.arange(0, 13), np.arange(15, 20)),
            ],
            id="contiguous_window",
        ),
        pytest.param(
            np.arange(0, 40, 2),
            2,
            0,
            2,
            # Every other bar: the split returns row indices into the window, not bar positions.
            [(np.arange(11, 20), np.arange(0, 10)), (np.arange(0, 9), np.arange(10, 20))],
            id="window_with_gaps",
        ),
    ],
)
def test_blocks_are_contiguous_purged_and_embargoed(
    positions: np.ndarray, horizon: int, embargo: int, n_blocks: int, expected: list
) -> None:
    blocks = window_blocks(positions, horizon, embargo, n_blocks)
    assert len(blocks) == n_blocks
    for (fit, held), (expected_fit, expected_held) in zip(blocks, expected, strict=True):
        np.testing.assert_array_equal(fit, expected_fit)
        np.testing.assert_array_equal(held, expected_held)


def test_every_row_is_predicted_by_the_piece_fitted_without_its_block_at_the_window_buy_rate() -> None:
    blocks = window_blocks(np.arange(100, 130), 1, 0, 3)
    labels = np.zeros(30, dtype=int)
    labels[[0, 1, 2, 12, 25, 28]] = 1  # window BUY rate 6/30 = 0.2
    calls = []

    def piece(fit: np.ndarray, held: np.ndarray) -> np.ndarray:
        calls.append((fit.tolist(), held.tolist()))
        return np.full(held.size, 0.5)

    out = cross_fitted(blocks, labels, piece, "half")
    # Blocks 1..3 are fitted on rows 11+, 0-8 plus 21+, and 0-18 (one row purged after each block).
    assert calls == [
        (list(range(11, 30)), list(range(0, 10))),
        ([*range(0, 9), *range(21, 30)], list(range(10, 20))),
        (list(range(0, 19)), list(range(20, 30))),
    ]
    # P = 0.5 from a piece fitted at BUY rate f, restated at 0.2: odds 1 · (0.2/0.8) / (f/(1-f)).
    for rows, fitted_rate in ((slice(0, 10), 3 / 19), (slice(10, 20), 5 / 18), (slice(20, 30), 4 / 19)):
        odds = 0.25 / (fitted_rate / (1 - fitted_rate))
        np.testing.assert_allclose(out[rows], odds / (1 + odds))


@pytest.mark.parametrize(
    ("p", "fitted", "window", "expected"),
    [
        pytest.param(0.5, 0.2, 0.25, 4 / 7, id="odds_times_4_over_3"),
        pytest.param(0.3, 0.2, 0.2, 0.3, id="same_rate_changes_nothing"),
        pytest.param(0.0, 0.1, 0.4, 0.0, id="zero_stays_zero"),
        pytest.param(1.0, 0.4, 0.1, 1.0, id="one_stays_one"),
    ],
)
def test_shift_prior_restates_odds_by_the_ratio_of_prior_odds(
    p: float, fitted: float, window: float, expected: float
) -> None:
    assert shift_prior(np.array([p]), fitted, window)[0] == pytest.approx(expected)


def test_a_window_too_small_for_its_blocks_names_the_setting() -> None:
    message = r"5 blocks of 3 validation rows.*lower calibration.cross_fit_blocks"
    with pytest.raises(InsufficientDataError, match=message):
        window_blocks(np.arange(3), 1, 0, 5)


def test_blocks_that_leave_a_row_unpredicted_are_refused() -> None:
    blocks = CrossFitBlocks(np.arange(50, 54), ((np.array([2, 3]), np.array([0])), (np.array([0, 1]), np.array([3]))))
    with pytest.raises(ValueError, match=r"no block for 2 row\(s\), first at position 51"):
        cross_fitted(blocks, np.array([0, 1, 0, 1]), lambda fit, held: np.zeros(held.size), "piece")


def test_blocks_within_one_blocks_fitting_rows_are_the_other_blocks_cut_to_those_rows() -> None:
    blocks = window_blocks(np.arange(10, 30), 2, 1, 4)
    inner = blocks.within(blocks.splits[0][0])  # rows 8..19, i.e. positions 18..29
    np.testing.assert_array_equal(inner.positions, np.arange(18, 30))
    # Block 1 has no row left; blocks 2-4 keep what lies in 8..19, re-indexed from row 8.
    expected = [
        (np.arange(5, 12), np.array([0, 1])),
        (np.array([10, 11]), np.arange(2, 7)),
        (np.arange(0, 5), np.arange(7, 12)),
    ]
    assert len(inner) == len(expected)
    for (fit, held), (expected_fit, expected_held) in zip(inner, expected, strict=True):
        np.testing.assert_array_equal(fit, expected_fit)
        np.testing.assert_array_equal(held, expected_held)
