"""Registry of ensembles. Adding an ensemble is one new module in this package that registers itself.

Each registration declares the base models whose out-of-sample predictions the ensemble consumes,
in the column order its `fit` and `predict_proba` expect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from cvn_assets.core.ensembles.base import Ensemble
from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.plugins import import_package_modules


class EnsembleFactory(Protocol):
    """An ensemble class as registered: its registration attributes and its constructor."""

    name: str
    base_models: tuple[str, ...]

    def __call__(self, params: Mapping[str, Any] | None = None, seed: int = 0, n_threads: int = 1) -> Ensemble: ...


EnsembleClass = TypeVar("EnsembleClass", bound=EnsembleFactory)

_REGISTRY: dict[str, EnsembleFactory] = {}


def register_ensemble(name: str, base_models: Sequence[str]) -> Callable[[EnsembleClass], EnsembleClass]:
    """Class decorator: make an ensemble over `base_models` available under `name`.

    Sets the class attributes `name` and `base_models`, so one class serves one registration; a
    variant over other base models is a subclass registered under its own name.
    """
    models = tuple(base_models)
    if isinstance(base_models, str) or not models or not all(isinstance(m, str) and m for m in models):
        raise CatalogueError(
            f"ensemble {name!r}: base_models must be a non-empty sequence of model names, got {base_models!r}"
        )
    if len(set(models)) != len(models):
        raise CatalogueError(f"ensemble {name!r}: base_models lists a model twice: {list(models)}")

    def decorate(cls: EnsembleClass) -> EnsembleClass:
        cls.name = name
        cls.base_models = models
        _REGISTRY[name] = cls
        return cls

    return decorate


def unregister_ensemble(name: str) -> None:
    """Forget `name` (no error if it was never registered)."""
    _REGISTRY.pop(name, None)


def _discover() -> None:
    import_package_modules("cvn_assets.core.ensembles")


def ensemble_names() -> list[str]:
    """Every registered ensemble, sorted."""
    _discover()
    return sorted(_REGISTRY)


def _registered(name: str) -> EnsembleFactory:
    _discover()
    if name not in _REGISTRY:
        raise CatalogueError(f"unknown ensemble {name!r}; registered: {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def ensemble_base_models(name: str) -> tuple[str, ...]:
    """The base models `name` consumes, in the column order of its matrices."""
    return tuple(_registered(name).base_models)


def make_ensemble(name: str, params: Mapping[str, Any] | None = None, seed: int = 0, n_threads: int = 1) -> Ensemble:
    """Build an unfitted ensemble by registered name; bad parameters fail here, before any fit."""
    ensemble = _registered(name)(params=dict(params or {}), seed=seed, n_threads=n_threads)
    ensemble.get_params()
    return ensemble
