"""The per-class cap, the weights, off mode, determinism and the error paths of the cleanlab mask."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.errors import InsufficientDataError, TrainingError
from cvn_assets.core.noise import MASK_COLUMNS, STAT_NAMES, CleanlabMask, CleanlabParams, compute_cleanlab_mask
from cvn_assets_tests.core.noise.fakes import (
    EMBARGO,
    HORIZON,
    FakeClock,
    frames,
    install_recording_learner,
    noisy_window,
)

N_ROWS = 2000
SMALL_MODEL = {"num_boost_round": 40, "max_depth": 3}


def run(features: pd.DataFrame, labels: pd.DataFrame, positions: np.ndarray, **overrides: object) -> CleanlabMask:
    params = CleanlabParams(**{"mode": "filter", **overrides})  # type: ignore[arg-type]
    return compute_cleanlab_mask(
        features, labels, positions, params, label_horizon=HORIZON, embargo_bars=EMBARGO, seed=5
    )


@pytest.fixture(scope="module")
def flipped() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """2000 rows, ~25 % BUY before 30 % of all labels are flipped: cleanlab suspects far more than 5 %."""
    return noisy_window(N_ROWS, buy_rate=0.25, flip_rate=0.30, seed=1)


@pytest.fixture(scope="module")
def flipped_mask(flipped: tuple) -> CleanlabMask:
    features, labels, _ = flipped
    return run(features, labels, np.arange(N_ROWS), inner_model_params=SMALL_MODEL)


def test_mask_has_the_documented_shape(flipped_mask: CleanlabMask) -> None:
    assert tuple(flipped_mask.frame.columns) == MASK_COLUMNS and tuple(flipped_mask.stats) == STAT_NAMES
    assert flipped_mask.stats["n_rows"] == N_ROWS and flipped_mask.mode == "filter"


def test_cap_binds_per_class_and_keeps_the_lowest_quality_suspects(flipped_mask: CleanlabMask) -> None:
    frame, stats = flipped_mask.frame, flipped_mask.stats
    assert stats["suspect_count"] >= 4 * stats["flagged_count"] > 0
    assert (frame["suspect"] | ~frame["flagged"]).all(), "only suspects are flagged"
    for label, stat in ((1, "buy_drop_pct"), (0, "hold_drop_pct")):
        rows = frame[frame["hard_label"] == label]
        cap = math.floor(0.05 * len(rows))
        assert rows["flagged"].sum() == cap, "more suspects than the cap: exactly the cap is flagged"
        assert stats[stat] == pytest.approx(100.0 * cap / len(rows)) and stats[stat] <= 5.0
        kept_suspects = rows[rows["suspect"] & ~rows["flagged"]]
        assert rows.loc[rows["flagged"], "label_quality"].max() <= kept_suspects["label_quality"].min()
    assert stats["drop_pct"] == pytest.approx(100.0 * stats["flagged_count"] / N_ROWS)


def test_flagged_rows_are_mostly_truly_flipped(flipped: tuple, flipped_mask: CleanlabMask) -> None:
    _, _, was_flipped = flipped
    precision = was_flipped[flipped_mask.frame["flagged"].to_numpy()].mean()
    assert precision > 0.6, f"flagged rows should be enriched in flipped labels (base rate 0.30), got {precision}"


@pytest.mark.parametrize(
    ("mode", "floor", "flagged_weight"),
    [
        pytest.param("filter", 0.5, 0.0, id="filter-zeroes-flagged"),
        pytest.param("reweight", 0.5, 0.5, id="reweight-default-floor"),
        pytest.param("reweight", 0.2, 0.2, id="reweight-custom-floor"),
    ],
)
def test_weights_follow_the_mode(flipped: tuple, mode: str, floor: float, flagged_weight: float) -> None:
    features, labels, _ = flipped
    mask = run(features, labels, np.arange(N_ROWS), mode=mode, reweight_floor=floor, inner_model_params=SMALL_MODEL)
    flagged = mask.frame["flagged"].to_numpy()
    assert flagged.any()
    assert (mask.frame["weight"].to_numpy()[flagged] == flagged_weight).all()
    assert (mask.frame["weight"].to_numpy()[~flagged] == 1.0).all()


@pytest.mark.parametrize(
    "max_drop_pct", [pytest.param(0.0, id="zero-cap-flags-nothing"), pytest.param(2.5, id="half-cap")]
)
def test_cap_follows_max_drop_pct(flipped: tuple, max_drop_pct: float) -> None:
    features, labels, _ = flipped
    mask = run(features, labels, np.arange(N_ROWS), max_drop_pct=max_drop_pct, inner_model_params=SMALL_MODEL)
    for label in (0, 1):
        rows = mask.frame[mask.frame["hard_label"] == label]
        assert rows["flagged"].sum() == math.floor(max_drop_pct * len(rows) / 100.0)
    assert mask.stats["suspect_count"] > 0, "suspects are still reported when the cap flags none"


def test_same_seed_same_mask(flipped: tuple, flipped_mask: CleanlabMask) -> None:
    features, labels, _ = flipped
    again = run(features, labels, np.arange(N_ROWS), inner_model_params=SMALL_MODEL)
    pd.testing.assert_frame_equal(again.frame, flipped_mask.frame)


def test_ties_in_quality_are_broken_by_position(monkeypatch: pytest.MonkeyPatch) -> None:
    install_recording_learner(monkeypatch)
    labels = np.tile([1.0, 0.0, 0.0, 0.0, 0.0], 60)
    looks_buy = (labels == 0.0) & (np.arange(labels.size) % 3 == 0)
    signal = np.where(labels == 1.0, 0.9, np.where(looks_buy, 0.95, 0.1))
    features, label_frame = frames(labels, signal=signal)
    shuffled = np.random.default_rng(2).permutation(labels.size)
    frame = run(features, label_frame, shuffled).frame
    hold_suspects = frame[frame["suspect"] & (frame["hard_label"] == 0)]
    assert hold_suspects["label_quality"].nunique() == 1 and len(hold_suspects) > 12
    flagged = np.sort(frame.loc[frame["flagged"], "position"].to_numpy())
    assert flagged.tolist() == np.sort(hold_suspects["position"].to_numpy())[:12].tolist()


def test_off_mode_does_no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("off mode must not train or call cleanlab")

    monkeypatch.setattr("cvn_assets.core.noise.inner_cv.make_learner", forbidden)
    monkeypatch.setattr("cleanlab.filter.find_label_issues", forbidden)
    monkeypatch.setattr("cleanlab.rank.get_label_quality_scores", forbidden)
    features, labels = frames(np.tile([1.0, 0.0, 0.0, 0.0], 25))
    mask = run(features, labels, np.arange(100), mode="off")
    frame = mask.frame
    assert (frame["weight"] == 1.0).all() and not frame[["covered", "suspect", "flagged"]].any().any()
    assert frame["pred_prob_buy"].isna().all() and frame["label_quality"].isna().all()
    assert {k: mask.stats[k] for k in STAT_NAMES if k != "duration_seconds"} == {
        "suspect_count": 0,
        "flagged_count": 0,
        "drop_pct": 0.0,
        "buy_drop_pct": 0.0,
        "hold_drop_pct": 0.0,
        "coverage_pct": 0.0,
        "n_rows": 100,
    }


def one_class_first_half() -> tuple[pd.DataFrame, pd.DataFrame]:
    labels = np.concatenate([np.zeros(100), np.tile([1.0, 0.0], 50)])
    return frames(labels)


def test_covered_rows_of_one_class_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    recorder = install_recording_learner(monkeypatch)
    recorder.on_fit = lambda: setattr(clock, "now", clock.now + 100.0)
    features, labels = one_class_first_half()
    params = CleanlabParams(mode="filter")
    with pytest.raises(InsufficientDataError, match=re.escape("HOLD=100, BUY=0 among 100 covered of 200")):
        compute_cleanlab_mask(
            features, labels, np.arange(200), params, label_horizon=HORIZON, embargo_bars=EMBARGO, clock=clock
        )


def test_inner_training_slice_of_one_class_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    install_recording_learner(monkeypatch)
    features, labels = one_class_first_half()
    with pytest.raises(InsufficientDataError, match="inner CV slice of positions 100..199: .*single class"):
        run(features, labels, np.arange(200))


def test_a_single_covered_buy_row_is_too_few(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    recorder = install_recording_learner(monkeypatch)
    recorder.on_fit = lambda: setattr(clock, "now", clock.now + 100.0)
    labels = np.zeros(120)
    labels[[60, 100, 110]] = 1.0
    features, label_frame = frames(labels)
    params = CleanlabParams(mode="filter")
    with pytest.raises(InsufficientDataError, match=r"more than 1 covered row\(s\) of each class, got HOLD=34, BUY=1"):
        compute_cleanlab_mask(
            features, label_frame, np.arange(50, 120), params, label_horizon=HORIZON, embargo_bars=EMBARGO, clock=clock
        )


def test_inner_model_failure_names_the_slice_and_model(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = install_recording_learner(monkeypatch)
    recorder.on_fit = lambda: 1 / 0
    features, labels = frames(np.tile([1.0, 0.0, 0.0, 0.0], 25))
    with pytest.raises(TrainingError, match="slice of positions 0..49: inner model xgboost failed: ZeroDivisionError"):
        run(features, labels, np.arange(100))


@pytest.mark.parametrize(
    ("positions", "drop_label_rows", "error", "message"),
    [
        pytest.param(np.array([3, 4, 4, 5]), 0, ValueError, "repeats position 4", id="duplicate-position"),
        pytest.param(np.array([98, 99, 100]), 0, ValueError, r"must lie in \[0, 100\), got 98..100", id="out-of-range"),
        pytest.param(np.array([1.0, 2.0]), 0, ValueError, "integer row positions", id="float-positions"),
        pytest.param(np.arange(10), 1, ValueError, "features have 100 rows but labels have 99", id="unaligned-frames"),
    ],
)
def test_bad_inputs_are_rejected(
    positions: np.ndarray, drop_label_rows: int, error: type[Exception], message: str
) -> None:
    features, labels = frames(np.tile([1.0, 0.0, 0.0, 0.0], 25))
    with pytest.raises(error, match=message):
        run(features, labels.iloc[: len(labels) - drop_label_rows], positions)


def test_unlabeled_training_row_is_named() -> None:
    labels = np.tile([1.0, 0.0, 0.0, 0.0], 25)
    labels[42] = np.nan
    features, label_frame = frames(labels)
    with pytest.raises(InsufficientDataError, match="training position 42 has label nan"):
        run(features, label_frame, np.arange(100))


def test_misaligned_timestamps_are_named() -> None:
    features, labels = frames(np.tile([1.0, 0.0, 0.0, 0.0], 25))
    labels["timestamp"] = labels["timestamp"].shift(1, fill_value=labels["timestamp"].iloc[0])
    with pytest.raises(ValueError, match="features and labels disagree at position 1"):
        run(features, labels, np.arange(100))


def test_label_issues_found_on_several_threads_at_once_are_each_threads_own() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from cvn_assets.core.noise.mask import _label_issues

    rng = np.random.default_rng(3)
    cases = []
    for size in (3000, 4100, 5200, 6300):
        hard = (rng.random(size) < 0.3).astype(int)
        probs = np.clip(0.3 + 0.4 * hard + rng.normal(0, 0.25, size), 0.01, 0.99)
        cases.append((hard, probs))
    expected = [_label_issues(hard, probs, hard.size)[0] for hard, probs in cases]
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        for _ in range(15):
            found = list(pool.map(lambda case: _label_issues(case[0], case[1], case[0].size)[0], cases))
            assert all(np.array_equal(f, e) for f, e in zip(found, expected, strict=True))
