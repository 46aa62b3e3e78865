"""Cross-fit blocks of a window against hand-computed purged blocks, and the cross-fitted predictions."""

from __future__ import annotations

import numpy as np
import pytest

from cvn_assets.core.cross_fit import CrossFitBlocks, cross_fitted, window_blocks
from cvn_assets.core.errors import InsufficientDataError


@pytest.mark.parametrize(
    ("positions", "horizon", "embargo", "n_blocks", "expected"),
    [
        pytest.param(
            np.arange(10, 30), 2, 1, 4,
            # Held-out blocks 10-14, 15-19, 20-24, 25-29. Before a block, rows whose label reaches its
            # first bar (t + 2 >= first) are purged; after it, rows up to last + 2 are purged and the
            # next one embargoed.
            [(np.arange(8, 20), np.arange(0, 5)),
             (np.r_[0:3, 13:20], np.arange(5, 10)),
             (np.r_[0:8, 18:20], np.arange(10, 15)),
             (np.arange(0, 13), np.arange(15, 20))],
            id="contiguous_window",
        ),
        pytest.param(
            np.arange(0, 40, 2), 2, 0, 2,
            # Every other bar: the split returns row indices into the window, not bar positions.
            [(np.arange(11, 20), np.arange(0, 10)), (np.arange(0, 9), np.arange(10, 20))],
            id="window_with_gaps",
        ),
    ],
)
def test_blocks_are_contiguous_purged_and_embargoed(positions: np.ndarray, horizon: int, embargo: int,
                                                    n_blocks: int, expected: list) -> None:
    blocks = window_blocks(positions, horizon, embargo, n_blocks)
    assert len(blocks) == n_blocks
    for (fit, held), (expected_fit, expected_held) in zip(blocks, expected, strict=True):
        np.testing.assert_array_equal(fit, expected_fit)
        np.testing.assert_array_equal(held, expected_held)


def test_every_row_is_predicted_by_the_piece_fitted_without_its_block() -> None:
    blocks = window_blocks(np.arange(100, 130), 1, 0, 3)
    y = np.arange(30, dtype=float)
    # The "piece" predicts the mean of the rows it was fitted on: blocks 1..3 see rows 11+, 0-8 and 21+, 0-18.
    out = cross_fitted(blocks, lambda fit, held: np.full(held.size, y[fit].mean()), "mean")
    np.testing.assert_allclose(out[:10], np.mean(np.arange(11, 30)))
    np.testing.assert_allclose(out[10:20], np.mean(np.r_[0:9, 21:30]))
    np.testing.assert_allclose(out[20:], np.mean(np.arange(0, 19)))


def test_a_window_too_small_for_its_blocks_names_the_setting() -> None:
    with pytest.raises(InsufficientDataError, match=r"5 blocks of 3 validation rows.*lower calibration.cross_fit_blocks"):
        window_blocks(np.arange(3), 1, 0, 5)


def test_blocks_that_leave_a_row_unpredicted_are_refused() -> None:
    blocks = CrossFitBlocks(np.arange(50, 54), ((np.array([2, 3]), np.array([0])), (np.array([0]), np.array([3]))))
    with pytest.raises(ValueError, match=r"no block for 2 row\(s\), first at position 51"):
        cross_fitted(blocks, lambda fit, held: np.zeros(held.size), "piece")
