"""One alert: what fired, on what, how bad, the value and the limit it crossed, and its dedup key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from cvn_assets.core.errors import CatalogueError

SEVERITIES: tuple[str, ...] = ("warn", "critical")


def is_number(value: object) -> bool:
    """A real number (numpy's included), not a bool."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
            if value is not None and not is_number(value):
                raise CatalogueError(f"alert {self.dedup_key}: {name} must be a number or None, got {value!r}")
        if not isinstance(self.created_at, datetime) or self.created_at.tzinfo is None:
            raise CatalogueError(f"alert {self.dedup_key}: created_at must be timezone-aware, got {self.created_at}")
        # Frozen dataclass: normalising the stored timestamp to UTC needs object.__setattr__.
        object.__setattr__(self, "created_at", self.created_at.astimezone(UTC))
