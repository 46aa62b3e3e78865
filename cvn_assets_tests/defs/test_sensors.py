"""Alert sensors, one test per cursor scenario, on events reported into a real temporary instance."""

from pathlib import Path

import dagster as dg
import pytest

from cvn_assets.defs.alerts.sensors import (
    alert_delivery_sensor,
    cleanlab_drop_rate_sensor,
    drift_alert_sensor,
    training_failure_sensor,
)
from cvn_assets.defs.resources import AlertSinkResource, SweepResource
from cvn_assets_tests.webhook_endpoint import WebhookEndpoint


def _report_mask(instance: dg.DagsterInstance, partition: str, drop: float, buy_drop: float) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="cleanlab_mask", partition=partition, metadata={"drop_pct": drop, "buy_drop_pct": buy_drop}
        )
    )


@pytest.fixture
def sink(tmp_path: Path) -> AlertSinkResource:
    return AlertSinkResource(url=f"sqlite:///{tmp_path / 'alerts.db'}")


def _tick(sensor, instance: dg.DagsterInstance, sink: AlertSinkResource, cursor: str | None):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"alert_sink": sink, "sweep": SweepResource()}
    )
    result = sensor(context)
    return context.cursor, result


def test_first_event_alerts_and_moves_the_cursor(instance: dg.DagsterInstance, sink: AlertSinkResource) -> None:
    _report_mask(instance, "BTC|f1.cl_filter", drop=4.99, buy_drop=4.96)
    cursor, result = _tick(cleanlab_drop_rate_sensor, instance, sink, None)
    assert cursor is not None and "sent 2 alert(s)" in result.skip_message
    alerts = sink.store().query()
    assert sorted(alerts["kind"]) == ["cleanlab_drop_rate", "minority_decimation"]
    assert set(alerts["threshold"]) == {4.5, 3.0}


def test_nothing_new_sends_nothing(instance: dg.DagsterInstance, sink: AlertSinkResource) -> None:
    _report_mask(instance, "BTC|f1.cl_filter", drop=4.99, buy_drop=4.96)
    cursor, _ = _tick(cleanlab_drop_rate_sensor, instance, sink, None)
    again, result = _tick(cleanlab_drop_rate_sensor, instance, sink, cursor)
    assert again == cursor and "scanned 0" in result.skip_message
    assert len(sink.store().query()) == 2


def test_several_partitions_at_once_are_all_seen(instance: dg.DagsterInstance, sink: AlertSinkResource) -> None:
    _report_mask(instance, "BTC|f1.cl_filter", drop=4.99, buy_drop=1.0)
    _report_mask(instance, "ETH|f2.cl_filter", drop=1.0, buy_drop=3.5)
    _report_mask(instance, "LTC|f3.cl_filter", drop=2.0, buy_drop=1.0)
    _, result = _tick(cleanlab_drop_rate_sensor, instance, sink, None)
    assert "scanned 3 cleanlab masks, sent 2 alert(s)" in result.skip_message
    alerts = sink.store().query()
    assert sorted(zip(alerts["kind"], [d["cells"] for d in alerts["details"]], strict=True)) == [
        ("cleanlab_drop_rate", {"BTC|f1": 4.99}),
        ("minority_decimation", {"ETH|f2": 3.5}),
    ]
    assert set(sink.store().query(detail=True)["subject"]) == {
        "cleanlab_mask BTC|f1.cl_filter",
        "cleanlab_mask ETH|f2.cl_filter",
    }


def test_restart_from_scratch_does_not_alert_twice(instance: dg.DagsterInstance, sink: AlertSinkResource) -> None:
    _report_mask(instance, "BTC|f1.cl_filter", drop=4.99, buy_drop=4.96)
    _tick(cleanlab_drop_rate_sensor, instance, sink, None)
    _, result = _tick(cleanlab_drop_rate_sensor, instance, sink, None)  # cursor lost, e.g. sensor reset
    assert "sent 0 alert(s)" in result.skip_message
    assert len(sink.store().query()) == 2


def test_training_failure_alerts_once_per_cell_and_run(instance: dg.DagsterInstance, sink: AlertSinkResource) -> None:
    for partition, failed in (("BTC|f1.baseline", "lightgbm"), ("BTC|f2.baseline", "none")):
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key="fold_metrics", partition=partition, metadata={"training_failed": failed})
        )
    cursor, result = _tick(training_failure_sensor, instance, sink, None)
    assert "sent 1 alert(s)" in result.skip_message
    alert = sink.store().query().iloc[0]
    assert alert["kind"] == "training_failed" and alert["subject"] == "fold_metrics BTC|f1.baseline"
    _, result = _tick(training_failure_sensor, instance, sink, None)
    assert "sent 0 alert(s)" in result.skip_message


