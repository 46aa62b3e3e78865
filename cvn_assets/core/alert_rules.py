"""Which observations raise which alerts (SPEC §8). Pure rules; sending is the sink's job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cvn_assets.core.alerts import (
    KIND_CLEANLAB_DROP_RATE,
    KIND_MINORITY_DECIMATION,
    KIND_TRAINING_FAILED,
    Alert,
)
from cvn_assets.core.errors import CatalogueError


@dataclass(frozen=True)
class AlertThresholds:
    """Drop-rate alert levels, in percent of the training rows (the cleanlab cap is 5 %)."""

    drop_pct_warn: float = 4.5
    buy_drop_pct_warn: float = 3.0

    def __post_init__(self) -> None:
        for name in ("drop_pct_warn", "buy_drop_pct_warn"):
            if not 0.0 <= getattr(self, name) <= 100.0:
                raise CatalogueError(f"{name}={getattr(self, name)} is outside [0, 100]")


def cleanlab_alerts(stats: Mapping[str, float], partition: str, run_id: str,
                    thresholds: AlertThresholds = AlertThresholds()) -> list[Alert]:
    """Alerts for one cleanlab mask: the cap about to bind, and the minority class being decimated.

    Keyed on the partition and the observed value, so re-running a sweep on the same data (a new
    run, the same observation) raises nothing new, while a changed observation does.
    """
    drop = float(stats.get("drop_pct", 0.0))
    buy_drop = float(stats.get("buy_drop_pct", 0.0))
    rules = (
        (KIND_CLEANLAB_DROP_RATE, drop, thresholds.drop_pct_warn,
         f"cleanlab drops {drop:.2f} % of training rows (> {thresholds.drop_pct_warn} %): the per-class cap is "
         "about to bind"),
        (KIND_MINORITY_DECIMATION, buy_drop, thresholds.buy_drop_pct_warn,
         f"cleanlab drops {buy_drop:.2f} % of BUY rows (> {thresholds.buy_drop_pct_warn} %): the minority class is "
         "being decimated"),
    )
    return [Alert(kind=kind, severity="warn", subject=f"cleanlab_mask {partition}", message=message,
                  observed=observed, threshold=threshold, dedup_key=f"{kind}:{partition}:{observed:.4f}",
                  details={"run_id": run_id})
            for kind, observed, threshold, message in rules if observed > threshold]


def training_failure_alert(subject: str, error: str, dedup_key: str) -> Alert:
    """One alert per failed fit or failed run; the dedup key makes retries and re-scans silent."""
    return Alert(kind=KIND_TRAINING_FAILED, severity="critical", subject=subject, message=f"training failed: {error}",
                 observed=None, threshold=None, dedup_key=dedup_key, details={})
