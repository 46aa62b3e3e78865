"""MLflow tracking against a real SQLite tracking store, through real Dagster runs on a local instance."""

# No `from __future__ import annotations`: Dagster reads the Config annotations of the test assets at decoration.
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from cvn_assets.core.secrets import install_log_scrubber, scrub, uninstall_log_scrubber
from cvn_assets.lineage import tracking as tracking_module
from cvn_assets.lineage.mlflow_calls import PARENT_RUN_TAG
from cvn_assets.lineage.tracking import (
    DAGSTER_RUN_ID_TAG,
    MlflowTrackingResource,
    TrackingError,
    default_artifact_location,
    default_tracking_uri,
    run_url,
)
from cvn_assets.lineage.tracking_params import flatten_params

EXPERIMENT = "cvn-assets-test"
SECRET_VAR = "CVN_TEST_SECRET"
SECRET = "s3cr3t-value"
TOKEN = "tok-visible-123"
# A param named like a secret, a secret value inside ordinary text and inside a database URL.
PARAMS = {
    "learning_rate": 0.1,
    "API_TOKEN": TOKEN,
    "note": f"trained with {SECRET} on",
    "learner": {"depth": 3},
    "dsn": f"postgresql://cvn:{SECRET}@db:5432/results",
    "features": ["rsi", "atr"],
}
CRYPTOS = dg.StaticPartitionsDefinition(["BTC", "ETH"])
RANGE_TAGS = {"dagster/asset_partition_range_start": "BTC", "dagster/asset_partition_range_end": "ETH"}


class TinyModelConfig(dg.Config):
    artifact_dir: str


@dg.asset(partitions_def=CRYPTOS, code_version="7")
def tiny_model(
    context: dg.AssetExecutionContext, config: TinyModelConfig, tracking: MlflowTrackingResource
) -> dg.MaterializeResult:
    context.log.info(f"connecting with {os.environ.get(SECRET_VAR, '')}")
    keys = context.partition_keys
    run_ids: dict[str, str] = {}
    metadata: dict[str, Any] = {"params": dg.MetadataValue.json(scrub(PARAMS))}
    for key in keys:
        model_path = Path(config.artifact_dir) / f"model_{key}.json"
        model_path.write_text(json.dumps({"crypto": key}))
        # One partition: the context's key; a range: each key given explicitly.
        tracked = tracking.log_materialization(
            context,
            params={**PARAMS, "crypto": key},
            metrics={"auc": 0.61, "f1_buy": 0.3},
            artifacts=[model_path],
            partition_key=key if len(keys) > 1 else None,
        )
        if tracked is not None:
            run_ids[key] = tracked.run_id
            metadata.update(tracked.metadata())
    metadata["mlflow_run_ids"] = dg.MetadataValue.json(run_ids)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(partitions_def=CRYPTOS, deps=[tiny_model])
def tiny_score(context: dg.AssetExecutionContext, tracking: MlflowTrackingResource) -> dg.MaterializeResult:
    tracked = tracking.log_materialization(context, params={"window": 24}, metrics={"brier": 0.2})
    return dg.MaterializeResult(metadata=tracked.metadata() if tracked else {})


@dataclass
class Sweep:
    """Three Dagster runs logged to MLflow: BTC (two assets), ETH (two assets), BTC..ETH (one asset)."""

    instance: dg.DagsterInstance
    runs: dict[str, str]
    tracking_uri: str
    mlflow_runs: list[Any]
    experiment_id: str
    artifact_root: Path

    def parents(self) -> list[Any]:
        return [run for run in self.mlflow_runs if DAGSTER_RUN_ID_TAG in run.data.tags]

    def children(self, parent_id: str) -> list[Any]:
        return [run for run in self.mlflow_runs if run.data.tags.get(PARENT_RUN_TAG) == parent_id]

    def parent_of(self, name: str) -> Any:
        (parent,) = [run for run in self.parents() if run.data.tags[DAGSTER_RUN_ID_TAG] == self.runs[name]]
        return parent

    def child(self, name: str, asset: str) -> Any:
        (child,) = [
            run for run in self.children(self.parent_of(name).info.run_id) if run.data.tags["dagster/asset"] == asset
        ]
        return child

    def metadata(self, asset: dg.AssetsDefinition, name: str) -> list[dict[str, Any]]:
        records = self.instance.fetch_materializations(asset.key, limit=10).records
        return [
            {k: v.value for k, v in r.asset_materialization.metadata.items()}
            for r in records
            if r.run_id == self.runs[name]
        ]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sweep]:
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("tracking")
    home, artifacts = root / "dagster_home", root / "models"
    home.mkdir()
    artifacts.mkdir()
    resources = {"tracking": MlflowTrackingResource(experiment_name=EXPERIMENT)}
    config = dg.RunConfig(ops={"tiny_model": TinyModelConfig(artifact_dir=str(artifacts))})
    with (
        pytest.MonkeyPatch.context() as patch,
        dg.DagsterInstance.local_temp(str(home), overrides={"telemetry": {"enabled": False}}) as instance,
    ):
        patch.setenv(SECRET_VAR, SECRET)
        install_log_scrubber()
        try:
            runs = {}
            for crypto in ("BTC", "ETH"):
                result = dg.materialize(
                    [tiny_model, tiny_score],
                    partition_key=crypto,
                    instance=instance,
                    resources=resources,
                    run_config=config,
                )
                runs[crypto] = result.run_id
            result = dg.materialize(
                [tiny_model], instance=instance, resources=resources, run_config=config, tags=RANGE_TAGS
            )
            runs["range"] = result.run_id
        finally:
            uninstall_log_scrubber()
        uri = default_tracking_uri(instance.root_directory)
        client = MlflowClient(uri)
        experiment = client.get_experiment_by_name(EXPERIMENT)
        yield Sweep(
            instance,
            runs,
            uri,
            client.search_runs([experiment.experiment_id]),
            experiment.experiment_id,
            Path(instance.root_directory) / "mlflow" / "artifacts",
        )


