"""Readers that turn user OHLCV files (CSV, Parquet, Binance klines) and SQL tables into the canonical frame.

Readers only parse: every row is kept, in source order, and judging the data is left to
`validation`. An empty cell becomes NaN for validation to report; a cell that cannot be parsed
raises DataSourceError naming the file and the row.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from cvn_assets.core.data.columns import VALUE_COLUMNS, first_column_time, is_header, match_columns
from cvn_assets.core.data.origin import OhlcvOrigin, record_origin
from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.results.store import postgres_driver_url
from cvn_assets.core.schema import OHLCV_COLUMNS

BINANCE_KLINE_COLUMNS: tuple[str, ...] = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
CSV_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".zip")
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
# (exclusive upper bound of |epoch|, nanoseconds per unit), finest last. Any date from 1973-03 to
# 5138 has a different order of magnitude in s / ms / µs / ns, so the magnitude names the unit;
# Binance spot switched from ms to µs in 2025, which can happen in the middle of one file.
EPOCH_UNIT_BOUNDS: tuple[tuple[float, int], ...] = ((1e11, 10**9), (1e14, 10**6), (1e17, 10**3), (np.inf, 1))

ParseFailure = Callable[[int, str, object], DataSourceError]


def find_crypto_file(directory: Path, crypto: str, pattern: str = "{crypto}.*") -> Path:
    """The single file in `directory` matching `pattern` with `{crypto}` filled in."""
    directory = Path(directory).expanduser()
    try:
        glob = pattern.format(crypto=crypto)
    except (KeyError, IndexError, ValueError) as exc:
        raise DataSourceError(f"file pattern {pattern!r} may only use the placeholder {{crypto}}: {exc}") from exc
    if not directory.is_dir():
        raise DataSourceError(f"data directory {directory} does not exist (looking for {crypto} with {glob!r})")
    matches = sorted(p for p in directory.glob(glob) if p.is_file())
    if len(matches) == 1:
        return matches[0]
    if not matches:
        present = sorted(p.name for p in directory.iterdir())
        shown = ", ".join(present[:20]) + (" ..." if len(present) > 20 else "") if present else "none"
        raise DataSourceError(
            f"no file for {crypto} in {directory} matches pattern {pattern!r} ({glob!r}); files there: {shown}"
        )
    names = ", ".join(p.name for p in matches)
    raise DataSourceError(
        f"{len(matches)} files for {crypto} in {directory} match pattern {pattern!r} ({glob!r}): {names}; "
        "exactly one is required, narrow the pattern"
    )


def read_ohlcv_file(path: Path, crypto: str) -> pd.DataFrame:
    """Canonical OHLCV frame of one CSV (also gzipped / zipped) or Parquet file, rows in file order."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataSourceError(f"OHLCV file for {crypto} not found: {path}")
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        try:
            table = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise DataSourceError(f"cannot read Parquet file {path} for {crypto}: {exc}") from exc
        return _canonical(_index_to_columns(table), crypto, OhlcvOrigin(str(path)))
    if name.endswith(CSV_SUFFIXES):
        return _read_csv(path, crypto)
    raise DataSourceError(
        f"unsupported OHLCV file type for {crypto}: {path}; expected a name ending in "
        f"{', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)}"
    )


def read_ohlcv_table(url: str, table: str, crypto: str, crypto_column: str = "crypto") -> pd.DataFrame:
    """Canonical OHLCV frame of the rows of `crypto` in a SQL table (`schema.table` allowed), by time.

    SQL rows have no intrinsic order, so they are read ordered by the time column. A bare
    `postgresql://` URL is read with whichever PostgreSQL driver is installed, as the results store does.
    """
    try:
        shown_url = sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        # The parser's message repeats the URL, which may hold a password: keep it out.
        raise DataSourceError(f"cannot parse the database URL for {crypto} (URL not shown)") from None
    try:
        engine = sa.create_engine(postgres_driver_url(url))
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise DataSourceError(f"cannot open database {shown_url} for {crypto}: {exc}") from exc
    schema, _, name = table.rpartition(".")
    source = f"table {table!r} at {shown_url}"
    try:
        with engine.connect() as conn:
            sql_table = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=conn)
            if crypto_column not in sql_table.c:
                raise DataSourceError(
                    f"{source} has no crypto column {crypto_column!r}; columns: {list(sql_table.c.keys())}"
                )
            columns = [c for c in sql_table.c if c.name != crypto_column]
            # `DataFrame.to_sql` writes an unnamed DatetimeIndex as a first column named "index".
            first_time = columns[0].name if columns and isinstance(columns[0].type, sa.DateTime) else None
            time_column = match_columns([c.name for c in columns], crypto, source, first_time)["timestamp"]
            query = sa.select(sql_table).where(sql_table.c[crypto_column] == crypto).order_by(sql_table.c[time_column])
            frame = pd.read_sql(query, conn)
            if frame.empty:
                known = conn.execute(sa.select(sql_table.c[crypto_column]).distinct().limit(20)).scalars().all()
                raise DataSourceError(
                    f"{source} has no rows with {crypto_column} = {crypto!r}; values present include {known}"
                )
    except sa.exc.NoSuchTableError as exc:
        raise DataSourceError(f"{source} does not exist (reading {crypto})") from exc
    except sa.exc.SQLAlchemyError as exc:
        raise DataSourceError(f"cannot read {source} for {crypto}: {exc}") from exc
    finally:
        engine.dispose()
    return _canonical(frame.drop(columns=[crypto_column]), crypto, OhlcvOrigin(source))


