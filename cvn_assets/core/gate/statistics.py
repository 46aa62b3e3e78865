"""Paired statistics of the gate: bootstrap CI, Wilcoxon, Benjamini–Hochberg, Cohen's d, MDE.

Every function takes the paired deltas (variant − baseline, one per (crypto, fold) cell) as a
1-D array of finite floats.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, stats

from cvn_assets.core.errors import InsufficientDataError


@dataclass(frozen=True)
class WilcoxonResult:
    """Two-sided paired Wilcoxon signed-rank p-value and a note on how it was obtained."""

    p_value: float
    note: str


def as_deltas(deltas: ArrayLike, what: str = "deltas") -> np.ndarray:
    """Return `deltas` as a 1-D float array, refusing NaN or infinite values."""
    values = np.asarray(deltas, dtype=float)
    if values.ndim != 1:
        raise InsufficientDataError(f"{what} must be one-dimensional, got shape {values.shape}")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise InsufficientDataError(f"{what} must be finite; non-finite values at positions {bad.tolist()}")
    return values


def bootstrap_mean_ci(deltas: ArrayLike, n_resamples: int, confidence_level: float, seed: int) -> tuple[float, float]:
    """Paired bootstrap confidence interval of the mean delta; identical for identical seeds.

    Resampling the deltas resamples whole (crypto, fold) pairs, which is what makes it paired.
    """
    values = as_deltas(deltas)
    if values.size < 2:
        raise InsufficientDataError(f"bootstrap CI needs at least 2 paired deltas, got {values.size}")
    result = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=confidence_level,
        # Percentile, not BCa: BCa's acceleration is 0/0 when every delta is equal (a real case
        # when a variant changes nothing), whereas the percentile interval is then the point itself.
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def wilcoxon_p(deltas: ArrayLike) -> WilcoxonResult:
    """Two-sided paired Wilcoxon signed-rank p-value of the deltas against 0.

    Zero deltas are dropped (Wilcoxon's original treatment); when every delta is zero there is no
    evidence of any difference and p is 1.0.
    """
    values = as_deltas(deltas)
    if values.size == 0:
        raise InsufficientDataError("Wilcoxon test needs at least 1 paired delta, got 0")
    zeros = int(np.count_nonzero(values == 0.0))
    if zeros == values.size:
        return WilcoxonResult(1.0, f"all {zeros} deltas are exactly 0: no difference, p set to 1.0")
    result = stats.wilcoxon(values, zero_method="wilcox", alternative="two-sided", method="auto")
    note = f"two-sided signed-rank on {values.size - zeros} non-zero deltas"
    if zeros:
        note += f" ({zeros} zero deltas dropped)"
    return WilcoxonResult(float(result.pvalue), note)


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values over every given test (m = len(p_values)).

    A NaN p (a variant that could not be tested) enters the correction as 1.0, so m stays the
    number of variants, and its adjusted value is reported as NaN.
    """
    raw = np.asarray(p_values, dtype=float)
    if raw.ndim != 1 or raw.size == 0:
        raise InsufficientDataError(f"Benjamini–Hochberg needs a non-empty list of p-values, got {p_values!r}")
    untested = np.isnan(raw)
    adjusted = stats.false_discovery_control(np.where(untested, 1.0, raw), method="bh")
    return np.where(untested, np.nan, adjusted)


def cohens_d_paired(deltas: ArrayLike) -> float:
    """Paired Cohen's d: mean delta / sample standard deviation (ddof=1); NaN if n < 2 or sd is 0."""
    values = as_deltas(deltas)
    if values.size < 2:
        return math.nan
    sd = float(np.std(values, ddof=1))
    if sd == 0.0:
        return math.nan
    return float(np.mean(values)) / sd


def minimum_detectable_effect(sd: float, n: int, alpha: float, power: float) -> float:
    """Smallest true mean delta a two-sided paired test of level `alpha` detects with `power`.

    Uses the exact power of the paired t-test (noncentral t with n − 1 degrees of freedom): with
    the 10–25 pairs of a sweep the normal approximation (z_{1−α/2} + z_power)·sd/√n understates
    the MDE by several percent. `sd` and `n` are those of the independent units the gate's test
    treats: per-crypto means and cryptos for the cluster methods, cells for the cell method (whose
    Wilcoxon test has efficiency ≈ 0.95 relative to the t test for normal deltas, so this MDE is a
    slightly optimistic bound for it).
    NaN when n < 2 or sd is not finite; 0.0 when sd is 0 (any shift is then detected).
    """
    if n < 2 or not math.isfinite(sd):
        return math.nan
    if sd == 0.0:
        return 0.0
    return _noncentrality(n - 1, alpha, power) * sd / math.sqrt(n)


@functools.lru_cache(maxsize=256)
def _noncentrality(df: int, alpha: float, power: float) -> float:
    """Noncentrality at which the two-sided t test with `df` degrees of freedom reaches `power`.

    Cached: it depends on the design only, and a simulation of the gate asks for it many times.
    """
    critical = float(stats.t.ppf(1.0 - alpha / 2.0, df))

    def power_gap(noncentrality: float) -> float:
        # P(T < −c | δ) is written as P(T > c | −δ): the same value, but nct.cdf returns NaN deep
        # in the lower tail for very small alpha where nct.sf underflows cleanly to 0.
        reject = stats.nct.sf(critical, df, noncentrality) + stats.nct.sf(critical, df, -noncentrality)
        return float(reject) - power

    upper = 1.0
    while power_gap(upper) < 0.0:
        upper *= 2.0
    return float(optimize.brentq(power_gap, 0.0, upper, xtol=1e-10))
