"""The alert sink: a queryable `alerts` table, a log line and, when configured, a Slack-style webhook.

An alert is recorded once per `dedup_key` (a retry or a re-run of the same check does not alert
twice), secrets in its details are masked before it is stored or sent, and sending an alert never
does anything else: no retraining, no re-materialisation.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from http.client import HTTPException
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from cvn_assets.core.errors import CatalogueError, DataSourceError
from cvn_assets.core.results_store import dialect_insert, open_table
from cvn_assets.core.secrets import REDACTED, SECRET_KEY_PATTERN, redact  # noqa: F401 - re-exported

ALERTS_TABLE = "alerts"
SEVERITIES: tuple[str, ...] = ("warn", "critical")
KIND_CLEANLAB_DROP_RATE = "cleanlab_drop_rate"
KIND_MINORITY_DECIMATION = "minority_decimation"
KIND_TRAINING_FAILED = "training_failed"
KIND_DRIFT_PSI = "drift_psi"
KIND_CONCEPT_DRIFT = "concept_drift"
KIND_OUTPUT_SHARPNESS = "output_sharpness"
ALERT_KINDS: tuple[str, ...] = (KIND_CLEANLAB_DROP_RATE, KIND_MINORITY_DECIMATION, KIND_TRAINING_FAILED, KIND_DRIFT_PSI,
                                 KIND_CONCEPT_DRIFT, KIND_OUTPUT_SHARPNESS)
ALERT_COLUMNS: tuple[str, ...] = (
    "dedup_key", "kind", "severity", "subject", "message", "observed", "threshold", "details", "created_at",
)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Alert:
    """One alert. `dedup_key` identifies it: a second alert with the same key is not stored nor sent.

    `observed` and `threshold` are the value that fired and the limit it crossed (None when the
    alert is not about a number, e.g. a training failure). `created_at` is a UTC timestamp.
    """

    kind: str
    severity: str
    subject: str
    message: str
    observed: float | None
    threshold: float | None
    dedup_key: str
    details: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=_utc_now)

    def __post_init__(self) -> None:
        for name in ("kind", "subject", "dedup_key"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise CatalogueError(f"alert {name} must be a non-empty string, got {getattr(self, name)!r}")
        if self.severity not in SEVERITIES:
            raise CatalogueError(f"alert {self.dedup_key}: severity must be one of {SEVERITIES}, got {self.severity!r}")
        if not isinstance(self.details, dict):
            raise CatalogueError(f"alert {self.dedup_key}: details must be a dict, got {type(self.details).__name__}")
        for name in ("observed", "threshold"):
            value = getattr(self, name)
            if value is not None and not _is_number(value):
                raise CatalogueError(f"alert {self.dedup_key}: {name} must be a number or None, got {value!r}")
        if not isinstance(self.created_at, datetime) or self.created_at.tzinfo is None:
            raise CatalogueError(f"alert {self.dedup_key}: created_at must be timezone-aware, got {self.created_at}")
        # Frozen dataclass: normalising the stored timestamp to UTC needs object.__setattr__.
        object.__setattr__(self, "created_at", self.created_at.astimezone(timezone.utc))


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
    )


class AlertStore:
    """The `alerts` table (SQLite by default, PostgreSQL by URL); one row per dedup_key."""

    def __init__(self, url: str, create_database: bool = True) -> None:
        """`create_database=False` reads an existing store only: a missing SQLite file or table is an error."""
        self.engine, self.table = open_table(url, _alerts_table, create_database)

    def record(self, alert: Alert) -> bool:
        """Insert `alert` unless its dedup_key is already stored. True when the row is new."""
        row = {
            "dedup_key": alert.dedup_key,
            "kind": alert.kind,
            "severity": alert.severity,
            "subject": alert.subject,
            "message": alert.message,
            "observed": _optional_float(alert.observed),
            "threshold": _optional_float(alert.threshold),
            "details": json.dumps(redact(alert.details), sort_keys=True, default=_json_default),
            # SQLite keeps no offset, so every timestamp is stored as UTC.
            "created_at": alert.created_at.astimezone(timezone.utc),
        }
        for name in ("dedup_key", "kind"):
            limit = self.table.c[name].type.length
            if len(row[name]) > limit:
                # SQLite would store it, PostgreSQL would refuse it: one rule for both.
                raise DataSourceError(f"{ALERTS_TABLE}: alert {name} is longer than {limit} characters: "
                                      f"{row[name][:80]}...")
        statement = self._insert().values(row).on_conflict_do_nothing(index_elements=["dedup_key"])
        try:
            with self.engine.begin() as connection:
                inserted = connection.execute(statement).rowcount
        except SQLAlchemyError as exc:
            raise DataSourceError(f"{ALERTS_TABLE}: cannot record alert {alert.dedup_key}: {exc}") from exc
        return inserted == 1

    def query(self, since: datetime | None = None, kind: str | None = None) -> pd.DataFrame:
        """Alerts created at or after `since` (timezone-aware) and of `kind` when given, newest first.

        `details` comes back as a dict and `created_at` as a UTC timestamp.
        """
        statement = sa.select(self.table)
        if since is not None:
            if since.tzinfo is None:
                raise CatalogueError(f"alerts query: since must be timezone-aware, got {since}")
            statement = statement.where(self.table.c.created_at >= since.astimezone(timezone.utc))
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

    def _insert(self):  # noqa: ANN202 - dialect-specific Insert types
        return dialect_insert(self.engine, self.table)


def slack_payload(alert: Alert) -> dict[str, Any]:
    """Slack-compatible message: a one-line `text` and one section block with the alert's fields."""
    text = f"[{alert.severity.upper()}] {alert.kind} on {alert.subject}: {alert.message}"
    fields = [
        ("Kind", alert.kind),
        ("Severity", alert.severity),
        ("Subject", alert.subject),
        ("Observed", _format_number(alert.observed)),
        ("Threshold", _format_number(alert.threshold)),
        ("Created", alert.created_at.isoformat()),
        ("Key", alert.dedup_key),
    ]
    return {
        "text": text,
        "blocks": [{
            "type": "section",
            "text": {"type": "mrkdwn", "text": text},
            "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields],
        }],
    }


