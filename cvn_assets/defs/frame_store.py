"""Asset values as files under one folder, one file (or folder of files) per partition.

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
import pyarrow as pa
import pyarrow.parquet as pq


class PartitionValues(dict[str, Any]):
    """The value of each partition key of a run over a partition range (or of a single partition)."""


class FrameStore:
    """Asset values under a folder: DataFrames as Parquet, mappings of DataFrames as a folder of Parquet
    files, dicts as JSON; one file (or folder) per partition."""

    def __init__(self, base_dir: str | Path) -> None:
        self.base_dir = Path(base_dir)

    def path(self, asset_key: dg.AssetKey, partition_key: str | None) -> Path:
        path = self.base_dir.joinpath(*asset_key.path)
        if partition_key is None:
            return path / "__all__"
        return path.joinpath(*str(partition_key).split("|"))

    def write(self, asset_key: dg.AssetKey, partition_key: str | None, obj: Any) -> None:
        target = self.path(asset_key, partition_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(obj, pd.DataFrame):
            _atomic_write(_file(target, ".parquet"), lambda p: write_parquet(obj, p))
        elif isinstance(obj, Mapping) and obj and all(isinstance(v, pd.DataFrame) for v in obj.values()):
            _atomic_write_folder(target, {name: frame for name, frame in obj.items()})
        elif isinstance(obj, Mapping):
            _atomic_write(_file(target, ".json"), lambda p: Path(p).write_text(json.dumps(obj, default=str)))
        else:
            raise TypeError(f"{asset_key.to_user_string()}: cannot store a {type(obj).__name__}")

    def read(self, asset_key: dg.AssetKey, partition_key: str | None) -> Any:
        """The stored value, or None when there is none."""
        target = self.path(asset_key, partition_key)
        if _file(target, ".parquet").exists():
            return pd.read_parquet(_file(target, ".parquet"))
        if _file(target, ".json").exists():
            return json.loads(_file(target, ".json").read_text())
        if target.is_dir():
            return {p.stem: pd.read_parquet(p) for p in sorted(target.glob("*.parquet"))}
        return None

    def require(self, asset_key: dg.AssetKey, partition_key: str | None) -> Any:
        value = self.read(asset_key, partition_key)
        if value is None:
            where = f" partition {partition_key}" if partition_key else ""
            raise FileNotFoundError(
                f"{asset_key.to_user_string()}{where} has not been materialized yet (no value "
                f"under {self.path(asset_key, partition_key)})"
            )
        return value


def write_parquet(frame: pd.DataFrame, path: str | Path) -> None:
    """`frame.to_parquet(path, index=False)`, converting its columns on this thread: pandas lets pyarrow
    start a thread pool per call, which costs a cell's small frames more than it saves (-40 %)."""
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False, nthreads=1), str(path))


def _file(target: Path, suffix: str) -> Path:
    # Appended, never replaced: the cell `BTC|f1.ls_mild` is the file `BTC/f1.ls_mild.parquet`, not `BTC/f1.parquet`.
    return target.with_name(target.name + suffix)


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
            write_parquet(frame, staging / f"{name}.parquet")
        retired = path.with_name(f".{path.name}.old")
        if path.exists():
            path.rename(retired)
        staging.rename(path)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
