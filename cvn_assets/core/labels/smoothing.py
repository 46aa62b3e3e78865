"""Asymmetric label smoothing of training labels (validation and test labels stay hard)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvn_assets.core.errors import CatalogueError

MAX_EPS_BUY = 0.5


@dataclass(frozen=True)
class SmoothingParams:
    """Smoothing strengths: a BUY label becomes 1 − eps_buy, a HOLD label becomes eps_hold.

    Guardrails: eps_buy ∈ [0, MAX_EPS_BUY] and eps_hold ∈ [0, eps_buy], so a smoothed BUY stays
    above a smoothed HOLD and the rare class is never softened less than the majority.
    """

    eps_buy: float = 0.0
    eps_hold: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.eps_buy <= MAX_EPS_BUY:
            raise CatalogueError(f"eps_buy={self.eps_buy} is outside [0, {MAX_EPS_BUY}]")
        if not 0.0 <= self.eps_hold <= self.eps_buy:
            raise CatalogueError(f"eps_hold={self.eps_hold} is outside [0, eps_buy={self.eps_buy}]")

    @property
    def is_identity(self) -> bool:
        return self.eps_buy == 0.0 and self.eps_hold == 0.0


def smooth_labels(hard_labels: np.ndarray, params: SmoothingParams) -> np.ndarray:
    """Map hard 0/1 labels to soft targets: 1 → 1 − eps_buy, 0 → eps_hold."""
    labels = np.asarray(hard_labels, dtype=float)
    if labels.size and not np.isin(labels, (0.0, 1.0)).all():
        bad = labels[~np.isin(labels, (0.0, 1.0))][:3]
        raise CatalogueError(f"label smoothing needs hard 0/1 labels, got values such as {bad.tolist()}")
    return np.where(labels == 1.0, 1.0 - params.eps_buy, params.eps_hold)
