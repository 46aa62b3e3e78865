"""The `finetune_results` table: one row per sweep × crypto × fold × factor × variant × model.

SQLite by default, PostgreSQL by URL. A re-run within a sweep replaces its rows (upsert on the key);
rows of other sweeps are never touched, so earlier sweeps stay as a permanent record. The rows of one
write (one cell) are committed together or not at all, and concurrent writers never lose a row.
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.schema import INFO_COLUMNS, METRIC_COLUMNS, RESULT_COLUMNS, RESULT_KEY_COLUMNS, TEXT_COLUMNS

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

RESULTS_TABLE = "finetune_results"
KEY_LENGTH = 128
WRITE_RETRIES = 4
RETRY_WAIT_SECONDS = 0.5
_INTEGER_COLUMNS = {"train_rows", "val_rows", "test_rows", "n_trades"}
_NUMERIC_COLUMNS = tuple(c for c in (*INFO_COLUMNS, *METRIC_COLUMNS) if c not in TEXT_COLUMNS)
_LOG = logging.getLogger(__name__)


def _results_table(metadata: sa.MetaData) -> sa.Table:
    columns: list[sa.Column[Any]] = [
        sa.Column(name, sa.String(KEY_LENGTH), primary_key=True) for name in RESULT_KEY_COLUMNS
    ]
    for name in (*INFO_COLUMNS, *METRIC_COLUMNS):
        kind = sa.Text if name in TEXT_COLUMNS else sa.Integer if name in _INTEGER_COLUMNS else sa.Float
        columns.append(sa.Column(name, kind, nullable=True))
    columns += [sa.Column("run_id", sa.String(64)), sa.Column("recorded_at", sa.DateTime(timezone=True))]
    return sa.Table(RESULTS_TABLE, metadata, *columns)


class ResultsStore:
    """Reads and idempotently writes the results table through SQLAlchemy.

    `retries`: how many times a write is tried again after a lost connection, a server restart or a
    deadlock (the upsert is idempotent, so trying it again is safe), waiting 0.5 s, 1 s, 2 s, ... between.
    """

    def __init__(self, url: str, retries: int = WRITE_RETRIES) -> None:
        if not isinstance(retries, int) or retries < 0:
            raise DataSourceError(f"{RESULTS_TABLE}: retries must be a non-negative integer, got {retries!r}")
        self.url = postgres_driver_url(url)
        self.retries = retries
        self.engine, self.table = open_table(self.url, _results_table)

    def upsert(self, rows: pd.DataFrame, run_id: str | None = None) -> int:
        """Insert or replace rows by key, all in one transaction. Returns the number of rows written."""
        missing = [c for c in RESULT_COLUMNS if c not in rows.columns]
        if missing:
            raise DataSourceError(f"{RESULTS_TABLE}: rows lack columns {missing}")
        now = datetime.now(UTC)
        records = [
            {**{k: _clean(k, v) for k, v in record.items()}, "run_id": run_id, "recorded_at": now}
            for record in rows[list(RESULT_COLUMNS)].to_dict(orient="records")
        ]
        if not records:
            return 0
        _check_keys(records)
        # One lock order for every writer, so two runs upserting the same keys cannot deadlock.
        records.sort(key=_key)
        statement = dialect_insert(self.engine, self.table)
        update = {c.name: statement.excluded[c.name] for c in self.table.columns if not c.primary_key}
        statement = statement.on_conflict_do_update(index_elements=list(RESULT_KEY_COLUMNS), set_=update)
        attempt = 0
        while True:
            try:
                with self.engine.begin() as connection:
                    connection.execute(statement, records)
                return len(records)
            except sa.exc.DBAPIError as exc:
                if attempt >= self.retries or not _is_transient(exc):
                    raise DataSourceError(
                        f"{RESULTS_TABLE}: cannot write the {len(records)} rows of "
                        f"{_cells(records)} after {attempt + 1} attempt(s): {_reason(exc)}"
                    ) from exc
            time.sleep(RETRY_WAIT_SECONDS * 2**attempt)
            attempt += 1

    def read(self, sweep_id: str | None = None, keys: Sequence[tuple[str, str, str]] | None = None) -> pd.DataFrame:
        """Rows of one sweep (all sweeps when None), optionally only the given (crypto, fold, config_id) cells.

        Missing values come back as NaN (numbers) or None (text), `recorded_at` as a UTC timestamp.
        """
        query = sa.select(self.table)
        if sweep_id is not None:
            query = query.where(self.table.c.sweep_id == sweep_id)
        with self.engine.connect() as connection:
            frame = pd.DataFrame(
                connection.execute(query).mappings().all(), columns=[c.name for c in self.table.columns]
            )
        for column in _NUMERIC_COLUMNS:
            frame[column] = pd.to_numeric(frame[column])
        frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True)
        if keys is not None:
            wanted = set(keys)
            rows = zip(frame["crypto"], frame["fold"], frame["config_id"], strict=True)
            mask = [(c, f, v) in wanted for c, f, v in rows]
            # A Series, not the list: an empty list would select no columns instead of no rows.
            frame = frame[pd.Series(mask, index=frame.index, dtype=bool)]
        return frame.reset_index(drop=True)

    def sweeps(self) -> list[str]:
        with self.engine.connect() as connection:
            return [r[0] for r in connection.execute(sa.select(self.table.c.sweep_id).distinct())]


def dialect_insert(engine: sa.Engine, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with the dialect's ON CONFLICT clauses (SQLite and PostgreSQL share that syntax)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    if engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    raise DataSourceError(f"{table.name}: unsupported database {engine.dialect.name!r}")


def open_table(
    url: str, define: Callable[[sa.MetaData], sa.Table], create_database: bool = True
) -> tuple[sa.Engine, sa.Table]:
    """Engine for `url` (a SQLite file and its folder are created unless `create_database` is False,
    when a missing file or a missing table is an error) and the table `define` declares.

    The table is created when absent; when it exists but lacks nullable columns the declaration now
    has, they are added (ALTER TABLE), so a store written by an older version keeps working.
    """
    url = postgres_driver_url(url)
    metadata = sa.MetaData()
    table = define(metadata)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not create_database and str(path) != ":memory:" and not path.is_file():
            raise DataSourceError(
                f"{table.name}: no SQLite database at {path} (nothing was recorded there; check the URL)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # No pool: every run opens its own store, and pooled idle connections would pile up across
        # runs and go stale when the server restarts.
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # Two runs opening a fresh database at once would both try CREATE TABLE / ALTER TABLE.
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(zlib.crc32(table.name.encode()))))
            if not create_database and not sa.inspect(connection).has_table(table.name):
                raise DataSourceError(
                    f"{table.name}: no table {table.name} at {_safe_url(url)} (nothing was "
                    "recorded there; check the URL)"
                )
            metadata.create_all(connection, checkfirst=True)
            added = add_missing_columns(connection, table)
    except (sa.exc.SQLAlchemyError, ImportError, ValueError) as exc:
        raise DataSourceError(f"{table.name}: cannot open the table at {_safe_url(url)}: {_reason(exc)}") from exc
    if added:
        _LOG.info("%s: added columns %s", table.name, ", ".join(added))
    return engine, table


def add_missing_columns(connection: sa.Connection, table: sa.Table) -> tuple[str, ...]:
    """Add the nullable columns `table` declares but the database's table lacks. Returns their names."""
    present = {column["name"] for column in sa.inspect(connection).get_columns(table.name)}
    missing = [column for column in table.columns if column.name not in present]
    required = [column.name for column in missing if column.primary_key or not column.nullable]
    if required:
        raise DataSourceError(
            f"{table.name}: the existing table lacks required columns {required}, which cannot "
            f"be added to rows already stored; migrate or rename the table"
        )
    name = connection.dialect.identifier_preparer.format_table(table)
    for column in missing:
        spec = sa.schema.CreateColumn(column).compile(dialect=connection.dialect)
        connection.execute(sa.text(f"ALTER TABLE {name} ADD COLUMN {spec}"))
    return tuple(column.name for column in missing)


