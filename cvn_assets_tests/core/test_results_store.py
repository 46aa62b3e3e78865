from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.results_store import ResultsStore
from cvn_assets.core.schema import RESULT_COLUMNS


def _rows(sweep: str, f1: float, cryptos: tuple[str, ...] = ("BTC", "ETH")) -> pd.DataFrame:
    rows = []
    for crypto in cryptos:
        row = {c: np.nan for c in RESULT_COLUMNS}
        row.update(sweep_id=sweep, crypto=crypto, fold="f1", factor="label_smoothing", variant="mild",
                   model="xgboost", config_id="ls_mild", status="ok", error=None, n_trades=12, f1_buy=f1)
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


def test_rows_missing_columns_are_refused(tmp_path: Path) -> None:
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    with pytest.raises(DataSourceError, match="lack columns"):
        store.upsert(pd.DataFrame({"sweep_id": ["s"]}))
