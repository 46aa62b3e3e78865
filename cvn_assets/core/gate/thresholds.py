"""Thresholds of the statistical gate: every default is named once, here."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal, get_args

from cvn_assets.core.errors import CatalogueError

# How the gate turns the paired deltas into a CI, a p-value and an MDE (see `gate.inference`).
# cluster_t treats each crypto as one independent unit; cell_bootstrap is the earlier method, kept
# to compare with, which treats the crypto × fold cells as independent draws.
InferenceMethod = Literal["cluster_t", "two_stage_bootstrap", "cell_bootstrap"]
INFERENCE_METHODS: tuple[InferenceMethod, ...] = get_args(InferenceMethod)
DEFAULT_INFERENCE: InferenceMethod = "cluster_t"


@dataclass(frozen=True)
class GateThresholds:
    """Every number the gate compares against, and how it infers, with their defaults.

    Metric conventions assumed: `max_drawdown` is a positive fraction of equity (0.12 = 12 %),
    so a larger value is worse and the joint gate bounds its increase.
    """

    min_mean_delta_f1: float = 0.015
    ci_level: float = 0.95
    bootstrap_resamples: int = 10_000
    bootstrap_seed: int = 0
    min_mean_delta_sortino: float = 0.0
    min_mean_delta_expectancy_net: float = 0.0
    max_mean_delta_max_drawdown: float = 0.01
    calibration_tolerance: float = 0.01
    stability_max_variance: float = 0.03
    per_asset_min_share: float = 0.8
    density_min_mean_trades: float = 50.0
    min_cohens_d: float = 0.3
    alpha: float = 0.05
    min_valid_pairs: int = 10
    mde_power: float = 0.8
    inference: InferenceMethod = DEFAULT_INFERENCE

    def __post_init__(self) -> None:
        if self.inference not in INFERENCE_METHODS:
            raise CatalogueError(
                f"GateThresholds.inference must be one of {', '.join(INFERENCE_METHODS)}, got {self.inference!r}"
            )
        for field in fields(self):
            if field.name == "inference":
                continue
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise CatalogueError(f"GateThresholds.{field.name} must be a finite number, got {value!r}")
        for name in ("ci_level", "alpha", "mde_power"):
            self._require(name, 0.0 < getattr(self, name) < 1.0, "must lie strictly between 0 and 1")
        # Power at or below alpha is reached by a zero effect, leaving no detectable effect to report.
        self._require("mde_power", self.mde_power > self.alpha, f"must exceed alpha ({self.alpha})")
        self._require("per_asset_min_share", 0.0 <= self.per_asset_min_share <= 1.0, "must lie in [0, 1]")
        for name in ("bootstrap_resamples", "min_valid_pairs", "bootstrap_seed"):
            self._require(name, isinstance(getattr(self, name), int), "must be an integer")
        self._require("bootstrap_resamples", self.bootstrap_resamples >= 100, "must be at least 100")
        self._require("bootstrap_seed", self.bootstrap_seed >= 0, "must be non-negative")
        # The bootstrap and the sample standard deviation both need two pairs at least.
        self._require("min_valid_pairs", self.min_valid_pairs >= 2, "must be at least 2")
        for name in (
            "max_mean_delta_max_drawdown",
            "calibration_tolerance",
            "stability_max_variance",
            "density_min_mean_trades",
        ):
            self._require(name, getattr(self, name) >= 0.0, "must be non-negative")

    def _require(self, name: str, condition: bool, rule: str) -> None:
        if not condition:
            raise CatalogueError(f"GateThresholds.{name} {rule}, got {getattr(self, name)!r}")
