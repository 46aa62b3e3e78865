"""The mask on the first walk-forward training window of the embedded BTC data."""

import math

import numpy as np
import pytest

from cvn_assets.core.data.features import build_features
from cvn_assets.core.data.loading import load_ohlcv
from cvn_assets.core.labels.barriers import BarrierParams, labeled_mask, triple_barrier_labels
from cvn_assets.core.noise import CleanlabMask, CleanlabParams, compute_cleanlab_mask
from cvn_assets.core.training.folds import FoldParams, walk_forward_folds


@pytest.fixture(scope="module")
def btc_first_fold() -> tuple[CleanlabMask, np.ndarray]:
    ohlcv = load_ohlcv("BTC")
    labels = triple_barrier_labels(ohlcv)
    barrier, fold_params = BarrierParams(), FoldParams()
    fold = walk_forward_folds(labels["timestamp"], labeled_mask(labels), barrier.horizon, fold_params)[0]
    mask = compute_cleanlab_mask(
        build_features(ohlcv),
        labels,
        fold.train,
        CleanlabParams(mode="filter"),
        label_horizon=barrier.horizon,
        embargo_bars=fold_params.embargo_bars,
        seed=0,
    )
    return mask, fold.train


def test_real_window_is_fully_covered_and_capped_per_class(btc_first_fold: tuple[CleanlabMask, np.ndarray]) -> None:
    mask, train = btc_first_fold
    frame, stats = mask.frame, mask.stats
    assert frame["position"].tolist() == train.tolist() and stats["coverage_pct"] == 100.0
    assert frame["pred_prob_buy"].between(0.0, 1.0).all() and frame["label_quality"].notna().all()
    for label in (0, 1):
        rows = frame[frame["hard_label"] == label]
        assert 0 < rows["flagged"].sum() <= math.floor(0.05 * len(rows))
    assert stats["suspect_count"] > stats["flagged_count"] and stats["drop_pct"] <= 5.0
    assert (frame.loc[frame["flagged"], "weight"] == 0.0).all()
