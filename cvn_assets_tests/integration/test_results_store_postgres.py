"""The results table on a real PostgreSQL: same schema as SQLite, idempotent upsert, NULLs, concurrent writers,
and the forward migration of a table written before a column was added."""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.results.store import RESULTS_TABLE, ResultsStore
from cvn_assets.core.schema import METRIC_COLUMNS, RESULT_COLUMNS, RESULT_KEY_COLUMNS

pytestmark = pytest.mark.postgres

BINS = json.dumps({"edges": [0.0, 0.5, 1.0], "mean_predicted": [0.21, 0.74], "fraction_buy": [0.18, 0.69]})


def _rows(
    sweep: str,
    cryptos: tuple[str, ...] = ("BTC", "ETH"),
    folds: tuple[str, ...] = ("f1", "f2"),
    seed: int = 0,
    model: str = "xgboost",
) -> pd.DataFrame:
    """Result rows with every kind of value: text, JSON, integers, floats, and missing ones."""
    rng = np.random.default_rng(seed)
    rows = []
    for crypto in cryptos:
        for fold in folds:
            for variant in ("none", "mild"):
                row: dict[str, object] = {c: float(rng.uniform(-1, 1)) for c in METRIC_COLUMNS}
                row.update(
                    sweep_id=sweep,
                    crypto=crypto,
                    fold=fold,
                    factor="label_smoothing",
                    variant=variant,
                    model=model,
                    config_id="baseline" if variant == "none" else "ls_mild",
                    status="ok",
                    error=None,
                    train_rows=1500,
                    val_rows=300,
                    test_rows=int(rng.integers(200, 400)),
                    fit_seconds=float(rng.uniform(0, 5)),
                    duration_seconds=float(rng.uniform(5, 9)),
                    reliability_bins=BINS,
                    n_trades=int(rng.integers(0, 50)),
                )
                rows.append(row)
    rows[-1].update(
        status="training_failed",
        error="XGBoostError: «label must be in [0, 1]»",
        f1_buy=np.nan,
        auc=np.nan,
        reliability_bins=None,
    )
    return pd.DataFrame(rows)[list(RESULT_COLUMNS)]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[list(RESULT_COLUMNS)].sort_values(list(RESULT_KEY_COLUMNS)).reset_index(drop=True)


