import numpy as np
import pytest

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.labels.smoothing import SmoothingParams, smooth_labels


@pytest.mark.parametrize(
    ("eps_buy", "eps_hold", "expected"),
    [
        pytest.param(0.0, 0.0, [1.0, 0.0], id="none-is-identity"),
        pytest.param(0.15, 0.075, [0.85, 0.075], id="mild"),
        pytest.param(0.30, 0.15, [0.70, 0.15], id="aggressive"),
    ],
)
def test_smoothing_maps_buy_and_hold_asymmetrically(eps_buy: float, eps_hold: float, expected: list[float]) -> None:
    assert smooth_labels(np.array([1, 0]), SmoothingParams(eps_buy, eps_hold)).tolist() == pytest.approx(expected)


@pytest.mark.parametrize(
    ("eps_buy", "eps_hold", "message"),
    [
        pytest.param(0.6, 0.1, "eps_buy=0.6 is outside [0, 0.5]", id="buy-above-half-would-flip-labels"),
        pytest.param(-0.1, 0.0, "eps_buy=-0.1 is outside", id="negative-buy"),
        pytest.param(0.1, 0.2, "eps_hold=0.2 is outside [0, eps_buy=0.1]", id="hold-above-buy"),
    ],
)
def test_guardrails_name_the_bound(eps_buy: float, eps_hold: float, message: str) -> None:
    with pytest.raises(CatalogueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        SmoothingParams(eps_buy, eps_hold)


def test_soft_input_is_rejected() -> None:
    with pytest.raises(CatalogueError, match="hard 0/1 labels"):
        smooth_labels(np.array([0.5, 1.0]), SmoothingParams(0.1, 0.05))
