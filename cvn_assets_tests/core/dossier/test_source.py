"""Results tables for the dossier: every source gives the store's frame, and bad input says what is wrong.

Re-evaluating an exported table (CSV, Parquet, another database's table) must give the very same
dossier as the results store it came from, files byte for byte.
"""

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from cvn_assets.core.dossier import build_dossier, load_results_table, select_sweep, write_dossier
from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.results.store import ResultsStore
from cvn_assets_tests.core.dossier.results_table import FACTOR, SWEEP, toy_catalogue, toy_results


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pd.DataFrame]:
    """The toy table written to a results store and read back, with the store's URL."""
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'results.db'}"
    store = ResultsStore(url)
    store.upsert(toy_results(), run_id="run-1")
    store.upsert(toy_results(seed=9).assign(sweep_id="another_sweep"), run_id="run-2")
    return url, store.read(SWEEP)


def _dossier_files(results: pd.DataFrame, out: Path) -> dict[str, bytes]:
    write_dossier(build_dossier(results, toy_catalogue(), FACTOR), out)
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}


def _export(frame: pd.DataFrame, tmp_path: Path, kind: str) -> tuple[str, str]:
    if kind == "csv":
        frame.to_csv(tmp_path / "export.csv", index=False)
        return str(tmp_path / "export.csv"), "finetune_results"
    if kind == "parquet":
        frame.to_parquet(tmp_path / "export.parquet", index=False)
        return str(tmp_path / "export.parquet"), "finetune_results"
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    frame.to_sql("legacy_results", sa.create_engine(url), index=False)
    return url, "legacy_results"


@pytest.mark.parametrize("kind", ["csv", "parquet", "sqlite_table"])
def test_an_exported_table_gives_the_same_dossier_as_the_store(
    stored: tuple[str, pd.DataFrame], tmp_path: Path, kind: str
) -> None:
    _, from_store = stored
    expected = _dossier_files(from_store, tmp_path / "from_store")
    source, table = _export(from_store, tmp_path, kind)
    imported, sweep = select_sweep(load_results_table(source, table), None)
    assert sweep == SWEEP
    produced = _dossier_files(imported, tmp_path / "imported")
    assert sorted(produced) == sorted(expected)
    assert produced["report.md"].decode() == expected["report.md"].decode()
    assert produced == expected


def test_the_store_database_itself_is_read_by_url_with_a_sweep_chosen(
    stored: tuple[str, pd.DataFrame], tmp_path: Path
) -> None:
    url, from_store = stored
    table = load_results_table(url)
    with pytest.raises(DataSourceError, match=r"holds 2 sweeps \['another_sweep', 'toy_sweep'\]"):
        select_sweep(table, None)
    chosen, sweep = select_sweep(table, SWEEP)
    assert sweep == SWEEP
    assert _dossier_files(chosen, tmp_path / "a") == _dossier_files(from_store, tmp_path / "b")


def test_csv_keeps_variant_and_fold_names_that_look_like_numbers_or_missing_values(tmp_path: Path) -> None:
    frame = toy_results().replace({"variant": {"mild": "None", "aggressive": "NA"}, "fold": {"f1": "1", "f2": "02"}})
    frame.to_csv(tmp_path / "t.csv", index=False)
    loaded = load_results_table(tmp_path / "t.csv")
    assert set(loaded["variant"]) == {"none", "None", "NA"}
    assert set(loaded["fold"]) == {"1", "02", "f3", "f4", "f5"}
    assert loaded["error"].dropna().tolist() == [toy_results()["error"].dropna().iloc[0]]


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    toy_results().drop(columns=["f1_buy", "status"]).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataSourceError, match=r"t.csv: lacks column\(s\) status, f1_buy"):
        load_results_table(tmp_path / "t.csv")


def test_an_empty_table_is_refused(tmp_path: Path) -> None:
    toy_results().head(0).to_parquet(tmp_path / "t.parquet", index=False)
    with pytest.raises(DataSourceError, match="t.parquet: the table has no rows"):
        load_results_table(tmp_path / "t.parquet")


def test_a_non_numeric_metric_is_named(tmp_path: Path) -> None:
    toy_results().assign(sortino="high").to_parquet(tmp_path / "t.parquet", index=False)
    with pytest.raises(DataSourceError, match="column sortino must be numeric"):
        load_results_table(tmp_path / "t.parquet")


@pytest.mark.parametrize(
    ("name", "match"),
    [
        pytest.param("absent.csv", "absent.csv does not exist", id="missing-file"),
        pytest.param("results.xlsx", "must end in .csv or .parquet", id="unknown-format"),
    ],
)
def test_unreadable_files_are_refused(tmp_path: Path, name: str, match: str) -> None:
    if name.endswith(".xlsx"):
        (tmp_path / name).write_text("x")
    with pytest.raises(DataSourceError, match=match):
        load_results_table(tmp_path / name)


def test_a_missing_database_table_lists_the_tables_present(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    toy_results().to_sql("something_else", sa.create_engine(url), index=False)
    with pytest.raises(DataSourceError, match=r"no table 'finetune_results'; tables present: \['something_else'\]"):
        load_results_table(url)


def test_a_database_password_never_appears_in_the_message() -> None:
    with pytest.raises(DataSourceError) as caught:
        load_results_table("postgresql://analyst:hunter2@127.0.0.1:1/none")
    assert "hunter2" not in str(caught.value)
    assert "analyst:***@127.0.0.1:1/none" in str(caught.value)


def test_a_url_whose_port_is_not_a_number_is_refused_without_its_password() -> None:
    message = r"<unparseable database URL> table finetune_results: not a usable"
    with pytest.raises(DataSourceError, match=message) as caught:
        load_results_table("postgresql://analyst:hunter2@127.0.0.1:port/none")
    assert "hunter2" not in str(caught.value)


def test_an_unknown_sweep_lists_the_sweeps_present() -> None:
    with pytest.raises(DataSourceError, match=r"no rows of sweep 'nope'; sweeps present: \['toy_sweep'\]"):
        select_sweep(toy_results(), "nope")
