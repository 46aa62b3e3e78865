"""`cvn-assets dossier` on exported results: the same dossier as the store's, and clear errors on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from cvn_assets.cli.main import main
from cvn_assets.core.dossier import build_dossier, write_dossier
from cvn_assets.core.results.store import ResultsStore
from cvn_assets_tests.core.dossier.results_table import (
    FACTOR,
    SWEEP,
    toy_catalogue,
    toy_catalogue_document,
    toy_results,
)

CLI = str(Path(sys.executable).parent / "cvn-assets")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """A results store holding two sweeps, its export, the catalogue file and the store's own dossier."""
    root = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{root / 'results.db'}"
    store = ResultsStore(url)
    store.upsert(toy_results())
    store.upsert(toy_results(seed=4).assign(sweep_id="older"))
    catalogue = root / "catalogue.yaml"
    catalogue.write_text(yaml.safe_dump(toy_catalogue_document(), sort_keys=False))
    stored = store.read(SWEEP)
    stored.to_csv(root / "export.csv", index=False)
    expected = write_dossier(build_dossier(stored, toy_catalogue(), FACTOR), root / "from_store")
    return {"url": url, "catalogue": catalogue, "csv": root / "export.csv", "expected": expected.markdown}


def _run(*args: str | Path) -> int:
    return main(["dossier", *map(str, args)])


def test_a_csv_export_gives_the_stores_dossier(
    workspace: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(FACTOR, "--from", workspace["csv"], "--catalogue", workspace["catalogue"], "--out", tmp_path)
    output = capsys.readouterr().out
    assert code == 0, output
    assert "mild (xgboost): LOCK" in output and "aggressive (xgboost): ABANDON" in output
    assert (tmp_path / "report.md").read_text() == workspace["expected"].read_text()
    assert (tmp_path / "report.html").is_file()
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "delta_f1_ci.png",
        "delta_f1_heatmap.png",
        "reliability.png",
    ]


def test_a_database_table_by_url_with_a_sweep_chosen(
    workspace: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(
        FACTOR,
        "--from",
        workspace["url"],
        "--table",
        "finetune_results",
        "--sweep-id",
        SWEEP,
        "--catalogue",
        workspace["catalogue"],
        "--out",
        tmp_path,
    )
    assert code == 0, capsys.readouterr()
    assert (tmp_path / "report.md").read_text() == workspace["expected"].read_text()


def test_the_console_script_runs_the_command(workspace: dict, tmp_path: Path) -> None:
    legacy = f"sqlite:///{tmp_path / 'legacy.db'}"
    pd.read_csv(workspace["csv"]).to_sql("old_results", sa.create_engine(legacy), index=False)
    result = subprocess.run(
        [
            CLI,
            "dossier",
            FACTOR,
            "--from",
            legacy,
            "--table",
            "old_results",
            "--catalogue",
            str(workspace["catalogue"]),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"from {legacy} table old_results, sweep {SWEEP}" in result.stdout
    assert (tmp_path / "out" / "report.md").read_text() == workspace["expected"].read_text()


@pytest.mark.parametrize(
    ("table", "factor", "extra", "message"),
    [
        pytest.param(toy_results(), "focal", (), "unknown factor 'focal'", id="unknown-factor"),
        pytest.param(
            toy_results().drop(columns=["n_trades"]), FACTOR, (), "lacks column(s) n_trades", id="missing-column"
        ),
        pytest.param(toy_results().head(0), FACTOR, (), "the table has no rows", id="empty-table"),
        pytest.param(
            pd.concat([toy_results(), toy_results().assign(sweep_id="b")]),
            FACTOR,
            (),
            "holds 2 sweeps ['b', 'toy_sweep']; choose one",
            id="several-sweeps",
        ),
        pytest.param(toy_results(), FACTOR, ("--sweep-id", "x"), "no rows of sweep 'x'", id="unknown-sweep"),
        pytest.param(toy_results(), "cleanlab", (), "['cleanlab'] have no rows", id="factor-absent-from-table"),
    ],
)
def test_bad_input_exits_2_naming_what_is_wrong(
    workspace: dict,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    table: pd.DataFrame,
    factor: str,
    extra: tuple[str, ...],
    message: str,
) -> None:
    table.to_parquet(tmp_path / "t.parquet", index=False)
    code = _run(
        factor,
        "--from",
        tmp_path / "t.parquet",
        "--catalogue",
        workspace["catalogue"],
        "--out",
        tmp_path / "out",
        *extra,
    )
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith("cvn-assets dossier: error:") and message in error


def test_from_and_out_are_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dossier", FACTOR]) == 2
    assert "--from" in capsys.readouterr().err
