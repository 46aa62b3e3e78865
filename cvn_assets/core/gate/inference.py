"""Confidence interval, significance test and MDE of the mean Δf1_buy, by one of three methods.

The (crypto, fold) cells of a sweep are not independent draws: a crypto's folds share its history
(expanding windows), so its deltas move together. The methods differ in what they treat as the
independent unit:

- `cluster_t` (default): the crypto. A cluster-robust t on the cell mean with n_crypto − 1 degrees
  of freedom; with equal folds per crypto it is exactly the one-sample t test of the per-crypto mean
  deltas. Its p-value is the significance test: a rank or sign test on 5 per-crypto means cannot go
  below 2 / 2⁵ = 0.0625, so it could never pass at α 0.05.
- `two_stage_bootstrap`: cryptos resampled, then folds within each drawn crypto; percentile CI and
  the p-value of inverting it. Its MDE is the cluster t's.
- `cell_bootstrap`: the earlier method, kept to compare with: cells resampled as if independent,
  paired Wilcoxon signed-rank on the cells, MDE of a paired t on the cells.

docs/gate-error-rates.md gives each method's coverage and false-LOCK rate measured by simulation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.gate.statistics import bootstrap_mean_ci, minimum_detectable_effect, wilcoxon_p
from cvn_assets.core.gate.thresholds import GateThresholds

CLUSTER_LEVEL = "crypto"
# Per-crypto means closer than this are equal: deltas of f1 scores carry rounding noise near 1e-17,
# which the t test would otherwise read as a spread and divide by.
NO_SPREAD = 1e-12
METHOD_LABELS: dict[str, str] = {
    "cluster_t": "cluster-robust t on per-crypto means (n_crypto − 1 df)",
    "two_stage_bootstrap": "two-stage bootstrap (cryptos, then folds within each crypto)",
    "cell_bootstrap": "cell bootstrap + cell Wilcoxon (cells treated as independent)",
}


@dataclass(frozen=True)
class Inference:
    """CI of the mean delta, two-sided p-value against 0 (with how it was obtained) and the MDE."""

    method: str
    ci: tuple[float, float]
    p_value: float
    p_note: str
    mde: float


NOTHING = Inference("", (math.nan, math.nan), math.nan, "no valid pair", math.nan)


def infer(deltas: pd.Series, thresholds: GateThresholds) -> Inference:
    """The inference of `thresholds.inference` on deltas indexed by (crypto, fold)."""
    method = thresholds.inference
    if method == "cluster_t":
        return _cluster_t(deltas, thresholds)
    if method == "two_stage_bootstrap":
        return _two_stage(deltas, thresholds)
    if method == "cell_bootstrap":
        return _cell(deltas, thresholds)
    raise CatalogueError(f"GateThresholds.inference {method!r} is not a known inference method")


def cluster_pseudo_means(deltas: pd.Series) -> np.ndarray:
    """One value per crypto whose mean is the cell mean and whose one-sample t is the cluster-robust t.

    z_g = ȳ + G·n_g·(ȳ_g − ȳ)/N, for G cryptos, n_g pairs of crypto g and N pairs in all. Then
    mean(z) = ȳ and var(z)/G = G/(G − 1)·Σ_g n_g²(ȳ_g − ȳ)²/N², the CR1 cluster-robust variance of
    the cell mean; with equal n_g, z_g is the per-crypto mean ȳ_g. Written out because no cluster-
    robust estimator ships with scipy, and this lets scipy's one-sample t do the rest.
    """
    codes, _ = pd.factorize(deltas.index.get_level_values(CLUSTER_LEVEL), sort=True)
    values = deltas.to_numpy(dtype=float)
    counts = np.bincount(codes).astype(float)
    means = np.bincount(codes, weights=values) / counts
    grand = float(values.mean())
    pseudo_means: npt.NDArray[np.float64] = grand + means.size * counts * (means - grand) / counts.sum()
    return pseudo_means


def cluster_t_interval(z: np.ndarray, confidence_level: float) -> tuple[tuple[float, float], float]:
    """CI of the mean and two-sided p-value against 0 of the one-sample t on the per-crypto pseudo-means
    `z` (see `cluster_pseudo_means`); NaN below 2 cryptos."""
    if z.size < 2:
        return (math.nan, math.nan), math.nan
    centre = float(z.mean())
    if float(np.ptp(z)) <= NO_SPREAD:
        # Every crypto moved by exactly the same amount: no between-crypto spread, the CI is the point.
        return (centre, centre), 1.0 if centre == 0.0 else 0.0
    result = stats.ttest_1samp(z, 0.0)
    interval = result.confidence_interval(confidence_level)
    return (float(interval.low), float(interval.high)), float(result.pvalue)


def two_stage_bootstrap_means(deltas: pd.Series, n_resamples: int, seed: int) -> np.ndarray:
    """Cell means of `n_resamples` two-stage resamples: cryptos with replacement, then each drawn
    crypto's folds with replacement (as many as it has); each resample's mean weighs its cells equally.

    Vectorised by hand: scipy.stats.bootstrap resamples one level only.
    """
    codes, _ = pd.factorize(deltas.index.get_level_values(CLUSTER_LEVEL), sort=True)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    widest = int(counts.max())
    padded = np.zeros((counts.size, widest))
    padded[codes[order], np.arange(codes.size) - starts[codes[order]]] = deltas.to_numpy(dtype=float)[order]
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, counts.size, size=(n_resamples, counts.size))
    drawn_counts = counts[drawn]
    folds = np.floor(rng.random((n_resamples, counts.size, widest)) * drawn_counts[..., None]).astype(int)
    used = np.arange(widest) < drawn_counts[..., None]
    values = padded[drawn[..., None], folds] * used
    resample_means: npt.NDArray[np.float64] = values.sum(axis=(1, 2)) / drawn_counts.sum(axis=1)
    return resample_means


def _cluster_mde(z: np.ndarray, thresholds: GateThresholds) -> float:
    if z.size < 2:
        return math.nan
    return minimum_detectable_effect(float(np.std(z, ddof=1)), z.size, thresholds.alpha, thresholds.mde_power)


def _cluster_t(deltas: pd.Series, thresholds: GateThresholds) -> Inference:
    z = cluster_pseudo_means(deltas)
    ci, p_value = cluster_t_interval(z, thresholds.ci_level)
    note = (
        f"cluster-robust t on {z.size} cryptos ({z.size - 1} df)"
        if z.size >= 2
        else f"cluster-robust t needs at least 2 cryptos, got {z.size}"
    )
    return Inference("cluster_t", ci, p_value, note, _cluster_mde(z, thresholds))


def _two_stage(deltas: pd.Series, thresholds: GateThresholds) -> Inference:
    cryptos = deltas.index.get_level_values(CLUSTER_LEVEL).nunique()
    if cryptos < 2:
        note = f"two-stage bootstrap needs at least 2 cryptos, got {cryptos}"
        return Inference("two_stage_bootstrap", (math.nan, math.nan), math.nan, note, math.nan)
    resamples = thresholds.bootstrap_resamples
    means = two_stage_bootstrap_means(deltas, resamples, thresholds.bootstrap_seed)
    tail = (1.0 - thresholds.ci_level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    # The p-value of inverting the percentile interval: twice the smaller share of resampled means on
    # either side of 0, counted with the observed sweep so it is never 0.
    beyond = min(int(np.count_nonzero(means <= 0.0)), int(np.count_nonzero(means >= 0.0)))
    p_value = min(1.0, 2.0 * (beyond + 1) / (resamples + 1))
    note = f"two-stage bootstrap over {cryptos} cryptos ({resamples} resamples)"
    return Inference(
        "two_stage_bootstrap",
        (float(low), float(high)),
        p_value,
        note,
        _cluster_mde(cluster_pseudo_means(deltas), thresholds),
    )


def _cell(deltas: pd.Series, thresholds: GateThresholds) -> Inference:
    values = deltas.to_numpy(dtype=float)
    ci, mde = (math.nan, math.nan), math.nan
    if values.size >= 2:
        ci = bootstrap_mean_ci(values, thresholds.bootstrap_resamples, thresholds.ci_level, thresholds.bootstrap_seed)
        mde = minimum_detectable_effect(
            float(np.std(values, ddof=1)), values.size, thresholds.alpha, thresholds.mde_power
        )
    wilcoxon = wilcoxon_p(values)
    return Inference("cell_bootstrap", ci, wilcoxon.p_value, wilcoxon.note, mde)
