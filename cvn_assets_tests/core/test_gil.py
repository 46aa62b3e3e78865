"""The switch interval while cells compute at once: shortened inside the block, restored after it."""

import sys

import pytest

from cvn_assets.core.gil import COMPUTE_SWITCH_INTERVAL, short_switch_interval


def test_the_interval_is_short_inside_and_restored_after_even_on_error() -> None:
    before = sys.getswitchinterval()
    assert before > COMPUTE_SWITCH_INTERVAL  # the interpreter's default, 5 ms
    with short_switch_interval():
        assert sys.getswitchinterval() == pytest.approx(COMPUTE_SWITCH_INTERVAL)
    assert sys.getswitchinterval() == before
    with pytest.raises(RuntimeError), short_switch_interval():
        raise RuntimeError("a failing computation")
    assert sys.getswitchinterval() == before


def test_an_already_shorter_interval_is_kept() -> None:
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(COMPUTE_SWITCH_INTERVAL / 2)
        with short_switch_interval():
            assert sys.getswitchinterval() == pytest.approx(COMPUTE_SWITCH_INTERVAL / 2)
    finally:
        sys.setswitchinterval(before)
