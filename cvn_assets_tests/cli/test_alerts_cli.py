from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from cvn_assets.cli.alerts import parse_since
from cvn_assets.cli.main import main
from cvn_assets.core.alerts.rules import cleanlab_alerts
from cvn_assets.core.alerts.sink import AlertStore


def test_alerts_are_listed_and_filtered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    store = AlertStore(url)
    for alert in cleanlab_alerts({"drop_pct": 4.99, "buy_drop_pct": 4.96}, "BTC|f1.cl_filter", "run-1"):
        store.record(alert)
    assert main(["alerts", "--url", url]) == 0
    out = capsys.readouterr().out
    assert "cleanlab_drop_rate" in out and "minority_decimation" in out
    assert main(["alerts", "--url", url, "--kind", "training_failed"]) == 0
    assert capsys.readouterr().out.strip() == "no alerts"
    assert main(["alerts", "--url", url, "--since", "1h"]) == 0
    assert "minority_decimation" in capsys.readouterr().out


def test_since_accepts_ages_and_iso_times_and_names_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert parse_since("24h", now) == now - timedelta(hours=24)
    assert parse_since("2026-11-01T00:00Z") == datetime(2026, 11, 1, tzinfo=UTC)
    assert main(["alerts", "--since", "yesterday"]) == 2
    assert "--since 'yesterday'" in capsys.readouterr().err
    assert main(["alerts", "--since", "99999999999d"]) == 2
    assert "--since '99999999999d' reaches back before the year 1" in capsys.readouterr().err
    assert main(["alerts", "--since", "²h"]) == 2
    assert "--since '²h' is neither" in capsys.readouterr().err


def test_a_missing_sqlite_file_is_an_error_naming_it_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "absent" / "a.db"
    assert main(["alerts", "--url", f"sqlite:///{path}"]) == 2
    assert f"no SQLite database at {path}" in capsys.readouterr().err
    assert not path.parent.exists()


def test_an_unknown_kind_is_an_error_listing_the_known_kinds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "--url", f"sqlite:///{tmp_path / 'alerts.db'}", "--kind", "nokind"]) == 2
    error = capsys.readouterr().err
    assert "--kind 'nokind' is not an alert kind; known kinds: ['cleanlab_drop_rate', 'minority_decimation'," in error
    assert "'output_sharpness']" in error


def test_a_database_without_an_alerts_table_is_an_error_and_is_left_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE runs (id INTEGER)"))
    assert main(["alerts", "--url", f"sqlite:///{path}"]) == 2
    assert "no table alerts at sqlite:///" in capsys.readouterr().err
    assert sa.inspect(engine).get_table_names() == ["runs"]


def test_a_url_whose_port_is_not_a_number_is_an_error_without_its_password(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "--url", "postgresql://analyst:hunter2@127.0.0.1:port/none"]) == 2
    error = capsys.readouterr().err
    assert "cannot open the table at an invalid database URL" in error and "hunter2" not in error


def test_alerts_are_listed_as_sent_and_each_cell_with_detail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cvn_assets.core.alerts.groups import CellAlert, send_cell_alerts
    from cvn_assets.core.alerts.sink import AlertSink

    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    cells = [
        CellAlert(alert, "default", "cl_filter", f"BTC|f{fold}")
        for fold in (1, 2, 3)
        for alert in cleanlab_alerts(
            {"drop_pct": 4.6 + fold / 10, "buy_drop_pct": 1.0}, f"BTC|f{fold}.cl_filter", "run-1"
        )
    ]
    assert send_cell_alerts(AlertSink(AlertStore(url), None, lambda _: None), cells) == 1
    assert main(["alerts", "--url", url]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert len(rows) == 1 and "3 cell(s) of cl_filter in sweep default" in rows[0] and " 4.9 " in rows[0]
    assert main(["alerts", "--url", url, "--detail"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert sorted(row.split("cleanlab_mask ")[1].split()[0] for row in rows) == [
        "BTC|f1.cl_filter",
        "BTC|f2.cl_filter",
        "BTC|f3.cl_filter",
    ]
