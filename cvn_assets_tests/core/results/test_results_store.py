import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.results.store import ResultsStore, postgres_driver_url
from cvn_assets.core.schema import RESULT_COLUMNS


def _rows(sweep: str, f1: float, cryptos: tuple[str, ...] = ("BTC", "ETH")) -> pd.DataFrame:
    rows = []
    for crypto in cryptos:
        row = {c: np.nan for c in RESULT_COLUMNS}
        row.update(
            sweep_id=sweep,
            crypto=crypto,
            fold="f1",
            factor="label_smoothing",
            variant="mild",
            model="xgboost",
            config_id="ls_mild",
            status="ok",
            error=None,
            n_trades=12,
            f1_buy=f1,
        )
        rows.append(row)
    return pd.DataFrame(rows)


def test_rerun_in_the_same_sweep_replaces_rows_without_duplicates(tmp_path: Path) -> None:
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    store.upsert(_rows("s1", 0.4))
    store.upsert(_rows("s1", 0.5, cryptos=("BTC",)))
    table = store.read("s1").sort_values("crypto")
    assert len(table) == 2
    assert table["f1_buy"].tolist() == [0.5, 0.4]


def test_rows_of_earlier_sweeps_stay(tmp_path: Path) -> None:
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    store.upsert(_rows("s1", 0.4))
    store.upsert(_rows("s2", 0.6))
    assert sorted(store.sweeps()) == ["s1", "s2"]
    assert store.read("s1")["f1_buy"].tolist() == [0.4, 0.4]
    assert len(store.read()) == 4


def test_nan_is_stored_as_null_and_read_back_as_missing(tmp_path: Path) -> None:
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    store.upsert(_rows("s1", float("nan")))
    assert store.read("s1")["f1_buy"].isna().all()
    assert store.read("s1")["n_trades"].tolist() == [12, 12]


def test_read_by_cell_keys(tmp_path: Path) -> None:
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    store.upsert(_rows("s1", 0.4))
    assert store.read("s1", keys=[("ETH", "f1", "ls_mild")])["crypto"].tolist() == ["ETH"]


def test_reading_cells_of_an_empty_table_keeps_its_columns(tmp_path: Path) -> None:
    """What a gate reads before any cell ran: no rows, but the columns it selects on."""
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    table = store.read("s1", keys=[("BTC", "f1", "baseline")])
    assert table.empty and list(table.columns) == [c.name for c in store.table.columns]


def test_rows_missing_columns_are_refused(tmp_path: Path) -> None:
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    with pytest.raises(DataSourceError, match="lack columns"):
        store.upsert(pd.DataFrame({"sweep_id": ["s"]}))


def test_missing_values_read_back_as_nan_and_times_as_utc(tmp_path: Path) -> None:
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    store.upsert(_rows("s1", float("nan")))
    table = store.read("s1")
    # a column with no value at all is still a float column, not a column of None
    assert table["f1_buy"].dtype == np.float64 and table["auc"].dtype == np.float64
    assert table["reliability_bins"].isna().all()
    assert str(table["recorded_at"].dt.tz) == "UTC"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"variant": "v" * 129}, "key column variant must be text of 1 to 128", id="key-longer-than-postgres-keeps"
        ),
        pytest.param({"fold": ""}, "key column fold must be text of 1 to 128", id="empty-key"),
        pytest.param({"crypto": None}, "key column crypto must be text", id="missing-key"),
    ],
)
def test_malformed_keys_are_refused_and_nothing_is_written(tmp_path: Path, change: dict, message: str) -> None:
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    rows = _rows("s1", 0.4)
    for column, value in change.items():
        rows.loc[1, column] = value
    with pytest.raises(DataSourceError, match=message):
        store.upsert(rows)
    assert store.read().empty


def test_a_key_repeated_in_one_write_is_refused(tmp_path: Path) -> None:
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    rows = _rows("s1", 0.4)
    with pytest.raises(DataSourceError, match=r"1 keys appear more than once .*'crypto': 'BTC'"):
        store.upsert(pd.concat([rows, rows.iloc[[0]]], ignore_index=True))
    assert store.read().empty


def test_an_older_table_without_a_new_nullable_column_gets_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    ResultsStore(url).upsert(_rows("old", 0.4))
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE finetune_results DROP COLUMN reliability_bins"))

    store = ResultsStore(url)

    assert "reliability_bins" in {c["name"] for c in sa.inspect(engine).get_columns("finetune_results")}
    assert store.read("old")["f1_buy"].tolist() == [0.4, 0.4]
    rows = _rows("new", 0.5)
    rows["reliability_bins"] = '{"edges": [0.0, 1.0]}'
    store.upsert(rows)
    assert store.read("new")["reliability_bins"].tolist() == ['{"edges": [0.0, 1.0]}'] * 2


def test_an_older_table_lacking_a_key_column_is_refused_with_its_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with sa.create_engine(url).begin() as connection:
        connection.execute(sa.text("CREATE TABLE finetune_results (sweep_id VARCHAR(128) PRIMARY KEY)"))
    with pytest.raises(DataSourceError, match=r"lacks required columns \['crypto', 'fold', 'factor'"):
        ResultsStore(url)


def test_an_unreachable_database_is_named_without_its_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(
        DataSourceError,
        match=rf"cannot open the table at postgresql\+psycopg2://cvn:\*\*\*@127.0.0.1:"
        rf"{port}/results",
    ) as error:
        ResultsStore(f"postgresql://cvn:hunter2@127.0.0.1:{port}/results")
    assert "hunter2" not in str(error.value)


def test_an_unknown_database_kind_is_refused() -> None:
    with pytest.raises(DataSourceError, match="cannot open the table at an invalid database URL"):
        ResultsStore("not a url")


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db"], ids=["bare-postgresql", "postgres-alias"])
def test_bare_postgres_urls_name_an_installed_driver(url: str) -> None:
    pinned = sa.engine.make_url(postgres_driver_url(url))
    assert pinned.drivername in ("postgresql+psycopg", "postgresql+psycopg2")
    assert (pinned.username, pinned.host, pinned.database) == ("u", "h", "db")
    pinned.get_dialect().import_dbapi()  # raises ImportError when the driver is not installed


@pytest.mark.parametrize("url", ["postgresql+psycopg2://u@h/db", "sqlite:///r.db"], ids=["driver-named", "sqlite"])
def test_other_urls_are_left_as_they_are(url: str) -> None:
    assert postgres_driver_url(url) == url


def test_negative_retries_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="retries must be a non-negative integer"):
        ResultsStore(f"sqlite:///{tmp_path / 'r.db'}", retries=-1)
