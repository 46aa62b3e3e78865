"""One crypto's drift check: the current baseline model against the newest bars of its data source.

The reference window is the model's own training window; the recent window is the newest
`recent_bars` bars the source has, so candles appended to the source files are seen at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from cvn_assets.core.data.features import FeatureParams, build_features
from cvn_assets.core.drift.statistics import (
    LEVEL_CRITICAL,
    LEVEL_OK,
    LEVEL_WARN,
    DriftResult,
    DriftThresholds,
    Level,
    concept_drift,
    feature_psi,
    sharpness_drift,
)
from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.core.labels.barriers import BarrierParams, triple_barrier_labels
from cvn_assets.core.training.scoring import ScoringBundle

_LEVEL_ORDER: dict[str, int] = {LEVEL_OK: 0, LEVEL_WARN: 1, LEVEL_CRITICAL: 2}
# Fewer realised labels than this, or no BUY among them, leaves recent f1_buy undefined.
MIN_LABELED_RECENT_ROWS = 50


@dataclass(frozen=True)
class DriftReport:
    """PSI per watched feature, concept drift (None when recent f1_buy is undefined) and sharpness."""

    psi: pd.DataFrame
    concept: DriftResult | None
    concept_note: str
    sharpness: DriftResult
    reference_window: tuple[pd.Timestamp, pd.Timestamp]
    recent_window: tuple[pd.Timestamp, pd.Timestamp]
    recent_rows: int
    labeled_recent_rows: int
    thresholds: DriftThresholds

    @property
    def level(self) -> Level:
        """The worst level of any statistic."""
        levels = [*self.psi["level"], self.sharpness.level, *([self.concept.level] if self.concept else [])]
        return max(levels, key=lambda level: _LEVEL_ORDER[level])

    def results(self) -> list[DriftResult]:
        """Every statistic as a DriftResult (PSI rows named `psi:<feature>`)."""
        warn, critical = self.thresholds.psi_warn, self.thresholds.psi_critical
        psi = [
            DriftResult(
                f"psi:{row.feature}",
                float(row.psi),
                warn,
                critical,
                row.level,
                f"PSI of {row.feature}, recent vs training window",
            )
            for row in self.psi.itertuples(index=False)
        ]
        return [*psi, *([self.concept] if self.concept else []), self.sharpness]


def monitor_drift(
    ohlcv: pd.DataFrame,
    reference_timestamps: Sequence[pd.Timestamp] | pd.Series,
    bundle: ScoringBundle,
    watched_features: Sequence[str],
    oos_f1: float,
    thresholds: DriftThresholds = DriftThresholds(),
    feature_params: FeatureParams = FeatureParams(),
    label_params: BarrierParams = BarrierParams(),
) -> DriftReport:
    """Compare the newest `thresholds.recent_bars` bars of `ohlcv` with the model's training rows."""
    features = build_features(ohlcv, feature_params)
    if len(features) < thresholds.recent_bars:
        raise InsufficientDataError(
            f"drift monitor: the source has {len(features)} bars, fewer than recent_bars={thresholds.recent_bars}"
        )
    reference = features[features["timestamp"].isin(pd.Series(reference_timestamps))]
    if reference.empty:
        raise InsufficientDataError("drift monitor: none of the model's training bars is in the source data")
    recent = features.tail(thresholds.recent_bars)
    psi = feature_psi(reference, recent, list(watched_features), thresholds)
    sharpness = sharpness_drift(bundle.predict(recent), bundle.predict(reference), thresholds)
    labels = triple_barrier_labels(ohlcv, label_params).tail(thresholds.recent_bars)
    labeled = labels["label"].notna().to_numpy()
    concept, note = _concept(
        labels["label"].to_numpy()[labeled], bundle.predict(recent)[labeled], bundle.threshold, oos_f1, thresholds
    )
    return DriftReport(
        psi=psi,
        concept=concept,
        concept_note=note,
        sharpness=sharpness,
        reference_window=(reference["timestamp"].iloc[0], reference["timestamp"].iloc[-1]),
        recent_window=(recent["timestamp"].iloc[0], recent["timestamp"].iloc[-1]),
        recent_rows=len(recent),
        labeled_recent_rows=int(labeled.sum()),
        thresholds=thresholds,
    )


def _concept(
    y: np.ndarray, p: np.ndarray, threshold: float, oos_f1: float, thresholds: DriftThresholds
) -> tuple[DriftResult | None, str]:
    if y.size < MIN_LABELED_RECENT_ROWS or not (y == 1).any():
        return None, (
            f"recent f1_buy undefined: {y.size} realised labels, {int((y == 1).sum())} BUY "
            f"(needs >= {MIN_LABELED_RECENT_ROWS} and at least one BUY)"
        )
    recent_f1 = float(f1_score(y.astype(int), (p >= threshold).astype(int), pos_label=1, zero_division=0))
    result = concept_drift(recent_f1, oos_f1, thresholds)
    return result, result.detail
