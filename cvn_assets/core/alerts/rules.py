"""Which observations raise which alerts. Pure rules; sending is the sink's job."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cvn_assets.core.alerts.alert import Alert
from cvn_assets.core.alerts.sink import (
    KIND_CLEANLAB_DROP_RATE,
    KIND_CONCEPT_DRIFT,
    KIND_DRIFT_PSI,
    KIND_MINORITY_DECIMATION,
    KIND_OUTPUT_SHARPNESS,
    KIND_TRAINING_FAILED,
)
from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.secrets import scrub

MAX_CAUSE_CHARS = 1000  # a failed run's error in its alert: enough for the step and its message


@dataclass(frozen=True)
class AlertThresholds:
    """Drop-rate alert levels, in percent of the training rows (the cleanlab cap is 5 %)."""

    drop_pct_warn: float = 4.5
    buy_drop_pct_warn: float = 3.0

    def __post_init__(self) -> None:
        for name in ("drop_pct_warn", "buy_drop_pct_warn"):
            if not 0.0 <= getattr(self, name) <= 100.0:
                raise CatalogueError(f"{name}={getattr(self, name)} is outside [0, 100]")


def cleanlab_alerts(
    stats: Mapping[str, float], partition: str, run_id: str, thresholds: AlertThresholds = AlertThresholds()
) -> list[Alert]:
    """Alerts for one cleanlab mask: the cap about to bind, and the minority class being decimated.

    Keyed on the partition and the observed value, so re-running a sweep on the same data (a new
    run, the same observation) raises nothing new, while a changed observation does.
    """
    drop = float(stats.get("drop_pct", 0.0))
    buy_drop = float(stats.get("buy_drop_pct", 0.0))
    rules = (
        (
            KIND_CLEANLAB_DROP_RATE,
            drop,
            thresholds.drop_pct_warn,
            f"cleanlab drops {drop:.2f} % of training rows (> {thresholds.drop_pct_warn} %): the per-class cap is "
            "about to bind",
        ),
        (
            KIND_MINORITY_DECIMATION,
            buy_drop,
            thresholds.buy_drop_pct_warn,
            f"cleanlab drops {buy_drop:.2f} % of BUY rows (> {thresholds.buy_drop_pct_warn} %): the minority class is "
            "being decimated",
        ),
    )
    return [
        Alert(
            kind=kind,
            severity="warn",
            subject=f"cleanlab_mask {partition}",
            message=message,
            observed=observed,
            threshold=threshold,
            dedup_key=f"{kind}:{partition}:{observed:.4f}",
            details={"run_id": run_id},
        )
        for kind, observed, threshold, message in rules
        if observed > threshold
    ]


def training_failure_alert(subject: str, error: str, dedup_key: str) -> Alert:
    """One alert per failed fit or failed run; the dedup key makes retries and re-scans silent."""
    return Alert(
        kind=KIND_TRAINING_FAILED,
        severity="critical",
        subject=subject,
        message=f"training failed: {error}",
        observed=None,
        threshold=None,
        dedup_key=dedup_key,
        details={},
    )


def run_failure_alert(subject: str, cause: str, run_id: str) -> Alert:
    """The one alert of a failed run (keyed on its id), of the training-failure kind; `cause` says which
    step raised what, secrets masked and cut to MAX_CAUSE_CHARS."""
    text = scrub(cause)
    text = text if len(text) <= MAX_CAUSE_CHARS else text[:MAX_CAUSE_CHARS] + "..."
    return Alert(
        kind=KIND_TRAINING_FAILED,
        severity="critical",
        subject=subject,
        message=f"run failed: {text}",
        observed=None,
        threshold=None,
        dedup_key=f"run_failed:{run_id}",
        details={},
    )


def drift_alerts(results: Sequence[Mapping[str, Any]], crypto: str, recent_last_bar: str) -> list[Alert]:
    """One alert per drift statistic at warn or critical (`results`: DriftResult fields as mappings).

    Keyed on the crypto, the statistic, its level and the newest bar seen: a daily re-run on the same
    data is silent, new candles or a worsening level alert again.
    """
    alerts = []
    for result in results:
        level, metric = str(result["level"]), str(result["metric"])
        if level == "ok":
            continue
        kind = (
            KIND_DRIFT_PSI
            if metric.startswith("psi:")
            else KIND_CONCEPT_DRIFT
            if metric == "concept_drift"
            else KIND_OUTPUT_SHARPNESS
        )
        threshold = result["threshold_critical"] if level == "critical" else result["threshold_warn"]
        observed = float(result["value"])
        alerts.append(
            Alert(
                kind=kind,
                severity="critical" if level == "critical" else "warn",
                subject=f"drift_monitor {crypto}",
                message=f"{metric} = {observed:.4f} is {level} (threshold {threshold}) on bars up to {recent_last_bar}"
                + (f": {result['detail']}" if result.get("detail") else ""),
                observed=observed,
                threshold=None if threshold is None else float(threshold),
                dedup_key=f"{kind}:{crypto}:{metric}:{level}:{recent_last_bar}",
                details={"crypto": crypto},
            )
        )
    return alerts
