"""Self-registering plugin modules: importing every module of a package runs its registrations."""

from __future__ import annotations

import importlib
import pkgutil

_DISCOVERED: set[str] = set()


def import_package_modules(package_name: str) -> None:
    """Import each module of `package_name` once, so its `@register_*` decorators run."""
    if package_name in _DISCOVERED:
        return
    package = importlib.import_module(package_name)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package_name}.{module.name}")
    _DISCOVERED.add(package_name)
