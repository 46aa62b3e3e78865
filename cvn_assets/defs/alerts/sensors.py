"""Alert sensors. Each reads every new event with a storage-id cursor (an asset sensor sees only the
latest event per tick and would miss partitions) and only sends alerts: none starts a run."""

import time
from collections.abc import Callable, Mapping, Sequence

import dagster as dg

from cvn_assets.core.alerts.alert import Alert
from cvn_assets.core.alerts.groups import CellAlert, send_cell_alerts
from cvn_assets.core.alerts.rules import (
    AlertThresholds,
    cleanlab_alerts,
    drift_alerts,
    run_failure_alert,
    training_failure_alert,
)
from cvn_assets.core.alerts.sink import AlertSink
from cvn_assets.defs.partitions import split_cell_key
from cvn_assets.defs.resources import AlertSinkResource, SweepResource
from cvn_assets.orchestration.run_failures import error_text

BATCH = 500
# Dagster abandons a sensor tick after 60 s and reports the code server unreachable; a slow webhook (up
# to 5 s a post) must not hold a tick that long: what is left waits for the next tick, from the cursor.
TICK_BUDGET_SECONDS = 30.0
# Where the end-of-sweep scan keeps its cursor of each alert rule, in the instance's key-value store.
SCAN_CURSOR_PREFIX = "cvn/alert_scan_cursor/"


def _new_records(instance: dg.DagsterInstance, asset_key: dg.AssetKey, cursor: str | None) -> list[dg.EventLogRecord]:
    after = int(cursor) if cursor else None
    return list(
        instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, after_storage_id=after), limit=BATCH, ascending=True
        ).records
    )


def _scan(
    instance: dg.DagsterInstance,
    asset_key: str,
    cursor: str | None,
    sink: AlertSink,
    alerts_of: Callable[[dg.EventLogRecord], Sequence[Alert | CellAlert]],
    deadline: float | None,
    pooled: list[CellAlert] | None = None,
) -> tuple[str | None, int, int]:
    """Send the alerts of the records after `cursor`, stopping after the record that reaches `deadline`:
    (cursor of the last record handled, records handled, alerts sent). Alerts about cells are sent grouped
    once the records are read (`send_cell_alerts`), or added to `pooled` for the caller to send."""
    scanned = sent = 0
    cells: list[CellAlert] = [] if pooled is None else pooled
    for record in _new_records(instance, dg.AssetKey(asset_key), cursor):
        if scanned and deadline is not None and time.monotonic() >= deadline:
            break
        for alert in alerts_of(record):
            if isinstance(alert, CellAlert):
                cells.append(alert)
            else:
                sent += sink.send(alert)
        scanned += 1
        cursor = str(record.storage_id)
    if pooled is None:
        sent += send_cell_alerts(sink, cells)
    return cursor, scanned, sent


def scan_cleanlab_masks(
    instance: dg.DagsterInstance,
    cursor: str | None,
    sink: AlertSink,
    thresholds: AlertThresholds,
    sweep: str,
    deadline: float | None = None,
    pooled: list[CellAlert] | None = None,
) -> tuple[str | None, int, int]:
    """Alert on every cleanlab mask materialized after `cursor`, one alert per variant and kind of
    `sweep` (see `core.alerts.groups`): (new cursor, scanned, sent)."""

    def alerts_of(record: dg.EventLogRecord) -> list[CellAlert]:
        metadata = _metadata(record)
        stats = {k: float(_number(metadata[k].value)) for k in ("drop_pct", "buy_drop_pct") if k in metadata}
        crypto, fold, config_id = split_cell_key(str(record.partition_key))
        return [
            CellAlert(alert, sweep, config_id, f"{crypto}|{fold}")
            for alert in cleanlab_alerts(stats, str(record.partition_key), record.run_id, thresholds)
        ]

    return _scan(instance, "cleanlab_mask", cursor, sink, alerts_of, deadline, pooled)


def scan_training_failures(
    instance: dg.DagsterInstance, cursor: str | None, sink: AlertSink, deadline: float | None = None
) -> tuple[str | None, int, int]:
    """Alert once per cell and run where a model or ensemble failed to train: (new cursor, scanned, sent)."""

    def alerts_of(record: dg.EventLogRecord) -> list[Alert]:
        failed = _metadata(record).get("training_failed")
        if failed is None or failed.value == "none":
            return []
        # Keyed on the cell and what failed: a re-run failing the same way does not alert again.
        return [
            training_failure_alert(
                f"fold_metrics {record.partition_key}",
                f"models {failed.value}",
                f"training_failed:{record.partition_key}:{failed.value}",
            )
        ]

    return _scan(instance, "fold_metrics", cursor, sink, alerts_of, deadline)


def scan_drift_monitors(
    instance: dg.DagsterInstance, cursor: str | None, sink: AlertSink, deadline: float | None = None
) -> tuple[str | None, int, int]:
    """Alert on every drift statistic at warn or critical in monitors materialized after `cursor`."""

    def alerts_of(record: dg.EventLogRecord) -> list[Alert]:
        metadata = _metadata(record)
        results = metadata["results"].value if "results" in metadata else None
        if not isinstance(results, list):
            return []
        last_bar = str(metadata["recent_last_bar"].value) if "recent_last_bar" in metadata else record.run_id
        return drift_alerts(results, str(record.partition_key), last_bar)

    return _scan(instance, "drift_monitor", cursor, sink, alerts_of, deadline)


