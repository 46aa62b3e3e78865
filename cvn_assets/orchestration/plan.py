"""Which partition runs of a sweep can be skipped: the same fingerprint was already materialized.

`force` turns skipping off. A cell is also re-run when its rows are missing from the results store
(e.g. a new results database), since the rows are what the gate reads.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from functools import cache, cached_property
from typing import NamedTuple

import dagster as dg

from cvn_assets.core.catalogue.loading import Catalogue
from cvn_assets.core.data.loading import ohlcv_content_hash
from cvn_assets.core.errors import CvnError
from cvn_assets.lineage.fingerprints import SweepFingerprints, recorded_fingerprints, unchanged
from cvn_assets.defs.jobs import CRYPTO_DATA_ASSETS
from cvn_assets.defs.partitions import cell_key

CELL_TERMINAL = dg.AssetKey("fold_metrics")
CRYPTO_TERMINAL = dg.AssetKey("fold_windows")
GATE_ASSET = dg.AssetKey("gate_verdict")


class GatePlan(NamedTuple):
    fingerprint: str
    # Cells the gate reads that were materialized under other inputs, parameters or code than today's.
    behind: list[str]


class SweepPlan:
    """Fingerprints of every run the sweep may launch, and which of them are already done."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, catalogue: Catalogue, sweep_name: str,
                 force: bool = False) -> None:
        self.defs, self.instance, self.catalogue, self.force = defs, instance, catalogue, force
        self.fingerprints = SweepFingerprints(defs, catalogue, sweep_name)
        self.sweep_name = sweep_name
        specs = list(defs.resolve_all_asset_specs())
        self.cell_assets = [s.key for s in specs if isinstance(s.partitions_def, dg.MultiPartitionsDefinition)]
        self._crypto_keys = [dg.AssetKey(name) for name in CRYPTO_DATA_ASSETS]
        self.crypto = cache(self._crypto)
        self.cell = cache(self._cell)

    def _crypto(self, crypto: str) -> str | None:
        try:
            content = ohlcv_content_hash(self.defs.resources["ohlcv_source"].load(crypto))
        except CvnError:
            return None  # the data job reports the problem; nothing to compare with
        return self.fingerprints.crypto(crypto, content, self._crypto_keys)

    def _cell(self, crypto: str, fold: str, config_id: str) -> str | None:
        upstream = self.crypto(crypto)
        return None if upstream is None else self.fingerprints.cell(upstream, fold, config_id, self.cell_assets)

    def gate(self, name: str, folds: Sequence[str]) -> GatePlan:
        """The gate's fingerprint over its cells as they were last materialized, not as the catalogue would
        make them now: a gate run after a partial selection (one crypto's cells of a changed variant, say)
        runs again once the other cells are recomputed. A cell never materialized (a joint candidate not
        chosen) counts as absent, so it changes the gate's fingerprint when it appears. A joint rule reads
        its factors' cells too: they decide which candidate it gates, or that none passed."""
        factors = {name, *{r.name: r.factors for r in self.catalogue.joint_rules}.get(name, ())}
        configs = [c.config_id for c in self.catalogue.configs() if any(m[0] in factors for m in c.members)]
        cells = [(crypto, fold, config) for crypto in self.catalogue.universe for fold in folds for config in configs]
        keys = [str(cell_key(*cell)) for cell in cells]
        recorded = recorded_fingerprints(self.instance, CELL_TERMINAL, keys, finished_in_failed_runs=True)
        behind = [key for key, cell in zip(keys, cells)
                  if key in recorded and (now := self.cell(*cell)) is not None and recorded[key] != now]
        read = [recorded.get(key, f"absent:{key}") for key in keys]
        return GatePlan(self.fingerprints.gate(name, read, [GATE_ASSET]), behind)

    def done_cryptos(self, cryptos: Sequence[str]) -> set[str]:
        return self._done(CRYPTO_TERMINAL, {c: self.crypto(c) for c in cryptos})

    def done_cells(self, cells: Sequence[tuple[str, str, str]]) -> set[str]:
        expected = {str(cell_key(*cell)): self.cell(*cell) for cell in cells}
        done = self._done(CELL_TERMINAL, expected, finished_in_failed_runs=True)
        return done & self._stored_cells if done else done

    @cached_property
    def _stored_cells(self) -> set[str]:
        # Read once per sweep: cells written later in this sweep are never asked about again.
        rows = self.defs.resources["results"].store().read(self.sweep_name)
        return {str(cell_key(c, f, v)) for c, f, v in zip(rows["crypto"], rows["fold"], rows["config_id"])}

    def done_gate(self, name: str, expected: str | None) -> bool:
        return name in self._done(GATE_ASSET, {name: expected})

    def _done(self, key: dg.AssetKey, expected: dict[str, str | None], finished_in_failed_runs: bool = False) -> set[str]:
        if self.force:
            return set()
        return unchanged(expected, recorded_fingerprints(self.instance, key, list(expected), finished_in_failed_runs))


def gate_waits_for(catalogue: Catalogue, factor: str, cryptos: Sequence[str], folds: Sequence[str],
                   selected: Collection[str], stored: Callable[[], Collection[tuple[str, str, str]]]) -> str | None:
    """What the gate of `factor` still lacks in a run of the `selected` configurations over `cryptos` × `folds`:
    e.g. "baseline none has 0/25 cells, aggressive has 0/25 cells", or None when it can be gated.

    A configuration of the factor that the run did not select needs every one of those cells in the
    results store (`stored`: the (crypto, fold, config_id) cells there, read only when needed); a selected
    one was run now, so a cell of it that is missing failed, which the run reports as a failure instead.
    """
    baseline = catalogue.factor(factor).baseline
    total = len(cryptos) * len(folds)
    lacking = []
    for config in catalogue.configs():
        variants = [variant for name, variant in config.members if name == factor]
        if not variants or config.config_id in selected:
            continue
        cells = stored()
        have = sum((crypto, fold, config.config_id) in cells for crypto in cryptos for fold in folds)
        if have < total:
            label = f"baseline {baseline}" if baseline in variants else ", ".join(variants)
            lacking.append(f"{label} has {have}/{total} cells")
    return ", ".join(lacking) or None
