import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cvn_assets.core.alerts.alert import Alert
from cvn_assets.core.alerts.sink import AlertSink, AlertStore
from cvn_assets.core.alerts.webhook import WebhookSender, slack_payload
from cvn_assets.core.errors import CatalogueError, DataSourceError
from cvn_assets.core.secrets import redact
from cvn_assets_tests.webhook_endpoint import WebhookEndpoint

T0 = datetime(2026, 4, 28, 12, 0, tzinfo=UTC)


def _alert(key: str = "drift_psi:run1:BTC", kind: str = "drift_psi", at: datetime = T0, **details: object) -> Alert:
    return Alert(
        kind=kind,
        severity="warn",
        subject="feature_drift BTC",
        message="PSI of rsi_14 above warn",
        observed=0.31,
        threshold=0.2,
        dedup_key=key,
        details=dict(details),
        created_at=at,
    )


@pytest.fixture
def webhook() -> Iterator[WebhookEndpoint]:
    server = WebhookEndpoint()
    yield server
    server.close()


@pytest.fixture
def store(tmp_path: Path) -> AlertStore:
    return AlertStore(f"sqlite:///{tmp_path / 'nested' / 'alerts.db'}")


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/secret-token"


def test_same_dedup_key_is_stored_once(store: AlertStore) -> None:
    assert store.record(_alert()) is True
    assert store.record(_alert(at=T0 + timedelta(hours=1))) is False
    table = store.query()
    assert len(table) == 1
    assert table["created_at"].iloc[0] == T0


def test_query_filters_by_since_and_kind_newest_first(store: AlertStore) -> None:
    store.record(_alert("a", "drift_psi", T0))
    store.record(_alert("b", "concept_drift", T0 + timedelta(hours=1)))
    store.record(_alert("c", "drift_psi", T0 + timedelta(hours=2)))
    assert store.query()["dedup_key"].tolist() == ["c", "b", "a"]
    assert store.query(since=T0 + timedelta(hours=1))["dedup_key"].tolist() == ["c", "b"]
    assert store.query(kind="drift_psi")["dedup_key"].tolist() == ["c", "a"]
    assert store.query(since=T0 + timedelta(minutes=1), kind="drift_psi")["dedup_key"].tolist() == ["c"]
    assert store.query(kind="training_failed").empty


def test_timestamps_of_other_zones_are_compared_in_utc(store: AlertStore) -> None:
    paris = timezone(timedelta(hours=2))
    store.record(_alert("a", at=datetime(2026, 4, 28, 13, 0, tzinfo=paris)))  # 11:00 UTC
    store.record(_alert("b", at=T0))
    assert store.query(since=datetime(2026, 4, 28, 13, 30, tzinfo=paris))["dedup_key"].tolist() == ["b"]
    assert str(store.query()["created_at"].dt.tz) == "UTC"


def test_stored_row_keeps_numbers_and_details(store: AlertStore) -> None:
    store.record(_alert(psi=0.31, features=["rsi_14"]))
    row = store.query().iloc[0]
    assert (row["kind"], row["severity"], row["observed"], row["threshold"]) == ("drift_psi", "warn", 0.31, 0.2)
    assert row["details"] == {"psi": 0.31, "features": ["rsi_14"]}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"severity": "info"}, "severity", id="unknown-severity"),
        pytest.param({"dedup_key": ""}, "dedup_key", id="empty-key-would-merge-alerts"),
        pytest.param({"created_at": datetime(2026, 4, 28, 12)}, "created_at", id="naive-timestamp"),
        pytest.param({"observed": "high"}, "observed", id="observed-not-a-number"),
    ],
)
def test_malformed_alerts_are_refused(overrides: dict, field: str) -> None:
    fields = {
        "kind": "drift_psi",
        "severity": "warn",
        "subject": "s",
        "message": "m",
        "observed": 1.0,
        "threshold": 0.5,
        "dedup_key": "k",
        **overrides,
    }
    with pytest.raises(CatalogueError, match=field):
        Alert(**fields)


def test_naive_since_is_refused(store: AlertStore) -> None:
    with pytest.raises(CatalogueError, match="timezone-aware"):
        store.query(since=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        pytest.param({"API_KEY": "k", "psi": 0.3}, {"API_KEY": "***", "psi": 0.3}, id="upper-case-key"),
        pytest.param(
            {"db_password": "p", "slack_Token": "t", "aws_secret": "s"},
            {"db_password": "***", "slack_Token": "***", "aws_secret": "***"},
            id="any-case-suffixes",
        ),
        pytest.param(
            {"env": {"MLFLOW_TOKEN": "t", "region": "eu"}},
            {"env": {"MLFLOW_TOKEN": "***", "region": "eu"}},
            id="nested-dict",
        ),
        pytest.param(
            {"runs": [{"run_secret": "s", "id": 1}]},
            {"runs": [{"run_secret": "***", "id": 1}]},
            id="dicts-inside-lists",
        ),
        pytest.param(
            {"keyboard": 1, "token_count": 2, "passwords_rotated": 3},
            {"keyboard": 1, "token_count": 2, "passwords_rotated": 3},
            id="only-suffixes-match",
        ),
    ],
)
def test_redact(details: dict, expected: dict) -> None:
    assert redact(details) == expected


def test_redact_does_not_modify_its_input() -> None:
    details = {"env": {"API_KEY": "k"}}
    redact(details)
    assert details == {"env": {"API_KEY": "k"}}


