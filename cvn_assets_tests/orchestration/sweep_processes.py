"""Sweeps in processes of their own: the environment of a small sweep, `cvn-assets`, and a Dagster daemon."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cvn_assets.defs.settings import Settings

REPOSITORY = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "cvn_assets.cli.main"]
DAEMON = str(Path(sys.executable).parent / "dagster-daemon")
STOP_SECONDS = 60
QUEUED_INSTANCE = """telemetry: {enabled: false}
run_coordinator:
  module: dagster
  class: QueuedRunCoordinator
  config: {max_concurrent_runs: 2, dequeue_interval_seconds: 1}
run_monitoring: {enabled: true, poll_interval_seconds: 5}
"""
WORKSPACE = """load_from:
  - python_module: {module_name: cvn_assets.definitions, location_name: cvn_assets}
"""


def sweep_env(settings: Settings, home: Path, **extra: str) -> dict[str, str]:
    """The environment in which `cvn-assets` and the daemon's code location build these settings' Definitions."""
    assert settings.catalogue_path and settings.data_dir
    return {
        **os.environ,
        "PYTHONPATH": str(REPOSITORY),
        "DAGSTER_HOME": str(home),
        "CVN_CATALOGUE": settings.catalogue_path,
        "CVN_DATA_DIR": settings.data_dir,
        "CVN_DATA_PATTERN": settings.data_pattern,
        "CVN_STORAGE_DIR": settings.storage_dir,
        "CVN_RESULTS_URL": settings.results_url,
        "CVN_MLFLOW": "off",
        "CVN_SCHEDULES": "off",
        "CVN_CELLS_PER_RUN": str(settings.cells_per_run),
        "CVN_THREADS": "1",
        "CVN_CELL_WORKERS": "1",
        **extra,
    }


@contextmanager
def running_daemon(home: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`dagster-daemon run` on the instance in `home` (a queued run coordinator, 2 runs at once), stopped after."""
    (home / "dagster.yaml").write_text(QUEUED_INSTANCE)
    (home / "workspace.yaml").write_text(WORKSPACE)
    with log.open("w") as out:
        daemon = subprocess.Popen(
            [DAEMON, "run", "-w", str(home / "workspace.yaml")],
            env=env,
            cwd=home,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield daemon
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait(timeout=STOP_SECONDS)
