"""The gate's error rates on simulated sweeps: the default method within its targets, the cell method not."""

from __future__ import annotations

import pandas as pd
import pytest

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.gate.simulation import SimulationSettings, simulate
from cvn_assets.core.gate.thresholds import DEFAULT_INFERENCE

NULL_AT_HALF = SimulationSettings(
    n_sweeps=300, rhos=(0.5,), lifts=(0.0,), bootstrap_resamples=200, methods=(DEFAULT_INFERENCE, "cell_bootstrap")
)


@pytest.fixture(scope="module")
def null_rates() -> pd.DataFrame:
    return simulate(NULL_AT_HALF).set_index("method")


def test_the_default_method_keeps_false_lock_and_coverage_within_targets(null_rates: pd.DataFrame) -> None:
    default = null_rates.loc[DEFAULT_INFERENCE]
    assert default["lock_rate"] <= NULL_AT_HALF.target_false_lock
    assert default["coverage"] >= NULL_AT_HALF.target_coverage
    # A CI95 leaves 2.5 % on each side: harm is "shown" about that often when there is none.
    assert default["abandon_rate"] <= 0.05


def test_the_cell_method_misses_the_coverage_target_when_folds_of_a_crypto_correlate(null_rates: pd.DataFrame) -> None:
    cell = null_rates.loc["cell_bootstrap"]
    assert cell["coverage"] < NULL_AT_HALF.target_coverage
    assert cell["abandon_rate"] > null_rates.loc[DEFAULT_INFERENCE, "abandon_rate"]


def test_a_true_lift_is_locked_more_often_than_none() -> None:
    settings = SimulationSettings(n_sweeps=100, rhos=(0.25,), lifts=(0.0, 0.03), methods=(DEFAULT_INFERENCE,))
    rates = simulate(settings).set_index("lift")["lock_rate"]
    assert rates[0.03] > 0.5 > 0.05 >= rates[0.0]


def test_the_same_seed_gives_the_same_table() -> None:
    settings = SimulationSettings(n_sweeps=20, rhos=(0.5,), lifts=(0.0, 0.015), bootstrap_resamples=100)
    first = simulate(settings)
    pd.testing.assert_frame_equal(first, simulate(settings))
    other = simulate(SimulationSettings(n_sweeps=20, rhos=(0.5,), lifts=(0.0, 0.015), bootstrap_resamples=100, seed=1))
    assert not other["mean_ci_width"].equals(first["mean_ci_width"])


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param({"rhos": (1.0,)}, "rhos must lie in", id="correlation of 1"),
        pytest.param({"lifts": (0.015,)}, "lifts must include 0", id="no null"),
        pytest.param({"methods": ("sandwich",)}, "unknown \\['sandwich'\\]", id="unknown method"),
        pytest.param({"n_cryptos": 1}, "n_cryptos must be at least 2", id="one crypto"),
        pytest.param({"delta_sd": 0.0}, "delta_sd must be a positive number", id="no spread"),
        pytest.param({"bootstrap_resamples": 10}, "bootstrap_resamples must be at least 100", id="too few resamples"),
    ],
)
def test_bad_settings_name_the_setting(change: dict, match: str) -> None:
    with pytest.raises(CatalogueError, match=match):
        SimulationSettings(**change)
