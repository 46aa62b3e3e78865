"""`@cell_asset`: a function computing one cell's value of an asset, declared as that asset.

The function's name is the asset's name and its docstring the asset's description, as with
`@dg.asset`. It takes the cell, the crypto's per-crypto values and the `CellTools`; its keyword-only
parameters name the cell assets it reads, each given that asset's value for the same cell (a
per-model asset's values as a mapping by model). The cell step (`step.py`) computes every such asset
of a range of cells in one Dagster step; `computations` lists them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_SPEC = "cell_asset_spec"


@dataclass(frozen=True)
class CellAssetSpec:
    """What `@cell_asset` records about its function."""

    name: str
    description: str
    group: str
    kinds: frozenset[str]
    check: str | Callable[[str], str]
    reads: tuple[str, ...]
    upstream: tuple[str, ...]
    per_model: bool
    io_manager_key: str | None
    advisory: tuple[str, ...] = ()


def cell_asset(
    *,
    group: str,
    kinds: Collection[str],
    check: str | Callable[[str], str],
    reads: Collection[str] = (),
    per_model: bool = False,
    io_manager_key: str | None = None,
    advisory: Collection[str] = (),
) -> Callable[[F], F]:
    """Declares the decorated function as a cell asset.

    `reads`: the per-crypto assets it reads (from its `data` argument); `check`: the name of its
    blocking check (a function of the model for a per-model asset); `advisory`: the names of its
    non-blocking checks, which warn without stopping the run. `per_model`: one asset per model
    of the sweep, keyed `[name, model]`, the function taking the model first; a model's library is
    among its kinds.
    """

    def declare(function: F) -> F:
        parameters = inspect.signature(function).parameters.values()
        setattr(
            function,
            _SPEC,
            CellAssetSpec(
                name=function.__name__,
                description=" ".join((function.__doc__ or "").split()),
                group=group,
                kinds=frozenset(kinds),
                check=check,
                reads=tuple(reads),
                upstream=tuple(p.name for p in parameters if p.kind is p.KEYWORD_ONLY),
                per_model=per_model,
                io_manager_key=io_manager_key,
                advisory=tuple(advisory),
            ),
        )
        return function

    return declare


def spec_of(function: Callable[..., Any]) -> CellAssetSpec:
    """The declaration of a `@cell_asset` function."""
    spec = getattr(function, _SPEC, None)
    if not isinstance(spec, CellAssetSpec):
        raise TypeError(f"{getattr(function, '__name__', function)!r} is not declared with @cell_asset")
    return spec
