"""Which partition runs of a sweep can be skipped: the same fingerprint was already materialized.

`force` turns skipping off. A cell is also re-run when its rows are missing from the results store
(e.g. a new results database), since the rows are what the gate reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, cached_property

import dagster as dg

from cvn_assets.core.catalogue import Catalogue
from cvn_assets.core.data.loading import ohlcv_content_hash
from cvn_assets.core.errors import CvnError
from cvn_assets.defs.fingerprints import SweepFingerprints, recorded_fingerprints, unchanged
from cvn_assets.defs.jobs import CRYPTO_DATA_ASSETS
from cvn_assets.defs.partitions import cell_key

CELL_TERMINAL = dg.AssetKey("fold_metrics")
CRYPTO_TERMINAL = dg.AssetKey("fold_windows")
GATE_ASSET = dg.AssetKey("gate_verdict")


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

    def gate(self, name: str, folds: Sequence[str]) -> str | None:
        configs = [c.config_id for c in self.catalogue.configs() if any(m[0] == name for m in c.members)]
        cells = [self.cell(crypto, fold, config) for crypto in self.catalogue.universe for fold in folds
                 for config in configs]
        if any(fp is None for fp in cells):
            return None
        return self.fingerprints.gate(name, [fp for fp in cells if fp is not None], [GATE_ASSET])

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
