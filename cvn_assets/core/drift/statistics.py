"""Drift statistics: feature PSI (data drift), F1-gap (concept drift) and output sharpness.

Each statistic is classified into a level ("ok", "warn", "critical") against thresholds held in
one ``DriftThresholds``. Nothing here acts on a level: a drift level is reported, never used to
retrain.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import entropy

from cvn_assets.core.errors import CatalogueError, DataSourceError, InsufficientDataError
from cvn_assets.core.metrics.classification import as_probabilities

Level = Literal["ok", "warn", "critical"]
LEVEL_OK: Level = "ok"
LEVEL_WARN: Level = "warn"
LEVEL_CRITICAL: Level = "critical"

PSI_COLUMNS: tuple[str, ...] = ("feature", "psi", "level")


# Defined before DriftThresholds: its default instance, built at import in signatures, runs these checks.
def _check_bins(bins: int, name: str) -> None:
    if not _is_int(bins) or bins < 2:
        raise CatalogueError(f"PSI {name} must be an integer >= 2, got {bins!r}")


def _check_epsilon(epsilon: float, name: str) -> None:
    if not _is_real(epsilon) or not 0.0 < epsilon < 1.0:
        raise CatalogueError(f"PSI {name} must be a number in (0, 1), got {epsilon!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


@dataclass(frozen=True)
class DriftThresholds:
    """Thresholds of the drift monitors.

    ``psi_warn`` / ``psi_critical``: PSI of one feature, recent window against training window.
    ``concept_gap_warn`` / ``concept_gap_critical``: OOS f1_buy minus recent f1_buy.
    ``sharpness_margin_warn``: warn when the recent mean of max(p, 1 - p) exceeds the training
    mean by more than this margin. ``psi_bins``: quantile bins of the reference; ``psi_epsilon``:
    proportion added to every bin so an empty bin stays finite; ``top_features``: how many features,
    by importance, the PSI monitor watches; ``recent_bars``: length of the recent window, the newest
    bars the OHLCV source has (720 hourly bars = 30 days).
    """

    psi_warn: float = 0.2
    psi_critical: float = 0.5
    concept_gap_warn: float = 0.05
    concept_gap_critical: float = 0.10
    sharpness_margin_warn: float = 0.10
    psi_bins: int = 10
    psi_epsilon: float = 1e-4
    top_features: int = 5
    recent_bars: int = 720

    def __post_init__(self) -> None:
        for name in ("psi_warn", "psi_critical", "concept_gap_warn", "concept_gap_critical", "sharpness_margin_warn"):
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(value) or value < 0:
                raise CatalogueError(f"drift threshold {name} must be a finite number >= 0, got {value!r}")
        for warn, critical in (("psi_warn", "psi_critical"), ("concept_gap_warn", "concept_gap_critical")):
            if getattr(self, warn) > getattr(self, critical):
                raise CatalogueError(
                    f"drift threshold {warn}={getattr(self, warn)} must not exceed {critical}={getattr(self, critical)}"
                )
        _check_bins(self.psi_bins, "psi_bins")
        _check_epsilon(self.psi_epsilon, "psi_epsilon")
        if not _is_int(self.top_features) or self.top_features < 1:
            raise CatalogueError(f"drift threshold top_features must be an integer >= 1, got {self.top_features!r}")
        if not _is_int(self.recent_bars) or self.recent_bars < 2 * self.psi_bins:
            raise CatalogueError(f"drift recent_bars must be an integer >= 2 x psi_bins, got {self.recent_bars!r}")


@dataclass(frozen=True)
class DriftResult:
    """One drift statistic, its thresholds (None when the monitor has no such level) and its level."""

    metric: str
    value: float
    threshold_warn: float
    threshold_critical: float | None
    level: Level
    detail: str


def classify(value: float, warn: float, critical: float | None) -> Level:
    """Level of `value`: above `critical` is critical, above `warn` is warn, otherwise ok.

    The comparisons are strict, so a value exactly at a threshold stays at the lower level.
    """
    if math.isnan(value):
        raise InsufficientDataError("cannot classify a drift statistic that is NaN")
    if critical is not None and value > critical:
        return LEVEL_CRITICAL
    return LEVEL_WARN if value > warn else LEVEL_OK


def population_stability_index(reference: np.ndarray, recent: np.ndarray, bins: int, epsilon: float) -> float:
    """PSI of `recent` against `reference`: Σ_i (r_i − q_i) · ln(r_i / q_i).

    Convention:
    - Bin edges are the reference quantiles at 1/bins, ..., (bins − 1)/bins (linear interpolation),
      deduplicated, so a reference with heavy ties gets fewer bins; the outer bins are open to −∞ and
      +∞, so no recent value falls outside. Bins are left-closed: a value equal to an edge goes to
      the bin above it.
    - q_i and r_i are the shares of reference and recent rows in bin i; `epsilon` is added to every
      share and each side is renormalised to sum to 1, so an empty bin gives a large but finite term.
    - NaNs are dropped from both sides first; fewer than `bins` rows on either side is an error.
    - The formula is symmetric in the shares (the bins are not: they come from the reference) and
      0 for identical samples; it is computed as KL(r‖q) + KL(q‖r), which equals the sum above.
    """
    _check_bins(bins, "bins")
    _check_epsilon(epsilon, "epsilon")
    ref = _clean_sample(reference, "reference", bins)
    rec = _clean_sample(recent, "recent", bins)
    quantiles = np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    # Infinite reference values can make a quantile infinite or NaN (inf − inf); such an edge would
    # only duplicate an open outer edge, so it is dropped.
    edges = np.unique(quantiles[np.isfinite(quantiles)])
    q = _shares(ref, edges, epsilon)
    r = _shares(rec, edges, epsilon)
    return float(entropy(r, q) + entropy(q, r))


def feature_psi(
    reference: pd.DataFrame,
    recent: pd.DataFrame,
    features: Sequence[str],
    thresholds: DriftThresholds = DriftThresholds(),
) -> pd.DataFrame:
    """One row per feature (columns ``feature``, ``psi``, ``level``), in the order of `features`."""
    if not features:
        raise CatalogueError("feature_psi needs at least one feature name")
    for name, frame in (("reference", reference), ("recent", recent)):
        missing = [f for f in features if f not in frame.columns]
        if missing:
            raise DataSourceError(f"feature_psi: {name} window lacks feature columns {missing}")
    rows = []
    for feature in features:
        try:
            psi = population_stability_index(
                reference[feature].to_numpy(dtype=np.float64),
                recent[feature].to_numpy(dtype=np.float64),
                thresholds.psi_bins,
                thresholds.psi_epsilon,
            )
        except InsufficientDataError as exc:
            raise InsufficientDataError(f"PSI of feature {feature!r}: {exc}") from exc
        rows.append((feature, psi, classify(psi, thresholds.psi_warn, thresholds.psi_critical)))
    return pd.DataFrame(rows, columns=list(PSI_COLUMNS))


def top_features_by_importance(importance: Mapping[str, float], n: int) -> list[str]:
    """The `n` most important feature names, highest first; equal importances are ordered by name."""
    if not _is_int(n) or n < 1:
        raise CatalogueError(f"top_features_by_importance: n must be an integer >= 1, got {n!r}")
    bad = [name for name, value in importance.items() if not _is_real(value) or math.isnan(value)]
    if bad:
        raise DataSourceError(f"feature importance is not a number for features {sorted(bad)}")
    if not importance:
        raise InsufficientDataError("feature importance is empty; cannot choose the features to watch")
    ranked = sorted(importance.items(), key=lambda item: (-float(item[1]), item[0]))
    return [name for name, _ in ranked[:n]]


def concept_drift(recent_f1: float, oos_f1: float, thresholds: DriftThresholds = DriftThresholds()) -> DriftResult:
    """Gap oos_f1 − recent_f1 of f1_buy; a recent window doing worse than OOS is a positive gap."""
    for name, value in (("recent_f1", recent_f1), ("oos_f1", oos_f1)):
        if not _is_real(value) or math.isnan(value):
            raise InsufficientDataError(f"concept drift: {name} is undefined ({value!r})")
        if not 0.0 <= value <= 1.0:
            raise DataSourceError(f"concept drift: {name} must be an F1 score in [0, 1], got {value!r}")
    gap = float(oos_f1) - float(recent_f1)
    level = classify(gap, thresholds.concept_gap_warn, thresholds.concept_gap_critical)
    return DriftResult(
        metric="concept_drift",
        value=gap,
        threshold_warn=thresholds.concept_gap_warn,
        threshold_critical=thresholds.concept_gap_critical,
        level=level,
        detail=f"f1_buy recent {recent_f1:.4f} vs OOS {oos_f1:.4f}: gap {gap:+.4f}",
    )


def output_sharpness(p: np.ndarray) -> float:
    """Mean predicted confidence, mean of max(p, 1 − p) over BUY probabilities `p` (0.5 to 1)."""
    arr = as_probabilities(p, "output_sharpness")
    if arr.size == 0:
        raise InsufficientDataError("output_sharpness: no probabilities")
    return float(np.mean(np.maximum(arr, 1.0 - arr)))


def sharpness_drift(
    recent_p: np.ndarray, training_p: np.ndarray, thresholds: DriftThresholds = DriftThresholds()
) -> DriftResult:
    """Warn when recent sharpness exceeds training sharpness by more than the margin; no critical level."""
    recent = output_sharpness(recent_p)
    training = output_sharpness(training_p)
    warn = training + thresholds.sharpness_margin_warn
    return DriftResult(
        metric="output_sharpness",
        value=recent,
        threshold_warn=warn,
        threshold_critical=None,
        level=classify(recent, warn, None),
        detail=f"mean max(p, 1-p) recent {recent:.4f} vs training {training:.4f} "
        f"(margin {thresholds.sharpness_margin_warn})",
    )


def _shares(values: np.ndarray, edges: np.ndarray, epsilon: float) -> np.ndarray:
    # searchsorted on the interior edges is the open-ended histogram: np.histogram needs finite outer edges.
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)
    shares = counts / values.size + epsilon
    return shares / float(shares.sum())


def _clean_sample(values: np.ndarray, name: str, bins: int) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise DataSourceError(f"PSI: {name} must be 1-D, got shape {arr.shape}")
    arr = arr[~np.isnan(arr)]
    if arr.size < bins:
        raise InsufficientDataError(f"PSI: {name} has {arr.size} non-NaN rows, fewer than the {bins} bins")
    return arr
