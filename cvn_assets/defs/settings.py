"""Deployment settings read once from the environment (one place, not scattered `os.environ` reads)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvn_assets.core.errors import SettingsError
from cvn_assets.execution import PROCESS_MODES


@dataclass(frozen=True)
class Settings:
    """Where things live and which catalogue and universe a deployment uses.

    CVN_CATALOGUE: path of a catalogue YAML (default: the packaged one).
    CVN_UNIVERSE: comma-separated cryptos overriding the catalogue universe.
    CVN_SWEEP_ID: sweep name for the results table (default: the catalogue's sweep name).
    CVN_STORAGE_DIR: where asset values and models are written (default: $DAGSTER_HOME/storage).
    CVN_RESULTS_URL: SQLAlchemy URL of the results store (default: SQLite in the storage dir).
    CVN_DATA_DIR / CVN_DATA_PATTERN: read OHLCV from your own files instead of the embedded set.
    CVN_DATA_SQL_URL / CVN_DATA_SQL_TABLE: read OHLCV from a database table.
    CVN_MAX_GAP_BARS: longest run of missing bars the OHLCV accepts (default: the catalogue's
    `data: {max_gap_bars: …}`, itself 24 by default); weekends of a market with sessions need more.
    CVN_ALERTS_URL: SQLAlchemy URL of the alerts table (default: the results store's database).
    CVN_ALERT_WEBHOOK_URL: Slack-compatible webhook for alerts (default: none).
    CVN_THREADS: threads per learner fit (default 2; keep concurrent runs x threads <= cores).
    CVN_CELL_WORKERS: cells a run computes at once (default 1); keep it x CVN_THREADS <= cores.
    CVN_CELL_PROCESSES: auto (default: a run of 10 cells or more computes them in worker processes,
    a smaller one in its own process, one cell at a time), on or off.
    CVN_CELLS_PER_RUN: cells one run computes at most (default 10: two configurations' folds of one
    crypto, under a tenth of the default sweep); a run lost to a crash or a kill loses no more than that.
    CVN_SWEEP_SENSOR_SECONDS: how often the sweep sensor submits a submitted sweep's next runs (default 30).
    CVN_SWEEP_POLL_SECONDS: how often a sweep waiting for runs in progress looks again (default 5).
    CVN_SWEEP_CRON / CVN_DRIFT_CRON: schedules of the whole sweep (default weekly, Sunday 03:00 UTC)
    and of the drift monitors (default daily, 06:00 UTC). CVN_SCHEDULES=off starts them stopped.
    """

    catalogue_path: str | None
    universe: list[str] | None
    sweep_id: str | None
    storage_dir: str
    results_url: str
    data_dir: str | None
    data_pattern: str
    data_sql_url: str | None
    data_sql_table: str | None
    max_gap_bars: int | None = None
    n_threads: int = 2
    cell_workers: int = 1
    cell_processes: str = "auto"
    cells_per_run: int = 10
    sweep_sensor_seconds: int = 30
    sweep_poll_seconds: float = 5.0
    alerts_url: str | None = None
    alert_webhook_url: str | None = None
    sweep_cron: str = "0 3 * * 0"
    drift_cron: str = "0 6 * * *"
    schedules_enabled: bool = True
    executor: str = "in_process"
    mlflow_enabled: bool = True
    mlflow_uri: str | None = None

    @classmethod
    def on_files(
        cls, catalogue_path: Path, data_dir: Path, storage_dir: Path, sweep_id: str | None = None, **fields: Any
    ) -> Settings:
        """A sweep of the catalogue at `catalogue_path` over the `<crypto>.csv` files of `data_dir`, storing
        its values and results under `storage_dir` (the benchmarks' and the tests' sweeps; a deployment
        reads its settings from the environment). `fields` sets any other setting."""
        return cls(
            catalogue_path=str(catalogue_path),
            universe=None,
            sweep_id=sweep_id,
            storage_dir=str(storage_dir),
            results_url=f"sqlite:///{storage_dir / 'results.db'}",
            data_dir=str(data_dir),
            data_pattern="{crypto}.csv",
            data_sql_url=None,
            data_sql_table=None,
            **fields,
        )

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        home = Path(env.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home")
        storage = env.get("CVN_STORAGE_DIR") or str(home / "storage")
        universe = [c.strip() for c in env["CVN_UNIVERSE"].split(",") if c.strip()] if env.get("CVN_UNIVERSE") else None
        return cls(
            catalogue_path=env.get("CVN_CATALOGUE") or None,
            universe=universe,
            sweep_id=env.get("CVN_SWEEP_ID") or None,
            storage_dir=storage,
            results_url=env.get("CVN_RESULTS_URL") or f"sqlite:///{Path(storage) / 'results.db'}",
            data_dir=env.get("CVN_DATA_DIR") or None,
            data_pattern=env.get("CVN_DATA_PATTERN") or "{crypto}.*",
            data_sql_url=env.get("CVN_DATA_SQL_URL") or None,
            data_sql_table=env.get("CVN_DATA_SQL_TABLE") or None,
            max_gap_bars=_count("CVN_MAX_GAP_BARS", env["CVN_MAX_GAP_BARS"]) if env.get("CVN_MAX_GAP_BARS") else None,
            n_threads=_positive("CVN_THREADS", env.get("CVN_THREADS") or "2"),
            cell_workers=_positive("CVN_CELL_WORKERS", env.get("CVN_CELL_WORKERS") or "1"),
            cell_processes=_choice("CVN_CELL_PROCESSES", env.get("CVN_CELL_PROCESSES") or "auto", PROCESS_MODES),
            cells_per_run=_positive("CVN_CELLS_PER_RUN", env.get("CVN_CELLS_PER_RUN") or str(cls.cells_per_run)),
            sweep_sensor_seconds=_positive(
                "CVN_SWEEP_SENSOR_SECONDS", env.get("CVN_SWEEP_SENSOR_SECONDS") or str(cls.sweep_sensor_seconds)
            ),
            sweep_poll_seconds=_seconds(
                "CVN_SWEEP_POLL_SECONDS", env.get("CVN_SWEEP_POLL_SECONDS") or str(cls.sweep_poll_seconds)
            ),
            alerts_url=env.get("CVN_ALERTS_URL") or None,
            alert_webhook_url=env.get("CVN_ALERT_WEBHOOK_URL") or None,
            sweep_cron=env.get("CVN_SWEEP_CRON") or cls.sweep_cron,
            drift_cron=env.get("CVN_DRIFT_CRON") or cls.drift_cron,
            executor=env.get("CVN_EXECUTOR") or "in_process",
            mlflow_enabled=_on_off("CVN_MLFLOW", env.get("CVN_MLFLOW") or "on"),
            mlflow_uri=env.get("CVN_MLFLOW_URI") or None,
            schedules_enabled=_on_off("CVN_SCHEDULES", env.get("CVN_SCHEDULES") or "on"),
        )


def _positive(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise SettingsError(f"{name} must be a whole number of at least 1, got {value!r}")
    return number


def _seconds(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not 0 < number < float("inf"):
        raise SettingsError(f"{name} must be a number of seconds above 0, got {value!r}")
    return number


def _count(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise SettingsError(f"{name} must be a whole number of at least 0, got {value!r}")
    return number


def _on_off(name: str, value: str) -> bool:
    return _choice(name, value, ("on", "off")) == "on"


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    switch = value.strip().lower()
    if switch not in choices:
        raise SettingsError(f"{name} must be {' or '.join(repr(c) for c in choices)}, got {value!r}")
    return switch
