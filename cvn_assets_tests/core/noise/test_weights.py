"""Applying the mask to a fold's training targets and composing its weights with class balancing."""

import re

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.labels.smoothing import SmoothingParams
from cvn_assets.core.noise import CleanlabMask, CleanlabParams, apply_cleanlab, combine_weights, compute_cleanlab_mask
from cvn_assets.core.training.fit import class_balance_weights, training_targets
from cvn_assets.core.training.folds import FoldWindows
from cvn_assets_tests.core.noise.fakes import EMBARGO, HORIZON, frames, install_recording_learner

TRAIN = np.arange(200)


def one_in_five_buy(monkeypatch: pytest.MonkeyPatch, mode: str) -> tuple[pd.DataFrame, CleanlabMask]:
    """200 training rows, 40 BUY (class weight 200 / (2·40) = 2.5), HOLD weight 200 / 320 = 0.625;
    every fourth BUY and every sixth HOLD looks mislabeled, so the 5 % cap (2 BUY, 8 HOLD) binds."""
    install_recording_learner(monkeypatch)
    labels = np.tile([1.0, 0.0, 0.0, 0.0, 0.0], 44)
    index = np.arange(labels.size)
    signal = np.where(
        labels == 1.0,
        np.where(index % 20 == 0, 0.05 + index / 1e4, 0.9),
        np.where(index % 6 == 1, 0.95 - index / 1e4, 0.1),
    )
    features, label_frame = frames(labels, signal=signal)
    fold = FoldWindows("f1", TRAIN, np.arange(205, 212), np.arange(212, 220))
    targets = training_targets(label_frame, fold, SmoothingParams())
    mask = compute_cleanlab_mask(
        features, label_frame, fold.train, CleanlabParams(mode=mode), label_horizon=HORIZON, embargo_bars=EMBARGO
    )
    return targets, mask


def test_reweight_multiplies_the_class_balancing_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    targets, mask = one_in_five_buy(monkeypatch, "reweight")
    kept, cleanlab_weights = apply_cleanlab(targets, mask, "reweight")
    assert len(kept) == len(targets)
    weights = combine_weights(class_balance_weights(kept["hard_label"].to_numpy()), cleanlab_weights)
    flagged = mask.frame["flagged"].to_numpy()
    buy = kept["hard_label"].to_numpy() == 1
    assert (flagged & buy).sum() == 2 and (flagged & ~buy).sum() == 8
    assert weights[flagged & buy].tolist() == [1.25, 1.25]
    assert weights[flagged & ~buy] == pytest.approx(0.3125)
    assert set(weights[~flagged & buy]) == {2.5} and set(weights[~flagged & ~buy]) == {0.625}


def test_filter_drops_exactly_the_flagged_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    targets, mask = one_in_five_buy(monkeypatch, "filter")
    kept, cleanlab_weights = apply_cleanlab(targets, mask, "filter")
    flagged = mask.frame["flagged"].to_numpy()
    assert flagged.sum() == 10
    assert kept["position"].tolist() == targets["position"].to_numpy()[~flagged].tolist()
    assert (cleanlab_weights == 1.0).all() and kept.index.tolist() == list(range(len(kept)))


def test_off_keeps_every_row_at_weight_one(monkeypatch: pytest.MonkeyPatch) -> None:
    targets, mask = one_in_five_buy(monkeypatch, "off")
    kept, cleanlab_weights = apply_cleanlab(targets, mask, "off")
    pd.testing.assert_frame_equal(kept, targets)
    assert cleanlab_weights.tolist() == [1.0] * len(targets)


@pytest.mark.parametrize(
    ("mutate", "mode", "error", "message"),
    [
        pytest.param(
            lambda t: t.iloc[:-1],
            "filter",
            ValueError,
            "targets have 199 rows but the cleanlab mask has 200",
            id="row-count-mismatch",
        ),
        pytest.param(
            lambda t: t.assign(position=t["position"].where(t.index != 7, 999)),
            "filter",
            ValueError,
            "targets row 7 is position 999 but the cleanlab mask row 7 is position 7",
            id="first-mismatch",
        ),
        pytest.param(
            lambda t: t,
            "reweight",
            ValueError,
            "mode 'reweight' does not match the mask, computed in mode 'filter'",
            id="mask-from-another-mode",
        ),
        pytest.param(lambda t: t, "drop", CatalogueError, "mode 'drop' is not one of", id="unknown-mode"),
    ],
)
def test_apply_rejects_a_mask_that_does_not_fit(
    monkeypatch: pytest.MonkeyPatch, mutate, mode: str, error: type[Exception], message: str
) -> None:
    targets, mask = one_in_five_buy(monkeypatch, "filter")
    with pytest.raises(error, match=re.escape(message)):
        apply_cleanlab(mutate(targets), mask, mode)


def test_combine_weights_is_the_elementwise_product() -> None:
    assert combine_weights(np.array([2.5, 0.625, 2.5]), np.array([0.5, 1.0, 0.0])).tolist() == [1.25, 0.625, 0.0]


def test_combine_weights_names_both_lengths() -> None:
    with pytest.raises(ValueError, match="class_weights has length 3 but cleanlab_weights has length 2"):
        combine_weights(np.ones(3), np.ones(2))
