"""A resource of the code location's Definitions, by name, as the sweep's planner and report read them."""

from __future__ import annotations

from typing import Any

import dagster as dg


def resource(defs: dg.Definitions, name: str) -> Any:
    """The resource `name` of `defs`; a one-line error names it when the Definitions lack it."""
    resources = defs.resources or {}
    if name not in resources:
        raise KeyError(f"the code location has no resource {name!r}; it has {sorted(resources)}")
    return resources[name]
