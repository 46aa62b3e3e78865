"""The `finetune_results` table: one row per sweep × crypto × fold × factor × variant × model.

SQLite by default, PostgreSQL by URL. A re-run within a sweep replaces its rows (upsert on the key);
rows of other sweeps are never touched, so earlier sweeps stay as a permanent record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.schema import INFO_COLUMNS, METRIC_COLUMNS, RESULT_COLUMNS, RESULT_KEY_COLUMNS

RESULTS_TABLE = "finetune_results"
_INTEGER_COLUMNS = {"train_rows", "val_rows", "test_rows", "n_trades"}
_TEXT_COLUMNS = {"config_id", "status", "error"}


def _results_table(metadata: sa.MetaData) -> sa.Table:
    columns: list[sa.Column] = [sa.Column(name, sa.String(128), primary_key=True) for name in RESULT_KEY_COLUMNS]
    for name in (*INFO_COLUMNS, *METRIC_COLUMNS):
        kind = sa.Text if name in _TEXT_COLUMNS else sa.Integer if name in _INTEGER_COLUMNS else sa.Float
        columns.append(sa.Column(name, kind, nullable=True))
    columns += [sa.Column("run_id", sa.String(64)), sa.Column("recorded_at", sa.DateTime(timezone=True))]
    return sa.Table(RESULTS_TABLE, metadata, *columns)


class ResultsStore:
    """Reads and idempotently writes the results table through SQLAlchemy."""

    def __init__(self, url: str) -> None:
        self.url = postgres_driver_url(url)
        self.engine, self.table = open_table(self.url, _results_table)

    def upsert(self, rows: pd.DataFrame, run_id: str | None = None) -> int:
        """Insert or replace rows by key, all in one transaction. Returns the number of rows written."""
        missing = [c for c in RESULT_COLUMNS if c not in rows.columns]
        if missing:
            raise DataSourceError(f"{RESULTS_TABLE}: rows lack columns {missing}")
        now = datetime.now(timezone.utc)
        records = [
            {**{k: _clean(k, v) for k, v in record.items()}, "run_id": run_id, "recorded_at": now}
            for record in rows[list(RESULT_COLUMNS)].to_dict(orient="records")
        ]
        if not records:
            return 0
        statement = self._insert()
        update = {c.name: statement.excluded[c.name] for c in self.table.columns if not c.primary_key}
        with self.engine.begin() as connection:
            connection.execute(statement.on_conflict_do_update(index_elements=list(RESULT_KEY_COLUMNS), set_=update),
                               records)
        return len(records)

    def read(self, sweep_id: str | None = None, keys: Sequence[tuple[str, str, str]] | None = None) -> pd.DataFrame:
        """Rows of one sweep (all sweeps when None), optionally only the given (crypto, fold, config_id) cells."""
        query = sa.select(self.table)
        if sweep_id is not None:
            query = query.where(self.table.c.sweep_id == sweep_id)
        with self.engine.connect() as connection:
            frame = pd.DataFrame(connection.execute(query).mappings().all(),
                                 columns=[c.name for c in self.table.columns])
        if keys is not None:
            wanted = set(keys)
            mask = [(c, f, v) in wanted for c, f, v in zip(frame["crypto"], frame["fold"], frame["config_id"])]
            frame = frame[mask]
        return frame.reset_index(drop=True)

    def sweeps(self) -> list[str]:
        with self.engine.connect() as connection:
            return [r[0] for r in connection.execute(sa.select(self.table.c.sweep_id).distinct())]

    def _insert(self):  # noqa: ANN202 - dialect-specific Insert types
        return dialect_insert(self.engine, self.table)


def dialect_insert(engine: sa.Engine, table: sa.Table):  # noqa: ANN201 - dialect-specific Insert types
    """An INSERT with the dialect's ON CONFLICT clauses (SQLite and PostgreSQL share that syntax)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise DataSourceError(f"{table.name}: unsupported database {engine.dialect.name!r}")
    return insert(table)


def open_table(url: str, define: Callable[[sa.MetaData], sa.Table]) -> tuple[sa.Engine, sa.Table]:
    """Engine for `url` (a SQLite file's folder is created) and the table `define` declares, created if absent."""
    url = postgres_driver_url(url)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, future=True)
    metadata = sa.MetaData()
    table = define(metadata)
    metadata.create_all(engine, checkfirst=True)
    return engine, table


def postgres_driver_url(url: str) -> str:
    """Pin a bare `postgresql://` URL to an installed driver.

    SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, while the Dagster PostgreSQL storage
    ships psycopg2; whichever driver is installed is named explicitly so both work.
    """
    if not url.startswith("postgresql://"):
        return url
    import importlib.util

    driver = "psycopg" if importlib.util.find_spec("psycopg") else "psycopg2"
    return url.replace("postgresql://", f"postgresql+{driver}://", 1)


def _clean(column: str, value: object) -> object:
    # NaN is "no value" in the table (SQL NULL); pandas gives numpy scalars that drivers reject.
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if column in _INTEGER_COLUMNS:
        return int(value)  # type: ignore[arg-type]
    if column in _TEXT_COLUMNS or column in RESULT_KEY_COLUMNS:
        return str(value)
    return float(value)  # type: ignore[arg-type]
