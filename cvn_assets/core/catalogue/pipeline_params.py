"""Typed parameters of every pipeline stage, with catalogue overrides applied key by key.

Each default lives once, in its stage's dataclass; the catalogue may override any field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cvn_assets.core.alerts.rules import AlertThresholds
from cvn_assets.core.catalogue.checks import check_field_types, check_known_keys, describe
from cvn_assets.core.catalogue.learner_section import parse_learners_section
from cvn_assets.core.checks.sanity import SanityThresholds
from cvn_assets.core.data.features import FeatureParams
from cvn_assets.core.data.validation import OhlcvRules
from cvn_assets.core.drift.statistics import DriftThresholds
from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.gate.thresholds import GateThresholds
from cvn_assets.core.labels.barriers import BarrierParams
from cvn_assets.core.labels.events import EventFilterParams
from cvn_assets.core.metrics.skill import SkillThresholds
from cvn_assets.core.metrics.trading import CostModel
from cvn_assets.core.training.calibration import CalibrationParams
from cvn_assets.core.training.folds import FoldParams
from cvn_assets.core.training.thresholds import ThresholdParams


@dataclass(frozen=True)
class TrainingParams:
    """Cross-learner training options."""

    class_balancing: bool = True


_SECTION_CLASSES: dict[str, type] = {
    "data": OhlcvRules,
    "labels": BarrierParams,
    "events": EventFilterParams,
    "folds": FoldParams,
    "features": FeatureParams,
    "training": TrainingParams,
    "calibration": CalibrationParams,
    "threshold": ThresholdParams,
    "costs": CostModel,
    "gate": GateThresholds,
    "checks": SanityThresholds,
    "skill": SkillThresholds,
    "alerts": AlertThresholds,
    "drift": DriftThresholds,
}
PIPELINE_SECTIONS: tuple[str, ...] = (*_SECTION_CLASSES, "learners")


@dataclass(frozen=True)
class PipelineParams:
    """Parameters of all stages of one sweep."""

    data: OhlcvRules = field(default_factory=OhlcvRules)
    labels: BarrierParams = field(default_factory=BarrierParams)
    events: EventFilterParams = field(default_factory=EventFilterParams)
    folds: FoldParams = field(default_factory=FoldParams)
    features: FeatureParams = field(default_factory=FeatureParams)
    training: TrainingParams = field(default_factory=TrainingParams)
    calibration: CalibrationParams = field(default_factory=CalibrationParams)
    threshold: ThresholdParams = field(default_factory=ThresholdParams)
    costs: CostModel = field(default_factory=CostModel)
    gate: GateThresholds = field(default_factory=GateThresholds)
    checks: SanityThresholds = field(default_factory=SanityThresholds)
    skill: SkillThresholds = field(default_factory=SkillThresholds)
    alerts: AlertThresholds = field(default_factory=AlertThresholds)
    drift: DriftThresholds = field(default_factory=DriftThresholds)
    learners: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: _jsonable(dataclasses.asdict(getattr(self, name))) for name in _SECTION_CLASSES}
        out["learners"] = {k: dict(v) for k, v in self.learners.items()}
        return out


def build_pipeline_params(sections: Mapping[str, Any]) -> PipelineParams:
    """Apply catalogue overrides on top of the defaults; unknown keys name the section and key."""
    values: dict[str, Any] = {}
    for name, cls in _SECTION_CLASSES.items():
        override = sections.get(name) or {}
        if not isinstance(override, Mapping):
            raise CatalogueError(f"catalogue section `{name}` must be a mapping, got {describe(override)}")
        check_known_keys(override, [f.name for f in dataclasses.fields(cls)], f"catalogue section `{name}`")
        check_field_types(cls, override, f"catalogue section `{name}`")
        try:
            values[name] = cls(**{k: _tuple_lists(v) for k, v in override.items()})
        except (CatalogueError, ValueError, TypeError) as exc:
            raise CatalogueError(f"catalogue section `{name}`: {exc}") from exc
    values["learners"] = parse_learners_section(sections.get("learners"))
    return PipelineParams(**values)


def _tuple_lists(value: Any) -> Any:
    # YAML gives lists; the frozen dataclasses hold tuples so they stay hashable.
    return tuple(value) if isinstance(value, list) else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
