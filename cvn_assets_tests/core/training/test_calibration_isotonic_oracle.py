"""The isotonic calibrator against pool-adjacent-violators worked out by hand on small examples.

PAVA sorts the validation rows by score, averages the labels of tied scores, then merges any
adjacent blocks whose means decrease into one block with their pooled mean, until the means are
non-decreasing. Each example below records that merging step by step.
"""

import numpy as np
import pytest

from cvn_assets.core.training.calibration import IsotonicCalibrator

EXAMPLES = [
    pytest.param(
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
        [0, 1, 0, 0, 1, 0, 1, 1],
        # 0 | 1 0 → 1/2 | then 0 → (1 + 0 + 0)/3 = 1/3 | 1 0 → 1/2 (1/3 ≤ 1/2 stays) | 1 | 1
        [0, 1 / 3, 1 / 3, 1 / 3, 1 / 2, 1 / 2, 1, 1],
        id="two-separate-violations",
    ),
    pytest.param(
        [0.2, 0.2, 0.5, 0.5, 0.5, 0.8],
        [1, 0, 0, 0, 1, 1],
        # ties first: 0.2 → 1/2 (2 rows), 0.5 → 1/3 (3 rows); 1/2 > 1/3 pool: (1 + 1)/5 = 2/5 | 0.8 → 1
        [2 / 5, 2 / 5, 2 / 5, 2 / 5, 2 / 5, 1],
        id="tied-scores-averaged-then-pooled",
    ),
    pytest.param(
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        [1, 1, 1, 0, 0, 0],
        # every step down merges: one block of mean 3/6
        [1 / 2] * 6,
        id="reversed-labels-pool-to-one-block",
    ),
    pytest.param(
        [0.15, 0.35, 0.55, 0.75, 0.95],
        [0, 0, 1, 0, 1],
        # 0 | 0 | 1 0 → 1/2 | 1
        [0, 0, 1 / 2, 1 / 2, 1],
        id="one-violation-in-the-middle",
    ),
    pytest.param([0.1, 0.3, 0.5, 0.7], [0, 0, 1, 1], [0, 0, 1, 1], id="already-monotone-is-kept"),
]


@pytest.mark.parametrize(("scores", "labels", "fitted"), EXAMPLES)
def test_fitted_values_are_the_hand_pava_means(scores: list[float], labels: list[int], fitted: list[float]) -> None:
    calibrator = IsotonicCalibrator().fit(np.array(scores), np.array(labels))
    np.testing.assert_allclose(calibrator.transform(np.array(scores)), fitted, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("scores", "labels", "fitted"), EXAMPLES)
def test_row_order_does_not_matter(scores: list[float], labels: list[int], fitted: list[float]) -> None:
    order = np.random.default_rng(3).permutation(len(scores))
    calibrator = IsotonicCalibrator().fit(np.array(scores)[order], np.array(labels)[order])
    np.testing.assert_allclose(calibrator.transform(np.array(scores)), fitted, rtol=1e-12, atol=1e-12)


def test_scores_beyond_the_validation_range_take_the_end_blocks() -> None:
    scores, labels, fitted = EXAMPLES[0].values
    calibrator = IsotonicCalibrator().fit(np.array(scores), np.array(labels))
    np.testing.assert_allclose(
        calibrator.transform(np.array([0.0, 0.05, 0.95, 1.0])), [fitted[0], fitted[0], fitted[-1], fitted[-1]]
    )