def test_a_rerun_with_the_same_observation_does_not_alert_again(
    instance: dg.DagsterInstance, sink: AlertSinkResource
) -> None:
    _report_mask(instance, "BTC|f1.cl_filter", drop=4.99, buy_drop=4.96)
    cursor, _ = _tick(cleanlab_drop_rate_sensor, instance, sink, None)
    _report_mask(instance, "BTC|f1.cl_filter", drop=4.99, buy_drop=4.96)  # the sweep re-ran this cell
    _report_mask(instance, "BTC|f2.cl_filter", drop=4.7, buy_drop=1.0)
    _, result = _tick(cleanlab_drop_rate_sensor, instance, sink, cursor)
    assert "scanned 2 cleanlab masks, sent 1 alert(s)" in result.skip_message


def test_failed_run_alerts_once_per_run(instance: dg.DagsterInstance, sink: AlertSinkResource) -> None:
    from cvn_assets.defs.alerts.sensors import failed_run_sensor

    @dg.op
    def broken() -> None:
        raise RuntimeError("disk full")

    @dg.job
    def failing_job() -> None:
        broken()

    result = failing_job.execute_in_process(instance=instance, raise_on_error=False)
    run = instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    for _ in range(2):  # the daemon may evaluate the same failure again
        context = dg.build_run_status_sensor_context(
            sensor_name="failed_run_sensor",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=failure,
            resources={"alert_sink": sink},
        ).for_run_failure()
        failed_run_sensor(context)
    alerts = sink.store().query()
    assert len(alerts) == 1 and alerts.iloc[0]["subject"].startswith("run failing_job")
    # The alert names the failed step and what it raised, not only that the run failed.
    assert alerts.iloc[0]["message"] == "run failed: broken: RuntimeError: disk full"


def test_a_failed_run_alert_gives_a_project_error_without_its_class_name(
    instance: dg.DagsterInstance, sink: AlertSinkResource
) -> None:
    from cvn_assets.core.errors import DataSourceError
    from cvn_assets.defs.alerts.sensors import failed_run_sensor

    @dg.op
    def read_candles() -> None:
        raise DataSourceError("OHLCV file for BTC not found: /data/BTC.csv")

    @dg.job
    def data_job() -> None:
        read_candles()

    result = data_job.execute_in_process(instance=instance, raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    context = dg.build_run_status_sensor_context(
        sensor_name="failed_run_sensor",
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
        dagster_event=failure,
        resources={"alert_sink": sink},
    ).for_run_failure()
    failed_run_sensor(context)
    message = sink.store().query().iloc[0]["message"]
    assert message == "run failed: read_candles: OHLCV file for BTC not found: /data/BTC.csv"


def _report_drift(instance: dg.DagsterInstance, crypto: str, psi: float, last_bar: str) -> None:
    level = "critical" if psi > 0.5 else "warn" if psi > 0.2 else "ok"
    results = [
        {
            "metric": "psi:volatility_24",
            "value": psi,
            "threshold_warn": 0.2,
            "threshold_critical": 0.5,
            "level": level,
            "detail": "",
        }
    ]
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="drift_monitor",
            partition=crypto,
            metadata={"results": dg.MetadataValue.json(results), "recent_last_bar": last_bar},
        )
    )


def test_drift_sensor_cursor_scenarios(instance: dg.DagsterInstance, sink: AlertSinkResource) -> None:
    _report_drift(instance, "BTC", 0.7, "2026-11-22 23:00")
    cursor, result = _tick(drift_alert_sensor, instance, sink, None)  # first event
    assert "scanned 1 drift monitors, sent 1 alert(s)" in result.skip_message
    assert sink.store().query()["severity"].tolist() == ["critical"]
    again, result = _tick(drift_alert_sensor, instance, sink, cursor)  # nothing new
    assert again == cursor and "scanned 0" in result.skip_message
    _report_drift(instance, "ETH", 0.3, "2026-11-22 23:00")  # several partitions at once
    _report_drift(instance, "LTC", 0.1, "2026-11-22 23:00")
    _report_drift(instance, "BTC", 0.7, "2026-11-23 23:00")  # new candles, same level: a new observation
    _, result = _tick(drift_alert_sensor, instance, sink, cursor)
    assert "scanned 3 drift monitors, sent 2 alert(s)" in result.skip_message
    _, result = _tick(drift_alert_sensor, instance, sink, None)  # restart from scratch
    assert "sent 0 alert(s)" in result.skip_message
    assert len(sink.store().query()) == 3


