"""Results tables for a dossier: read from a CSV/Parquet file or a database table, one sweep selected.

Every source goes through `normalise_results`, so a table read back from a file or a database gives
exactly the frame the results store gives, and so exactly the same dossier.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.gate import REQUIRED_COLUMNS
from cvn_assets.core.results.store import RESULTS_TABLE, postgres_driver_url
from cvn_assets.core.schema import METRIC_COLUMNS, RESULT_KEY_COLUMNS, TEXT_COLUMNS

# Identifiers and messages stay text, so a variant named "none" or a fold named "1" keeps its name.
TEXT_VALUED_COLUMNS: tuple[str, ...] = (*RESULT_KEY_COLUMNS, *sorted(TEXT_COLUMNS))
# Read only these as missing in numeric columns.
MISSING_MARKERS: tuple[str, ...] = ("", "nan", "NaN", "NA", "null", "None")


def is_database_url(source: str | Path) -> bool:
    """Whether `source` is a SQLAlchemy URL (`dialect[+driver]://...`) rather than a file path."""
    return "://" in str(source)


def describe_source(source: str | Path, table: str = RESULTS_TABLE) -> str:
    """`source` for messages and logs: a database URL without its password."""
    if not is_database_url(source):
        return str(source)
    try:
        shown = sa.engine.make_url(str(source)).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        shown = "<unparseable database URL>"
    return f"{shown} table {table}"


def load_results_table(source: str | Path, table: str = RESULTS_TABLE) -> pd.DataFrame:
    """A `finetune_results` table from a .csv/.parquet file or from `table` at a SQLAlchemy URL."""
    frame = _read_database(str(source), table) if is_database_url(source) else _read_file(Path(source))
    return normalise_results(frame, describe_source(source, table))


def normalise_results(frame: pd.DataFrame, where: str = "results table") -> pd.DataFrame:
    """Check the gate's columns and give every source the same types.

    Identifier and text columns become str (missing text becomes None); metric columns must be
    numeric. An empty table or a missing column is an error naming `where`.
    """
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise DataSourceError(f"{where}: lacks column(s) {', '.join(missing)}; required: {', '.join(REQUIRED_COLUMNS)}")
    if frame.empty:
        raise DataSourceError(f"{where}: the table has no rows")
    out = frame.reset_index(drop=True).copy()
    for column in TEXT_VALUED_COLUMNS:
        if column in out.columns:
            out[column] = [_text(value) for value in out[column]]
    for column in METRIC_COLUMNS:
        if column in out.columns and not pd.api.types.is_numeric_dtype(out[column]):
            try:
                out[column] = pd.to_numeric(out[column]).astype(float)
            except (TypeError, ValueError) as error:
                raise DataSourceError(f"{where}: column {column} must be numeric ({error})") from error
    return out


def select_sweep(
    results: pd.DataFrame, sweep_id: str | None, where: str = "results table"
) -> tuple[pd.DataFrame, str | None]:
    """Rows of one sweep and its id: `sweep_id`, or the table's only sweep when not given."""
    if "sweep_id" not in results.columns:
        if sweep_id is not None:
            raise DataSourceError(f"{where}: no sweep_id column, so sweep {sweep_id!r} cannot be selected")
        return results, None
    present = sorted({str(s) for s in results["sweep_id"].dropna()})
    if sweep_id is None:
        if len(present) > 1:
            raise DataSourceError(f"{where}: holds {len(present)} sweeps {present}; choose one with a sweep id")
        return results, present[0] if present else None
    if sweep_id not in present:
        raise DataSourceError(f"{where}: no rows of sweep {sweep_id!r}; sweeps present: {present}")
    return results[results["sweep_id"] == sweep_id].reset_index(drop=True), sweep_id


def _read_file(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataSourceError(f"results file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(
                path,
                dtype={column: str for column in TEXT_VALUED_COLUMNS},
                keep_default_na=False,
                na_values={column: list(MISSING_MARKERS) for column in METRIC_COLUMNS},
                # The default parser may be off in the last bit; the dossier must match the store exactly.
                float_precision="round_trip",
            )
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (OSError, ValueError) as error:
        raise DataSourceError(f"results file {path} cannot be read: {error}") from error
    raise DataSourceError(f"results file {path} must end in .csv or .parquet, not {suffix or 'nothing'}")


def _read_database(url: str, table: str) -> pd.DataFrame:
    shown = describe_source(url, table)
    try:
        engine = sa.create_engine(postgres_driver_url(url), future=True)
    except (sa.exc.ArgumentError, ImportError, ValueError) as error:
        raise DataSourceError(f"{shown}: not a usable SQLAlchemy URL ({error})") from error
    try:
        tables = sa.inspect(engine).get_table_names()
        if table not in tables:
            raise DataSourceError(f"{shown}: no table {table!r}; tables present: {sorted(tables)}")
        reflected = sa.Table(table, sa.MetaData(), autoload_with=engine)
        with engine.connect() as connection:
            rows = connection.execute(sa.select(reflected)).mappings().all()
        return pd.DataFrame(rows, columns=[c.name for c in reflected.columns])
    except sa.exc.SQLAlchemyError as error:
        raise DataSourceError(f"{shown}: cannot be read ({' '.join(str(error).split())[:300]})") from error
    finally:
        engine.dispose()


def _text(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    text = str(value)
    return text if text else None
