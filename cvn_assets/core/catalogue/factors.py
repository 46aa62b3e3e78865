"""Factors and their variants, parsed from the catalogue's `factors` section."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from cvn_assets.core.catalogue.checks import check_field_types, check_known_keys, mapping_at
from cvn_assets.core.catalogue.kinds import FACTOR_KINDS, as_dict
from cvn_assets.core.errors import CatalogueError

_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
FACTOR_KEYS: tuple[str, ...] = ("alias", "baseline", "variants")


@dataclass(frozen=True)
class Variant:
    """One variant of a factor with its validated parameters."""

    factor: str
    name: str
    params: Any
    is_baseline: bool


@dataclass(frozen=True)
class Factor:
    """A factor: a named change to training with a baseline and alternative variants."""

    name: str
    alias: str
    baseline: str
    variants: tuple[Variant, ...]

    def variant(self, name: str) -> Variant:
        for candidate in self.variants:
            if candidate.name == name:
                return candidate
        raise CatalogueError(f"factor {self.name!r} has no variant {name!r}; known: {[v.name for v in self.variants]}")


@dataclass(frozen=True)
class JointRule:
    """Two factors whose winners, when both pass their gates, are also tried together."""

    factors: tuple[str, str]

    @property
    def name(self) -> str:
        return f"{self.factors[0]}_x_{self.factors[1]}"


def parse_factor(name: str, spec: Any) -> Factor:
    if name not in FACTOR_KINDS:
        raise CatalogueError(f"factor {name!r} is not a known factor kind; known: {sorted(FACTOR_KINDS)}")
    spec = mapping_at(spec, f"factors.{name}")
    check_known_keys(spec, FACTOR_KEYS, f"factor {name!r}")
    alias = str(spec.get("alias", name))
    check_key(alias, f"alias of factor {name!r}")
    variants_doc = mapping_at(spec.get("variants"), f"factors.{name}.variants")
    baseline = spec.get("baseline")
    if baseline not in variants_doc:
        raise CatalogueError(f"factor {name!r}: baseline {baseline!r} is not one of its variants {list(variants_doc)}")
    if len(variants_doc) < 2:
        raise CatalogueError(f"factor {name!r} needs a baseline and at least one other variant")
    variants = [
        parse_variant(name, str(variant_name), params_doc, variant_name == baseline)
        for variant_name, params_doc in variants_doc.items()
    ]
    baseline_params = next(v.params for v in variants if v.is_baseline)
    for variant in variants:
        if not variant.is_baseline and variant.params == baseline_params:
            # It would share the baseline's configuration and be gated against itself.
            raise CatalogueError(
                f"factor {name!r}, variant {variant.name!r}: parameters {as_dict(variant.params)} "
                f"are those of the baseline {baseline!r}; a variant must change something"
            )
    return Factor(name=name, alias=alias, baseline=str(baseline), variants=tuple(variants))


def parse_variant(factor: str, name: str, params_doc: Any, is_baseline: bool) -> Variant:
    check_key(name, f"variant name of factor {factor!r}")
    where = f"factor {factor!r}, variant {name!r}"
    if params_doc is None:
        raise CatalogueError(
            f"{where} has no parameters (`{name}:` with nothing after it); "
            f"give them, or write `{name}: {{}}` for the factor's defaults"
        )
    params_doc = mapping_at(params_doc, f"factors.{factor}.variants.{name}")
    params_class = FACTOR_KINDS[factor]
    allowed = [f.name for f in dataclasses.fields(params_class)]
    check_known_keys(params_doc, allowed, where, "parameter")
    check_field_types(params_class, params_doc, where)
    try:
        params = params_class(**params_doc)
    except (CatalogueError, ValueError, TypeError) as exc:
        raise CatalogueError(f"{where}: {exc}") from exc
    return Variant(factor, name, params, is_baseline)


def check_key(value: str, what: str) -> None:
    # Names become partition keys: Dagster forbids `|`, `,`, `[`, `]` there and we join with `.`.
    if not _KEY_PATTERN.match(value):
        raise CatalogueError(f"{what} {value!r} may only use letters, digits, '_' and '-'")
