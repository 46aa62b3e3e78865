"""Alerts posted to a Slack-compatible webhook: the payload and a sender that never raises."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from datetime import datetime
from http.client import HTTPException
from typing import Any

import numpy as np
import pandas as pd

from cvn_assets.core.alerts.alert import Alert, is_number
from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.secrets import REDACTED


def slack_payload(alert: Alert) -> dict[str, Any]:
    """Slack-compatible message: a one-line `text` and one section block with the alert's fields."""
    text = f"[{alert.severity.upper()}] {alert.kind} on {alert.subject}: {alert.message}"
    fields = [
        ("Kind", alert.kind),
        ("Severity", alert.severity),
        ("Subject", alert.subject),
        ("Observed", format_number(alert.observed)),
        ("Threshold", format_number(alert.threshold)),
        ("Created", alert.created_at.isoformat()),
        ("Key", alert.dedup_key),
    ]
    return {
        "text": text,
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": text},
                "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields],
            }
        ],
    }


class WebhookSender:
    """POSTs alerts as Slack-compatible JSON. Never raises on delivery; the URL is never shown."""

    def __init__(self, url: str, timeout_seconds: float = 5.0) -> None:
        # The URL itself is a secret (Slack webhook URLs embed a token), so no message repeats it.
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise CatalogueError("alert webhook URL must start with http:// or https://")
        if not is_number(timeout_seconds) or not 0 < timeout_seconds < math.inf:
            raise CatalogueError(f"alert webhook timeout_seconds must be a positive number, got {timeout_seconds!r}")
        self._url = url
        self.timeout_seconds = float(timeout_seconds)
        self.last_error: str | None = None

    def __repr__(self) -> str:
        return f"WebhookSender(url={REDACTED!r}, timeout_seconds={self.timeout_seconds})"

    def post(self, alert: Alert) -> bool:
        """Deliver `alert`; True on a 2xx answer. On failure, False and the cause in `last_error`."""
        body = json.dumps(slack_payload(alert), default=json_default).encode("utf-8")
        request = urllib.request.Request(
            self._url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
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


def _describe(error: object) -> str:
    # Only the error type and the OS reason: some messages (e.g. invalid URL) quote the secret URL.
    if isinstance(error, OSError) and error.strerror:
        return f"{type(error).__name__}: {error.strerror}"
    return type(error).__name__


def format_number(value: float | None) -> str:
    """An alert's number as shown in its log line and message ("n/a" for none)."""
    return "n/a" if value is None else f"{value:.4g}"


def json_default(value: Any) -> Any:
    """`json.dumps` default for alert details: numpy scalars as numbers, timestamps as ISO text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    return str(value)
