"""`cvn-assets gate` on results files written to a temporary directory."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from cvn_assets.cli.main import main
from cvn_assets_tests.core.gate.document_table import flagged_document_table
from cvn_assets_tests.core.gate.hand_table import BASELINE, FACTOR, baseline_rows, standard_table, variant_rows


def write(table: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        table.to_csv(path, index=False)
    else:
        table.to_parquet(path, index=False)
    return path


def flagged(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(is_baseline=table["variant"] == BASELINE)


@pytest.mark.parametrize("name", [pytest.param("results.csv", id="csv"), pytest.param("results.parquet", id="parquet")])
def test_prints_a_verdict_table(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    path = write(standard_table(), tmp_path / name)
    assert main(["gate", "--results", str(path), "--factor", FACTOR, "--baseline", BASELINE]) == 0
    output = capsys.readouterr().out
    for verdict in ("LOCK", "KEEP_AVAILABLE", "ABANDON", "INCONCLUSIVE"):
        assert verdict in output


def test_json_has_observed_and_threshold_for_every_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(standard_table(), tmp_path / "results.csv")
    assert main(["gate", "--results", str(path), "--factor", FACTOR, "--baseline", BASELINE, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    variants = {v["variant"]: v for v in document["factors"][0]["variants"]}
    assert variants["lock"]["verdict"] == "LOCK"
    assert variants["few"]["verdict"] == "INCONCLUSIVE"  # no blocking failures from the command line
    for variant in variants.values():
        for gate in variant["gates"]:
            assert "observed" in gate and "threshold" in gate


def test_the_results_document_sweep_is_abandoned_with_calibration_not_evaluable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # SPEC §7's reference outcome: every soft-label row reads ECE 0.0 (a blocking check failure), the
    # cleanlab rows have no ECE at all, yet harm on f1_buy is shown, so every variant is ABANDON.
    path = write(flagged_document_table(), tmp_path / "finetune_results.csv")
    assert main(["gate", "--results", str(path), "--json"]) == 0
    variants = {v["variant"]: v for f in json.loads(capsys.readouterr().out)["factors"] for v in f["variants"]}
    assert sorted(variants) == ["aggressive", "filter", "mild", "reweight"]
    for name, variant in variants.items():
        assert variant["verdict"] == "ABANDON", (name, variant["reasons"])
        assert (variant["cryptos_improving"], variant["universe_size"]) == (0, 5)
        assert variant["ci"][1] < 0.0
        calibration = next(g for g in variant["gates"] if g["name"] == "calibration")
        assert calibration["result"] == "not evaluable"
        assert "calibration" in variant["not_evaluable"]
    assert "degenerate ece_hold" in next(g for g in variants["mild"]["gates"] if g["name"] == "calibration")["detail"]
    assert main(["gate", "--results", str(path)]) == 0
    text = capsys.readouterr().out
    assert text.count("ABANDON") == 4 and "INCONCLUSIVE" not in text
    mild = next(line for line in text.splitlines() if line.startswith("label_smoothing/mild (xgboost): failed:"))
    assert mild.split("not evaluable:")[1].strip().endswith("calibration")


def test_the_earlier_cell_inference_stays_selectable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(standard_table(), tmp_path / "results.csv")
    arguments = ["gate", "--results", str(path), "--factor", FACTOR, "--baseline", BASELINE, "--json"]
    assert main(arguments) == 0
    default = {v["variant"]: v for v in json.loads(capsys.readouterr().out)["factors"][0]["variants"]}
    assert main([*arguments, "--inference", "cell_bootstrap"]) == 0
    cell = {v["variant"]: v for v in json.loads(capsys.readouterr().out)["factors"][0]["variants"]}
    assert default["lock"]["inference"] == "cluster_t" and cell["lock"]["inference"] == "cell_bootstrap"
    # 24 cells counted as independent give a narrower interval than 5 cryptos.
    assert cell["lock"]["ci"][1] - cell["lock"]["ci"][0] < default["lock"]["ci"][1] - default["lock"]["ci"][0]
    significance = next(g for g in cell["lock"]["gates"] if g["name"] == "significance")
    assert "signed-rank on 24 non-zero deltas" in significance["detail"]


def test_every_factor_is_gated_with_baselines_from_the_is_baseline_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second = baseline_rows(factor="other") + variant_rows("worse", -0.03, factor="other")
    table = flagged(pd.concat([standard_table(), pd.DataFrame(second)], ignore_index=True))
    path = write(table, tmp_path / "results.csv")
    assert main(["gate", "--results", str(path), "--json"]) == 0
    factors = {f["factor"]: f for f in json.loads(capsys.readouterr().out)["factors"]}
    assert sorted(factors) == ["other", FACTOR]
    assert factors["other"]["variants"][0]["verdict"] == "ABANDON"


def test_variant_names_that_look_missing_survive_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = standard_table().replace({"variant": {BASELINE: "None", "lock": "NA"}})
    path = write(table, tmp_path / "results.csv")
    assert main(["gate", "--results", str(path), "--factor", FACTOR, "--baseline", "None", "--json"]) == 0
    variants = {v["variant"]: v["verdict"] for v in json.loads(capsys.readouterr().out)["factors"][0]["variants"]}
    assert variants["NA"] == "LOCK"


@pytest.mark.parametrize(
    ("table", "name", "extra", "message"),
    [
        pytest.param(None, "absent.csv", [], "does not exist", id="missing file"),
        pytest.param(standard_table(), "results.json", [], "must end in .csv or .parquet", id="unsupported suffix"),
        pytest.param(
            standard_table().drop(columns=["status", "sortino"]),
            "results.csv",
            [],
            "status, sortino",
            id="missing columns listed",
        ),
        pytest.param(
            standard_table(),
            "results.csv",
            ["--factor", "nope", "--baseline", BASELINE],
            "unknown factor 'nope'",
            id="unknown factor",
        ),
        pytest.param(standard_table(), "results.csv", ["--factor", FACTOR], "pass --baseline", id="no baseline known"),
        pytest.param(
            standard_table(),
            "results.csv",
            ["--factor", FACTOR, "--baseline", "ghost"],
            "'ghost'",
            id="baseline not in table",
        ),
        pytest.param(
            flagged(standard_table()).assign(is_baseline=True),
            "results.csv",
            [],
            "exactly one variant",
            id="several variants flagged baseline",
        ),
        pytest.param(standard_table().iloc[:0], "results.csv", [], "the table has no rows", id="empty table"),
        pytest.param(
            standard_table(),
            "results.csv",
            ["--factor", FACTOR, "--baseline", BASELINE, "--universe-size", "2"],
            "universe_size 2 is smaller than the 5 crypto(s) in the results of factor 'toy_factor'",
            id="universe smaller than the table's",
        ),
        pytest.param(
            standard_table().assign(f1_buy=lambda t: t["f1_buy"] * 100),
            "results.csv",
            [],
            "have f1_buy outside [0, 1], e.g. 40 (toy_factor/base, xgboost, A fold 0)",
            id="f1 in percent",
        ),
        pytest.param(
            standard_table().assign(max_drawdown=-0.1),
            "results.csv",
            [],
            "have max_drawdown outside [0, ∞)",
            id="drawdowns signed negative",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    table: pd.DataFrame | None,
    name: str,
    extra: list[str],
    message: str,
) -> None:
    path = tmp_path / name
    if table is not None:
        table.to_csv(path, index=False)
    assert main(["gate", "--results", str(path), *extra]) == 2
    error = capsys.readouterr().err
    assert error.startswith("cvn-assets gate: error:") and error.count("\n") == 1
    assert message in error


def test_json_holds_null_for_a_statistic_that_overflows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = standard_table()
    table["sortino"] = (
        table["sortino"].where(table["variant"] == BASELINE, 1e308).where(table["variant"] != BASELINE, -1e308)
    )
    path = write(table, tmp_path / "results.parquet")
    assert main(["gate", "--results", str(path), "--factor", FACTOR, "--baseline", BASELINE, "--json"]) == 0
    variants = json.loads(capsys.readouterr().out)["factors"][0]["variants"]
    sortino = [g for v in variants for g in v["gates"] if g["name"] == "joint.sortino" and g["passed"] is not None]
    assert sortino and all(g["observed"] is None for g in sortino)


def test_an_ece_of_exactly_zero_makes_calibration_not_evaluable_as_in_a_sweep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = standard_table()
    table.loc[(table["variant"] == "lock") & (table["crypto"] == "A") & (table["fold"] == 0), "ece_hold"] = 0.0
    path = write(table, tmp_path / "results.csv")
    assert main(["gate", "--results", str(path), "--factor", FACTOR, "--baseline", BASELINE, "--json"]) == 0
    variants = {v["variant"]: v for v in json.loads(capsys.readouterr().out)["factors"][0]["variants"]}
    # Every other gate passes, and calibration could have blocked the LOCK: INCONCLUSIVE, not KEEP_AVAILABLE.
    assert variants["lock"]["verdict"] == "INCONCLUSIVE"
    assert variants["lock"]["not_evaluable"] == ["calibration"]
    calibration = next(g for g in variants["lock"]["gates"] if g["name"] == "calibration")
    assert calibration["result"] == "not evaluable"
    assert calibration["detail"] == "not evaluable: blocking check(s) failed: degenerate ece_hold on A 0 xgboost"
    assert variants["keep"]["verdict"] == "KEEP_AVAILABLE"


def test_a_brier_of_exactly_zero_makes_its_variant_inconclusive_as_in_a_sweep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = standard_table().assign(brier=0.2)
    table.loc[(table["variant"] == "abandon") & (table["crypto"] == "A") & (table["fold"] == 0), "brier"] = 0.0
    path = write(table, tmp_path / "results.csv")
    assert main(["gate", "--results", str(path), "--factor", FACTOR, "--baseline", BASELINE, "--json"]) == 0
    variants = {v["variant"]: v for v in json.loads(capsys.readouterr().out)["factors"][0]["variants"]}
    # The probabilities f1_buy is computed from are in doubt, so not even a regression is shown.
    assert variants["abandon"]["verdict"] == "INCONCLUSIVE"
    assert "blocking check(s) failed: degenerate brier on A 0 xgboost" in variants["abandon"]["reasons"]


def test_a_table_of_several_sweeps_is_gated_one_sweep_at_a_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen, other = standard_table().assign(sweep_id="chosen"), standard_table().assign(sweep_id="other")
    other["f1_buy"] = other["f1_buy"] / 2  # a different sweep, whose rows must not be paired with the chosen one's
    path = write(pd.concat([chosen, other], ignore_index=True), tmp_path / "results.csv")
    arguments = ["gate", "--results", str(path), "--factor", FACTOR, "--baseline", BASELINE, "--json"]
    assert main(arguments) == 2
    assert "has rows in 2 sweeps ['chosen', 'other']; choose one with --sweep-id" in capsys.readouterr().err
    assert main([*arguments, "--sweep-id", "chosen"]) == 0
    gated = json.loads(capsys.readouterr().out)
    assert (
        main(
            [
                "gate",
                "--results",
                str(write(chosen, tmp_path / "chosen.csv")),
                "--factor",
                FACTOR,
                "--baseline",
                BASELINE,
                "--json",
            ]
        )
        == 0
    )
    assert gated == json.loads(capsys.readouterr().out)
    assert main([*arguments, "--sweep-id", "missing"]) == 2
    assert "no rows of sweep 'missing'" in capsys.readouterr().err


def test_a_parquet_table_with_decimal_metrics_is_read_as_the_dossier_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = standard_table()
    table["f1_buy"] = table["f1_buy"].round(6)
    decimal = table.assign(f1_buy=[Decimal(str(value)) for value in table["f1_buy"]])  # a NUMERIC column's export
    arguments = ["--factor", FACTOR, "--baseline", BASELINE, "--json"]
    assert main(["gate", "--results", str(write(decimal, tmp_path / "decimal.parquet")), *arguments]) == 0
    from_decimal = json.loads(capsys.readouterr().out)
    assert main(["gate", "--results", str(write(table, tmp_path / "float.parquet")), *arguments]) == 0
    assert from_decimal == json.loads(capsys.readouterr().out)


def test_baseline_without_factor_is_refused_when_several_factors_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second = pd.DataFrame(baseline_rows(factor="other") + variant_rows("worse", -0.03, factor="other"))
    path = write(pd.concat([standard_table(), second], ignore_index=True), tmp_path / "results.csv")
    assert main(["gate", "--results", str(path), "--baseline", BASELINE]) == 2
    assert "--baseline needs --factor" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate"]) == 2
    assert "--results" in capsys.readouterr().err


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    path = write(standard_table(), tmp_path / "results.csv")
    command = [
        sys.executable,
        "-m",
        "cvn_assets.cli.main",
        "gate",
        "--results",
        str(path),
        "--factor",
        FACTOR,
        "--baseline",
        BASELINE,
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        process.stdout.close()  # type: ignore[union-attr]
        error = process.stderr.read().decode()  # type: ignore[union-attr]
    assert process.returncode == 141 and error == ""
