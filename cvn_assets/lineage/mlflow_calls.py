"""The MLflow client calls of tracking: one child run logged in one batch, the tracking store's errors
turned into one-line TrackingErrors, SQLite's write-ahead log for a local store."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from cvn_assets.core.secrets import scrub_text
from cvn_assets.lineage.tracking_params import TrackingError

if TYPE_CHECKING:
    from mlflow import MlflowClient

PARENT_RUN_TAG = "mlflow.parentRunId"


def use_write_ahead_log(database: Path) -> None:
    # As Dagster does for its own SQLite storage: a commit costs one fsync instead of several, and
    # readers (the MLflow UI) no longer block the runs writing. The mode is stored in the file.
    database.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def log_child(
    client: MlflowClient,
    experiment_id: str,
    parent_id: str,
    name: str,
    tags: Mapping[str, str],
    params: Mapping[str, str],
    metrics: Mapping[str, float],
    artifacts: Sequence[Path],
) -> str:
    from mlflow.entities import Metric, Param
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    run = client.create_run(experiment_id, run_name=name, tags={**tags, PARENT_RUN_TAG: parent_id})
    run_id: str = run.info.run_id
    try:
        timestamp = int(time.time() * 1000)
        # One batch: a call per param or metric costs a SQLite transaction each.
        client.log_batch(
            run_id,
            metrics=[Metric(key, value, timestamp, 0) for key, value in metrics.items()],
            params=[Param(key, value) for key, value in params.items()],
        )
        if artifacts:
            # The run's artifact URI is already known: `client.log_artifact` would read the run back first.
            repository = get_artifact_repository(run.info.artifact_uri)
            for path in artifacts:
                if path.is_dir():
                    repository.log_artifacts(str(path), artifact_path=path.name)
                else:
                    repository.log_artifact(str(path))
    except BaseException:
        with suppress(Exception):  # the original error matters more than the status of the failed run
            client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return run_id


def import_mlflow() -> type[Exception]:
    """Imports mlflow (only when tracking: it costs about a second) and returns its error type."""
    # Usage reporting to mlflow's servers stays off unless configured: a deployment is offline by default.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.exceptions import MlflowException

    return MlflowException


@contextmanager
def tracking_errors(subject: str, secrets: set[str]) -> Iterator[None]:
    """Turns a tracking store failure into a TrackingError naming the materialization, secrets masked."""
    mlflow_error = import_mlflow()
    try:
        yield
    except (mlflow_error, OSError, sqlite3.Error) as error:
        message = scrub_text(f"{type(error).__name__}: {error}", secrets)
        # `from None`: the original message may hold the store URL's password.
        raise TrackingError(f"MLflow tracking of {subject} failed: {message}") from None