class WebhookSender:
    """POSTs alerts as Slack-compatible JSON. Never raises on delivery; the URL is never shown."""

    def __init__(self, url: str, timeout_seconds: float = 5.0) -> None:
        # The URL itself is a secret (Slack webhook URLs embed a token), so no message repeats it.
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise CatalogueError("alert webhook URL must start with http:// or https://")
        if not _is_number(timeout_seconds) or not 0 < timeout_seconds < math.inf:
            raise CatalogueError(f"alert webhook timeout_seconds must be a positive number, got {timeout_seconds!r}")
        self._url = url
        self.timeout_seconds = float(timeout_seconds)
        self.last_error: str | None = None

    def __repr__(self) -> str:
        return f"WebhookSender(url={REDACTED!r}, timeout_seconds={self.timeout_seconds})"

    def post(self, alert: Alert) -> bool:
        """Deliver `alert`; True on a 2xx answer. On failure, False and the cause in `last_error`."""
        body = json.dumps(slack_payload(alert), default=_json_default).encode("utf-8")
        request = urllib.request.Request(
            self._url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            self.last_error = f"HTTP {exc.code}"
            return False
        except urllib.error.URLError as exc:
            self.last_error = f"unreachable ({_describe(exc.reason)})"
            return False
        except (OSError, HTTPException, ValueError) as exc:
            self.last_error = _describe(exc)
            return False
        self.last_error = None if 200 <= status < 300 else f"HTTP {status}"
        return self.last_error is None


class AlertSink:
    """Records an alert, and only when it is new, logs one line and posts it to the webhook."""

    def __init__(self, store: AlertStore, webhook: WebhookSender | None, log: Callable[[str], None]) -> None:
        self.store = store
        self.webhook = webhook
        self.log = log

    def send(self, alert: Alert) -> bool:
        """Deliver `alert` once per dedup_key; True when it was new. Webhook failures are logged, not raised."""
        safe = replace(alert, details=redact(alert.details))
        if not self.store.record(safe):
            return False
        self.log(
            f"ALERT {safe.severity} {safe.kind} on {safe.subject}: {safe.message} "
            f"(observed={_format_number(safe.observed)}, threshold={_format_number(safe.threshold)}, "
            f"key={safe.dedup_key})"
        )
        if self.webhook is not None and not self.webhook.post(safe):
            self.log(f"alert {safe.dedup_key}: webhook delivery failed: {self.webhook.last_error}")
        return True


def _optional_float(value: float | None) -> float | None:
    # NaN means "no value" in the table, as in the results table.
    if value is None or math.isnan(value):
        return None
    return float(value)


def _format_number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _describe(error: object) -> str:
    # Only the error type and the OS reason: some messages (e.g. invalid URL) quote the secret URL.
    if isinstance(error, OSError) and error.strerror:
        return f"{type(error).__name__}: {error.strerror}"
    return type(error).__name__
