"""`cvn-assets bench`: the whole benchmark on a tiny configuration, and its parts on their own."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from cvn_assets.cli.bench import selected_parts
from cvn_assets.cli.main import main
from cvn_assets.core.catalogue.loading import load_catalogue
from cvn_assets.core.schema import RESULT_COLUMNS
from cvn_assets_bench.gate_bench import many_variants_catalogue, synthetic_results, time_gate
from cvn_assets_bench.suite import PARTS
from cvn_assets_bench.summary import render_summary
from cvn_assets_bench.workload import Workload, write_changed_catalogue

SECTIONS = {"meta", "workload", "plain", "dagster", "floor", "plain_after", "rerun", "gate", "events", "comparison"}
USAGE = ("wall_seconds", "cpu_seconds", "peak_rss_mb")


@pytest.mark.slow
def test_quick_benchmark_writes_every_section_with_positive_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.json"
    # Two cells at once in both ways of running the sweep: their verdicts must still agree.
    assert main(["bench", "--quick", "--cell-workers", "2", "--only", ",".join(PARTS), "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert set(document) == SECTIONS
    assert document["workload"]["cell_workers"] == 2
    for part in ("plain", "dagster", "floor", "plain_after", "rerun"):
        assert all(document[part][key] > 0 for key in USAGE), part
        assert 0 < document[part]["own_cpu_seconds"] <= document[part]["cpu_seconds"], part
        assert document[part]["failures"] == {}
        assert document[part]["stages"]["model:xgboost"]["wall_seconds"] > 0
    assert all(value > 0 for value in document["comparison"]["ratio"].values())
    # The plain loop runs before and after (a); the ratio divides by the mean of both.
    plains = (document["plain"], document["plain_after"])
    assert document["comparison"]["plain"]["wall_seconds"] == pytest.approx(sum(p["wall_seconds"] for p in plains) / 2)
    assert document["comparison"]["ratio"]["wall_seconds"] == pytest.approx(
        document["dagster"]["wall_seconds"] / document["comparison"]["plain"]["wall_seconds"]
    )
    assert document["comparison"]["verdicts_agree"] is True
    assert document["plain"]["dagster_imported"] is False
    assert document["plain"]["cells"] == document["workload"]["cells"] == 6
    dagster = document["dagster"]
    # 1 crypto run, 1 run of the 6 cells (contiguous keys, at most 10 a run), 2 factor gates and the
    # joint gate, all recorded on the fresh instance
    assert dagster["runs"] == 5 and dagster["materializations_before"] == 0
    assert dagster["cells_recomputed"] == 6
    assert dagster["stores"] == {"instance_persistent": True, "mlflow": True}
    # (f): the same runs and materializations, on Dagster's in-memory instance and without MLflow.
    floor = document["floor"]
    assert floor["stores"] == {"instance_persistent": False, "mlflow": False}
    assert (floor["runs"], floor["materializations_after"]) == (dagster["runs"], dagster["materializations_after"])
    assert all(value > 0 for value in document["comparison"]["floor_ratio"].values())
    rerun = document["rerun"]
    assert rerun["changed"]["variant"] == "mild" and rerun["changed"]["after"]["eps_buy"] == 0.1
    assert "ls_mild" in rerun["configs_recomputed"] and rerun["cells_recomputed"] >= 2
    assert rerun["materializations_before"] == dagster["materializations_after"]
    assert rerun["materializations_after"] == rerun["materializations_before"] + rerun["materializations_new"]
    gate = document["gate"]
    assert (gate["variants"], gate["variants_gated"], gate["rows"]) == (20, 19, 500)
    assert gate["median_seconds"] > 0 and gate["first_seconds"] > 0
    events = document["events"]
    assert (events["cells"], events["assets"]) == (6, 4)  # smoothed labels, cleanlab mask, xgboost, fold metrics
    for run in ("planned_per_cell", "planned_per_range", "with_checks"):
        assert events[run]["wall_seconds"] > 0 and events[run]["cpu_seconds"] > 0
    assert events["ms_per_materialization"] > 0
    printed = capsys.readouterr().out
    assert "ratio a/b (b: mean)" in printed and "(b) plain loop, after (a)" in printed
    assert "(f) (a) without its stores" in printed and "ratio f/b" in printed
    assert "verdicts of (a), (f) and (b) agree: yes" in printed
    assert "(c) re-run after changing label_smoothing/mild" in printed
    assert "(e) event log: 6 cells × 4 assets" in printed


@pytest.mark.slow
def test_only_the_gate_part_runs_without_any_sweep(tmp_path: Path) -> None:
    out = tmp_path / "gate.json"
    assert main(["bench", "--quick", "--only", "gate", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert set(document) == {"meta", "workload", "gate"}
    assert document["meta"]["parts"] == ["gate"]


def test_part_selection() -> None:
    # (f) costs as long as (a): only when named.
    assert selected_parts(None, skip_dagster=False) == ("plain", "dagster", "rerun", "gate", "events")
    assert selected_parts(None, skip_dagster=True) == ("plain", "gate", "events")
    assert selected_parts("gate, plain", skip_dagster=False) == ("plain", "gate")
    assert selected_parts("floor,dagster,plain", skip_dagster=False) == ("plain", "dagster", "floor")
    assert selected_parts("floor,plain", skip_dagster=True) == ("plain",)


def test_unknown_part_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "plain,warp", "--out", str(tmp_path / "x.json")]) == 2
    assert "unknown part(s) ['warp']" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_synthetic_gate_table_has_the_results_schema_and_every_variant() -> None:
    catalogue = many_variants_catalogue(n_variants=4, n_cryptos=3, n_folds=2)
    rows = synthetic_results(catalogue, n_folds=2)
    assert list(rows.columns) == list(RESULT_COLUMNS)
    assert len(rows) == 4 * 3 * 2
    assert sorted(rows["variant"].unique()) == ["none", "v01", "v02", "v03"]
    timing = time_gate(n_variants=4, n_cryptos=3, n_folds=2, repeats=1)
    assert timing["variants_gated"] == 3 and timing["first_seconds"] > 0


def test_changed_catalogue_changes_one_variant_within_its_guardrails(tmp_path: Path) -> None:
    changed = write_changed_catalogue(Workload(), tmp_path / "changed.yaml")
    assert (changed["factor"], changed["variant"], changed["config_id"]) == ("label_smoothing", "mild", "ls_mild")
    assert changed["after"] == {"eps_buy": 0.1, "eps_hold": 0.05}
    original, copy = load_catalogue(None), load_catalogue(tmp_path / "changed.yaml")
    assert copy.config_ids() == original.config_ids()
    assert copy.factor("label_smoothing").variant("mild").params.eps_buy == 0.1
    assert copy.factor("cleanlab") == original.factor("cleanlab")


def test_changed_catalogue_without_label_smoothing_is_refused(tmp_path: Path) -> None:
    document = {
        "sweep": {"universe": ["BTC"], "models": ["xgboost"]},
        "factors": {
            "cleanlab": {"baseline": "off", "variants": {"off": {"mode": "off"}, "filter": {"mode": "filter"}}}
        },
    }
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(Exception, match="declares no label_smoothing factor"):
        write_changed_catalogue(Workload(catalogue_path=str(path)), tmp_path / "changed.yaml")


def test_summary_of_a_partial_document_names_what_ran() -> None:
    document = {
        "meta": {"quick": True},
        "workload": {
            "sweep": "s",
            "universe": ["BTC"],
            "folds": 2,
            "configurations": ["baseline"],
            "cells": 2,
            "models": ["xgboost"],
            "ensembles": [],
            "n_threads": 1,
        },
        "plain": {
            "wall_seconds": 2.0,
            "cpu_seconds": 1.0,
            "peak_rss_mb": 200.0,
            "stages": {"data": {"wall_seconds": 0.5, "cpu_seconds": 0.4, "calls": 1}},
        },
    }
    text = render_summary(document)
    assert "(b) plain loop" in text and "data" in text and "(a) through Dagster" not in text


def test_dagster_environment_keeps_everything_inside_the_temporary_instance(tmp_path: Path) -> None:
    caller = {
        "PATH": "/bin",
        "DAGSTER_HOME": "/srv/prod",
        "CVN_RESULTS_URL": "postgresql://prod/results",
        "CVN_MLFLOW_URI": "http://tracking:5000",
        "CVN_ALERT_WEBHOOK_URL": "https://hooks/x",
        "CVN_MLFLOW": "off",
    }
    env = Workload(universe=("BTC", "ETH"), n_threads=1).environment(tmp_path, caller)
    assert env["DAGSTER_HOME"] == str(tmp_path)
    assert env["CVN_RESULTS_URL"] == f"sqlite:///{tmp_path / 'storage' / 'results.db'}"
    assert env["CVN_UNIVERSE"] == "BTC,ETH" and env["CVN_THREADS"] == "1"
    assert "CVN_MLFLOW_URI" not in env and "CVN_ALERT_WEBHOOK_URL" not in env and "CVN_CATALOGUE" not in env
    assert env["PATH"] == "/bin" and env["CVN_MLFLOW"] == "off"


def test_the_dagster_part_stops_its_clock_before_reading_the_instance_for_its_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the benchmark reads afterwards (materializations, step times) is its own cost, not the sweep's."""
    import dagster as dg

    import cvn_assets_bench.dagster_part as dagster_part

    calls: list[str] = []

    class Report:
        runs, skipped, failures, verdicts, seconds = 0, 0, {}, {}, 0.0

    class Defs:
        resources = {"sweep": SimpleNamespace(cell_workers=1), "tracking": SimpleNamespace(enabled=False)}

    monkeypatch.setattr(dagster_part, "build_defs", Defs)
    monkeypatch.setattr(dagster_part.dg.DagsterInstance, "get", staticmethod(dg.DagsterInstance.ephemeral))
    monkeypatch.setattr(dagster_part, "run_sweep", lambda *a, **k: calls.append("sweep") or Report())
    monkeypatch.setattr(dagster_part, "materializations", lambda instance: calls.append("read") or [])
    monkeypatch.setattr(dagster_part, "step_stages", lambda defs: {})
    monkeypatch.setattr(
        dagster_part,
        "event_log_stages",
        lambda *a: calls.append("read") or ({}, {"jobs": {}, "runs_wall_seconds": 0.0}),
    )

    dagster_part.run_dagster_sweep(sweep_done=lambda: calls.append("clock stopped"))

    assert calls == ["read", "sweep", "clock stopped", "read", "read"]