def scan_new_events(instance: dg.DagsterInstance, sink: AlertSink, thresholds: AlertThresholds, sweep: str) -> int:
    """Every alert rule over what the instance recorded since the last such scan, batch after batch: each
    rule's storage-id cursor is kept in the instance's key-value store, so a scan costs what happened since
    the one before, not the whole history. Dedup keys keep silent an alert a sensor already sent. The cells'
    alerts of every batch are grouped together, so a group is not split at a batch's end."""
    pooled: list[CellAlert] = []
    scans: dict[str, Callable[[str | None], tuple[str | None, int, int]]] = {
        "cleanlab_mask": lambda cursor: scan_cleanlab_masks(instance, cursor, sink, thresholds, sweep, pooled=pooled),
        "fold_metrics": lambda cursor: scan_training_failures(instance, cursor, sink),
        "drift_monitor": lambda cursor: scan_drift_monitors(instance, cursor, sink),
    }
    store = instance.daemon_cursor_storage
    keys = {name: f"{SCAN_CURSOR_PREFIX}{name}" for name in scans}
    cursors = dict(store.get_cursor_values(set(keys.values())))
    total = 0
    for name, scan in scans.items():
        cursor, scanned = cursors.get(keys[name]), 1
        while scanned:
            cursor, scanned, sent = scan(cursor)
            total += sent
        if cursor is not None:
            cursors[keys[name]] = cursor
    total += send_cell_alerts(sink, pooled)
    if cursors:  # stored after the alerts are out: a scan cut short is read again
        store.set_cursor_values(cursors)
    return total


def alert_failed_runs(sink: AlertSink, failures: Mapping[str, str], run_ids: Mapping[str, str]) -> int:
    """The failed-run alert of each run in `failures` ("job[partition]" -> its error) that has a run id in
    `run_ids`, as `failed_run_sensor` sends for a launched run: once per run. Returns the alerts sent."""
    return sum(
        sink.send(run_failure_alert(f"run {name}", message, run_ids[name]))
        for name, message in failures.items()
        if name in run_ids
    )


def _tick(
    context: dg.SensorEvaluationContext, scan: Callable[..., tuple[str | None, int, int]], what: str, *args: object
) -> dg.SkipReason:
    cursor, scanned, sent = scan(
        context.instance, context.cursor, *args, deadline=time.monotonic() + TICK_BUDGET_SECONDS
    )
    if cursor is not None and cursor != context.cursor:
        context.update_cursor(cursor)
    return dg.SkipReason(f"scanned {scanned} {what}, sent {sent} alert(s)")


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts when cleanlab masks drop > 4.5 % of rows or > 3 % of BUY rows: one alert per "
    "variant and kind, naming its cells and the worst value.",
)
def cleanlab_drop_rate_sensor(
    context: dg.SensorEvaluationContext, alert_sink: AlertSinkResource, sweep: SweepResource
) -> dg.SkipReason:
    return _tick(
        context,
        scan_cleanlab_masks,
        "cleanlab masks",
        alert_sink.sink(context.log.warning),
        sweep.catalogue.pipeline.alerts,
        sweep.name,
    )


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts once for every cell where a model or ensemble failed to train.",
)
def training_failure_sensor(context: dg.SensorEvaluationContext, alert_sink: AlertSinkResource) -> dg.SkipReason:
    return _tick(context, scan_training_failures, "cells", alert_sink.sink(context.log.warning))


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts on drift monitors at warn or critical (PSI, concept drift, output sharpness).",
)
def drift_alert_sensor(context: dg.SensorEvaluationContext, alert_sink: AlertSinkResource) -> dg.SkipReason:
    return _tick(context, scan_drift_monitors, "drift monitors", alert_sink.sink(context.log.warning))


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts again to the webhook, oldest first, the alerts it refused (none without a webhook).",
)
def alert_delivery_sensor(context: dg.SensorEvaluationContext, alert_sink: AlertSinkResource) -> dg.SkipReason:
    posted = alert_sink.sink(context.log.warning).redeliver(deadline=time.monotonic() + TICK_BUDGET_SECONDS)
    return dg.SkipReason(f"posted {posted} alert(s) the webhook had refused")


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts once per failed run (keyed on the run id, so re-evaluation is silent).",
)
def failed_run_sensor(context: dg.RunFailureSensorContext, alert_sink: AlertSinkResource) -> None:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition", "")
    cause = _failure_cause(context) or context.failure_event.message or "no step failed"
    alert_sink.sink(context.log.warning).send(
        run_failure_alert(f"run {run.job_name} {partition}".strip(), cause, run.run_id)
    )


def _failure_cause(context: dg.RunFailureSensorContext) -> str:
    """Each failed step with the innermost error it raised: the run's own message only lists the steps."""
    causes = []
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error
        while error is not None and error.cause is not None:
            error = error.cause
        causes.append(f"{event.step_key}: {error_text(error) if error is not None else 'failed'}")
    return "; ".join(causes)


SENSORS = [
    cleanlab_drop_rate_sensor,
    training_failure_sensor,
    drift_alert_sensor,
    alert_delivery_sensor,
    failed_run_sensor,
]


def _metadata(record: dg.EventLogRecord) -> Mapping[str, dg.MetadataValue]:
    """The metadata of a materialization record (none for a record without a materialization)."""
    materialization = record.asset_materialization
    return materialization.metadata if materialization is not None else {}


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number in the cleanlab mask's metadata, got {value!r}")
    return float(value)
