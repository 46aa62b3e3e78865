"""Paired statistics on inputs small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.gate.statistics import (
    benjamini_hochberg,
    bootstrap_mean_ci,
    cohens_d_paired,
    minimum_detectable_effect,
    wilcoxon_p,
)

SPREAD_DELTAS = np.array([0.01, 0.03, -0.02, 0.05, 0.02, 0.00, 0.04, -0.01, 0.03, 0.02])


@pytest.mark.parametrize(
    ("deltas", "expected"),
    [
        pytest.param([1.0, 2.0, 3.0], 2.0, id="mean 2 over sd 1"),
        pytest.param([-1.0, -2.0, -3.0], -2.0, id="sign follows the mean"),
        pytest.param([0.0, 0.1, 0.2, 0.3], 0.15 / math.sqrt(0.05 / 3), id="sd uses ddof 1"),
    ],
)
def test_cohens_d_matches_hand_value(deltas: list[float], expected: float) -> None:
    assert cohens_d_paired(deltas) == pytest.approx(expected)


@pytest.mark.parametrize(
    "deltas",
    [pytest.param([0.02, 0.02, 0.02], id="constant deltas have sd 0"), pytest.param([0.3], id="single pair")],
)
def test_cohens_d_is_nan_when_undefined(deltas: list[float]) -> None:
    assert math.isnan(cohens_d_paired(deltas))


def test_benjamini_hochberg_matches_hand_computation() -> None:
    # Sorted p: 0.01, 0.03, 0.04, 0.20 → p·m/rank: 0.04, 0.06, 0.0533, 0.20; the running minimum
    # from the largest rank down gives 0.04, 0.0533, 0.0533, 0.20.
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.20])
    np.testing.assert_allclose(adjusted, [0.04, 0.16 / 3, 0.16 / 3, 0.20])


def test_benjamini_hochberg_with_one_test_is_identity() -> None:
    np.testing.assert_allclose(benjamini_hochberg([0.037]), [0.037])


def test_benjamini_hochberg_counts_an_untested_variant_in_m() -> None:
    adjusted = benjamini_hochberg([0.01, math.nan])
    assert adjusted[0] == pytest.approx(0.02)  # m = 2, not 1
    assert math.isnan(adjusted[1])


def test_benjamini_hochberg_refuses_an_empty_list() -> None:
    with pytest.raises(InsufficientDataError, match="non-empty"):
        benjamini_hochberg([])


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    first = bootstrap_mean_ci(SPREAD_DELTAS, n_resamples=2000, confidence_level=0.95, seed=11)
    again = bootstrap_mean_ci(SPREAD_DELTAS, n_resamples=2000, confidence_level=0.95, seed=11)
    other = bootstrap_mean_ci(SPREAD_DELTAS, n_resamples=2000, confidence_level=0.95, seed=12)
    assert first == again
    assert first != other


def test_bootstrap_interval_brackets_the_mean_and_widens_with_the_level() -> None:
    narrow = bootstrap_mean_ci(SPREAD_DELTAS, n_resamples=2000, confidence_level=0.5, seed=3)
    wide = bootstrap_mean_ci(SPREAD_DELTAS, n_resamples=2000, confidence_level=0.95, seed=3)
    assert wide[0] < narrow[0] < SPREAD_DELTAS.mean() < narrow[1] < wide[1]


def test_bootstrap_of_constant_deltas_is_the_point_itself() -> None:
    assert bootstrap_mean_ci([0.02] * 6, n_resamples=500, confidence_level=0.95, seed=0) == pytest.approx((0.02, 0.02))


@pytest.mark.parametrize(
    ("deltas", "match"),
    [
        pytest.param([0.1], "at least 2", id="one pair cannot be resampled"),
        pytest.param([0.1, math.nan], "non-finite", id="NaN delta"),
    ],
)
def test_bootstrap_refuses_bad_input(deltas: list[float], match: str) -> None:
    with pytest.raises(InsufficientDataError, match=match):
        bootstrap_mean_ci(deltas, n_resamples=500, confidence_level=0.95, seed=0)


def test_wilcoxon_exact_p_for_five_positive_deltas() -> None:
    # All 5 signs positive: exact two-sided p = 2 · (1/2)^5.
    assert wilcoxon_p([0.1, 0.2, 0.3, 0.4, 0.5]).p_value == pytest.approx(2 / 32)


def test_wilcoxon_drops_zero_deltas_and_says_so() -> None:
    result = wilcoxon_p([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert result.p_value == pytest.approx(2 / 32)
    assert "1 zero deltas dropped" in result.note


def test_wilcoxon_of_all_zero_deltas_is_one_with_a_note() -> None:
    result = wilcoxon_p([0.0] * 8)
    assert result.p_value == 1.0
    assert "exactly 0" in result.note


def test_wilcoxon_refuses_no_pairs() -> None:
    with pytest.raises(InsufficientDataError, match="at least 1"):
        wilcoxon_p([])


@pytest.mark.parametrize(
    ("n", "standardized_mde"),
    [
        # One-sample/paired t test, two-sided α 0.05, power 0.8 (published power tables, G*Power).
        pytest.param(25, 0.584, id="25 pairs: d 0.584"),
        pytest.param(10, 0.996, id="10 pairs: d about 1"),
    ],
)
def test_mde_matches_t_test_power_tables(n: int, standardized_mde: float) -> None:
    assert minimum_detectable_effect(0.05, n, alpha=0.05, power=0.8) == pytest.approx(0.05 * standardized_mde, abs=5e-5)


def test_mde_reaches_the_requested_power() -> None:
    sd, n = 0.04, 25
    mde = minimum_detectable_effect(sd, n, alpha=0.05, power=0.8)
    critical = stats.t.ppf(0.975, n - 1)
    noncentrality = mde * math.sqrt(n) / sd
    power = stats.nct.sf(critical, n - 1, noncentrality) + stats.nct.cdf(-critical, n - 1, noncentrality)
    assert power == pytest.approx(0.8, abs=1e-6)


def test_mde_approaches_the_normal_approximation_for_many_pairs() -> None:
    normal = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * 0.05 / math.sqrt(10_000)
    assert minimum_detectable_effect(0.05, 10_000, alpha=0.05, power=0.8) == pytest.approx(normal, rel=1e-3)


@pytest.mark.parametrize(
    ("sd", "n", "expected"),
    [
        pytest.param(0.0, 25, 0.0, id="no spread: any shift is detected"),
        pytest.param(0.05, 1, math.nan, id="one pair: undefined"),
        pytest.param(math.nan, 25, math.nan, id="unknown spread: undefined"),
    ],
)
def test_mde_edge_cases(sd: float, n: int, expected: float) -> None:
    result = minimum_detectable_effect(sd, n, alpha=0.05, power=0.8)
    assert (math.isnan(result) and math.isnan(expected)) or result == expected


def test_bootstrap_is_the_percentile_interval_of_resampled_means() -> None:
    """Reference: the 2.5 % and 97.5 % quantiles of 50,000 means of resamples drawn with numpy alone.

    A skewed sample (eight zeros, 0.1 and 0.5) tells the percentile interval [0.0, 0.16] apart from the
    basic one, 2·mean − the reversed quantiles = [−0.04, 0.12], and from any symmetric one.
    """
    deltas = np.array([0.0] * 8 + [0.1, 0.5])
    rng = np.random.default_rng(1)
    means = deltas[rng.integers(0, deltas.size, (50_000, deltas.size))].mean(axis=1)
    reference = np.quantile(means, [0.025, 0.975])
    assert reference == pytest.approx([0.0, 0.16], abs=1e-9)
    assert bootstrap_mean_ci(deltas, n_resamples=20_000, confidence_level=0.95, seed=3) == pytest.approx(
        tuple(reference), abs=0.011
    )