def _count(url: str, where: str, **params: object) -> int:
    engine = sa.create_engine(ResultsStore(url).url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        return int(connection.execute(sa.text(f"SELECT count(*) FROM {RESULTS_TABLE} WHERE {where}"), params).scalar())


def test_postgres_table_has_the_sqlite_schema(fresh_postgres_url: str, tmp_path: Path) -> None:
    def columns(url: str) -> list[tuple[str, bool, bool]]:
        store = ResultsStore(url)
        inspector = sa.inspect(store.engine)
        keys = set(inspector.get_pk_constraint(RESULTS_TABLE)["constrained_columns"])
        return [(c["name"], c["nullable"], c["name"] in keys) for c in inspector.get_columns(RESULTS_TABLE)]

    on_postgres = columns(fresh_postgres_url)
    assert on_postgres == columns(f"sqlite:///{tmp_path / 'results.db'}")
    assert [name for name, _, key in on_postgres if key] == list(RESULT_KEY_COLUMNS)
    assert ("reliability_bins", True, False) in on_postgres


def test_rows_read_back_equal_to_what_was_written(postgres_url: str) -> None:
    store = ResultsStore(postgres_url)
    rows = _rows("read_back")
    assert store.upsert(rows, run_id="run-1") == len(rows)
    stored = store.read("read_back")
    pd.testing.assert_frame_equal(_sorted(stored), _sorted(rows))
    assert set(stored["run_id"]) == {"run-1"}
    assert str(stored["recorded_at"].dt.tz) == "UTC"


def test_nan_is_stored_as_sql_null_not_as_a_float_nan(postgres_url: str) -> None:
    store = ResultsStore(postgres_url)
    store.upsert(_rows("nan_sweep"))
    # PostgreSQL floats can hold NaN: a NaN that slipped through would be a number, not a missing value.
    assert _count(postgres_url, "sweep_id = :s AND f1_buy IS NULL", s="nan_sweep") == 1
    assert _count(postgres_url, "sweep_id = :s AND f1_buy = 'NaN'::float", s="nan_sweep") == 0
    assert _count(postgres_url, "sweep_id = :s AND reliability_bins IS NULL AND error IS NOT NULL", s="nan_sweep") == 1
    assert store.read("nan_sweep")["f1_buy"].isna().sum() == 1


def test_rerun_replaces_its_rows_without_duplicates_and_leaves_other_sweeps(postgres_url: str) -> None:
    store = ResultsStore(postgres_url)
    store.upsert(_rows("rerun_kept", seed=1))
    kept = _sorted(store.read("rerun_kept"))
    store.upsert(_rows("rerun", seed=2))
    store.upsert(_rows("rerun", seed=2))
    assert _count(postgres_url, "sweep_id = 'rerun'") == 8

    replacement = _rows("rerun", cryptos=("ETH",), folds=("f2",), seed=3)
    store.upsert(replacement, run_id="run-2")
    after = store.read("rerun")
    assert len(after) == 8
    replaced = after[after["run_id"] == "run-2"]
    pd.testing.assert_frame_equal(_sorted(replaced), _sorted(replacement))
    pd.testing.assert_frame_equal(_sorted(store.read("rerun_kept")), kept)


def test_a_key_repeated_in_one_write_is_refused_before_anything_is_written(postgres_url: str) -> None:
    store = ResultsStore(postgres_url)
    rows = _rows("repeated_key")
    with pytest.raises(DataSourceError, match="more than once"):
        store.upsert(pd.concat([rows, rows.iloc[[0]]], ignore_index=True))
    assert store.read("repeated_key").empty


def test_concurrent_writers_of_overlapping_keys_lose_no_row_and_never_deadlock(postgres_url: str) -> None:
    """Writers upsert the same rows in different orders at the same moment, round after round."""
    writers, rounds = 4, 6
    shared = _rows("concurrent", cryptos=("BTC", "ETH", "SOL", "XRP", "ADA"), folds=("f1", "f2", "f3"))
    start = threading.Barrier(writers)

    def write(writer: int) -> int:
        store = ResultsStore(postgres_url, retries=0)  # a deadlock must not be hidden by a retry
        order = random.Random(writer)
        own = _rows("concurrent", cryptos=(f"W{writer}",), model=f"writer{writer}")
        for _ in range(rounds):
            rows = pd.concat([shared, own], ignore_index=True).sample(frac=1.0, random_state=order.randrange(10**6))
            start.wait(timeout=60)
            store.upsert(rows)
        return len(own)

    with ThreadPoolExecutor(writers) as pool:
        own_rows = list(pool.map(write, range(writers)))
    stored = ResultsStore(postgres_url).read("concurrent")
    assert len(stored) == len(shared) + sum(own_rows)
    assert not stored.duplicated(list(RESULT_KEY_COLUMNS)).any()
    pd.testing.assert_frame_equal(_sorted(stored[stored["crypto"].isin(shared["crypto"])]), _sorted(shared))


def test_stores_opened_at_once_on_an_empty_database_all_work(fresh_postgres_url: str) -> None:
    """Two runs starting on a fresh database both find no table; only one may create it."""
    openers = 6
    start = threading.Barrier(openers)

    def open_and_write(index: int) -> int:
        start.wait(timeout=60)
        return ResultsStore(fresh_postgres_url).upsert(_rows(f"opener{index}", cryptos=("BTC",), folds=("f1",)))

    with ThreadPoolExecutor(openers) as pool:
        written = list(pool.map(open_and_write, range(openers)))
    assert written == [2] * openers
    assert sorted(ResultsStore(fresh_postgres_url).sweeps()) == [f"opener{i}" for i in range(openers)]


def test_a_table_written_before_reliability_bins_existed_gets_the_column(fresh_postgres_url: str) -> None:
    older = ResultsStore(fresh_postgres_url)
    rows = _rows("before_migration", cryptos=("BTC",), folds=("f1",))
    older.upsert(rows)
    with older.engine.begin() as connection:
        connection.execute(sa.text(f"ALTER TABLE {RESULTS_TABLE} DROP COLUMN reliability_bins"))

    store = ResultsStore(fresh_postgres_url)

    columns = {c["name"]: c for c in sa.inspect(store.engine).get_columns(RESULTS_TABLE)}
    assert columns["reliability_bins"]["nullable"] and isinstance(columns["reliability_bins"]["type"], sa.Text)
    old = store.read("before_migration")
    assert len(old) == 2 and old["reliability_bins"].isna().all()
    pd.testing.assert_frame_equal(
        _sorted(old).drop(columns="reliability_bins"), _sorted(rows).drop(columns="reliability_bins")
    )
    store.upsert(_rows("after_migration"))
    assert (store.read("after_migration")["reliability_bins"].dropna() == BINS).all()
    assert ResultsStore(fresh_postgres_url).read("after_migration").shape == store.read("after_migration").shape


SKILL_COLUMNS = ("buy_signal_rate", "always_buy_f1", "f1_lift_over_always_buy")


def test_a_table_written_before_the_skill_metrics_existed_gets_their_columns(fresh_postgres_url: str) -> None:
    older = ResultsStore(fresh_postgres_url)
    rows = _rows("before_skill", cryptos=("BTC",), folds=("f1",))
    older.upsert(rows)
    with older.engine.begin() as connection:
        for column in SKILL_COLUMNS:
            connection.execute(sa.text(f"ALTER TABLE {RESULTS_TABLE} DROP COLUMN {column}"))

    store = ResultsStore(fresh_postgres_url)

    columns = {c["name"]: c for c in sa.inspect(store.engine).get_columns(RESULTS_TABLE)}
    for column in SKILL_COLUMNS:
        assert columns[column]["nullable"] and isinstance(columns[column]["type"], sa.Float), column
    old = store.read("before_skill")
    assert len(old) == 2 and old[list(SKILL_COLUMNS)].isna().all().all()
    new = _rows("after_skill", cryptos=("ETH",), folds=("f2",), seed=5)
    store.upsert(new)
    pd.testing.assert_frame_equal(_sorted(store.read("after_skill")), _sorted(new))
