"""Parameters of the cleanlab label-noise mask, with their guardrails."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.labels.barriers import is_positive_int
from cvn_assets.core.learners import learner_names

MODE_OFF = "off"
MODE_FILTER = "filter"
MODE_REWEIGHT = "reweight"
MODES: tuple[str, ...] = (MODE_OFF, MODE_FILTER, MODE_REWEIGHT)
MAX_DROP_PCT = 5.0
MIN_INNER_SPLITS = 2


def _is_real(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _as_param_pairs(value: object) -> tuple[tuple[str, Any], ...]:
    """Learner parameters as a hashable tuple of (name, value) pairs; a mapping (as the catalogue
    YAML gives it) or a list of pairs (as a JSON snapshot gives it back) is accepted too."""
    refused = f"inner_model_params must be (name, value) pairs or a mapping, got {value!r}"
    items = value.items() if isinstance(value, Mapping) else value
    if not isinstance(items, Iterable):
        raise CatalogueError(refused)
    try:
        pairs = tuple((name, item) for name, item in items)
    except (TypeError, ValueError) as exc:
        raise CatalogueError(refused) from exc
    names = [name for name, _ in pairs]
    if not all(isinstance(name, str) for name in names) or len(set(names)) != len(names):
        raise CatalogueError(f"inner_model_params must have distinct string names, got {names!r}")
    return pairs


@dataclass(frozen=True)
class CleanlabParams:
    """How training labels are screened for noise by confident learning (Northcutt et al.).

    ``mode``: ``off`` (no screening), ``filter`` (drop flagged rows) or ``reweight`` (flagged rows get
    weight ``reweight_floor``). ``max_drop_pct``: at most this share of the rows of EACH class may be
    flagged — capped at MAX_DROP_PCT so the rare BUY class is never decimated. ``time_budget_seconds``:
    soft per-fold budget of the inner cross-validation. ``inner_splits``: slices of the purged inner
    K-fold that produces out-of-sample probabilities. ``inner_model`` / ``inner_model_params``: the
    registered learner that produces them and its parameters (``dict(inner_model_params)`` to use).
    """

    mode: str = MODE_OFF
    max_drop_pct: float = MAX_DROP_PCT
    reweight_floor: float = 0.5
    time_budget_seconds: float = 60.0
    inner_splits: int = MIN_INNER_SPLITS
    inner_model: str = "xgboost"
    inner_model_params: tuple[tuple[str, object], ...] = (("num_boost_round", 100),)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise CatalogueError(f"mode {self.mode!r} is not one of {list(MODES)}")
        if not _is_real(self.max_drop_pct) or not 0.0 <= self.max_drop_pct <= MAX_DROP_PCT:
            raise CatalogueError(f"max_drop_pct={self.max_drop_pct!r} is outside [0, {MAX_DROP_PCT:g}]")
        if not _is_real(self.reweight_floor) or not 0.0 <= self.reweight_floor <= 1.0:
            raise CatalogueError(f"reweight_floor={self.reweight_floor!r} is outside [0, 1]")
        budget = self.time_budget_seconds
        if isinstance(budget, bool) or not isinstance(budget, Real) or not budget > 0:
            raise CatalogueError(f"time_budget_seconds={budget!r} must be > 0")
        if not is_positive_int(self.inner_splits) or self.inner_splits < MIN_INNER_SPLITS:
            raise CatalogueError(f"inner_splits={self.inner_splits!r} must be an integer >= {MIN_INNER_SPLITS}")
        if self.inner_model not in learner_names():
            raise CatalogueError(f"inner_model {self.inner_model!r} is not one of {learner_names()}")
        object.__setattr__(self, "inner_model_params", _as_param_pairs(self.inner_model_params))

    @property
    def is_off(self) -> bool:
        return self.mode == MODE_OFF
