"""Fixtures of the PostgreSQL integration tests.

They need a real server (127.0.0.1:5432, trust auth, user `postgres`; another one through
CVN_TEST_POSTGRES_URL). When none answers there, the session starts a throwaway server of its own if
the PostgreSQL binaries are on the machine (CVN_TEST_POSTGRES_START=never turns that off). Without
either they skip and say why, except when the environment variable CI is set: there they fail. Each test
session works in databases of its own (`cvn_it_<random>`), dropped at the end, so concurrent sessions on one
server never collide.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from cvn_assets_tests.integration.postgres import (
    ADMIN_URL_VARIABLE,
    DEFAULT_ADMIN_URL,
    PostgresServer,
    database_name,
    postgres_instance,
    start_throwaway_server,
    try_admin,
    write_postgres_instance_home,
)

SERVER_KEY = pytest.StashKey[PostgresServer]()


@pytest.fixture(scope="session")
def postgres_server(pytestconfig: pytest.Config) -> Iterator[PostgresServer]:
    """The server, a throwaway one when none answers, or a skip with the reason (a failure when CI is set).

    Drops its databases at the end, and stops a throwaway server.
    """
    admin, reason = try_admin(os.environ.get(ADMIN_URL_VARIABLE) or DEFAULT_ADMIN_URL)
    throwaway = None
    if admin is None:
        throwaway = start_throwaway_server(reason, os.environ)
        admin, reason = try_admin(throwaway.admin_url)
        if admin is None:
            throwaway.stop()
            pytest.fail(f"the throwaway PostgreSQL server started but does not answer: {reason}", pytrace=False)
    server = PostgresServer(admin, throwaway=throwaway)
    pytestconfig.stash[SERVER_KEY] = server
    try:
        yield server
        server.wait_until_accepting()
        for name in server.created:
            server.drop_database(name)
    finally:
        if throwaway is not None:
            throwaway.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of this session's database, shared by the tests of the session (they use their own sweep ids)."""
    return postgres_server.create_database()


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """URL of an empty database for this test alone (a store created from scratch, a Dagster instance)."""
    url = postgres_server.create_database()
    yield url
    postgres_server.wait_until_accepting()
    postgres_server.drop_database(database_name(url))
    postgres_server.created.remove(database_name(url))


@pytest.fixture
def postgres_dagster_instance(tmp_path: Path, fresh_postgres_url: str) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance whose run, event-log and schedule storage are in `fresh_postgres_url`."""
    home = write_postgres_instance_home(tmp_path / "dagster_home", fresh_postgres_url)
    with postgres_instance(home) as instance:
        yield instance


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Say how the server was interrupted in the restart tests: a real restart or terminated connections."""
    server = config.stash.get(SERVER_KEY, None)
    if server is not None and server.throwaway is not None:
        terminalreporter.write_line(
            f"PostgreSQL: no server answered, so the tests ran against a throwaway one "
            f"({server.throwaway.bin_dir}, port {server.throwaway.port})"
        )
    if server is not None and server.interruptions:
        counts = {method: server.interruptions.count(method) for method in sorted(set(server.interruptions))}
        used = ", ".join(f"{method} x{count}" for method, count in counts.items())
        terminalreporter.write_line(f"PostgreSQL interruptions: {used}")
