"""Drift monitor asset: needs the baseline model, sees appended candles, alerts once per observation."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from cvn_assets.defs.alerts.sensors import scan_drift_monitors
from cvn_assets.defs.build import build_defs
from cvn_assets.orchestration.runner import run_sweep
from cvn_assets_tests.conftest import make_settings, small_catalogue_document
from cvn_assets_tests.synthetic import shifted

RECENT_BARS = 300


@pytest.fixture
def data_dir(tmp_path: Path, small_data_dir: Path) -> Path:
    directory = tmp_path / "ohlcv"
    directory.mkdir()
    for crypto in ("BTC", "ETH"):
        (directory / f"{crypto}.csv").write_bytes((small_data_dir / f"{crypto}.csv").read_bytes())
    return directory


def _drift(defs: dg.Definitions, instance: dg.DagsterInstance, crypto: str) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("drift_job").execute_in_process(
        partition_key=crypto, instance=instance, raise_on_error=False
    )


@pytest.mark.slow
def test_drift_monitor_reads_the_newest_candles_and_alerts_once(
    tmp_path: Path, data_dir: Path, instance: dg.DagsterInstance
) -> None:
    document = {**small_catalogue_document(), "drift": {"recent_bars": RECENT_BARS}}
    defs = build_defs(make_settings(tmp_path, data_dir, catalogue=document))
    assert run_sweep(
        defs, instance, cryptos=["BTC"], folds=["f5"], configs=["baseline"], gate=False, log=lambda _: None
    ).ok

    stable = _drift(defs, instance, "BTC")
    assert stable.success
    metadata = stable.asset_materializations_for_node("drift_monitor")[0].metadata
    csv = pd.read_csv(data_dir / "BTC.csv", parse_dates=["timestamp"])
    assert pd.Timestamp(metadata["recent_last_bar"].value) == csv["timestamp"].iloc[-1]
    assert metadata["baseline_cell"].value == "BTC|f5.baseline"
    assert metadata["recent_rows"].value == RECENT_BARS
    assert metadata["psi_warn"].value == 0.2 and metadata["psi_critical"].value == 0.5
    psi_rows = [r for r in metadata["results"].value if r["metric"].startswith("psi:")]
    assert len(psi_rows) == 5

    # The user appends candles to the source file: the next monitor run sees them.
    moved = shifted(csv.assign(timestamp=csv["timestamp"].dt.tz_localize(None)), RECENT_BARS, factor=6.0, seed=5)
    moved.to_csv(data_dir / "BTC.csv", index=False)
    drifted = _drift(defs, instance, "BTC")
    assert drifted.success
    after = drifted.asset_materializations_for_node("drift_monitor")[0].metadata
    assert after["level"].value == "critical"
    assert pd.Timestamp(after["recent_last_bar"].value).tz_localize(None) == moved["timestamp"].iloc[-1]

    sink = defs.resources["alert_sink"].sink(lambda _: None)
    cursor, scanned, sent = scan_drift_monitors(instance, None, sink)
    assert scanned == 2 and sent >= 1
    kinds = set(defs.resources["alert_sink"].store().query()["kind"])
    assert "drift_psi" in kinds
    assert _drift(defs, instance, "BTC").success  # same data again: same observation
    _, scanned_again, sent_again = scan_drift_monitors(instance, cursor, sink)
    assert scanned_again == 1 and sent_again == 0


def test_drift_monitor_without_a_baseline_model_names_what_to_run(
    tmp_path: Path, data_dir: Path, instance: dg.DagsterInstance
) -> None:
    defs = build_defs(make_settings(tmp_path, data_dir))
    assert defs.resolve_job_def("crypto_data_job").execute_in_process(partition_key="ETH", instance=instance).success
    result = _drift(defs, instance, "ETH")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = (
        failure.step_failure_data.error.cause.message
        if failure.step_failure_data.error.cause
        else failure.step_failure_data.error.message
    )
    assert "no trained baseline model" in message and "ETH|f5.baseline" in message
