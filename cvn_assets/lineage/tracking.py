"""MLflow tracking of asset materializations.

One parent MLflow run per Dagster run, found or created through the `dagster_run_id` tag as dagster-mlflow's
`mlflow_tracking` resource does (so either tool resumes the other's run), and one nested child run per asset
partition materialization with its params, metrics, artifacts and tags. Everything goes through an explicit
`MlflowClient`: with mlflow's global active run, two assets or threads could log into each other's runs.

The parent is marked FINISHED as soon as it is created and its end time moved on after each child
write, instead of by a run-end hook: asset jobs launched from the UI or a backfill carry no hooks, and
a crashed process would leave a hook-ended parent RUNNING forever. MLflow accepts children under a
finished parent; its end time is then the time of the last child. A step that logs many children
(the cell step) moves it once, after its last child (`finish_parent`), instead of once per child.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import PrivateAttr

from cvn_assets.core.secrets import scrub, scrub_text, secret_values
from cvn_assets.lineage.mlflow_calls import (
    import_mlflow,
    log_child,
    tracking_errors,
    use_write_ahead_log,
)
from cvn_assets.lineage.tracking_params import TrackingError, artifact_paths, flatten_params, metric_values

if TYPE_CHECKING:
    from mlflow import MlflowClient

DEFAULT_EXPERIMENT = "cvn-assets"
# Same tag as dagster-mlflow's resource: the one MLflow run of a Dagster run.
DAGSTER_RUN_ID_TAG = "dagster_run_id"
JOB_TAG = "dagster/job"
ASSET_TAG = "dagster/asset"
PARTITION_TAG = "dagster/partition"
RUN_ID_TAG = "dagster/run_id"
CODE_VERSION_TAG = "dagster/code_version"
SERVER_SCHEMES = ("http://", "https://", "databricks")
_CLIENTS: dict[str, MlflowClient] = {}


@dataclass(frozen=True)
class TrackedRun:
    """The MLflow run of one asset partition materialization and where to find it."""

    run_id: str
    parent_run_id: str
    experiment_id: str
    url: str

    def metadata(self) -> dict[str, dg.MetadataValue]:
        """Asset metadata entries that link the materialization to its MLflow run."""
        web = self.url.startswith(("http://", "https://"))
        return {
            "mlflow_run_id": dg.MetadataValue.text(self.run_id),
            "mlflow_parent_run_id": dg.MetadataValue.text(self.parent_run_id),
            "mlflow_url": dg.MetadataValue.url(self.url) if web else dg.MetadataValue.text(self.url),
        }


def default_tracking_uri(instance_root: str | Path) -> str:
    """SQLite tracking store under the Dagster instance directory (mlflow 3 refuses a bare file store)."""
    return f"sqlite:///{Path(instance_root).resolve() / 'mlflow' / 'mlflow.db'}"


def default_artifact_location(tracking_uri: str, instance_root: str | Path | None) -> str | None:
    """Next to a SQLite store; under the instance for another database; the server's choice for a server.

    Without one, mlflow would put artifacts of a database-backed store in `./mlruns` of whatever the
    working directory happens to be.
    """
    if tracking_uri.startswith(SERVER_SCHEMES):
        return None
    if tracking_uri.startswith("sqlite:///"):
        return (Path(tracking_uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
    if instance_root is None:
        raise TrackingError(
            f"no artifact location for tracking store {scrub_text(tracking_uri, ())}: "
            "set artifact_location or DAGSTER_HOME"
        )
    return (Path(instance_root) / "mlflow" / "artifacts").resolve().as_uri()


def run_url(tracking_uri: str, experiment_id: str, run_id: str, secrets: Iterable[str] = ()) -> str:
    """Where the run is shown (a real link for a tracking server), with any URL password and secret masked."""
    base = tracking_uri.rstrip("/") + "/" if tracking_uri.startswith(("http://", "https://")) else tracking_uri
    return scrub_text(f"{base}#/experiments/{experiment_id}/runs/{run_id}", secrets)


class MlflowTrackingResource(dg.ConfigurableResource):
    """MLflow tracking of asset materializations; off when `enabled` is false (mlflow is then never imported).

    `tracking_uri` defaults to SQLite under the Dagster instance directory; `artifact_location` applies
    when the experiment is created (default: next to the SQLite store).
    """

    enabled: bool = True
    tracking_uri: str | None = None
    experiment_name: str = DEFAULT_EXPERIMENT
    artifact_location: str | None = None

    # Per resource instance, and Dagster makes one per run: one parent run per Dagster run.
    _experiment_ids: dict[str, str] = PrivateAttr(default_factory=dict)
    _parent_run_ids: dict[tuple[str, str], str] = PrivateAttr(default_factory=dict)

    def log_materialization(
        self,
        context: dg.AssetExecutionContext,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        artifacts: Sequence[Path | str] = (),
        *,
        asset_key: dg.AssetKey | None = None,
        partition_key: str | None = None,
        finish_parent: bool = True,
    ) -> TrackedRun | None:
        """Record one materialization as a nested MLflow run; None when tracking is off.

        `params` may be nested (flattened to dotted keys); secret-like keys and secret values are masked.
        `artifacts` are files or folders copied into the run. `asset_key` and `partition_key` default
        to the context's (give them for multi-assets or runs over a partition range). `finish_parent`
        False leaves the parent's end time to a later `finish_parent` call.
        """
        if not self.enabled:
            return None
        key = asset_key or context.asset_key
        partition = (
            partition_key
            if partition_key is not None
            else (context.partition_key if context.has_partition_key else None)
        )
        subject = key.to_user_string() + (f"[{partition}]" if partition is not None else "")
        numbers = metric_values(metrics, subject)
        paths = artifact_paths(artifacts, subject)
        secrets = secret_values(os.environ)
        safe_params = scrub(flatten_params(scrub(dict(params), secrets)), secrets)
        instance_root = getattr(context.instance, "root_directory", None) or os.environ.get("DAGSTER_HOME")
        uri = self._resolved_uri(instance_root)
        tags = {
            ASSET_TAG: key.to_user_string(),
            RUN_ID_TAG: context.run.run_id,
            CODE_VERSION_TAG: context.assets_def.code_versions_by_key.get(key) or context.run.run_id,
        }
        if partition is not None:
            tags[PARTITION_TAG] = partition
        with tracking_errors(subject, secrets):
            client = self._client(uri)
            experiment_id = self._experiment_id(client, uri, instance_root)
            parent_id = self._parent_run_id(client, uri, experiment_id, context.run.run_id, context.run.job_name)
            run_id = log_child(
                client, experiment_id, parent_id, subject, scrub(tags, secrets), safe_params, numbers, paths
            )
            if finish_parent:
                client.set_terminated(parent_id, "FINISHED")
        return TrackedRun(
            run_id=run_id,
            parent_run_id=parent_id,
            experiment_id=experiment_id,
            url=run_url(uri, experiment_id, run_id, secrets),
        )

    def ready_for_threads(self) -> None:
        """Imports, in the calling thread, what logging on another thread would import that other
        threads can trip over half-imported; nothing when tracking is off.

        MLflow's store imports `sqlalchemy.orm`, whose import registers an inspector for every object
        before the exceptions that inspector raises are defined. Meanwhile, any SQLAlchemy Core
        statement in another thread (Dagster's event log writes, for one) can fail with "partially
        initialized module 'sqlalchemy.orm.exc'". Call this before starting a thread that logs.
        """
        if self.enabled:
            import sqlalchemy.orm  # noqa: F401 - imported for the side effect the docstring explains

    def finish_parent(self, context: dg.AssetExecutionContext) -> None:
        """Moves the end time of this Dagster run's parent run to now (after children logged with
        `finish_parent=False`); nothing if this resource has not opened that parent."""
        parents = [
            (uri, parent) for (uri, run_id), parent in self._parent_run_ids.items() if run_id == context.run.run_id
        ]
        if not parents:
            return  # nothing tracked (or tracking off): mlflow stays unimported
        with tracking_errors(f"run {context.run.run_id}", secret_values(os.environ)):
            for uri, parent in parents:
                self._client(uri).set_terminated(parent, "FINISHED")

    def _resolved_uri(self, instance_root: str | None) -> str:
        if self.tracking_uri:
            return self.tracking_uri
        if not instance_root:
            raise TrackingError("no MLflow tracking URI: set tracking_uri (CVN_MLFLOW_URI) or DAGSTER_HOME")
        return default_tracking_uri(instance_root)

    def _client(self, uri: str) -> MlflowClient:
        # One client per store and process: opening a store checks its schema (~0.3 s), and a sweep
        # runs many Dagster runs in one process.
        if uri not in _CLIENTS:
            if uri.startswith("sqlite:///"):
                use_write_ahead_log(Path(uri.removeprefix("sqlite:///")))
            from mlflow import MlflowClient

            _CLIENTS[uri] = MlflowClient(tracking_uri=uri)
        return _CLIENTS[uri]

    def _experiment_id(self, client: MlflowClient, uri: str, instance_root: str | None) -> str:
        if uri not in self._experiment_ids:
            mlflow_error = import_mlflow()
            experiment = client.get_experiment_by_name(self.experiment_name)
            if experiment is None:
                location = self.artifact_location or default_artifact_location(uri, instance_root)
                try:
                    client.create_experiment(self.experiment_name, artifact_location=location)
                except mlflow_error:
                    pass  # created meanwhile by a concurrent run; read back below
                experiment = client.get_experiment_by_name(self.experiment_name)
            if experiment is None or experiment.lifecycle_stage != "active":
                raise TrackingError(
                    f"MLflow experiment {self.experiment_name!r} is deleted: restore it or "
                    "configure another experiment_name"
                )
            self._experiment_ids[uri] = experiment.experiment_id
        return self._experiment_ids[uri]

    def _parent_run_id(
        self, client: MlflowClient, uri: str, experiment_id: str, dagster_run_id: str, job_name: str
    ) -> str:
        cache_key = (uri, dagster_run_id)
        if cache_key not in self._parent_run_ids:
            parent_id = _oldest_parent(client, experiment_id, dagster_run_id)
            if parent_id is None:
                created = client.create_run(
                    experiment_id, run_name=job_name, tags={DAGSTER_RUN_ID_TAG: dagster_run_id, JOB_TAG: job_name}
                )
                # Two processes of one Dagster run may both create a parent: all keep the oldest.
                parent_id = _oldest_parent(client, experiment_id, dagster_run_id) or created.info.run_id
                if parent_id != created.info.run_id:
                    client.delete_run(created.info.run_id)
                else:
                    client.set_terminated(parent_id, "FINISHED")  # never left RUNNING, even by a crash
            self._parent_run_ids[cache_key] = parent_id
        return self._parent_run_ids[cache_key]


def _oldest_parent(client: MlflowClient, experiment_id: str, dagster_run_id: str) -> str | None:
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.{DAGSTER_RUN_ID_TAG} = '{dagster_run_id}'",
        max_results=1,
        order_by=["attributes.start_time ASC"],
    )
    return runs[0].info.run_id if runs else None
