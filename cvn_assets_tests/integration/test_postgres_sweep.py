"""Whole small sweeps on a Dagster instance stored in PostgreSQL, with the results and alerts tables there too."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

from cvn_assets.core.alerts.sink import AlertStore
from cvn_assets.core.gate import verdict_table
from cvn_assets.core.gate.sweep import evaluate_single_factor
from cvn_assets.core.results.store import RESULTS_TABLE, ResultsStore, postgres_driver_url
from cvn_assets.defs.build import build_defs
from cvn_assets.orchestration.runner import run_sweep
from cvn_assets_tests.integration.postgres import postgres_instance, write_postgres_instance_home
from cvn_assets_tests.integration.sweeps import (
    CRYPTO,
    FOLDS,
    catalogue_of,
    postgres_settings,
    sweep_in_child_process,
)
from cvn_assets_tests.lineage.fingerprint_runs import fingerprints_through_a_range_run

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

VERDICTS = {"LOCK", "KEEP_AVAILABLE", "ABANDON", "INCONCLUSIVE"}
CHILD_TIMEOUT_SECONDS = 900  # guards against a hang only; nothing asserts on time


def _query(url: str, sql: str, **params: object) -> list[tuple]:
    engine = sa.create_engine(postgres_driver_url(url), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql), params)]


def test_small_sweep_on_a_postgres_instance_keeps_runs_results_and_alerts_in_postgres(
    tmp_path: Path, small_data_dir: Path, fresh_postgres_url: str, postgres_dagster_instance: dg.DagsterInstance
) -> None:
    instance = postgres_dagster_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    document = catalogue_of("cleanlab", ("off", "filter"), alert_on_any_drop=True)
    defs = build_defs(postgres_settings(tmp_path / "sweep", small_data_dir, fresh_postgres_url, document))

    report = run_sweep(defs, instance, cryptos=[CRYPTO], folds=list(FOLDS), log=lambda _: None)

    assert report.ok, report.failures
    # data, one run per configuration over its folds (baseline, cl_filter: not neighbours in key order), the gate
    assert report.runs == 1 + 2 + 1
    cells = {f"{CRYPTO}|{fold}.{config}" for fold in FOLDS for config in ("baseline", "cl_filter")}
    assert instance.get_materialized_partitions(dg.AssetKey("fold_metrics")) == cells
    assert _query(fresh_postgres_url, "SELECT status, count(*) FROM runs GROUP BY status") == [("SUCCESS", report.runs)]

    rows = _query(
        fresh_postgres_url,
        f"SELECT crypto, fold, factor, variant, model, status FROM {RESULTS_TABLE} "
        "WHERE sweep_id = 'test_sweep' AND f1_buy IS NOT NULL ORDER BY fold, variant",
    )
    assert rows == [
        (CRYPTO, fold, "cleanlab", variant, "xgboost", "ok") for fold in FOLDS for variant in ("filter", "off")
    ]

    table = report.verdicts["cleanlab"]
    assert table["variant"].tolist() == ["filter"]
    assert set(table["verdict"]) <= VERDICTS
    assert table["n_pairs"].tolist() == [len(FOLDS)]
    catalogue = defs.resources["sweep"].catalogue
    rows_in_postgres = ResultsStore(fresh_postgres_url).read("test_sweep")
    from_postgres = verdict_table(evaluate_single_factor(catalogue, rows_in_postgres, "cleanlab"))
    assert table[["variant", "verdict", "n_pairs"]].to_dict("records") == from_postgres[
        ["variant", "verdict", "n_pairs"]
    ].to_dict("records")
    assert table["mean_delta_f1_buy"].tolist() == pytest.approx(from_postgres["mean_delta_f1_buy"].tolist())

    # Every drop rate is above a 0 % threshold, so each filtered cell raises both drop-rate alerts, once;
    # they are sent as one alert per kind for the variant, each cell's own kept under it.
    store = AlertStore(fresh_postgres_url)
    alerts = store.query()
    assert report.alerts == len(alerts) == 2
    assert set(alerts["kind"]) == {"cleanlab_drop_rate", "minority_decimation"}
    assert len(store.query(detail=True)) == 2 * len(FOLDS)
    assert run_sweep(defs, instance, cryptos=[CRYPTO], folds=["f1"], configs=["cl_filter"], log=lambda _: None).ok
    assert _query(fresh_postgres_url, "SELECT count(*) FROM alerts") == [(2 + 2 * len(FOLDS),)]
    assert _query(fresh_postgres_url, f"SELECT count(*) FROM {RESULTS_TABLE}") == [(2 * len(FOLDS),)]


def test_two_concurrent_sweeps_into_one_postgres_table_lose_no_row(
    tmp_path: Path, small_data_dir: Path, fresh_postgres_url: str
) -> None:
    """The same sweep twice at once, in two processes sharing the instance and the results table."""
    home = write_postgres_instance_home(tmp_path / "dagster_home", fresh_postgres_url)
    # The deployment's storage exists before its runs start (Dagster creates its tables on first use).
    with postgres_instance(home):
        pass
    catalogue = catalogue_of("label_smoothing", ("none", "mild"))
    folds, configs = ["f1"], ["baseline", "ls_mild"]
    context = multiprocessing.get_context("spawn")
    start, outcome = context.Barrier(2), context.Queue()
    workers = [
        context.Process(
            target=sweep_in_child_process,
            args=(
                str(home),
                postgres_settings(
                    # One storage for both, as one deployment has: a sweep may compute the cells of data
                    # the other one's run materialized.
                    tmp_path / "storage_root",
                    small_data_dir,
                    fresh_postgres_url,
                    catalogue,
                    sweep_id="twin",
                    n_threads=1,
                ),
                folds,
                configs,
                start,
                outcome,
            ),
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    reports = [outcome.get(timeout=CHILD_TIMEOUT_SECONDS) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    for ok, failures, _ in reports:
        assert ok, failures
    # Each run once: a sweep leaves to the other the runs in flight or claimed, and skips what it finished.
    assert sum(runs for _, _, runs in reports) == 1 + len(folds) * len(configs)
    rows = _query(
        fresh_postgres_url,
        f"SELECT fold, factor, variant, model, count(*) FROM {RESULTS_TABLE} "
        "WHERE sweep_id = 'twin' AND status = 'ok' GROUP BY fold, factor, variant, model "
        "ORDER BY fold, variant",
    )
    assert rows == [(fold, "label_smoothing", variant, "xgboost", 1) for fold in folds for variant in ("mild", "none")]
    assert _query(fresh_postgres_url, "SELECT status, count(*) FROM runs GROUP BY status") == [
        ("SUCCESS", 1 + len(folds) * len(configs))
    ]


def test_a_run_over_more_cells_than_an_index_row_holds_keeps_every_fingerprint(
    postgres_dagster_instance: dg.DagsterInstance,
) -> None:
    # PostgreSQL refuses a run tag longer than an index row: the whole grid's fingerprints do not fit in one.
    expected, recorded = fingerprints_through_a_range_run(postgres_dagster_instance)
    assert recorded == expected
