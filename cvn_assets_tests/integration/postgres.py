"""A real PostgreSQL server for the integration tests: throwaway databases, a Postgres-backed Dagster
instance, and a way to cut the server's connections in the middle of a write.

When no server answers and the PostgreSQL binaries (initdb, pg_ctl) are on this machine, a throwaway
server is started for the session in a temporary directory on a free port, and removed at its end."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

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
START_VARIABLE = "CVN_TEST_POSTGRES_START"
START_AUTO = "auto"
START_NEVER = "never"
# Where Debian installs the server binaries; used when initdb and pg_ctl are not on PATH.
BIN_DIR_PATTERN = "/usr/lib/postgresql/*/bin"
SERVER_TIMEOUT_SECONDS = 120
# initdb refuses to run as root, so as root the throwaway server runs as this system user.
SERVER_OS_USER = "postgres"


def ci_is_set(env: Mapping[str, str]) -> bool:
    """True when the environment says this is CI, where a missing database must fail the tests."""
    return env.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str, env: Mapping[str, str]) -> NoReturn:
    """Skip the PostgreSQL tests with `reason`, or fail them when CI is set."""
    if ci_is_set(env):
        pytest.fail(f"CI is set, so the PostgreSQL integration tests must run, but there is {reason}", pytrace=False)
    pytest.skip(f"{reason}; set {ADMIN_URL_VARIABLE} to point the integration tests at a server")


def try_admin(admin_url: str) -> tuple[sa.Engine | None, str]:
    """An AUTOCOMMIT engine on the server's administration database, or None and why it did not answer."""
    engine = sa.create_engine(
        admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 5}
    )
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        return None, f"no PostgreSQL reachable at {where} ({' '.join(str(exc.orig or exc).split())[:200]})"
    return engine, ""


def connect_admin(admin_url: str, env: Mapping[str, str]) -> sa.Engine:
    """An AUTOCOMMIT engine on the server's administration database, or a skip (a failure under CI)."""
    engine, reason = try_admin(admin_url)
    if engine is None:
        unavailable(reason, env)
    return engine


def server_bin_dir() -> Path | None:
    """The directory of initdb and pg_ctl: from PATH, else the newest Debian install, else None."""
    on_path = [shutil.which(name) for name in ("initdb", "pg_ctl")]
    if all(on_path):
        return Path(os.path.realpath(str(on_path[0]))).parent
    installed = [
        Path(d) for d in glob.glob(BIN_DIR_PATTERN) if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists()
    ]
    installed.sort(key=lambda d: [int(part) if part.isdigit() else -1 for part in d.parent.name.split(".")])
    return installed[-1] if installed else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ThrowawayServer:
    """A PostgreSQL server of this session alone: trust auth, superuser `postgres`, in a temporary directory."""

    bin_dir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cvn-it-postgres-")))
    port: int = field(default_factory=_free_port)

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """initdb, then start the server and wait until it accepts connections."""
        if os.geteuid() == 0:
            shutil.chown(self.root, SERVER_OS_USER, SERVER_OS_USER)
        self._run(
            "initdb", "-D", str(self.root / "data"), "-U", "postgres", "--auth=trust", "--no-sync", "--encoding=UTF8"
        )
        self._pg_ctl("start")

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        """Stop the server (if it runs) and delete its directory."""
        if (self.root / "data" / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            action,
            *extra,
            "-D",
            str(self.root / "data"),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            str(SERVER_TIMEOUT_SECONDS),
            "-o",
            options,
        )

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_OS_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=SERVER_TIMEOUT_SECONDS, check=False)
        if done.returncode != 0:
            output = " ".join((done.stderr or done.stdout).split())[-300:]
            raise RuntimeError(f"{program} {args[0]} exited with {done.returncode}: {output}")


def start_throwaway_server(reason: str, env: Mapping[str, str]) -> ThrowawayServer:
    """A started throwaway server, or the skip / CI failure of `unavailable` saying why there is none."""
    if env.get(START_VARIABLE, START_AUTO) == START_NEVER:
        unavailable(f"{reason}, and {START_VARIABLE}={START_NEVER}", env)
    bin_dir = server_bin_dir()
    if bin_dir is None:
        unavailable(f"{reason}, and no initdb/pg_ctl on PATH or under {BIN_DIR_PATTERN} to start one", env)
    server = ThrowawayServer(bin_dir)
    try:
        server.start()
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        server.stop()
        unavailable(f"{reason}, and a throwaway server in {bin_dir} did not start ({exc})", env)
    return server


@dataclass
class PostgresServer:
    """The server of the integration tests, administered as the `postgres` user."""

    admin: sa.Engine
    created: list[str] = field(default_factory=list)
    interruptions: list[str] = field(default_factory=list)
    throwaway: ThrowawayServer | None = None

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
            ended = connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                    "WHERE datname = ANY(:names) AND pid <> pg_backend_pid()"
                ),
                {"names": databases},
            ).all()
        return len(ended)

    def interruption_method(self) -> str:
        """RESTART when this machine can restart the server itself (a throwaway server, or as root a
        local Debian cluster), else TERMINATE_BACKENDS, its server-side equivalent for one database's connections."""
        wanted = os.environ.get(INTERRUPTION_VARIABLE, RESTART)
        if wanted not in (RESTART, TERMINATE_BACKENDS):
            raise ValueError(f"{INTERRUPTION_VARIABLE} must be {RESTART} or {TERMINATE_BACKENDS}, got {wanted!r}")
        restartable = self.throwaway is not None or self._local_cluster() is not None
        return RESTART if wanted == RESTART and restartable else TERMINATE_BACKENDS

    def interrupt(self, databases: list[str]) -> str:
        """Cut every connection to `databases`, by restarting the server when possible; then wait until
        it accepts connections again. Returns the method used."""
        method = self.interruption_method()
        cluster = self._local_cluster()
        if method == RESTART and self.throwaway is not None:
            self.throwaway.restart()
        elif method == RESTART and cluster is not None:
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart"],
                check=True,
                capture_output=True,
                timeout=180,
            )
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
    postgres_db = {
        "username": url.username,
        "hostname": url.host,
        "port": url.port or 5432,
        "db_name": url.database,
        "scheme": "postgresql+psycopg2",
    }
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
