"""nested_base_inputs against scikit-learn isotonic fits on hand-intersected blocks."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression

from cvn_assets.core.ensembles.out_of_fold import nested_base_inputs
from cvn_assets.core.training.calibration import CalibrationParams
from cvn_assets.core.training.cross_fit import window_blocks


def _isotonic(scores: np.ndarray, y: np.ndarray, fit: np.ndarray, held: np.ndarray) -> np.ndarray:
    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores[fit], y[fit]).predict(scores[held])


def test_a_copys_training_inputs_are_calibrated_without_its_held_block_and_without_their_own_block() -> None:
    rng = np.random.default_rng(12)
    y = (rng.random(150) < 0.3).astype(int)
    scores = np.clip(0.3 * y[:, None] + 0.5 * rng.random((150, 2)), 0.0, 1.0)
    blocks = window_blocks(np.arange(150), 2, 1, 3)
    fit, held = blocks.splits[1]
    train, scored = nested_base_inputs(scores, y, CalibrationParams(), blocks, fit, held, ("a", "b"))
    for column in range(2):
        np.testing.assert_allclose(scored[:, column], _isotonic(scores[:, column], y, fit, held))
        for j in (0, 2):
            inner_fit, inner_held = np.intersect1d(blocks.splits[j][0], fit), np.intersect1d(blocks.splits[j][1], fit)
            raw = _isotonic(scores[:, column], y, inner_fit, inner_held)
            expected = expit(logit(raw) + logit(y[fit].mean()) - logit(y[inner_fit].mean()))
            np.testing.assert_allclose(train[np.searchsorted(fit, inner_held), column], expected)
    assert not np.intersect1d(fit, held).size
