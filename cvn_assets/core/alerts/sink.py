"""The alert sink: a queryable `alerts` table, a log line and, when configured, a Slack-style webhook.

An alert is recorded once per `dedup_key` (a retry or a re-run of the same check does not alert
twice), secrets in its details are masked before it is stored or sent, and sending an alert never
does anything else: no retraining, no re-materialisation.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from cvn_assets.core.alerts.alert import Alert
from cvn_assets.core.alerts.webhook import WebhookSender, format_number, json_default
from cvn_assets.core.errors import CatalogueError, DataSourceError
from cvn_assets.core.results.store import dialect_insert, open_table
from cvn_assets.core.secrets import REDACTED, SECRET_KEY_PATTERN, redact  # noqa: F401 - re-exported

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

ALERTS_TABLE = "alerts"
KIND_CLEANLAB_DROP_RATE = "cleanlab_drop_rate"
KIND_MINORITY_DECIMATION = "minority_decimation"
KIND_TRAINING_FAILED = "training_failed"
KIND_DRIFT_PSI = "drift_psi"
KIND_CONCEPT_DRIFT = "concept_drift"
KIND_OUTPUT_SHARPNESS = "output_sharpness"
ALERT_KINDS: tuple[str, ...] = (
    KIND_CLEANLAB_DROP_RATE,
    KIND_MINORITY_DECIMATION,
    KIND_TRAINING_FAILED,
    KIND_DRIFT_PSI,
    KIND_CONCEPT_DRIFT,
    KIND_OUTPUT_SHARPNESS,
)
ALERT_COLUMNS: tuple[str, ...] = (
    "dedup_key",
    "kind",
    "severity",
    "subject",
    "message",
    "observed",
    "threshold",
    "details",
    "created_at",
)
_KEYS_PER_QUERY = 500  # dedup keys looked up per statement: within every database's bound-parameter limit


def _alerts_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        ALERTS_TABLE,
        metadata,
        sa.Column("dedup_key", sa.String(512), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("observed", sa.Float, nullable=True),
        sa.Column("threshold", sa.Float, nullable=True),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        # Why the webhook refused the alert, while it is still to be posted again; NULL once posted.
        sa.Column("webhook_error", sa.Text, nullable=True),
        # The group alert this one was sent in (its own key for the group itself); NULL when sent alone.
        sa.Column("group_key", sa.String(512), nullable=True),
    )


class AlertStore:
    """The `alerts` table (SQLite by default, PostgreSQL by URL); one row per dedup_key."""

    def __init__(self, url: str, create_database: bool = True) -> None:
        """`create_database=False` reads an existing store only: a missing SQLite file or table is an error."""
        self.engine, self.table = open_table(url, _alerts_table, create_database)

    def record(self, alert: Alert, group_key: str | None = None) -> bool:
        """Insert `alert` (sent in the group alert keyed `group_key`, if any) unless its dedup_key is
        already stored. True when the row is new."""
        row = {
            "dedup_key": alert.dedup_key,
            "kind": alert.kind,
            "severity": alert.severity,
            "subject": alert.subject,
            "message": alert.message,
            "observed": _optional_float(alert.observed),
            "threshold": _optional_float(alert.threshold),
            "details": json.dumps(redact(alert.details), sort_keys=True, default=json_default),
            # SQLite keeps no offset, so every timestamp is stored as UTC.
            "created_at": alert.created_at.astimezone(UTC),
            "group_key": group_key,
        }
        for name, value in (("dedup_key", alert.dedup_key), ("kind", alert.kind)):
            column_type = self.table.c[name].type
            limit = column_type.length if isinstance(column_type, sa.String) else None
            if limit is not None and len(value) > limit:
                # SQLite would store it, PostgreSQL would refuse it: one rule for both.
                raise DataSourceError(
                    f"{ALERTS_TABLE}: alert {name} is longer than {limit} characters: {value[:80]}..."
                )
        statement = self._insert().values(row).on_conflict_do_nothing(index_elements=["dedup_key"])
        try:
            with self.engine.begin() as connection:
                inserted = connection.execute(statement).rowcount
        except SQLAlchemyError as exc:
            raise DataSourceError(f"{ALERTS_TABLE}: cannot record alert {alert.dedup_key}: {exc}") from exc
        return inserted == 1

    def known(self, dedup_keys: Sequence[str]) -> set[str]:
        """Those of `dedup_keys` already stored."""
        try:
            with self.engine.connect() as connection:
                return {
                    key
                    for chunk in range(0, len(dedup_keys), _KEYS_PER_QUERY)
                    for key in connection.execute(
                        sa.select(self.table.c.dedup_key).where(
                            self.table.c.dedup_key.in_(dedup_keys[chunk : chunk + _KEYS_PER_QUERY])
                        )
                    ).scalars()
                }
        except SQLAlchemyError as exc:
            raise DataSourceError(f"{ALERTS_TABLE}: cannot read alerts: {exc}") from exc

    def query(self, since: datetime | None = None, kind: str | None = None, detail: bool = False) -> pd.DataFrame:
        """Alerts created at or after `since` (timezone-aware) and of `kind` when given, newest first: the
        alerts as sent (a group alert, not its cells' own), or with `detail` each cell's own instead.

        `details` comes back as a dict and `created_at` as a UTC timestamp.
        """
        group = self.table.c.group_key
        sent_alone = group.is_(None)
        statement = sa.select(self.table).where(
            sent_alone | (group != self.table.c.dedup_key if detail else group == self.table.c.dedup_key)
        )
        if since is not None:
            if since.tzinfo is None:
                raise CatalogueError(f"alerts query: since must be timezone-aware, got {since}")
            statement = statement.where(self.table.c.created_at >= since.astimezone(UTC))
        if kind is not None:
            statement = statement.where(self.table.c.kind == kind)
        statement = statement.order_by(self.table.c.created_at.desc(), self.table.c.dedup_key)
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(statement).mappings().all()
        except SQLAlchemyError as exc:
            raise DataSourceError(f"{ALERTS_TABLE}: cannot read alerts: {exc}") from exc
        frame = pd.DataFrame(rows, columns=list(ALERT_COLUMNS))
        frame["details"] = [json.loads(text) for text in frame["details"]]
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
        return frame

    def mark_undelivered(self, dedup_key: str, error: str) -> None:
        """Keep the alert for another webhook delivery (`claim_undelivered`), with why this one failed."""
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    sa.update(self.table).where(self.table.c.dedup_key == dedup_key).values(webhook_error=error)
                )
        except SQLAlchemyError as exc:
            raise DataSourceError(f"{ALERTS_TABLE}: cannot keep alert {dedup_key} for another delivery: {exc}") from exc

    def claim_undelivered(self) -> Alert | None:
        """The oldest alert still to be posted, taken off that list for this caller alone (two sensor
        ticks retrying at once do not post it twice); None when there is none."""
        pending = self.table.c.webhook_error.is_not(None)
        oldest = sa.select(self.table).where(pending).order_by(self.table.c.created_at, self.table.c.dedup_key)
        try:
            with self.engine.begin() as connection:
                while (row := connection.execute(oldest.limit(1)).mappings().first()) is not None:
                    claim = sa.update(self.table).where(self.table.c.dedup_key == row["dedup_key"], pending)
                    if connection.execute(claim.values(webhook_error=None)).rowcount == 1:
                        return _stored_alert(row)
        except SQLAlchemyError as exc:
            raise DataSourceError(f"{ALERTS_TABLE}: cannot read the alerts still to post: {exc}") from exc
        return None

    def _insert(self) -> postgresql.Insert | sqlite.Insert:
        return dialect_insert(self.engine, self.table)


class AlertSink:
    """Records an alert, and only when it is new, logs one line and posts it to the webhook."""

    def __init__(self, store: AlertStore, webhook: WebhookSender | None, log: Callable[[str], None]) -> None:
        self.store = store
        self.webhook = webhook
        self.log = log

    def send(self, alert: Alert, members: Sequence[Alert] = ()) -> bool:
        """Deliver `alert` once per dedup_key; True when it was new. Webhook failures are logged, not raised.

        `members` are the alerts `alert` groups: recorded (those not recorded yet) as its detail, neither
        logged nor posted.
        """
        safe = replace(alert, details=redact(alert.details))
        group_key = safe.dedup_key if members else None
        new = self.store.record(safe, group_key)
        # After the group: a sink stopped in between records the members under it on its next try.
        for member in members:
            self.store.record(replace(member, details=redact(member.details)), group_key)
        if not new:
            return False
        self.log(
            f"ALERT {safe.severity} {safe.kind} on {safe.subject}: {safe.message} "
            f"(observed={format_number(safe.observed)}, threshold={format_number(safe.threshold)}, "
            f"key={safe.dedup_key})"
        )
        if self.webhook is not None:
            self._post(self.webhook, safe)
        return True

    def redeliver(self, deadline: float | None = None) -> int:
        """Post again, oldest first, the alerts the webhook refused earlier, until one fails again or
        `deadline` (time.monotonic) passes; the number posted. Nothing without a webhook."""
        posted = 0
        while self.webhook is not None and (deadline is None or time.monotonic() < deadline):
            alert = self.store.claim_undelivered()
            if alert is None or not self._post(self.webhook, alert):
                break  # all posted, or the webhook is still down: the next call tries again
            posted += 1
        return posted

    def _post(self, webhook: WebhookSender, alert: Alert) -> bool:
        if webhook.post(alert):
            return True
        error = webhook.last_error or "failed"
        self.log(f"alert {alert.dedup_key}: webhook delivery failed: {error} (posted again later)")
        self.store.mark_undelivered(alert.dedup_key, error)
        return False


def _stored_alert(row: sa.RowMapping) -> Alert:
    # SQLite gives back the stored UTC time without its zone, PostgreSQL with the session's.
    created = pd.Timestamp(row["created_at"])
    created = created.tz_localize(UTC) if created.tzinfo is None else created.tz_convert(UTC)
    return Alert(
        **{k: row[k] for k in ALERT_COLUMNS if k not in ("details", "created_at")},
        details=json.loads(row["details"]),
        created_at=created.to_pydatetime(),
    )


def _optional_float(value: float | None) -> float | None:
    # NaN means "no value" in the table, as in the results table.
    if value is None or math.isnan(value):
        return None
    return float(value)