def _read_csv(path: Path, crypto: str) -> pd.DataFrame:
    """Parse a CSV as text first, so each cell's failure can be traced back to its line."""
    try:
        raw = pd.read_csv(path, header=None, dtype=str, skipinitialspace=True)
    except (OSError, ValueError, EOFError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise DataSourceError(f"cannot read CSV file {path} for {crypto}: {exc}") from exc
    first = ["" if pd.isna(cell) else str(cell) for cell in raw.iloc[0]]
    if is_header(first, crypto):
        table = raw.iloc[1:].reset_index(drop=True)
        table.columns = pd.Index(first)
        return _canonical(table, crypto, OhlcvOrigin(str(path), first_line=2))
    if raw.shape[1] != len(BINANCE_KLINE_COLUMNS):
        raise DataSourceError(
            f"CSV file {path} for {crypto} has no header naming a time column and open/high/low/close/volume, "
            f"and is not a headerless Binance kline export ({len(BINANCE_KLINE_COLUMNS)} columns, "
            f"found {raw.shape[1]}); first line: {','.join(first)}"
        )
    raw.columns = pd.Index(BINANCE_KLINE_COLUMNS)
    return _canonical(raw, crypto, OhlcvOrigin(str(path), first_line=1))


def _index_to_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Parquet written from a time-indexed frame keeps the time as an index (named or not): make it a column."""
    if isinstance(table.index, pd.DatetimeIndex) or any(name is not None for name in table.index.names):
        return table.reset_index()
    return table.reset_index(drop=True)


def _canonical(table: pd.DataFrame, crypto: str, origin: OhlcvOrigin) -> pd.DataFrame:
    """Pick and parse the OHLCV columns of a source table, keeping its rows and their order; the
    frame carries its origin (see `origin_of`) for validation to name."""
    mapping = match_columns(table.columns, crypto, origin.source, first_column_time(table, crypto))
    table = table.reset_index(drop=True)

    def fail(row: int, what: str, value: object) -> DataSourceError:
        return DataSourceError(f"{origin.source} ({crypto}): {origin.locate(row)}: cannot parse {what} {value!r}")

    out = {"timestamp": _parse_time(table[mapping["timestamp"]], fail)}
    for name in VALUE_COLUMNS:
        out[name] = _parse_number(table[mapping[name]], name, fail)
    frame = pd.DataFrame(out, columns=list(OHLCV_COLUMNS))
    record_origin(frame, origin)
    return frame


def _parse_number(values: pd.Series, name: str, fail: ParseFailure) -> pd.Series:
    """float64 values; blanks stay NaN, text that is not a number raises."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    parsed = pd.to_numeric(values, errors="coerce").astype("float64")
    _raise_first(parsed.isna() & values.notna(), values, name, fail)
    return parsed


def _parse_time(values: pd.Series, fail: ParseFailure) -> pd.Series:
    """UTC timestamps from datetimes (naive ones are UTC), epoch numbers or ISO 8601 text."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_dtype(values):
        return values.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
    numeric = pd.to_numeric(values, errors="coerce", dtype_backend="numpy_nullable")
    if values.notna().any() and not (numeric.isna() & values.notna()).any():
        return _epoch_to_utc(numeric, values, fail)
    try:
        parsed = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
    except (TypeError, ValueError) as exc:
        raise fail(0, "timestamps (expected ISO 8601 text or epoch numbers)", str(exc)) from exc
    _raise_first(parsed.isna() & values.notna(), values, "timestamp (expected ISO 8601 or epoch)", fail)
    return parsed.astype("datetime64[ns, UTC]")


def _epoch_to_utc(numeric: pd.Series, values: pd.Series, fail: ParseFailure) -> pd.Series:
    """Epoch numbers to UTC, the unit chosen per row from the magnitude (see EPOCH_UNIT_BOUNDS)."""
    missing = numeric.isna().to_numpy()
    magnitude = numeric.abs().to_numpy(dtype="float64", na_value=0.0)
    bounds = [magnitude < bound for bound, _ in EPOCH_UNIT_BOUNDS]
    scale = np.select(bounds, [ns for _, ns in EPOCH_UNIT_BOUNDS]).astype("int64")
    _raise_first(pd.Series(magnitude * scale >= 2.0**63), values, "timestamp (out of range as epoch)", fail)
    if pd.api.types.is_integer_dtype(numeric):
        nanos = numeric.to_numpy(dtype="int64", na_value=0) * scale
    else:
        nanos = np.round(numeric.to_numpy(dtype="float64", na_value=0.0) * scale).astype("int64")
    stamps = nanos.astype("datetime64[ns]")
    stamps[missing] = np.datetime64("NaT")
    return pd.Series(stamps).dt.tz_localize("UTC")


def _raise_first(bad: pd.Series, values: pd.Series, what: str, fail: ParseFailure) -> None:
    """Raise for the first flagged row, quoting its source value."""
    positions = np.flatnonzero(bad.to_numpy(dtype=bool))
    if positions.size:
        row = int(positions[0])
        raise fail(row, what, values.iloc[row])
