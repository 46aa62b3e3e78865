"""The gate's inference methods against textbook formulas, scipy, and the bootstrap's known variance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cvn_assets.core.gate.inference import infer, two_stage_bootstrap_means
from cvn_assets.core.gate.thresholds import GateThresholds

CLUSTER = GateThresholds(inference="cluster_t")


def deltas(by_crypto: dict[str, list[float]]) -> pd.Series:
    cells = [(crypto, fold, value) for crypto, values in by_crypto.items() for fold, value in enumerate(values)]
    index = pd.MultiIndex.from_tuples([(c, f) for c, f, _ in cells], names=["crypto", "fold"])
    return pd.Series([v for _, _, v in cells], index=index)


# Per-crypto means 0.01 … 0.05 (fold offsets ±0.01 around each, summing to 0).
BALANCED = deltas(
    {
        c: [m - 0.01, m - 0.005, m, m + 0.005, m + 0.01]
        for c, m in zip("ABCDE", [0.01, 0.02, 0.03, 0.04, 0.05], strict=True)
    }
)


def test_cluster_t_is_the_textbook_t_interval_of_the_per_crypto_means() -> None:
    # mean 0.03; s = √((4 + 1 + 0 + 1 + 4)·1e-4 / 4) = 0.0158114; SE = s/√5 = 0.00707107;
    # t(0.975, 4 df) = 2.776445 (tables): CI 0.03 ± 0.0196324; t = 4.24264, two-sided p = 0.01324.
    result = infer(BALANCED, CLUSTER)
    assert result.ci == pytest.approx((0.0103676, 0.0496324), abs=1e-6)
    assert result.p_value == pytest.approx(0.01324, abs=1e-5)
    assert "5 cryptos (4 df)" in result.p_note


def test_cluster_t_matches_scipy_on_the_per_crypto_means_of_random_balanced_sweeps() -> None:
    rng = np.random.default_rng(5)
    for _ in range(5):
        sweep = deltas({c: list(rng.normal(0.01, 0.03, 4)) for c in "ABCDEF"})
        reference = stats.ttest_1samp(sweep.groupby(level="crypto").mean(), 0.0)
        interval = reference.confidence_interval(0.95)
        result = infer(sweep, CLUSTER)
        assert result.ci == pytest.approx((interval.low, interval.high), rel=1e-9)
        assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)


def test_cluster_t_with_unequal_folds_is_the_cr1_cluster_robust_t_of_the_cell_mean() -> None:
    sweep = deltas({"A": [0.01, 0.03], "B": [0.05], "C": [0.00, 0.02, 0.04]})
    # Cell mean 0.15 / 6 = 0.025. CR1 variance: G/(G − 1) · Σ_g (Σ_cells of g (y − ȳ))² / N²
    # = 3/2 · ((−0.01)² + 0.025² + (−0.015)²) / 36 = 3.9583e-5; SE 0.00629153; t(0.975, 2 df) = 4.302653.
    totals = [-0.01, 0.025, -0.015]
    se = math.sqrt(3 / 2 * sum(t * t for t in totals) / 36)
    result = infer(sweep, CLUSTER)
    assert result.ci == pytest.approx((0.025 - 4.302653 * se, 0.025 + 4.302653 * se), abs=1e-6)
    assert result.ci == pytest.approx((-0.002071, 0.052071), abs=1e-6)


def test_cluster_mde_gives_the_t_test_on_the_cryptos_80_percent_power() -> None:
    result = infer(BALANCED, CLUSTER)
    se, critical = 0.0158114 / math.sqrt(5), stats.t.ppf(0.975, 4)
    noncentrality = result.mde / se
    power = stats.nct.sf(critical, 4, noncentrality) + stats.nct.cdf(-critical, 4, noncentrality)
    assert power == pytest.approx(0.8, abs=1e-5)


@pytest.mark.parametrize("method", ["cluster_t", "two_stage_bootstrap"])
def test_one_crypto_gives_no_interval_and_says_why(method: str) -> None:
    result = infer(deltas({"A": [0.01, 0.02, 0.03]}), GateThresholds(inference=method))  # type: ignore[arg-type]
    assert math.isnan(result.ci[0]) and math.isnan(result.p_value) and math.isnan(result.mde)
    assert "at least 2 cryptos, got 1" in result.p_note


def test_two_stage_bootstrap_variance_is_its_closed_form() -> None:
    # Cryptos drawn with replacement, then each drawn crypto's m folds: the resampled cell mean of a
    # balanced sweep has variance [ (1/G)Σ(ȳ_g − ȳ)² + (1/G)Σ σ̂²_g / m ] / G, σ̂²_g with divisor m.
    sweep = deltas({"A": [0.0, 0.02, 0.07], "B": [0.03, 0.01, 0.02], "C": [-0.02, 0.05, 0.0], "D": [0.04, 0.04, 0.1]})
    table = sweep.unstack("fold").to_numpy()
    g, m = table.shape
    between = np.mean((table.mean(axis=1) - table.mean()) ** 2)
    within = np.mean(table.var(axis=1, ddof=0)) / m
    means = two_stage_bootstrap_means(sweep, n_resamples=200_000, seed=1)
    assert means.mean() == pytest.approx(table.mean(), abs=3e-4)
    assert means.var() == pytest.approx((between + within) / g, rel=0.02)


def test_two_stage_bootstrap_draws_each_crypto_with_its_own_fold_count() -> None:
    sweep = deltas({"A": [1.0], "B": [0.0, 0.0, 0.0]})
    means = two_stage_bootstrap_means(sweep, n_resamples=40_000, seed=2)
    # Resamples: AA → 1, BB → 0, AB or BA → 1/4 (one A cell among four): mean (1 + 0.5) / 4 = 0.375.
    assert set(np.round(means, 12)) == {0.0, 0.25, 1.0}
    assert means.mean() == pytest.approx(0.375, abs=0.01)


def test_two_stage_bootstrap_p_counts_the_observed_sweep_when_no_resample_crosses_zero() -> None:
    thresholds = GateThresholds(inference="two_stage_bootstrap", bootstrap_resamples=999)
    result = infer(BALANCED + 0.1, thresholds)
    assert result.p_value == pytest.approx(2 / 1000)
    assert result.ci[0] > 0.0


def test_two_stage_bootstrap_is_deterministic_for_a_seed() -> None:
    first = infer(BALANCED, GateThresholds(inference="two_stage_bootstrap", bootstrap_seed=3))
    again = infer(BALANCED, GateThresholds(inference="two_stage_bootstrap", bootstrap_seed=3))
    other = infer(BALANCED, GateThresholds(inference="two_stage_bootstrap", bootstrap_seed=4))
    assert first == again and first.ci != other.ci


def test_the_earlier_cell_method_stays_selectable() -> None:
    result = infer(BALANCED, GateThresholds(inference="cell_bootstrap"))
    assert result.p_value == pytest.approx(stats.wilcoxon(BALANCED.to_numpy()).pvalue)
    assert result.ci[0] < BALANCED.mean() < result.ci[1]
    # Narrower than the cluster interval: it counts 25 independent cells where there are 5 cryptos.
    cluster = infer(BALANCED, CLUSTER).ci
    assert result.ci[1] - result.ci[0] < cluster[1] - cluster[0]
