"""The factor catalogue: factors, variants, their parameters, and the unique training configurations.

The catalogue is the single description of a sweep. Partitions, training and the gate are all
derived from it, and its snapshot is what lineage records as "the parameters of this verdict".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvn_assets.core.catalogue.checks import check_known_keys, describe, integer, mapping_at, name_list
from cvn_assets.core.catalogue.configs import TrainingConfig, build_configs
from cvn_assets.core.catalogue.factors import Factor, JointRule, check_key, parse_factor
from cvn_assets.core.catalogue.kinds import as_dict, fingerprint
from cvn_assets.core.catalogue.pipeline_params import PIPELINE_SECTIONS, PipelineParams, build_pipeline_params
from cvn_assets.core.catalogue.yaml_io import read_catalogue_document
from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.learners.registry import default_learner_names, learner_names

DEFAULT_CATALOGUE_PATH = Path(__file__).resolve().parents[2] / "catalogue.yaml"

SWEEP_KEYS: tuple[str, ...] = ("name", "universe", "seed", "models", "primary_model", "ensembles")


@dataclass(frozen=True)
class Catalogue:
    """A validated sweep description."""

    sweep_name: str
    universe: tuple[str, ...]
    seed: int
    models: tuple[str, ...]
    primary_model: str
    factors: tuple[Factor, ...]
    pipeline: PipelineParams
    joint_rules: tuple[JointRule, ...] = ()
    ensembles: tuple[str, ...] = ()
    source: str = field(default="")

    def factor(self, name: str) -> Factor:
        for candidate in self.factors:
            if candidate.name == name:
                return candidate
        raise CatalogueError(f"unknown factor {name!r}; known: {[f.name for f in self.factors]}")

    def configs(self) -> list[TrainingConfig]:
        """Unique training configurations, the shared baseline first, joint candidates last."""
        return build_configs(self.factors, self.joint_rules)

    def config(self, config_id: str) -> TrainingConfig:
        for candidate in self.configs():
            if candidate.config_id == config_id:
                return candidate
        raise CatalogueError(f"unknown configuration {config_id!r}; known: {self.config_ids()}")

    def config_ids(self, include_joint: bool = True) -> list[str]:
        """Configuration ids; joint candidates only run when their rule allows, so they can be left out."""
        return [c.config_id for c in self.configs() if include_joint or c.joint_rule is None]

    def gate_names(self) -> list[str]:
        """What a gate verdict is computed for: every factor, then every joint rule."""
        return [f.name for f in self.factors] + [r.name for r in self.joint_rules]

    def snapshot(self) -> dict[str, Any]:
        """Every parameter of the sweep, JSON-ready: what lineage records for a verdict."""
        return {
            "sweep": {
                "name": self.sweep_name,
                "universe": list(self.universe),
                "seed": self.seed,
                "models": list(self.models),
                "primary_model": self.primary_model,
                "ensembles": list(self.ensembles),
            },
            "factors": {
                f.name: {
                    "alias": f.alias,
                    "baseline": f.baseline,
                    "variants": {v.name: as_dict(v.params) for v in f.variants},
                }
                for f in self.factors
            },
            "pipeline": self.pipeline.snapshot(),
            "joint": [list(r.factors) for r in self.joint_rules],
            "configs": {c.config_id: [list(m) for m in c.members] for c in self.configs()},
        }

    def fingerprint(self) -> str:
        return fingerprint(self.snapshot())


def load_catalogue(path: str | Path | None = None, universe: list[str] | None = None) -> Catalogue:
    """Read and validate a catalogue YAML file (the packaged default when `path` is None)."""
    source = Path(path) if path else DEFAULT_CATALOGUE_PATH
    if not source.is_file():
        raise CatalogueError(f"catalogue file not found: {source}")
    return parse_catalogue(read_catalogue_document(source), source=str(source), universe=universe)


def parse_catalogue(document: Any, source: str = "<memory>", universe: list[str] | None = None) -> Catalogue:
    """Validate a catalogue document; every guardrail names the factor, variant and bound."""
    if not isinstance(document, Mapping):
        raise CatalogueError(f"catalogue {source}: top level must be a mapping")
    check_known_keys(document, {"sweep", "factors", "joint", *PIPELINE_SECTIONS}, f"catalogue {source}", "section")
    sweep = mapping_at(document.get("sweep"), "sweep")
    check_known_keys(sweep, SWEEP_KEYS, "catalogue section `sweep`")
    cryptos = _universe(universe or sweep.get("universe"))
    models = default_learner_names()
    if sweep.get("models"):
        models = name_list(sweep["models"], "sweep.models", "model names", "xgboost")
    unknown_models = sorted(set(models) - set(learner_names()))
    if unknown_models:
        raise CatalogueError(
            f"catalogue: sweep.models names unknown model(s) {unknown_models}; registered: {learner_names()}"
        )
    primary = str(sweep.get("primary_model", models[0]))
    if primary not in models:
        raise CatalogueError(f"catalogue: sweep.primary_model {primary!r} is not one of the models {list(models)}")
    ensembles = _ensembles(sweep.get("ensembles"), models)
    factors_doc = mapping_at(document.get("factors"), "factors")
    if not factors_doc:
        raise CatalogueError("catalogue: at least one factor is required under `factors`")
    factors = tuple(parse_factor(name, spec) for name, spec in factors_doc.items())
    _check_model_choices(factors, [*models, *ensembles])
    aliases = [f.alias for f in factors]
    if len(set(aliases)) != len(aliases):
        raise CatalogueError(f"catalogue: factor aliases must be unique, got {aliases}")
    return Catalogue(
        sweep_name=str(sweep.get("name", "ftf_default")),
        universe=cryptos,
        seed=integer(sweep.get("seed", 0), "sweep.seed"),
        models=tuple(str(m) for m in models),
        primary_model=primary,
        ensembles=ensembles,
        factors=factors,
        pipeline=build_pipeline_params({k: document[k] for k in PIPELINE_SECTIONS if k in document}),
        joint_rules=_parse_joint_rules(document.get("joint"), factors),
        source=source,
    )


def _universe(cryptos: Any) -> tuple[str, ...]:
    if not cryptos or not isinstance(cryptos, list):
        raise CatalogueError(
            f"catalogue: sweep.universe must be a non-empty list of crypto symbols, got {describe(cryptos)}"
        )
    symbols = [str(crypto) for crypto in cryptos]
    for symbol in symbols:
        check_key(symbol, "crypto symbol")
    repeated = sorted({symbol for symbol in symbols if symbols.count(symbol) > 1})
    if repeated:
        # Each crypto is a partition key, which must be unique.
        raise CatalogueError(f"catalogue: sweep.universe lists crypto(s) {repeated} more than once: {symbols}")
    return tuple(symbols)


def _check_model_choices(factors: tuple[Factor, ...], available: list[str]) -> None:
    for factor in factors:
        for variant in factor.variants:
            chosen = getattr(variant.params, "model", None)
            if getattr(variant.params, "evaluation_only", False) and chosen not in available:
                raise CatalogueError(
                    f"factor {factor.name!r}, variant {variant.name!r}: model {chosen!r} is not "
                    f"trained by this sweep; available: {sorted(available)}"
                )


def model_choices(catalogue: Catalogue) -> dict[tuple[str, str], str]:
    """(factor, variant) -> the model whose results stand for it, for evaluation-only factors."""
    return {
        (f.name, v.name): v.params.model
        for f in catalogue.factors
        for v in f.variants
        if getattr(v.params, "evaluation_only", False)
    }


def _ensembles(names: Any, models: list[str]) -> tuple[str, ...]:
    """Ensembles to run: those named, or every registered one whose base models the sweep trains."""
    from cvn_assets.core.ensembles import ensemble_base_models, ensemble_names

    if names is None:
        return tuple(n for n in ensemble_names() if set(ensemble_base_models(n)) <= set(models))
    names = name_list(names, "sweep.ensembles", "ensemble names", "blend_mean")
    unknown = sorted(set(names) - set(ensemble_names()))
    if unknown:
        raise CatalogueError(
            f"catalogue: sweep.ensembles names unknown ensemble(s) {unknown}; registered: {ensemble_names()}"
        )
    for name in names:
        missing = sorted(set(ensemble_base_models(name)) - set(models))
        if missing:
            raise CatalogueError(
                f"catalogue: ensemble {name!r} needs base model(s) {missing} that the sweep does not train"
            )
    return tuple(names)


def _parse_joint_rules(document: Any, factors: tuple[Factor, ...]) -> tuple[JointRule, ...]:
    if document is None:
        return ()
    if not isinstance(document, list):
        raise CatalogueError("catalogue: `joint` must be a list of factor pairs, e.g. [[label_smoothing, cleanlab]]")
    names = {f.name for f in factors}
    rules = []
    for pair in document:
        if not isinstance(pair, list) or len(pair) != 2 or len(set(pair)) != 2:
            raise CatalogueError(f"catalogue: joint rule {pair!r} must name two different factors")
        unknown = [name for name in pair if name not in names]
        if unknown:
            raise CatalogueError(
                f"catalogue: joint rule {pair!r} names unknown factor(s) {unknown}; known: {sorted(names)}"
            )
        rules.append(JointRule((str(pair[0]), str(pair[1]))))
    return tuple(rules)
