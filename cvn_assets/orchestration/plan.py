"""Which partition runs of a sweep are done: the same fingerprint was already materialized.

A partition is done when its last materialization was made under the fingerprint the sweep expects
now; a cell also needs its rows in the results store (e.g. a new results database), since the rows
are what the gate reads. `force` counts as done only what the sweep's own runs materialized. Each
done partition comes with the run that made it, so a sweep tells what it skipped (done before it
started) from what it computed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from functools import cache, partial
from typing import NamedTuple

import dagster as dg

from cvn_assets.core.catalogue.loading import Catalogue
from cvn_assets.core.data.loading import ohlcv_content_hash
from cvn_assets.core.errors import CvnError
from cvn_assets.defs.jobs import CRYPTO_DATA_ASSETS
from cvn_assets.defs.partitions import cell_key
from cvn_assets.lineage.fingerprints import SweepFingerprints, recorded_fingerprints, recorded_runs
from cvn_assets.lineage.materializations import LatestMaterializations
from cvn_assets.orchestration.resources import resource

CELL_TERMINAL = dg.AssetKey("fold_metrics")
CRYPTO_TERMINAL = dg.AssetKey("fold_windows")
GATE_ASSET = dg.AssetKey("gate_verdict")


class GatePlan(NamedTuple):
    fingerprint: str
    # Cells the gate reads that were materialized under other inputs, parameters or code than today's.
    behind: list[str]


class SweepPlan:
    """Fingerprints of every run the sweep may launch (computed once), and which partitions are done
    (asked of the instance each time: other runs finish meanwhile; each time reads only the
    materializations recorded since the last, `LatestMaterializations`)."""

    def __init__(
        self,
        defs: dg.Definitions,
        instance: dg.DagsterInstance,
        catalogue: Catalogue,
        sweep_name: str,
        force: bool = False,
    ) -> None:
        self.defs, self.instance, self.catalogue, self.force = defs, instance, catalogue, force
        self.fingerprints = SweepFingerprints(defs, catalogue, sweep_name)
        self.sweep_name = sweep_name
        specs = list(defs.resolve_all_asset_specs())
        self.cell_assets = [s.key for s in specs if isinstance(s.partitions_def, dg.MultiPartitionsDefinition)]
        self._crypto_keys = [dg.AssetKey(name) for name in CRYPTO_DATA_ASSETS]
        self.crypto = cache(self._crypto)
        self.cell = cache(self._cell)
        # Per asset, its partitions' latest materializations, kept current for this sweep.
        self.latest = cache(partial(LatestMaterializations, instance))

    def _crypto(self, crypto: str) -> str | None:
        try:
            content = ohlcv_content_hash(resource(self.defs, "ohlcv_source").load(crypto))
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
        recorded = recorded_fingerprints(
            self.instance, CELL_TERMINAL, keys, finished_in_failed_runs=True, latest=self.latest(CELL_TERMINAL)
        )
        behind = [
            key
            for key, cell in zip(keys, cells, strict=True)
            if key in recorded and (now := self.cell(*cell)) is not None and recorded[key] != now
        ]
        read = [recorded.get(key, f"absent:{key}") for key in keys]
        return GatePlan(self.fingerprints.gate(name, read, [GATE_ASSET]), behind)

    def done_cryptos(self, cryptos: Sequence[str], own_runs: Collection[str] = ()) -> dict[str, str]:
        """The cryptos whose data is done, each with the run that made it."""
        return self._done(CRYPTO_TERMINAL, {c: self.crypto(c) for c in cryptos}, own_runs)

    def done_cells(
        self,
        cells: Sequence[tuple[str, str, str]],
        stored: Callable[[], Collection[str]],
        own_runs: Collection[str] = (),
    ) -> dict[str, str]:
        """The cells done, each with its run; `stored` gives the cell keys that have rows in the results store."""
        expected = {str(cell_key(*cell)): self.cell(*cell) for cell in cells}
        done = self._done(CELL_TERMINAL, expected, own_runs, finished_in_failed_runs=True)
        if not done:
            return done
        rows = stored()
        return {key: run for key, run in done.items() if key in rows}

    def done_gate(self, name: str, expected: str | None, own_runs: Collection[str] = ()) -> str | None:
        """The run that made the gate's verdict under `expected`, or None."""
        return self._done(GATE_ASSET, {name: expected}, own_runs).get(name)

    def _done(
        self,
        key: dg.AssetKey,
        expected: dict[str, str | None],
        own_runs: Collection[str],
        finished_in_failed_runs: bool = False,
    ) -> dict[str, str]:
        """Partitions whose recorded fingerprint equals the expected one (None never matches), with their run;
        under `force`, only those that one of `own_runs` made."""
        recorded = recorded_runs(
            self.instance,
            key,
            [p for p, fp in expected.items() if fp is not None],
            finished_in_failed_runs,
            self.latest(key),
        )
        return {
            p: run for p, (fp, run) in recorded.items() if fp == expected[p] and (not self.force or run in own_runs)
        }
