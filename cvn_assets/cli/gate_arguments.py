"""What `cvn-assets gate` gates: the sweep, the factors and each factor's baseline, from the arguments
given and, where one is left out but only one answer fits, from the table and the catalogue.

An inferred choice is reported as one line, so a verdict never rests on a silent guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cvn_assets.core.catalogue.loading import Catalogue, load_catalogue
from cvn_assets.core.dossier.source import select_sweep
from cvn_assets.core.errors import InsufficientDataError
from cvn_assets.defs.settings import Settings

BASELINE_FLAG_COLUMN = "is_baseline"
TRUE_MARKERS: frozenset[str] = frozenset({"true", "1", "1.0", "yes"})


@dataclass(frozen=True)
class GateArguments:
    """The rows to gate (one sweep), the factors in order, the baseline of each, and what was inferred."""

    results: pd.DataFrame
    factors: list[str]
    baselines: dict[str, str]
    inferred: list[str] = field(default_factory=list)


def resolve_gate_arguments(
    table: pd.DataFrame,
    where: str,
    factor: str | None,
    baseline: str | None,
    sweep_id: str | None,
    catalogue: Callable[[], Catalogue],
) -> GateArguments:
    """Choose the sweep, factors and baselines; `catalogue` is loaded only when a baseline is needed from it.

    The sweep is inferred when the table holds several but only one has rows of `factor`; a factor's
    baseline, when neither `baseline` nor an is_baseline column names it, is the catalogue's baseline
    of that factor if the table has rows of that variant.
    """
    inferred: list[str] = []
    if sweep_id is None and factor is not None and "sweep_id" in table.columns:
        holding = sorted({str(s) for s in table.loc[table["factor"] == factor, "sweep_id"].dropna()})
        if len(holding) > 1:
            raise InsufficientDataError(
                f"{where}: factor {factor!r} has rows in {len(holding)} sweeps {holding}; choose one with --sweep-id"
            )
        if holding and table["sweep_id"].nunique(dropna=True) > 1:
            sweep_id = holding[0]
            inferred.append(f"sweep: {sweep_id} (the only sweep with rows of factor {factor}; --sweep-id to choose)")
        elif not holding and table["sweep_id"].nunique(dropna=True) > 1:
            factors = sorted(map(str, table["factor"].dropna().unique()))
            raise InsufficientDataError(f"unknown factor {factor!r}; factors in {where}: {factors}")
    results, _ = select_sweep(table, sweep_id, where)
    factors = sorted(map(str, results["factor"].dropna().unique()))
    if factor is not None:
        if factor not in factors:
            raise InsufficientDataError(f"unknown factor {factor!r}; factors in {where}: {factors}")
        factors = [factor]
    elif baseline is not None and len(factors) > 1:
        raise InsufficientDataError(f"--baseline needs --factor when the table holds several factors: {factors}")
    baselines = {}
    for name in factors:
        if baseline is not None:
            baselines[name] = baseline
        elif BASELINE_FLAG_COLUMN in results.columns:
            baselines[name] = flagged_baseline(results, name)
        else:
            baselines[name] = _catalogue_baseline(results, name, catalogue())
            inferred.append(
                f"baseline of {name}: {baselines[name]} (the catalogue's, {catalogue().source}; --baseline to choose)"
            )
    return GateArguments(results, factors, baselines, inferred)


def _catalogue_baseline(results: pd.DataFrame, factor: str, catalogue: Catalogue) -> str:
    """The catalogue's baseline of `factor`, when it names the factor and the table has that variant's rows."""
    known = {f.name: f.baseline for f in catalogue.factors}
    variants = sorted(map(str, results.loc[results["factor"] == factor, "variant"].dropna().unique()))
    if known.get(factor) in variants:
        return str(known[factor])
    found = (
        f"its baseline {known[factor]!r} has no rows (variants: {variants})"
        if factor in known
        else "it does not name this factor"
    )
    raise InsufficientDataError(
        f"no baseline for factor {factor!r}: catalogue {catalogue.source}: {found}; pass --baseline, add an "
        f"{BASELINE_FLAG_COLUMN} column or choose the sweep's catalogue with --catalogue"
    )


def flagged_baseline(results: pd.DataFrame, factor: str) -> str:
    """The one variant of `factor` flagged in the is_baseline column."""
    rows = results[results["factor"] == factor]
    flags = rows[BASELINE_FLAG_COLUMN]
    if not pd.api.types.is_bool_dtype(flags):
        flags = flags.astype(str).str.strip().str.lower().isin(TRUE_MARKERS)
    flagged = sorted(map(str, rows.loc[flags.to_numpy(dtype=bool), "variant"].unique()))
    if len(flagged) != 1:
        raise InsufficientDataError(
            f"factor {factor!r} needs exactly one variant flagged {BASELINE_FLAG_COLUMN}, found {flagged}; "
            "pass --baseline"
        )
    return flagged[0]


def catalogue_loader(path: Path | None) -> Callable[[], Catalogue]:
    """Loads the catalogue once, on first use: `path`, else $CVN_CATALOGUE, else the packaged one."""
    loaded: list[Catalogue] = []

    def load() -> Catalogue:
        if not loaded:
            loaded.append(load_catalogue(path or Settings.from_env().catalogue_path))
        return loaded[0]

    return load
