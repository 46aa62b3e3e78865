"""Small sweeps for the PostgreSQL integration tests: one crypto, two folds, XGBoost with 25 rounds."""

from __future__ import annotations

import dataclasses
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from cvn_assets.defs.build import build_defs
from cvn_assets.defs.settings import Settings
from cvn_assets.orchestration.runner import run_sweep
from cvn_assets_tests.conftest import make_settings, small_catalogue_document
from cvn_assets_tests.integration.postgres import postgres_instance

CRYPTO = "BTC"
FOLDS = ("f1", "f2")


def catalogue_of(factor: str, variants: tuple[str, ...], alert_on_any_drop: bool = False) -> dict:
    """The shared small catalogue cut to one crypto and one factor with the given variants, no joint rule."""
    document = small_catalogue_document((CRYPTO,))
    spec = document["factors"][factor]
    spec["variants"] = {name: spec["variants"][name] for name in variants}
    document["factors"] = {factor: spec}
    del document["joint"]
    if alert_on_any_drop:
        document["alerts"] = {"drop_pct_warn": 0.0, "buy_drop_pct_warn": 0.0}
    return document


def postgres_settings(
    root: Path, data_dir: Path, database_url: str, catalogue: dict, sweep_id: str | None = None, n_threads: int = 2
) -> Settings:
    """Settings of a small sweep whose results and alerts tables are in `database_url`."""
    root.mkdir(parents=True, exist_ok=True)
    settings = make_settings(root, data_dir, catalogue=catalogue, sweep_id=sweep_id)
    return dataclasses.replace(settings, results_url=database_url, alerts_url=database_url, n_threads=n_threads)


def sweep_in_child_process(
    home: str, settings: Settings, folds: list[str], configs: list[str], start: Barrier, outcome: Queue
) -> None:
    """Target of a spawned process: wait for the other sweeps, run this one, report (ok, failures, runs).

    A worker that breaks still reports, and releases the others from the barrier, so none waits forever.
    """
    try:
        defs = build_defs(settings)
        with postgres_instance(Path(home)) as instance:
            start.wait(timeout=300)
            report = run_sweep(
                defs, instance, cryptos=[CRYPTO], folds=folds, configs=configs, gate=False, log=lambda _: None
            )
    except BaseException as exc:
        start.abort()
        outcome.put((False, {"worker": f"{type(exc).__name__}: {exc}"}, 0))
        raise
    outcome.put((report.ok, report.failures, report.runs))