def postgres_driver_url(url: str) -> str:
    """Pin a bare `postgresql://` (or `postgres://`) URL to an installed driver.

    SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, while the Dagster PostgreSQL storage
    ships psycopg2; whichever driver is installed is named explicitly so both work.
    """
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in ("postgresql", "postgres"):
        return url
    import importlib.util

    driver = "psycopg" if importlib.util.find_spec("psycopg") else "psycopg2"
    return f"postgresql+{driver}://{rest}"


def _check_keys(records: list[dict[str, object]]) -> None:
    for column in RESULT_KEY_COLUMNS:
        bad = sorted(
            {repr(r[column]) for r in records if r[column] is None or not 1 <= len(str(r[column])) <= KEY_LENGTH}
        )
        if bad:
            raise DataSourceError(
                f"{RESULTS_TABLE}: key column {column} must be text of 1 to {KEY_LENGTH} "
                f"characters, got {', '.join(bad[:3])}"
            )
    repeated = [key for key, count in Counter(map(_key, records)).items() if count > 1]
    if repeated:
        raise DataSourceError(
            f"{RESULTS_TABLE}: {len(repeated)} keys appear more than once in one write, "
            f"e.g. {dict(zip(RESULT_KEY_COLUMNS, repeated[0], strict=True))}"
        )


def _key(record: dict[str, object]) -> tuple[object, ...]:
    return tuple(record[column] for column in RESULT_KEY_COLUMNS)


def _cells(records: list[dict[str, object]]) -> str:
    cells = sorted({f"{r['crypto']}|{r['fold']}.{r['config_id']}" for r in records})
    return f"sweep {records[0]['sweep_id']} cells {', '.join(cells[:5])}" + (" ..." if len(cells) > 5 else "")


def _is_transient(error: sa.exc.DBAPIError) -> bool:
    # Lost connections, a server starting up or shutting down, deadlocks and serialization failures
    # (SQLite's "database is locked" too) are operational; constraint or type errors are not.
    return error.connection_invalidated or isinstance(error, sa.exc.OperationalError)


def _reason(error: Exception) -> str:
    original = getattr(error, "orig", None) or error
    return " ".join(str(original).split()) or type(original).__name__


def _safe_url(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        return "an invalid database URL"


def _clean(column: str, value: Any) -> object:
    # NaN is "no value" in the table (SQL NULL); pandas gives numpy scalars that drivers reject.
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if column in _INTEGER_COLUMNS:
        return int(value)
    if column in TEXT_COLUMNS or column in RESULT_KEY_COLUMNS:
        return str(value)
    return float(value)
