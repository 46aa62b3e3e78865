"""The alerts table on a real PostgreSQL: one row per dedup_key even under concurrent senders, UTC times."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from cvn_assets.core.alerts.alert import Alert
from cvn_assets.core.alerts.sink import ALERTS_TABLE, AlertStore
from cvn_assets.core.errors import DataSourceError

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 4, 28, 12, 0, tzinfo=UTC)


def _alert(key: str, kind: str = "cleanlab_drop_rate", at: datetime = T0, observed: float | None = 0.051) -> Alert:
    return Alert(
        kind=kind,
        severity="warn",
        subject="cleanlab_mask BTC|f1.cl_filter",
        message="drop rate above 4.5 %",
        observed=observed,
        threshold=0.045,
        dedup_key=key,
        details={"drop_pct": observed, "API_KEY": "k"},
        created_at=at,
    )


def test_alerts_are_stored_once_and_queried_in_utc(fresh_postgres_url: str) -> None:
    store = AlertStore(fresh_postgres_url)
    paris = timezone(timedelta(hours=2))
    assert store.record(_alert("a", at=datetime(2026, 4, 28, 13, 0, tzinfo=paris)))  # 11:00 UTC
    assert store.record(_alert("b", kind="training_failed", observed=None))
    assert store.record(_alert("c", at=T0 + timedelta(hours=1), observed=float("nan")))
    assert not store.record(_alert("a", at=T0 + timedelta(days=1)))

    table = store.query()
    assert table["dedup_key"].tolist() == ["c", "b", "a"]
    assert table["created_at"].tolist() == [T0 + timedelta(hours=1), T0, T0 - timedelta(hours=1)]
    assert store.query(since=datetime(2026, 4, 28, 13, 30, tzinfo=paris))["dedup_key"].tolist() == ["c", "b"]
    assert store.query(kind="training_failed")["dedup_key"].tolist() == ["b"]
    assert table.set_index("dedup_key").loc["a", "details"] == {"drop_pct": 0.051, "API_KEY": "***"}
    with store.engine.connect() as connection:
        nulls = (
            connection.execute(
                sa.text(f"SELECT dedup_key FROM {ALERTS_TABLE} WHERE observed IS NULL ORDER BY dedup_key")
            )
            .scalars()
            .all()
        )
    assert nulls == ["b", "c"]


def test_concurrent_senders_of_one_alert_record_it_once(fresh_postgres_url: str) -> None:
    senders = 8
    AlertStore(fresh_postgres_url)
    start = threading.Barrier(senders)

    def send(_: int) -> bool:
        store = AlertStore(fresh_postgres_url)
        start.wait(timeout=60)
        return store.record(_alert("training_failed:run-42:BTC|f1.baseline", kind="training_failed"))

    with ThreadPoolExecutor(senders) as pool:
        outcomes = list(pool.map(send, range(senders)))
    assert outcomes.count(True) == 1
    assert len(AlertStore(fresh_postgres_url).query()) == 1


def test_a_kind_longer_than_its_column_is_refused_with_its_name(fresh_postgres_url: str) -> None:
    store = AlertStore(fresh_postgres_url)
    with pytest.raises(DataSourceError, match="alert kind is longer than 64"):
        store.record(_alert("long", kind="k" * 65))
    assert store.query().empty


def test_an_alert_to_post_again_goes_to_one_of_concurrent_claimants(fresh_postgres_url: str) -> None:
    claimants = 8
    store = AlertStore(fresh_postgres_url)
    sent = _alert("a", at=datetime(2026, 4, 28, 13, 0, tzinfo=timezone(timedelta(hours=2))))
    store.record(sent)
    store.mark_undelivered("a", "HTTP 503")
    start = threading.Barrier(claimants)

    def claim(_: int) -> Alert | None:
        own = AlertStore(fresh_postgres_url)
        start.wait(timeout=60)
        return own.claim_undelivered()

    with ThreadPoolExecutor(claimants) as pool:
        claimed = [alert for alert in pool.map(claim, range(claimants)) if alert is not None]
    # The stored alert, as posted the first time: UTC time, secrets in its details masked.
    assert claimed == [Alert(**{**sent.__dict__, "details": {"drop_pct": 0.051, "API_KEY": "***"}})]
    assert claimed[0].created_at == T0 - timedelta(hours=1)
