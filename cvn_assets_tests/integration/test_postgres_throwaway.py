"""The throwaway server the integration tests start when no PostgreSQL answers, and when they cannot."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from cvn_assets_tests.integration import postgres
from cvn_assets_tests.integration.postgres import ThrowawayServer, server_bin_dir, start_throwaway_server, try_admin

REASON = "no PostgreSQL reachable at postgresql+psycopg2://postgres@127.0.0.1:1/postgres"


@pytest.mark.parametrize(
    ("env", "outcome"),
    [
        pytest.param({"CI": "true"}, pytest.fail.Exception, id="CI-fails"),
        pytest.param({}, pytest.skip.Exception, id="no-CI-skips"),
    ],
)
def test_without_server_binaries_the_tests_cannot_run_and_say_why(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(postgres, "server_bin_dir", lambda: None)
    with pytest.raises(outcome, match=r"1/postgres, and no initdb/pg_ctl on PATH or under /usr/lib/postgresql"):
        start_throwaway_server(REASON, env)


@pytest.mark.parametrize(
    ("env", "outcome"),
    [
        pytest.param({"CI": "1", "CVN_TEST_POSTGRES_START": "never"}, pytest.fail.Exception, id="CI-fails"),
        pytest.param({"CVN_TEST_POSTGRES_START": "never"}, pytest.skip.Exception, id="no-CI-skips"),
    ],
)
def test_starting_a_server_can_be_turned_off(env: dict[str, str], outcome: type[BaseException]) -> None:
    with pytest.raises(outcome, match="CVN_TEST_POSTGRES_START=never"):
        start_throwaway_server(REASON, env)


@pytest.mark.postgres
def test_a_throwaway_server_answers_restarts_and_leaves_nothing_behind() -> None:
    bin_dir = server_bin_dir()
    if bin_dir is None:
        postgres.unavailable("no initdb/pg_ctl on this machine", os.environ)
    server = ThrowawayServer(bin_dir)
    try:
        server.start()
        admin, reason = try_admin(server.admin_url)
        assert admin is not None, reason
        with admin.connect() as connection:
            before = connection.execute(sa.text("SELECT pg_postmaster_start_time()")).scalar_one()
        server.restart()
        with admin.connect() as connection:
            after = connection.execute(sa.text("SELECT pg_postmaster_start_time()")).scalar_one()
            assert connection.execute(sa.text("SELECT current_user")).scalar_one() == "postgres"
        assert after > before
    finally:
        server.stop()
    assert not server.root.exists()
    assert try_admin(server.admin_url)[0] is None