def test_default_store_is_sqlite_under_the_instance_directory(sweep: Sweep) -> None:
    database = Path(sweep.instance.root_directory) / "mlflow" / "mlflow.db"
    with closing(sqlite3.connect(database)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert sweep.artifact_root.is_dir()


def test_one_parent_run_per_dagster_run(sweep: Sweep) -> None:
    parents = sweep.parents()
    assert sorted(p.data.tags[DAGSTER_RUN_ID_TAG] for p in parents) == sorted(sweep.runs.values())
    assert all(p.info.status == "FINISHED" for p in parents)
    assert all(PARENT_RUN_TAG not in p.data.tags for p in parents)


def test_one_child_per_asset_partition_with_tags_params_and_metrics(sweep: Sweep) -> None:
    children = sweep.children(sweep.parent_of("BTC").info.run_id)
    assert sorted(child.data.tags["dagster/asset"] for child in children) == ["tiny_model", "tiny_score"]
    model, score = sweep.child("BTC", "tiny_model"), sweep.child("BTC", "tiny_score")
    assert model.info.status == "FINISHED"
    assert {k: model.data.tags[k] for k in ("dagster/partition", "dagster/run_id", "dagster/code_version")} == {
        "dagster/partition": "BTC",
        "dagster/run_id": sweep.runs["BTC"],
        "dagster/code_version": "7",
    }
    # Without a code version, the run id stands for it, as in Dagster's own materialization tags.
    assert score.data.tags["dagster/code_version"] == sweep.runs["BTC"]
    assert {k: model.data.params[k] for k in ("learning_rate", "learner.depth", "features", "crypto")} == {
        "learning_rate": "0.1",
        "learner.depth": "3",
        "features": '["rsi", "atr"]',
        "crypto": "BTC",
    }
    assert model.data.metrics == {"auc": 0.61, "f1_buy": 0.3}
    assert score.data.metrics == {"brier": 0.2}


def test_a_range_run_gets_one_child_per_partition(sweep: Sweep) -> None:
    children = sweep.children(sweep.parent_of("range").info.run_id)
    assert sorted(child.data.tags["dagster/partition"] for child in children) == ["BTC", "ETH"]
    (metadata,) = sweep.metadata(tiny_model, "range")[:1]
    assert metadata["mlflow_run_ids"] == {child.data.tags["dagster/partition"]: child.info.run_id for child in children}


def test_the_model_file_is_an_artifact_of_the_child_run(sweep: Sweep) -> None:
    from mlflow import MlflowClient

    model = sweep.child("ETH", "tiny_model")
    listed = [artifact.path for artifact in MlflowClient(sweep.tracking_uri).list_artifacts(model.info.run_id)]
    assert listed == ["model_ETH.json"]
    stored = Path(model.info.artifact_uri.removeprefix("file://")) / "model_ETH.json"
    assert json.loads(stored.read_text()) == {"crypto": "ETH"}
    assert stored.is_relative_to(sweep.artifact_root)


def test_metadata_carries_the_run_id_mlflow_has(sweep: Sweep) -> None:
    for name in ("BTC", "ETH"):
        for asset in (tiny_model, tiny_score):
            (metadata,) = sweep.metadata(asset, name)
            child = sweep.child(name, asset.key.to_user_string())
            assert metadata["mlflow_run_id"] == child.info.run_id
            assert metadata["mlflow_parent_run_id"] == sweep.parent_of(name).info.run_id
            assert (
                metadata["mlflow_url"] == f"{sweep.tracking_uri}#/experiments/{sweep.experiment_id}/runs/"
                f"{child.info.run_id}"
            )


def test_secrets_never_reach_mlflow_metadata_or_the_event_log(sweep: Sweep) -> None:
    model = sweep.child("BTC", "tiny_model")
    assert model.data.params["API_TOKEN"] == "***"
    assert model.data.params["note"] == "trained with *** on"
    assert model.data.params["dsn"] == "postgresql://cvn:***@db:5432/results"
    stored = json.dumps([[r.data.params, r.data.tags] for r in sweep.mlflow_runs])
    metadata = json.dumps([sweep.metadata(asset, name) for asset in (tiny_model, tiny_score) for name in sweep.runs])
    logs = json.dumps(
        [entry.user_message for run_id in sweep.runs.values() for entry in sweep.instance.all_logs(run_id)]
    )
    assert "connecting with ***" in logs
    for text in (stored, metadata, logs):
        assert SECRET not in text and TOKEN not in text


def test_a_second_process_of_the_same_dagster_run_reuses_its_parent(
    sweep: Sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    experiment = "cvn-assets-test-reuse"
    real_lookup = tracking_module._oldest_parent
    lookups: list[str | None] = []

    def lookup_that_misses_the_parent_once(*args: Any) -> str | None:
        # Lookups 1-2 are the first process finding nothing and creating; at lookup 3 the second process
        # does not see that parent yet, so it creates its own.
        found = None if len(lookups) == 2 else real_lookup(*args)
        lookups.append(found)
        return found

    monkeypatch.setattr(tracking_module, "_oldest_parent", lookup_that_misses_the_parent_once)

    @dg.asset
    def twice(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        # Two resource objects stand for two processes of one Dagster run.
        runs = [
            MlflowTrackingResource(experiment_name=experiment).log_materialization(context, {}, {"m": 1.0})
            for _ in range(2)
        ]
        return dg.MaterializeResult(metadata={"parents": [run.parent_run_id for run in runs if run]})

    result = dg.materialize([twice], instance=sweep.instance)
    (parents,) = [m.metadata["parents"].value for m in result.asset_materializations_for_node("twice")]
    client = MlflowClient(sweep.tracking_uri)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    active, every = (
        client.search_runs([experiment_id], f"tags.{DAGSTER_RUN_ID_TAG} = '{result.run_id}'", run_view_type=view)
        for view in (ViewType.ACTIVE_ONLY, ViewType.ALL)
    )
    assert parents[0] == parents[1] == active[0].info.run_id
    assert len(active) == 1 and len(every) == 2  # the second parent was deleted
    assert all(
        c.data.tags[PARENT_RUN_TAG] == parents[0]
        for c in client.search_runs([experiment_id])
        if DAGSTER_RUN_ID_TAG not in c.data.tags
    )


def test_disabled_tracking_creates_nothing_and_never_imports_mlflow(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import json, sys
        import dagster as dg
        from cvn_assets.lineage.tracking import MlflowTrackingResource

        @dg.asset
        def untracked(context: dg.AssetExecutionContext, tracking: MlflowTrackingResource) -> None:
            tracked = tracking.log_materialization(context, params={{"a": 1}}, metrics={{"m": 1.0}})
            tracking.finish_parent(context)  # as the cell step does after its last cell
            context.add_output_metadata({{"tracked": str(tracked)}})

        with dg.DagsterInstance.local_temp({str(tmp_path)!r}) as instance:
            result = dg.materialize([untracked], instance=instance,
                                    resources={{"tracking": MlflowTrackingResource(enabled=False)}})
        (materialization,) = result.asset_materializations_for_node("untracked")
        print(json.dumps({{"ok": result.success, "mlflow_imported": "mlflow" in sys.modules,
                          "tracked": materialization.metadata["tracked"].value}}))
    """)
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
    )
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    assert outcome == {"ok": True, "mlflow_imported": False, "tracked": "None"}
    assert not (tmp_path / "mlflow").exists()


def test_ready_for_threads_imports_the_orm_mlflow_would_import_on_another_thread() -> None:
    # SQLAlchemy's ORM import registers an inspector for every object before that inspector's errors
    # exist: a Core statement in another thread during that import fails. Imported first, it cannot.
    script = textwrap.dedent("""
        import json, sys
        from cvn_assets.lineage.tracking import MlflowTrackingResource

        seen = {"before": "sqlalchemy.orm" in sys.modules}
        MlflowTrackingResource(enabled=False).ready_for_threads()
        seen["off"] = "sqlalchemy.orm" in sys.modules
        MlflowTrackingResource(enabled=True).ready_for_threads()
        import sqlalchemy.orm.exc
        seen["on"] = hasattr(sqlalchemy.orm.exc, "UnmappedClassError")
        seen["mlflow"] = "mlflow" in sys.modules
        print(json.dumps(seen))
    """)
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    seen = json.loads(completed.stdout.strip().splitlines()[-1])
    assert seen == {"before": False, "off": False, "on": True, "mlflow": False}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"a": 1, "b": {"c": {"d": "x"}}}, {"a": "1", "b.c.d": "x"}, id="nested-to-dotted"),
        pytest.param(
            {"xs": [1, 2], "none": None, "flag": True},
            {"xs": "[1, 2]", "none": "null", "flag": "true"},
            id="json-for-non-strings",
        ),
        pytest.param({"empty": {}}, {"empty": "{}"}, id="empty-mapping-kept"),
        pytest.param({"long": "x" * 7000}, {"long": "x" * 5986 + "...[truncated]"}, id="cut-to-mlflow-limit"),
    ],
)
def test_flatten_params(params: dict, expected: dict) -> None:
    assert flatten_params(params) == expected


def test_run_url_masks_the_password_of_a_tracking_url() -> None:
    assert (
        run_url(f"https://ops:{SECRET}@mlflow.example/", "3", "abc")
        == "https://ops:***@mlflow.example/#/experiments/3/runs/abc"
    )
    assert run_url("sqlite:////data/mlflow.db", "1", "r") == "sqlite:////data/mlflow.db#/experiments/1/runs/r"


def test_default_locations(tmp_path: Path) -> None:
    uri = default_tracking_uri(tmp_path)
    assert uri == f"sqlite:///{tmp_path.resolve()}/mlflow/mlflow.db"
    assert default_artifact_location(uri, None) == (tmp_path / "mlflow" / "artifacts").resolve().as_uri()
    assert default_artifact_location("https://mlflow.example", None) is None
    assert (
        default_artifact_location("postgresql://u@h/db", str(tmp_path))
        == (tmp_path / "mlflow" / "artifacts").resolve().as_uri()
    )


@pytest.mark.parametrize(
    ("metrics", "artifacts", "match"),
    [
        pytest.param({"auc": "high"}, (), "metrics of probe must be numbers; got {'auc': 'high'}", id="text-metric"),
        pytest.param({"ok": True}, (), "must be numbers", id="bool-metric"),
        pytest.param({}, ("/nonexistent/model.ubj",), "artifacts of probe do not exist", id="missing-artifact"),
    ],
)
def test_bad_input_is_refused_before_anything_is_logged(
    tmp_path: Path, metrics: dict, artifacts: tuple, match: str
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    @dg.asset
    def probe(context: dg.AssetExecutionContext, tracking: MlflowTrackingResource) -> None:
        tracking.log_materialization(context, params={}, metrics=metrics, artifacts=artifacts)

    with pytest.raises(TrackingError, match=match.replace("{", r"\{").replace("}", r"\}")):
        dg.materialize([probe], resources={"tracking": MlflowTrackingResource(tracking_uri=uri)})
    assert not (tmp_path / "mlflow.db").exists()


def test_a_step_can_move_the_parents_end_once_after_its_children(sweep: Sweep) -> None:
    from mlflow import MlflowClient

    experiment = "cvn-assets-test-finish"
    seen: dict[str, Any] = {}

    @dg.asset
    def many(context: dg.AssetExecutionContext) -> None:
        tracking = MlflowTrackingResource(experiment_name=experiment)
        runs = [tracking.log_materialization(context, {}, {"m": float(i)}, finish_parent=False) for i in range(2)]
        client = MlflowClient(sweep.tracking_uri)
        parent = client.get_run(runs[0].parent_run_id if runs[0] else "")
        seen["opened"] = parent.info.status
        seen["before"] = parent.info.end_time
        tracking.finish_parent(context)
        seen["after"] = client.get_run(parent.info.run_id).info.end_time
        seen["children"] = [client.get_run(run.run_id).info.end_time for run in runs if run]

    assert dg.materialize([many], instance=sweep.instance).success
    # Finished from its creation; the children left its end time alone until the step moved it.
    assert seen["opened"] == "FINISHED"
    assert seen["before"] <= min(seen["children"]) and seen["after"] >= max(seen["children"])
