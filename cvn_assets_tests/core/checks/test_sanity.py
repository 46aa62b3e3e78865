import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.checks.sanity import (
    SanityThresholds,
    blocking_failures_by_variant,
    cleanlab_cap_sanity,
    degenerate_metrics_sanity,
    label_sanity,
    prediction_sanity,
    training_targets_sanity,
)
from cvn_assets.core.errors import CatalogueError


def _labels(buy_every: int, tail_labeled: bool = False) -> pd.DataFrame:
    label = np.where(np.arange(100) % buy_every == 0, 1.0, 0.0)
    if not tail_labeled:
        label[-4:] = np.nan
    return pd.DataFrame({"label": label})


@pytest.mark.parametrize(
    ("labels", "passed"),
    [
        pytest.param(_labels(5), True, id="buy-rate-20pct-in-band"),
        pytest.param(_labels(50), False, id="buy-rate-2pct-below-band"),
        pytest.param(_labels(5, tail_labeled=True), False, id="label-in-the-unlabeled-tail"),
    ],
)
def test_label_sanity(labels: pd.DataFrame, passed: bool) -> None:
    outcome = label_sanity(labels, horizon=4)
    assert outcome.passed is passed
    assert outcome.threshold == "[0.05, 0.4]"


def test_band_guardrail() -> None:
    with pytest.raises(CatalogueError, match="buy_rate band"):
        SanityThresholds(buy_rate_min=0.5, buy_rate_max=0.2)


@pytest.mark.parametrize(
    ("targets", "positions", "passed"),
    [
        pytest.param([0.85, 0.075], [1, 2], True, id="smoothed-and-in-window"),
        pytest.param([1.2, 0.0], [1, 2], False, id="target-above-one"),
        pytest.param([1.0, 0.0], [1, 99], False, id="row-outside-training-window"),
    ],
)
def test_training_targets_sanity(targets: list[float], positions: list[int], passed: bool) -> None:
    frame = pd.DataFrame({"position": positions, "target": targets})
    assert training_targets_sanity(frame, np.array([1, 2, 3])).passed is passed


@pytest.mark.parametrize(("buy_flagged", "passed"), [(2, True), (3, False)])
def test_cleanlab_cap_is_per_class(buy_flagged: int, passed: bool) -> None:
    # 40 BUY rows at a 5 % cap allow 2 flags; 200 HOLD rows allow 10.
    mask = pd.DataFrame(
        {
            "hard_label": [1] * 40 + [0] * 200,
            "flagged": [True] * buy_flagged + [False] * (40 - buy_flagged) + [True] * 10 + [False] * 190,
        }
    )
    outcome = cleanlab_cap_sanity(mask, 5.0)
    assert outcome.passed is passed
    assert "BUY flagged" in outcome.detail and "(cap 2)" in outcome.detail


@pytest.mark.parametrize(("p", "passed"), [([0.1, 0.9], True), ([0.1, np.nan], False), ([1.2, 0.5], False)])
def test_prediction_sanity(p: list[float], passed: bool) -> None:
    assert prediction_sanity(pd.DataFrame({"p": p})).passed is passed


def test_degenerate_ece_on_an_ok_row_fails_and_blocks_the_variant() -> None:
    rows = pd.DataFrame(
        {
            "crypto": ["BTC", "BTC"],
            "fold": ["f1", "f1"],
            "variant": ["none", "mild"],
            "model": ["xgboost"] * 2,
            "status": ["ok", "ok"],
            "ece": [0.03, 0.0],
            "ece_hold": [0.02, 0.0],
            "brier": [0.15, 0.16],
            "log_loss": [0.5, 0.5],
        }
    )
    outcome = degenerate_metrics_sanity(rows)
    assert not outcome.passed and "BTC/f1/mild/xgboost: ece, ece_hold" in outcome.detail
    assert blocking_failures_by_variant(rows) == {"mild": ["degenerate ece, ece_hold on BTC f1 xgboost"]}
    assert degenerate_metrics_sanity(rows.iloc[:1]).passed


def test_failed_training_rows_are_not_degenerate() -> None:
    rows = pd.DataFrame(
        {
            "crypto": ["BTC"],
            "fold": ["f1"],
            "variant": ["mild"],
            "model": ["xgboost"],
            "status": ["training_failed"],
            "ece": [np.nan],
            "ece_hold": [np.nan],
            "brier": [np.nan],
            "log_loss": [np.nan],
        }
    )
    assert degenerate_metrics_sanity(rows).passed