def test_the_end_of_sweep_scan_reads_past_the_first_batch(
    instance: dg.DagsterInstance, sink: AlertSinkResource, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cvn_assets.core.alerts.rules import AlertThresholds
    from cvn_assets.defs.alerts import sensors

    monkeypatch.setattr(sensors, "BATCH", 2)
    for fold in (1, 2, 3):  # the newest mask is past the first batch of the event log
        _report_mask(instance, f"BTC|f{fold}.cl_filter", drop=4.9 + fold / 100, buy_drop=1.0)
    assert sensors.scan_new_events(instance, sink.sink(lambda _: None), AlertThresholds(), "test_sweep") == 1
    # one alert for the variant's three cells, across the batches
    assert sink.store().query()["details"].iloc[0]["cells"] == pytest.approx(
        {"BTC|f1": 4.91, "BTC|f2": 4.92, "BTC|f3": 4.93}
    )


def test_the_end_of_sweep_scan_reads_only_what_came_since_the_last_one(
    instance: dg.DagsterInstance, sink: AlertSinkResource, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its cost is what happened since the previous scan, not the instance's history."""
    from cvn_assets.core.alerts.rules import AlertThresholds
    from cvn_assets.defs.alerts import sensors

    for fold in (1, 2, 3):
        _report_mask(instance, f"BTC|f{fold}.cl_filter", drop=4.99, buy_drop=1.0)
    scan = lambda: sensors.scan_new_events(instance, sink.sink(lambda _: None), AlertThresholds(), "test_sweep")  # noqa: E731
    assert scan() == 1
    read: list[int] = []
    real = sensors._new_records
    monkeypatch.setattr(sensors, "_new_records", lambda *args: read.append(len(found := real(*args))) or found)
    assert scan() == 0 and sum(read) == 0  # nothing new: no record read again
    _report_mask(instance, "ETH|f1.cl_filter", drop=1.0, buy_drop=3.5)
    read.clear()
    assert scan() == 1 and sum(read) == 1  # the one new mask, and its alert
    assert sorted(sink.store().query()["kind"]) == ["cleanlab_drop_rate", "minority_decimation"]


def test_a_slow_tick_stops_at_its_budget_and_the_next_resumes(
    instance: dg.DagsterInstance, sink: AlertSinkResource, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cvn_assets.defs.alerts import sensors

    # A slow webhook must not hold a tick past Dagster's sensor timeout: no budget left = one record a tick.
    monkeypatch.setattr(sensors, "TICK_BUDGET_SECONDS", 0.0)
    for fold in (1, 2, 3):
        _report_mask(instance, f"BTC|f{fold}.cl_filter", drop=4.99, buy_drop=1.0)
    cursor, messages = None, []
    for _ in range(4):
        cursor, result = _tick(cleanlab_drop_rate_sensor, instance, sink, cursor)
        messages.append(result.skip_message)
    assert [m.split(",")[0] for m in messages] == ["scanned 1 cleanlab masks"] * 3 + ["scanned 0 cleanlab masks"]
    assert len(sink.store().query()) == 3


def test_alerts_the_webhook_refused_are_posted_by_a_later_tick(instance: dg.DagsterInstance, tmp_path: Path) -> None:
    endpoint = WebhookEndpoint(status=503)
    try:
        sink = AlertSinkResource(url=f"sqlite:///{tmp_path / 'alerts.db'}", webhook_url=endpoint.url)
        _report_mask(instance, "BTC|f1.cl_filter", drop=4.99, buy_drop=4.96)
        _tick(cleanlab_drop_rate_sensor, instance, sink, None)  # 2 alerts, both refused
        assert len(endpoint.bodies) == 2 and len(sink.store().query()) == 2
        _, result = _tick(alert_delivery_sensor, instance, sink, None)
        assert "posted 0 alert(s)" in result.skip_message and len(endpoint.bodies) == 3  # still down
        endpoint.status = 200
        _, result = _tick(alert_delivery_sensor, instance, sink, None)
        assert "posted 2 alert(s)" in result.skip_message and len(endpoint.bodies) == 5
        _, result = _tick(alert_delivery_sensor, instance, sink, None)
        assert "posted 0 alert(s)" in result.skip_message and len(endpoint.bodies) == 5
    finally:
        endpoint.close()


def test_a_sweep_of_many_alerting_cells_posts_one_message_per_variant_and_kind(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    endpoint = WebhookEndpoint()
    try:
        sink = AlertSinkResource(url=f"sqlite:///{tmp_path / 'alerts.db'}", webhook_url=endpoint.url)
        for variant in ("cl_filter", "cl_reweight"):
            for crypto in ("BTC", "ETH", "LTC", "XRP", "EOS"):
                for fold in range(1, 6):  # the cap about to bind and the BUY rows decimated in every cell
                    _report_mask(instance, f"{crypto}|f{fold}.{variant}", drop=4.8 + fold / 100, buy_drop=3.4)
        _, result = _tick(cleanlab_drop_rate_sensor, instance, sink, None)
        assert "scanned 50 cleanlab masks, sent 4 alert(s)" in result.skip_message
        assert len(endpoint.bodies) == 4  # instead of 100, two per cell
        sweep = SweepResource().name
        assert sorted(body["text"].split(": worst")[0] for body in endpoint.bodies) == [
            f"[WARN] {kind} on 25 cell(s) of {variant} in sweep {sweep}"
            for kind in ("cleanlab_drop_rate", "minority_decimation")
            for variant in ("cl_filter", "cl_reweight")
        ]
        assert len(sink.store().query(detail=True)) == 100
        _report_mask(instance, "BTC|f1.cl_filter", drop=4.81, buy_drop=3.4)  # the same cell again: silent
        _, result = _tick(cleanlab_drop_rate_sensor, instance, sink, None)
        assert "sent 0 alert(s)" in result.skip_message and len(endpoint.bodies) == 4
    finally:
        endpoint.close()
