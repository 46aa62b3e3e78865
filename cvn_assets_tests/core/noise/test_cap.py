"""The per-class cap of the cleanlab mask: one exact formula, shared by the mask and its sanity check."""

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.checks.sanity import cleanlab_cap_sanity
from cvn_assets.core.noise.mask import _cap_per_class, per_class_cap

# (max_drop_pct, class rows, floor(pct % of rows) worked out by hand in decimal arithmetic).
HAND_CAPS = [
    pytest.param(0.7, 1000, 7, id="0.7pct-of-1000-is-7-not-6"),
    pytest.param(2.28, 2500, 57, id="2.28pct-of-2500-is-57-not-56"),
    pytest.param(4.56, 1250, 57, id="4.56pct-of-1250-is-57-not-56"),
    pytest.param(2.8, 2750, 77, id="2.8pct-of-2750-is-77-not-76"),
    pytest.param(5.0, 20, 1, id="whole-number-cap"),
    pytest.param(5.0, 19, 0, id="just-below-one-row"),
    pytest.param(5, 40, 2, id="integer-setting"),
    pytest.param(0.0, 5000, 0, id="zero-pct-flags-nothing"),
    pytest.param(1.5, 999, 14, id="fraction-floored-14.985"),
    pytest.param(0.1, 0, 0, id="empty-class"),
]


@pytest.mark.parametrize(("pct", "rows", "cap"), HAND_CAPS)
def test_cap_is_the_exact_decimal_floor(pct: float, rows: int, cap: int) -> None:
    assert per_class_cap(pct, rows) == cap


def test_numpy_float_setting_gives_the_same_cap() -> None:
    assert per_class_cap(np.float64(0.7), 1000) == 7


@pytest.mark.parametrize(("pct", "rows", "cap"), HAND_CAPS[:4])
def test_mask_flags_exactly_the_cap_when_every_row_is_suspect(pct: float, rows: int, cap: int) -> None:
    hard = np.r_[np.ones(rows, dtype=int), np.zeros(rows, dtype=int)]
    flagged = _cap_per_class(
        hard, np.ones(hard.size, dtype=bool), np.linspace(0, 1, hard.size), np.arange(hard.size), pct
    )
    assert flagged[hard == 1].sum() == cap and flagged[hard == 0].sum() == cap


@pytest.mark.parametrize(("pct", "rows", "cap"), HAND_CAPS[:4])
def test_sanity_check_accepts_the_cap_and_refuses_one_row_more(pct: float, rows: int, cap: int) -> None:
    def mask(buy_flagged: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "hard_label": [1] * rows + [0] * rows,
                "flagged": [True] * buy_flagged + [False] * (2 * rows - buy_flagged),
            }
        )

    at_cap = cleanlab_cap_sanity(mask(cap), pct)
    assert at_cap.passed, at_cap.detail
    assert f"BUY flagged {cap} of {rows} (cap {cap})" in at_cap.detail
    assert not cleanlab_cap_sanity(mask(cap + 1), pct).passed
