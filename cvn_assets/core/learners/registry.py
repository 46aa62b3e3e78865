"""Registry of learners. Adding a model is one new module in this package that registers itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.learners.base import Learner
from cvn_assets.core.plugins import import_package_modules

LearnerFactory = Callable[..., Learner]

_REGISTRY: dict[str, LearnerFactory] = {}


def register_learner(name: str) -> Callable[[LearnerFactory], LearnerFactory]:
    """Class decorator: make a learner available under `name` to the catalogue and the assets."""

    def decorate(factory: LearnerFactory) -> LearnerFactory:
        _REGISTRY[name] = factory
        return factory

    return decorate


def unregister_learner(name: str) -> None:
    _REGISTRY.pop(name, None)


def _discover() -> None:
    import_package_modules("cvn_assets.core.learners")


def learner_names() -> list[str]:
    _discover()
    return sorted(_REGISTRY)


def default_learner_names() -> list[str]:
    """Learners a sweep trains when its catalogue names none: every registered one not opted out.

    A learner class opts out with `in_default_sweep = False` (e.g. one that only serves a factor).
    """
    _discover()
    return [name for name in sorted(_REGISTRY) if getattr(_REGISTRY[name], "in_default_sweep", True)]


def fit_loop_in_python(name: str) -> bool:
    """Whether the learner's fit runs its boosting rounds from a Python loop, each round releasing the
    GIL and taking it back (XGBoost, LightGBM), rather than in one native call (CatBoost). A learner
    class says so with `fit_loop_in_python = False`; any other is assumed to loop in Python."""
    _discover()
    return bool(getattr(_REGISTRY.get(name), "fit_loop_in_python", True))


def registered_learner(name: str) -> LearnerFactory:
    """The class (or factory) registered under `name`."""
    _discover()
    if name not in _REGISTRY:
        raise CatalogueError(f"unknown model {name!r}; registered: {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def make_learner(name: str, params: Mapping[str, Any] | None = None, seed: int = 0, n_threads: int = 1) -> Learner:
    """Build an unfitted learner by registered name."""
    return registered_learner(name)(params=dict(params or {}), seed=seed, n_threads=n_threads)
