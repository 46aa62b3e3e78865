"""A real PostgreSQL server for the integration tests: throwaway databases, a Postgres-backed Dagster
instance, and a way to cut the server's connections in the middle of a write."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

ADMIN_URL_VARIABLE = "CVN_TEST_POSTGRES_URL"
DEFAULT_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
INTERRUPTION_VARIABLE = "CVN_TEST_POSTGRES_INTERRUPTION"
RESTART = "restart"
TERMINATE_BACKENDS = "terminate_backends"
DATABASE_PREFIX = "cvn_it_"
READY_POLLS = 240
READY_POLL_SECONDS = 0.25


def ci_is_set(env: Mapping[str, str]) -> bool:
    """True when the environment says this is CI, where a missing database must fail the tests."""
    return env.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def connect_admin(admin_url: str, env: Mapping[str, str]) -> sa.Engine:
    """An AUTOCOMMIT engine on the server's administration database, or a skip (a failure under CI)."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool,
                              connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        reason = f"no PostgreSQL reachable at {where} ({' '.join(str(exc.orig or exc).split())[:200]})"
        if ci_is_set(env):
            pytest.fail(f"CI is set, so the PostgreSQL integration tests must run, but there is {reason}",
                        pytrace=False)
        pytest.skip(f"{reason}; set {ADMIN_URL_VARIABLE} to point the integration tests at a server")
    return engine


@dataclass
class PostgresServer:
    """The server of the integration tests, administered as the `postgres` user."""

    admin: sa.Engine
    created: list[str] = field(default_factory=list)
    interruptions: list[str] = field(default_factory=list)

    def create_database(self) -> str:
        """A new empty database with a random name; its SQLAlchemy URL (user `postgres`)."""
        name = f"{DATABASE_PREFIX}{secrets.token_hex(6)}"
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.url(name)

    def url(self, database: str) -> str:
        return self.admin.url.set(database=database).render_as_string(hide_password=False)

    def drop_database(self, name: str) -> None:
        """Terminate the database's connections, then drop it."""
        self.terminate_backends([name])
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))

    def terminate_backends(self, databases: list[str]) -> int:
        """Terminate every connection to `databases` (waiting for each to end); how many there were."""
        with self.admin.connect() as connection:
            ended = connection.execute(sa.text(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                "WHERE datname = ANY(:names) AND pid <> pg_backend_pid()"), {"names": databases}).all()
        return len(ended)

    def interruption_method(self) -> str:
        """RESTART when this machine can restart the server itself (root, a local Debian cluster),
        else TERMINATE_BACKENDS, its server-side equivalent for one database's connections."""
        wanted = os.environ.get(INTERRUPTION_VARIABLE, RESTART)
        if wanted not in (RESTART, TERMINATE_BACKENDS):
            raise ValueError(f"{INTERRUPTION_VARIABLE} must be {RESTART} or {TERMINATE_BACKENDS}, got {wanted!r}")
        return RESTART if wanted == RESTART and self._local_cluster() is not None else TERMINATE_BACKENDS

    def interrupt(self, databases: list[str]) -> str:
        """Cut every connection to `databases`, by restarting the server when possible; then wait until
        it accepts connections again. Returns the method used."""
        method = self.interruption_method()
        cluster = self._local_cluster()
        if method == RESTART and cluster is not None:
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart"], check=True,
                           capture_output=True, timeout=180)
        else:
            self.terminate_backends(databases)
        self.wait_until_accepting()
        self.interruptions.append(method)
        return method

    def wait_until_accepting(self) -> None:
        """Poll until the server answers a query again."""
        error: Exception | None = None
        for _ in range(READY_POLLS):
            try:
                with self.admin.connect() as connection:
                    connection.execute(sa.text("SELECT 1"))
                return
            except sa.exc.OperationalError as exc:
                error = exc
                time.sleep(READY_POLL_SECONDS)
        raise RuntimeError(f"PostgreSQL did not accept connections again: {error}")

    def _local_cluster(self) -> tuple[str, str] | None:
        # (version, cluster name) of the Debian cluster serving the admin URL's port on this machine.
        if self.admin.url.host not in ("127.0.0.1", "localhost", "::1") or os.geteuid() != 0:
            return None
        if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
            return None
        listing = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False)
        for line in listing.stdout.splitlines():
            fields = line.split()
            if len(fields) >= 4 and fields[2] == str(self.admin.url.port or 5432) and fields[3].startswith("online"):
                return fields[0], fields[1]
        return None


def database_name(url: str) -> str:
    return str(sa.engine.make_url(url).database)


def write_postgres_instance_home(home: Path, database_url: str) -> Path:
    """A DAGSTER_HOME whose dagster.yaml puts run, event-log and schedule storage in `database_url`."""
    url = sa.engine.make_url(database_url)
    home.mkdir(parents=True, exist_ok=True)
    postgres_db = {"username": url.username, "hostname": url.host, "port": url.port or 5432,
                   "db_name": url.database, "scheme": "postgresql+psycopg2"}
    if url.password:
        postgres_db["password"] = url.password
    config = {"storage": {"postgres": {"postgres_db": postgres_db}}, "telemetry": {"enabled": False}}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return home


@contextmanager
def postgres_instance(home: Path) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance configured in `home` (see write_postgres_instance_home)."""
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        yield instance
    finally:
        instance.dispose()
