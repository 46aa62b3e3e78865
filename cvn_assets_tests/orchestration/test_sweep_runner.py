"""A whole small sweep through Dagster: every partition, the results table, the verdicts, re-runs."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from cvn_assets.defs.build import build_defs
from cvn_assets.orchestration import runner as sweep_runner
from cvn_assets.orchestration.runner import run_sweep
from cvn_assets_tests.conftest import make_settings, small_catalogue_document

VERDICTS = {"LOCK", "KEEP_AVAILABLE", "ABANDON", "INCONCLUSIVE"}


@pytest.mark.slow
def test_whole_small_grid_then_idempotent_rerun_and_a_second_sweep(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    started_workers: list[int] = []
    real_start = sweep_runner.start_cell_workers
    monkeypatch.setattr(
        sweep_runner,
        "start_cell_workers",
        lambda sweep: started_workers.append(sweep.cell_workers) or real_start(sweep),
    )
    settings = make_settings(tmp_path, small_data_dir)
    defs = build_defs(settings)
    report = run_sweep(defs, instance, log=lambda _: None)
    assert report.ok, report.failures
    # The sweep's 50 cells start the worker processes once; its runs of 5 cells (the default run size) all use them.
    assert started_workers == [settings.cell_workers]
    joint = report.verdicts["label_smoothing_x_cleanlab"]
    joint_runs = 0 if joint["variant"].tolist() == ["-"] else 2
    # 2 crypto runs, one run per crypto × configuration (its 5 folds: 2 × 5 runs), 3 gates (2 factors + the
    # joint rule), and the joint configuration's cells when its rule allows them (one run per crypto)
    assert report.runs == 2 + 10 + 3 + joint_runs
    assert {
        f"cell_job[{crypto}|f1.{config}...{crypto}|f5.{config}]"
        for crypto in ("BTC", "ETH")
        for config in ("baseline", "ls_mild", "ls_aggressive", "cl_filter", "cl_reweight")
    } <= set(report.executed)

    materialized = instance.get_materialized_partitions(dg.AssetKey("fold_metrics"))
    assert materialized == {
        f"{c}|f{f}.{v}"
        for c in ("BTC", "ETH")
        for f in range(1, 6)
        for v in ("baseline", "ls_mild", "ls_aggressive", "cl_filter", "cl_reweight")
    }

    store = defs.resources["results"].store()
    first = store.read("test_sweep")
    # the shared baseline appears once per factor it serves, plus once for the joint rule
    assert len(first) == 2 * 5 * (3 + 3 + 1)
    baseline = first[first["config_id"] == "baseline"]
    assert set(zip(baseline["factor"], baseline["variant"], strict=True)) == {
        ("label_smoothing", "none"),
        ("cleanlab", "off"),
        ("label_smoothing_x_cleanlab", "baseline"),
    }
    for factor, variants in (("label_smoothing", ["mild", "aggressive"]), ("cleanlab", ["filter", "reweight"])):
        table = report.verdicts[factor]
        assert list(table["variant"]) == variants
        assert set(table["verdict"]) <= VERDICTS
        assert (table["n_pairs"] == 10).all()
    if not joint_runs:
        assert "joint variant not materialized" in joint["reasons"].iloc[0]

    alerts = defs.resources["alert_sink"].store().query()
    assert len(alerts) == report.alerts
    assert set(alerts["kind"]) <= {"cleanlab_drop_rate", "minority_decimation", "training_failed"}

    unchanged = run_sweep(defs, instance, log=lambda _: None)
    assert (unchanged.runs, unchanged.skipped) == (0, 2 + 2 * 5 * 5 + 3)
    assert started_workers == [settings.cell_workers]  # nothing to compute: no worker started again
    for name, table in report.verdicts.items():
        assert unchanged.verdicts[name].equals(table)

    rerun = run_sweep(
        defs, instance, cryptos=["BTC"], folds=["f1"], configs=["ls_mild"], log=lambda _: None, force=True
    )
    assert rerun.ok and rerun.skipped == 0 and rerun.runs == 1 + 1 + 3
    assert len(defs.resources["alert_sink"].store().query()) == report.alerts  # a re-run adds no duplicate
    again = store.read("test_sweep")
    assert len(again) == len(first)
    assert again.sort_values(["crypto", "fold", "variant"])["f1_buy"].tolist() == pytest.approx(
        first.sort_values(["crypto", "fold", "variant"])["f1_buy"].tolist(), nan_ok=True
    )

    # One variant's parameters change: only its cells and the verdicts that read them recompute.
    document = small_catalogue_document()
    document["factors"]["label_smoothing"]["variants"]["mild"] = {"eps_buy": 0.10, "eps_hold": 0.05}
    changed = run_sweep(
        build_defs(make_settings(tmp_path, small_data_dir, catalogue=document)), instance, log=lambda _: None
    )
    assert changed.ok and changed.runs == 2 + 2
    assert sorted(changed.executed) == [
        "cell_job[BTC|f1.ls_mild...BTC|f5.ls_mild]",
        "cell_job[ETH|f1.ls_mild...ETH|f5.ls_mild]",
        "gate_job[label_smoothing]",
        "gate_job[label_smoothing_x_cleanlab]",
    ]
    assert changed.skipped == 2 + 2 * 5 * 4 + 1
    assert started_workers == [settings.cell_workers] * 2  # its 10 cells warrant the workers again

    # A partial run of a changed variant gates the cells as they are, and says which it reads are behind;
    # the whole sweep then recomputes the others and the verdicts that read them, not only the cells.
    document["factors"]["label_smoothing"]["variants"]["mild"] = {"eps_buy": 0.12, "eps_hold": 0.06}
    changed_again = build_defs(make_settings(tmp_path, small_data_dir, catalogue=document))
    lines: list[str] = []
    partial = run_sweep(changed_again, instance, cryptos=["BTC"], configs=["ls_mild"], log=lines.append)
    gates = {"gate_job[label_smoothing]", "gate_job[label_smoothing_x_cleanlab]"}
    assert partial.ok and {"cell_job[BTC|f1.ls_mild...BTC|f5.ls_mild]", *gates} <= set(partial.executed)
    assert any(
        "label_smoothing reads 5 cell(s) materialized under other" in line and "ETH|f1.ls_mild" in line
        for line in lines
    ), lines
    whole = run_sweep(changed_again, instance, log=lines.append)
    assert whole.ok and {"cell_job[ETH|f1.ls_mild...ETH|f5.ls_mild]", *gates} <= set(whole.executed)
    assert "gate_job[cleanlab]" not in whole.executed
    assert run_sweep(changed_again, instance, log=lambda _: None).runs == 0

    # A crypto whose data now fails: its data run fails, its cells are as they were, and so are the
    # verdicts that read them (not gated again on every sweep while the data stays bad).
    bad = tmp_path / "bad_data"
    bad.mkdir()
    for crypto in ("BTC", "ETH"):
        frame = pd.read_csv(small_data_dir / f"{crypto}.csv")
        (frame.drop(columns="volume") if crypto == "ETH" else frame).to_csv(bad / f"{crypto}.csv", index=False)
    bad_data = build_defs(make_settings(tmp_path, bad, catalogue=document))
    for _ in range(2):
        failing = run_sweep(bad_data, instance, log=lambda _: None)
        assert list(failing.failures) == ["crypto_data_job[ETH]"] and failing.executed == ["crypto_data_job[ETH]"]
    # bad input, not a bug: the file and the problem, no pointer to a stack trace
    assert failing.failures["crypto_data_job[ETH]"].endswith(
        f"{bad / 'ETH.csv'} (ETH): missing columns ['volume']; columns: ['timestamp', 'open', 'high', 'low', 'close']"
    )

    other = build_defs(make_settings(tmp_path, small_data_dir, sweep_id="second"))
    assert run_sweep(other, instance, cryptos=["ETH"], folds=["f3"], gate=False, log=lambda _: None).ok
    assert len(store.read("test_sweep")) == len(first)
    assert len(store.read("second")) == 3 + 4  # the shared baseline serves 3 gates, each variant 1


def test_a_sweep_without_gates_still_raises_its_alerts(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    scans: list[dg.DagsterInstance] = []
    monkeypatch.setattr(
        sweep_runner, "scan_new_events", lambda scanned, sink, thresholds, sweep: scans.append(scanned) or 2
    )
    defs = build_defs(make_settings(tmp_path, small_data_dir))
    report = run_sweep(
        defs, instance, cryptos=["BTC"], folds=["f3"], configs=["baseline"], gate=False, log=lambda _: None
    )
    assert report.ok and scans == [instance] and report.alerts == 2


def test_a_partial_run_gates_only_the_factors_whose_cells_are_there_and_is_not_a_failure(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    # A fresh instance, some configurations of one cell: no gate can compare all its variants yet.
    defs = build_defs(make_settings(tmp_path, small_data_dir))
    lines: list[str] = []
    first = run_sweep(defs, instance, cryptos=["BTC"], folds=["f3"], configs=["baseline", "ls_mild"], log=lines.append)
    assert first.ok and not first.failed_run_ids
    assert first.waiting == {
        "label_smoothing": "aggressive has 0/1 cells",
        "cleanlab": "filter has 0/1 cells, reweight has 0/1 cells",
        "label_smoothing_x_cleanlab": "waits for the gate of label_smoothing and cleanlab",
    }
    assert not [name for name in first.executed if name.startswith("gate_job")] and not first.verdicts
    assert "  wait  gate_job         cleanlab: filter has 0/1 cells, reweight has 0/1 cells" in lines
    assert defs.resources["alert_sink"].store().query(kind="training_failed").empty  # no failed-run alert
    # The factor's last configuration: its gate runs on the cells stored before; the others still wait.
    second = run_sweep(defs, instance, cryptos=["BTC"], folds=["f3"], configs=["ls_aggressive"], log=lines.append)
    assert second.ok and "gate_job[label_smoothing]" in second.executed
    assert list(second.verdicts["label_smoothing"]["variant"]) == ["mild", "aggressive"]
    assert second.waiting == {
        "cleanlab": "filter has 0/1 cells, reweight has 0/1 cells",
        "label_smoothing_x_cleanlab": "waits for the gate of cleanlab",
    }


def test_a_failed_run_of_the_sweep_alerts_once_per_run(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    # The daemon's failed-run sensor never sees the runs a sweep executes in its own process.
    bad = tmp_path / "bad_data"
    bad.mkdir()
    pd.read_csv(small_data_dir / "ETH.csv").drop(columns="volume").to_csv(bad / "ETH.csv", index=False)
    defs = build_defs(make_settings(tmp_path, bad))
    reports = [
        run_sweep(defs, instance, cryptos=["ETH"], folds=["f3"], configs=["baseline"], gate=False, log=lambda _: None)
        for _ in range(2)
    ]
    alerts = defs.resources["alert_sink"].store().query(kind="training_failed")
    assert [report.alerts for report in reports] == [1, 1]  # two failed runs, one alert each
    assert list(alerts["subject"]) == ["run crypto_data_job[ETH]"] * 2
    assert all(
        message.startswith("run failed: ") and "missing columns ['volume']" in message for message in alerts["message"]
    )
    failed_runs = {report.failed_run_ids["crypto_data_job[ETH]"] for report in reports}
    assert {f"run_failed:{run_id}" for run_id in failed_runs} == set(alerts["dedup_key"])


def test_gates_whose_data_run_failed_say_so_in_one_line(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    """No gate run (whose failure would only repeat the data run's, as a KeyError), no exception name."""
    bad = tmp_path / "bad_data"
    bad.mkdir()
    candles = pd.read_csv(small_data_dir / "BTC.csv")
    pd.concat([candles.iloc[:500], candles.iloc[548:]]).to_csv(bad / "BTC.csv", index=False)
    defs = build_defs(make_settings(tmp_path, bad, small_catalogue_document(("BTC",))))
    report = run_sweep(defs, instance, folds=["f3"], configs=["baseline", "ls_mild"], log=lambda _: None)
    data_error = report.failures["crypto_data_job[BTC]"]
    assert data_error.startswith(f"{bad / 'BTC.csv'} (BTC): row 500 (line 502)")
    assert data_error.endswith(
        "gap of 48 bars (> 24 allowed) after 2017-10-21 19:00:00+00:00; "
        "allow longer gaps with data.max_gap_bars in the catalogue or CVN_MAX_GAP_BARS"
    )
    blocked = f"no results for factor label_smoothing: the data run of BTC failed: {data_error}"
    assert report.failures["gate_job[label_smoothing]"] == blocked
    assert report.failures["gate_job[cleanlab]"] == blocked.replace("label_smoothing", "cleanlab", 1)
    assert report.failures["gate_job[label_smoothing_x_cleanlab]"] == f"joint rule not decided: {blocked}"
    assert all("\n" not in message and "Error" not in message for message in report.failures.values())
    assert (report.runs, report.alerts) == (1, 1)  # the data run only, and its one alert
