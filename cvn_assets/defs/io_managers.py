"""IO managers: columnar files for asset values, the results table for fold metrics.

Writes are atomic (temporary file, then rename), so a failed materialization never replaces or
corrupts a value computed earlier.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from cvn_assets.defs.partitions import split_cell_key
from cvn_assets.defs.resources import ResultsStoreResource, SweepResource


class FrameIOManager(dg.ConfigurableIOManager):
    """DataFrames as Parquet, mappings of DataFrames as a folder of Parquet files, dicts as JSON."""

    base_dir: str

    def _path(self, asset_key: dg.AssetKey, partition_key: str | None) -> Path:
        path = Path(self.base_dir, *asset_key.path)
        if partition_key is None:
            return path / "__all__"
        return path.joinpath(*str(partition_key).split("|"))

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        partition = context.partition_key if context.has_partition_key else None
        target = self._path(context.asset_key, partition)
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(obj, pd.DataFrame):
            _atomic_write(target.with_suffix(".parquet"), lambda p: obj.to_parquet(p, index=False))
        elif isinstance(obj, Mapping) and obj and all(isinstance(v, pd.DataFrame) for v in obj.values()):
            _atomic_write_folder(target, {name: frame for name, frame in obj.items()})
        elif isinstance(obj, Mapping):
            _atomic_write(target.with_suffix(".json"), lambda p: Path(p).write_text(json.dumps(obj, default=str)))
        else:
            raise TypeError(f"{context.asset_key.to_user_string()}: cannot store a {type(obj).__name__}")

    def load_input(self, context: dg.InputContext) -> Any:
        key = context.asset_key
        if context.has_asset_partitions and len(context.asset_partition_keys) > 1:
            values = {pk: self._load(key, pk) for pk in context.asset_partition_keys}
            return {pk: v for pk, v in values.items() if v is not None}
        partition = context.asset_partition_key if context.has_asset_partitions else None
        value = self._load(key, partition)
        if value is None:
            where = f" partition {partition}" if partition else ""
            raise FileNotFoundError(f"{key.to_user_string()}{where} has not been materialized yet (no value under "
                                    f"{self._path(key, partition)})")
        return value

    def _load(self, asset_key: dg.AssetKey, partition_key: str | None) -> Any:
        target = self._path(asset_key, partition_key)
        if target.with_suffix(".parquet").exists():
            return pd.read_parquet(target.with_suffix(".parquet"))
        if target.with_suffix(".json").exists():
            return json.loads(target.with_suffix(".json").read_text())
        if target.is_dir():
            return {p.stem: pd.read_parquet(p) for p in sorted(target.glob("*.parquet"))}
        return None


class FinetuneResultsIOManager(dg.ConfigurableIOManager):
    """Stores fold metrics in the `finetune_results` table and loads them back by cell."""

    results: ResultsStoreResource
    sweep: SweepResource

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        self.results.store().upsert(obj, run_id=context.run_id)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        keys = [split_cell_key(pk) for pk in context.asset_partition_keys]
        return self.results.store().read(self.sweep.name, keys=keys)


def _atomic_write(path: Path, write: Any) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(descriptor)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _atomic_write_folder(path: Path, frames: Mapping[str, pd.DataFrame]) -> None:
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        for name, frame in frames.items():
            frame.to_parquet(staging / f"{name}.parquet", index=False)
        retired = path.with_name(f".{path.name}.old")
        if path.exists():
            path.rename(retired)
        staging.rename(path)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
