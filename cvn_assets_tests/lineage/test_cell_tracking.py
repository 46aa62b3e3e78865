"""A cell's materialization is one MLflow run: its metrics, model bundles and ids in the asset metadata."""

import threading
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from cvn_assets.defs.build import build_defs
from cvn_assets.lineage.tracking import MlflowTrackingResource
from cvn_assets_tests.conftest import make_settings


def test_fold_metrics_records_its_mlflow_run(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    from mlflow import MlflowClient

    defs = build_defs(make_settings(tmp_path, small_data_dir, mlflow=True))
    assert defs.resolve_job_def("crypto_data_job").execute_in_process(partition_key="BTC", instance=instance).success
    result = defs.resolve_job_def("cell_job").execute_in_process(partition_key="BTC|f2.baseline", instance=instance)
    (metadata,) = [
        event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey("fold_metrics")
    ]
    run_id = metadata["mlflow_run_id"].value

    client = MlflowClient(f"sqlite:///{Path(instance.root_directory) / 'mlflow' / 'mlflow.db'}")
    run = client.get_run(run_id)
    assert run.data.tags["dagster/partition"] == "BTC|f2.baseline"
    assert run.data.tags["dagster/run_id"] == result.run_id
    assert run.data.tags["mlflow.parentRunId"] == metadata["mlflow_parent_run_id"].value
    assert run.data.params["config_id"] == "baseline" and run.data.params["crypto"] == "BTC"
    assert 0.0 <= run.data.metrics["xgboost.f1_buy"] <= 1.0
    artifacts = [a.path for a in client.list_artifacts(run_id)]
    assert artifacts == ["xgboost.pkl"]
    # The parent is finished from its creation, and the step moved its end time past its last cell.
    parent = client.get_run(metadata["mlflow_parent_run_id"].value)
    assert parent.info.status == "FINISHED" and parent.info.end_time >= run.info.end_time


def test_the_step_readies_tracking_in_its_own_thread_before_its_tracking_thread_logs(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []
    ready, log = MlflowTrackingResource.ready_for_threads, MlflowTrackingResource.log_materialization

    def recording_ready(self: MlflowTrackingResource) -> None:
        calls.append(("ready", threading.current_thread().name))
        ready(self)

    def recording_log(self: MlflowTrackingResource, *args: Any, **kwargs: Any) -> Any:
        calls.append(("log", threading.current_thread().name))
        return log(self, *args, **kwargs)

    monkeypatch.setattr(MlflowTrackingResource, "ready_for_threads", recording_ready)
    monkeypatch.setattr(MlflowTrackingResource, "log_materialization", recording_log)
    defs = build_defs(make_settings(tmp_path, small_data_dir, mlflow=True))
    assert defs.resolve_job_def("crypto_data_job").execute_in_process(partition_key="BTC", instance=instance).success
    step_thread = threading.current_thread().name  # execute_in_process runs the step in this thread
    assert (
        defs.resolve_job_def("cell_job").execute_in_process(partition_key="BTC|f2.baseline", instance=instance).success
    )
    assert calls[0] == ("ready", step_thread)
    assert [kind for kind, _ in calls[1:]] == ["log"] and calls[1][1] != step_thread
