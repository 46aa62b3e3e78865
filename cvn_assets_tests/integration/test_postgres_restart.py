"""PostgreSQL going away in the middle of a results write: the rows of a cell are all written or none,
the write is retried once the server is back, and the server accepts connections when each test ends.

The interruption is a real server restart (`pg_ctlcluster ... restart`) when this machine can do it,
else the server-side equivalent: terminating every connection to the test database. The terminal
summary of the session says which one was used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.results.store import RESULTS_TABLE, ResultsStore
from cvn_assets.core.schema import RESULT_COLUMNS
from cvn_assets.defs.build import build_defs
from cvn_assets.orchestration.runner import run_sweep
from cvn_assets_tests.integration.postgres import PostgresServer, database_name
from cvn_assets_tests.integration.sweeps import CRYPTO, catalogue_of, postgres_settings

pytestmark = pytest.mark.postgres

RESULTS_INSERT = f"INSERT INTO {RESULTS_TABLE} "


@contextmanager
def interrupt_after_results_inserts(interrupt: Callable[[], object], times: int) -> Iterator[list[str]]:
    """Cut the server's connections right after each of the first `times` INSERT statements into the
    results table has run (its transaction still open). Yields the list of INSERT statements seen."""
    seen: list[str] = []

    def after_execute(connection: sa.Connection, cursor: object, statement: str, *_: object) -> None:
        if statement.startswith(RESULTS_INSERT):
            seen.append(statement)
            if len(seen) <= times:
                interrupt()

    # Listening on the Engine class reaches the engines a Dagster run creates inside its resources.
    event.listen(sa.Engine, "after_cursor_execute", after_execute)
    try:
        yield seen
    finally:
        event.remove(sa.Engine, "after_cursor_execute", after_execute)


def _interrupter(server: PostgresServer, url: str) -> Callable[[], str]:
    return lambda: server.interrupt([database_name(url)])


def _cell_rows(sweep: str, cryptos: int) -> pd.DataFrame:
    rows = []
    for index in range(cryptos):
        row = {c: np.nan for c in RESULT_COLUMNS}
        row.update(
            sweep_id=sweep,
            crypto=f"C{index}",
            fold="f1",
            factor="label_smoothing",
            variant="mild",
            model="xgboost",
            config_id="ls_mild",
            status="ok",
            f1_buy=0.3 + index / 100,
            n_trades=index,
        )
        rows.append(row)
    return pd.DataFrame(rows)


def test_a_write_cut_off_midway_leaves_no_row_and_fails_with_the_cause(
    fresh_postgres_url: str, postgres_server: PostgresServer
) -> None:
    store = ResultsStore(fresh_postgres_url, retries=0)
    interruptions = len(postgres_server.interruptions)
    interrupt = _interrupter(postgres_server, fresh_postgres_url)

    with (
        interrupt_after_results_inserts(interrupt, times=1) as statements,
        pytest.raises(DataSourceError, match=r"cannot write the 6 rows of sweep cut .* after 1 attempt") as error,
    ):
        store.upsert(_cell_rows("cut", 6))

    assert len(postgres_server.interruptions) == interruptions + 1
    # The one INSERT of the write had run, inserting every row inside the open transaction, when the
    # connection was cut before COMMIT: none of them may be left behind.
    assert len(statements) == 1
    assert isinstance(error.value.__cause__, sa.exc.OperationalError)
    assert ResultsStore(fresh_postgres_url).read("cut").empty
    assert store.upsert(_cell_rows("cut", 6)) == 6  # the server is back
    assert len(ResultsStore(fresh_postgres_url).read("cut")) == 6


@pytest.mark.slow
def test_a_cell_run_cut_off_while_writing_its_results_retries_and_writes_them_once(
    tmp_path: Path,
    small_data_dir: Path,
    fresh_postgres_url: str,
    postgres_server: PostgresServer,
    postgres_dagster_instance: dg.DagsterInstance,
) -> None:
    instance = postgres_dagster_instance
    settings = postgres_settings(
        tmp_path / "sweep", small_data_dir, fresh_postgres_url, catalogue_of("label_smoothing", ("none", "mild"))
    )
    defs = build_defs(settings)
    interruptions = len(postgres_server.interruptions)
    interrupt = _interrupter(postgres_server, fresh_postgres_url)

    with interrupt_after_results_inserts(interrupt, times=1) as statements:
        report = run_sweep(
            defs, instance, cryptos=[CRYPTO], folds=["f1"], configs=["ls_mild"], gate=False, log=lambda _: None
        )

    assert len(postgres_server.interruptions) == interruptions + 1
    assert len(statements) == 2  # cut off once, then written by the retry
    assert report.ok, report.failures
    stored = ResultsStore(fresh_postgres_url).read("test_sweep")
    assert stored[["crypto", "fold", "factor", "variant", "model"]].values.tolist() == [
        [CRYPTO, "f1", "label_smoothing", "mild", "xgboost"]
    ]
    assert stored["f1_buy"].notna().all()
    cell_runs = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": f"{CRYPTO}|f1.ls_mild"}))
    assert [run.status for run in cell_runs] == [dg.DagsterRunStatus.SUCCESS]
    assert instance.get_materialized_partitions(dg.AssetKey("fold_metrics")) == {f"{CRYPTO}|f1.ls_mild"}
