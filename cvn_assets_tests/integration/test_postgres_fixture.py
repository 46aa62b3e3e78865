"""The rule of the integration fixture: no server means a skip that says why, except under CI, where it fails."""

from __future__ import annotations

import socket

import pytest

from cvn_assets_tests.integration.postgres import ci_is_set, connect_admin


def _unreachable_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_a_missing_server_fails_the_tests_under_ci(ci: str) -> None:
    with pytest.raises(pytest.fail.Exception, match="CI is set, so the PostgreSQL integration tests must run"):
        connect_admin(_unreachable_url(), {"CI": ci})


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({}, id="no-CI"),
        pytest.param({"CI": ""}, id="empty-CI"),
        pytest.param({"CI": "false"}, id="CI-false"),
    ],
)
def test_a_missing_server_skips_the_tests_with_the_reason(env: dict[str, str]) -> None:
    with pytest.raises(pytest.skip.Exception, match=r"no PostgreSQL reachable at postgresql\+psycopg2://postgres@"):
        connect_admin(_unreachable_url(), env)


def test_ci_detection() -> None:
    assert ci_is_set({"CI": "true"}) and not ci_is_set({}) and not ci_is_set({"CI": "0"})
