"""Out-of-sample probabilities of the inner purged K-fold and the soft time budget."""

import numpy as np
import pytest

from cvn_assets.core.noise import NEUTRAL_PRIOR, CleanlabParams, compute_cleanlab_mask
from cvn_assets.core.training.folds import purged_inner_splits
from cvn_assets_tests.core.noise.fakes import EMBARGO, HORIZON, FakeClock, frames, install_recording_learner

N_BARS = 320
TRAIN = np.arange(20, 280)


def graded_window(seed: int = 3) -> tuple:
    """~25 % BUY; a fifth of the rows look mislabeled (P(given label) in 0.01..0.2), spread over time."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(N_BARS) < 0.25).astype(float)
    looks_wrong = rng.random(N_BARS) < 0.2
    p_given = np.where(looks_wrong, rng.uniform(0.01, 0.2, N_BARS), rng.uniform(0.7, 0.99, N_BARS))
    return frames(labels, signal=np.where(labels == 1.0, p_given, 1.0 - p_given), seed=seed)


@pytest.mark.parametrize(
    "n_splits", [pytest.param(2, id="spec-default-2"), pytest.param(3, id="3-slices"), pytest.param(5, id="5-slices")]
)
def test_every_row_gets_one_prob_from_a_model_that_never_saw_its_neighbourhood(
    monkeypatch: pytest.MonkeyPatch, n_splits: int
) -> None:
    recorder = install_recording_learner(monkeypatch)
    features, labels = graded_window()
    params = CleanlabParams(mode="filter", inner_splits=n_splits, inner_model_params={"num_boost_round": 7})
    mask = compute_cleanlab_mask(
        features, labels, TRAIN, params, label_horizon=HORIZON, embargo_bars=EMBARGO, seed=11, n_threads=2
    )

    held_out = np.concatenate([scored for _, scored in recorder.fits])
    assert np.array_equal(np.sort(held_out), TRAIN), "each training row is scored exactly once"
    for trained_on, scored in recorder.fits:
        forbidden = (trained_on >= scored.min() - HORIZON) & (trained_on <= scored.max() + HORIZON + EMBARGO)
        assert not forbidden.any(), f"slice {scored.min()}..{scored.max()} trained on purged/embargoed rows"
        assert np.isin(trained_on, TRAIN).all(), "the inner model only sees the training window"
    expected = purged_inner_splits(TRAIN, HORIZON, EMBARGO, n_splits)
    assert [(t.tolist(), s.tolist()) for t, s in recorder.fits] == [(t.tolist(), s.tolist()) for t, s in expected]
    assert recorder.calls == [("xgboost", {"num_boost_round": 7}, 11, 2)] * n_splits

    frame = mask.frame
    assert frame["covered"].all() and mask.stats["coverage_pct"] == 100.0
    assert np.allclose(frame["pred_prob_buy"], features["signal"].to_numpy()[TRAIN])


def test_rows_keep_the_order_given(monkeypatch: pytest.MonkeyPatch) -> None:
    install_recording_learner(monkeypatch)
    features, labels = graded_window()
    shuffled = np.random.default_rng(0).permutation(TRAIN)
    mask = compute_cleanlab_mask(
        features, labels, shuffled, CleanlabParams(mode="reweight"), label_horizon=HORIZON, embargo_bars=EMBARGO
    )
    in_order = compute_cleanlab_mask(
        features, labels, TRAIN, CleanlabParams(mode="reweight"), label_horizon=HORIZON, embargo_bars=EMBARGO
    )
    assert mask.frame["position"].tolist() == shuffled.tolist()
    assert np.allclose(mask.frame["pred_prob_buy"], features["signal"].to_numpy()[shuffled])
    realigned = mask.frame.set_index("position").loc[TRAIN].reset_index()
    assert realigned.equals(in_order.frame)


@pytest.mark.parametrize("n_splits", [pytest.param(2, id="half-covered"), pytest.param(3, id="third-covered")])
def test_budget_expiry_leaves_later_slices_neutral_and_never_flagged(
    monkeypatch: pytest.MonkeyPatch, n_splits: int
) -> None:
    features, labels = graded_window()
    params = CleanlabParams(mode="filter", inner_splits=n_splits, time_budget_seconds=60.0)
    later = TRAIN >= purged_inner_splits(TRAIN, HORIZON, EMBARGO, n_splits)[1][1][0]

    install_recording_learner(monkeypatch)
    full = compute_cleanlab_mask(features, labels, TRAIN, params, label_horizon=HORIZON, embargo_bars=EMBARGO)
    assert full.frame["flagged"].to_numpy()[later].any(), "with time to spare, later slices do hold flagged rows"

    clock = FakeClock()
    recorder = install_recording_learner(monkeypatch)
    recorder.on_fit = lambda: setattr(clock, "now", clock.now + 61.0)
    mask = compute_cleanlab_mask(
        features, labels, TRAIN, params, label_horizon=HORIZON, embargo_bars=EMBARGO, clock=clock
    )

    assert len(recorder.fits) == 1, "slices after the budget ran out are not processed"
    frame = mask.frame
    assert mask.stats["coverage_pct"] == pytest.approx(100.0 * (~later).sum() / TRAIN.size)
    assert mask.stats["coverage_pct"] == pytest.approx(100.0 / n_splits, abs=1.0)
    assert mask.stats["duration_seconds"] == 61.0
    uncovered = frame[later]
    assert (uncovered["pred_prob_buy"] == NEUTRAL_PRIOR).all() and not uncovered["covered"].any()
    assert not uncovered["suspect"].any() and not uncovered["flagged"].any()
    assert uncovered["label_quality"].isna().all() and (uncovered["weight"] == 1.0).all()
    assert frame["covered"].to_numpy().tolist() == (~later).tolist()
