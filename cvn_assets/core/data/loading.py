"""One entry point for OHLCV: read a source, resample to the bar, validate, and fingerprint the result."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cvn_assets.core.data.embedded import embedded_path, load_embedded_ohlcv
from cvn_assets.core.data.origin import OhlcvOrigin, origin_of, record_origin
from cvn_assets.core.data.readers import find_crypto_file, read_ohlcv_file, read_ohlcv_table
from cvn_assets.core.data.resample import bar_timedelta, resample_ohlcv, source_resolution
from cvn_assets.core.data.validation import OhlcvRules, validate_ohlcv, validate_ohlcv_rows
from cvn_assets.core.errors import CatalogueError, DataSourceError
from cvn_assets.core.schema import OHLCV_COLUMNS

CONTENT_HASH_VERSION = "ohlcv-v1"


@dataclass(frozen=True)
class OhlcvSourceSpec:
    """Where OHLCV comes from (embedded default, a directory of files, or a SQL table) and its bar."""

    directory: str | None = None
    file_pattern: str = "{crypto}.*"
    sql_url: str | None = None
    sql_table: str | None = None
    bar: str = "1h"

    def __post_init__(self) -> None:
        if self.directory is not None and self.sql_url is not None:
            raise CatalogueError("OHLCV source: set either directory or sql_url, not both")
        if (self.sql_url is None) != (self.sql_table is None):
            raise CatalogueError("OHLCV source: sql_url and sql_table must be set together")
        if "{crypto}" not in self.file_pattern:
            raise CatalogueError(f"OHLCV source: file_pattern {self.file_pattern!r} must contain {{crypto}}")
        try:
            bar_timedelta(self.bar)
        except DataSourceError as exc:
            raise CatalogueError(f"OHLCV source: {exc}") from exc

    @property
    def kind(self) -> str:
        """ "embedded", "files" or "sql"."""
        if self.sql_url is not None:
            return "sql"
        return "embedded" if self.directory is None else "files"


def load_ohlcv(
    crypto: str, spec: OhlcvSourceSpec = OhlcvSourceSpec(), rules: OhlcvRules = OhlcvRules()
) -> pd.DataFrame:
    """Validated canonical frame of `crypto` at `spec.bar`, from the source `spec` names.

    Row checks run on the source rows first, so an error points at the row as the user's source
    has it; resampling (when the source is finer than the bar) would otherwise merge or reorder them.
    """
    raw = read_ohlcv_source(crypto, spec)
    origin = origin_of(raw)
    validate_ohlcv_rows(raw, crypto, origin)
    resolution = source_resolution(raw)
    width = bar_timedelta(spec.bar)
    if resolution is not None and resolution > width:
        source = f"{origin.source} ({crypto})" if origin else f"OHLCV for {crypto} ({spec.kind} source)"
        raise DataSourceError(
            f"{source}: rows are at least {resolution} apart, coarser than the requested bar "
            f"{spec.bar!r}; choose a bar of {resolution} or more"
        )
    if resolution is None or resolution == width:
        validate_ohlcv(raw, crypto, spec.bar, rules, origin)
        return raw
    frame = resample_ohlcv(raw, spec.bar)
    # A resampled bar is no line of the source: name the source, count the bars.
    bars = None if origin is None else OhlcvOrigin(f"{origin.source} resampled to {spec.bar}")
    record_origin(frame, bars)
    validate_ohlcv(frame, crypto, spec.bar, rules, bars)
    return frame


# A sweep reads every crypto twice in one process (its plan fingerprints the data, then the data run
# stores it); parsing a year of candles costs more than checking that the file is unchanged.
_LOADED: OrderedDict[tuple[object, ...], pd.DataFrame] = OrderedDict()
LOADED_KEPT = 16


def load_ohlcv_once(
    crypto: str, spec: OhlcvSourceSpec = OhlcvSourceSpec(), rules: OhlcvRules = OhlcvRules()
) -> pd.DataFrame:
    """`load_ohlcv`, parsed once per process while the source file is unchanged (same path, size and
    modification time); a SQL source is read every time. Each call returns its own copy."""
    if spec.kind == "sql":
        return load_ohlcv(crypto, spec, rules)
    path = (
        embedded_path(crypto)
        if spec.directory is None
        else find_crypto_file(Path(spec.directory), crypto, spec.file_pattern)
    )
    stat = path.stat()
    key = (crypto, spec, rules, str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _LOADED:
        _LOADED[key] = load_ohlcv(crypto, spec, rules)
        while len(_LOADED) > LOADED_KEPT:
            _LOADED.popitem(last=False)
    _LOADED.move_to_end(key)
    return _LOADED[key].copy()


def read_ohlcv_source(crypto: str, spec: OhlcvSourceSpec = OhlcvSourceSpec()) -> pd.DataFrame:
    """Raw canonical frame of `crypto` from the source of `spec`, not resampled nor validated."""
    if spec.sql_url is not None and spec.sql_table is not None:
        return read_ohlcv_table(spec.sql_url, spec.sql_table, crypto)
    if spec.directory is not None:
        return read_ohlcv_file(find_crypto_file(Path(spec.directory), crypto, spec.file_pattern), crypto)
    return load_embedded_ohlcv(crypto)


def ohlcv_content_hash(frame: pd.DataFrame) -> str:
    """sha256 hex of a canonical frame's values, identical across runs and platforms (the data version)."""
    missing = [name for name in OHLCV_COLUMNS if name not in frame.columns]
    if missing:
        raise DataSourceError(f"cannot hash OHLCV frame: missing columns {missing}")
    digest = hashlib.sha256()
    digest.update(f"{CONTENT_HASH_VERSION}|{','.join(OHLCV_COLUMNS)}|{len(frame)}|".encode())
    stamps = frame["timestamp"]
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    # Explicit little-endian layouts make the bytes independent of the platform's native order.
    digest.update(stamps.to_numpy(dtype="datetime64[ns]").astype("<i8").tobytes())
    for name in OHLCV_COLUMNS[1:]:
        digest.update(np.ascontiguousarray(frame[name].to_numpy(dtype="float64")).astype("<f8").tobytes())
    return digest.hexdigest()