def test_sink_records_logs_and_posts_a_new_alert_once(store: AlertStore, webhook: WebhookEndpoint) -> None:
    lines: list[str] = []
    sink = AlertSink(store, WebhookSender(webhook.url, timeout_seconds=5.0), lines.append)
    assert sink.send(_alert(psi=0.31)) is True
    assert len(webhook.bodies) == 1
    payload = webhook.bodies[0]
    assert payload["text"] == "[WARN] drift_psi on feature_drift BTC: PSI of rsi_14 above warn"
    block = payload["blocks"][0]
    assert block["type"] == "section"
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in block["fields"]}
    assert fields["*Observed*"] == "0.31" and fields["*Threshold*"] == "0.2"
    assert fields["*Key*"] == "drift_psi:run1:BTC"
    assert len(lines) == 1 and "drift_psi" in lines[0]

    assert sink.send(_alert(psi=0.31)) is False
    assert len(webhook.bodies) == 1
    assert len(lines) == 1
    assert len(store.query()) == 1


def test_sink_stores_redacted_details_and_never_logs_the_webhook_url(
    store: AlertStore, webhook: WebhookEndpoint
) -> None:
    lines: list[str] = []
    sink = AlertSink(store, WebhookSender(webhook.url), lines.append)
    sink.send(_alert(SLACK_TOKEN="xoxb-123", nested={"db_password": "hunter2"}))
    assert store.query()["details"].iloc[0] == {"SLACK_TOKEN": "***", "nested": {"db_password": "***"}}
    posted = json.dumps(webhook.bodies)
    assert "xoxb-123" not in posted and "hunter2" not in posted
    assert all("secret-token" not in line and "127.0.0.1" not in line for line in lines)


def test_webhook_down_still_records_and_does_not_raise(store: AlertStore) -> None:
    lines: list[str] = []
    sender = WebhookSender(_closed_port_url(), timeout_seconds=2.0)
    sink = AlertSink(store, sender, lines.append)
    assert sink.send(_alert()) is True
    assert len(store.query()) == 1
    assert len(lines) == 2 and "webhook delivery failed" in lines[1]
    assert all("secret-token" not in line for line in lines)
    assert sender.last_error is not None and "unreachable" in sender.last_error


def test_an_alert_the_webhook_refused_is_posted_again_once_it_answers(store: AlertStore) -> None:
    server = WebhookEndpoint(status=500)
    try:
        lines: list[str] = []
        sink = AlertSink(store, WebhookSender(server.url), lines.append)
        first, second = _alert("a", at=T0), _alert("b", at=T0 + timedelta(minutes=1), feature="rsi_14")
        assert sink.send(second) and sink.send(first) and len(server.bodies) == 2
        assert "webhook delivery failed: HTTP 500 (posted again later)" in lines[1]
        assert sink.redeliver() == 0 and len(server.bodies) == 3  # still down: stops at the first refusal
        server.status = 200
        assert sink.redeliver() == 2
        assert [body["blocks"][0]["fields"][-1]["text"] for body in server.bodies[3:]] == ["*Key*\na", "*Key*\nb"]
        assert server.bodies[4] == slack_payload(second)  # the same message as the first attempt
        assert sink.redeliver() == 0 and len(server.bodies) == 5  # each posted once
        assert AlertSink(store, None, lines.append).redeliver() == 0  # no webhook: nothing to post to
    finally:
        server.close()


def test_an_alert_to_post_again_is_claimed_by_one_caller_only(store: AlertStore) -> None:
    store.record(_alert("a"))
    assert store.claim_undelivered() is None  # posted (or no webhook): nothing to post again
    store.mark_undelivered("a", "HTTP 503")
    claimed = store.claim_undelivered()
    assert claimed is not None and claimed == _alert("a")
    assert store.claim_undelivered() is None


def test_webhook_error_status_returns_false() -> None:
    server = WebhookEndpoint(status=500)
    try:
        sender = WebhookSender(server.url)
        assert sender.post(_alert()) is False
        assert sender.last_error == "HTTP 500"
        assert len(server.bodies) == 1
    finally:
        server.close()


def test_sink_without_webhook_records_and_logs(store: AlertStore) -> None:
    lines: list[str] = []
    assert AlertSink(store, None, lines.append).send(_alert()) is True
    assert len(lines) == 1 and len(store.query()) == 1


@pytest.mark.parametrize(
    ("url", "timeout"),
    [
        pytest.param("ftp://example.invalid/secret-token", 5.0, id="not-http"),
        pytest.param("https://example.invalid/secret-token", 0.0, id="zero-timeout"),
    ],
)
def test_webhook_settings_are_checked_without_echoing_the_url(url: str, timeout: float) -> None:
    with pytest.raises(CatalogueError) as info:
        WebhookSender(url, timeout_seconds=timeout)
    assert "secret-token" not in str(info.value)


def test_webhook_repr_hides_the_url() -> None:
    assert "secret-token" not in repr(WebhookSender("https://example.invalid/secret-token"))


def test_a_kind_longer_than_its_column_is_refused_on_every_database(store: AlertStore) -> None:
    # SQLite would keep it while PostgreSQL refuses it, so the store refuses it everywhere, naming the field.
    with pytest.raises(DataSourceError, match="alert kind is longer than 64 characters"):
        store.record(_alert("long", kind="k" * 65))
    assert store.query().empty


def test_an_unreachable_alerts_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="alerts: cannot open the table at sqlite:///"):
        AlertStore(f"sqlite:///{tmp_path}")  # a folder, not a database file
