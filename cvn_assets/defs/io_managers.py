"""IO managers: columnar files for asset values, the results table for fold metrics.

Writes are atomic (temporary file, then rename), so a failed materialization never replaces or
corrupts a value computed earlier. A run over a range of partitions hands over `PartitionValues`
(one value per partition key), stored as if each partition had been materialized on its own.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from cvn_assets.defs.frame_store import FrameStore, PartitionValues
from cvn_assets.defs.partitions import split_cell_key
from cvn_assets.defs.resources import ResultsStoreResource, SweepResource


class FrameIOManager(dg.ConfigurableIOManager):
    """Asset values as files (see `FrameStore`)."""

    base_dir: str

    def store(self) -> FrameStore:
        return FrameStore(self.base_dir)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        store = self.store()
        if isinstance(obj, PartitionValues):
            for partition, value in obj.items():
                store.write(context.asset_key, partition, value)
            return
        store.write(context.asset_key, context.partition_key if context.has_partition_key else None, obj)

    def load_input(self, context: dg.InputContext) -> Any:
        key, store = context.asset_key, self.store()
        if context.has_asset_partitions and len(context.asset_partition_keys) > 1:
            values = {pk: store.read(key, pk) for pk in context.asset_partition_keys}
            return {pk: v for pk, v in values.items() if v is not None}
        return store.require(key, context.asset_partition_key if context.has_asset_partitions else None)


class FinetuneResultsIOManager(dg.ConfigurableIOManager):
    """Stores fold metrics in the `finetune_results` table and loads them back by cell."""

    results: ResultsStoreResource
    sweep: SweepResource

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | PartitionValues) -> None:
        # A partition range is written in one transaction.
        rows = pd.concat(list(obj.values()), ignore_index=True) if isinstance(obj, PartitionValues) else obj
        self.results.store().upsert(rows, run_id=context.run_id)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        keys = [split_cell_key(pk) for pk in context.asset_partition_keys]
        return self.results.store().read(self.sweep.name, keys=keys)
