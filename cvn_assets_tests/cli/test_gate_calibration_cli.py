"""`cvn-assets gate-calibration`: a small seeded run, its report and data file, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cvn_assets.cli.main import main
from cvn_assets.core.gate.error_rates import measured_rates

SMALL = [
    "gate-calibration",
    "--n-sweeps",
    "30",
    "--rho",
    "0",
    "0.5",
    "--lift",
    "0",
    "0.03",
    "--resamples",
    "100",
    "--methods",
    "cluster_t",
    "cell_bootstrap",
    "--quiet",
]


def test_a_run_writes_the_report_and_the_rates_the_dossier_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc, rates = tmp_path / "docs" / "gate-error-rates.md", tmp_path / "error_rates.json"
    assert main([*SMALL, "--doc", str(doc), "--rates", str(rates)]) == 0
    printed = capsys.readouterr().out
    assert "cluster_t" in printed and "false_lock" in printed
    text = doc.read_text()
    assert "| 0.5 | `cluster_t` |" in text and "| 0.5 | `cell_bootstrap` |" in text
    assert "cvn-assets gate-calibration --n-sweeps 30 --seed 20260428" in text
    document = json.loads(rates.read_text())
    row = next(r for r in document["results"] if (r["method"], r["rho"], r["lift"]) == ("cluster_t", 0.5, 0.0))
    measured = measured_rates("cluster_t", rates)
    assert measured is not None
    assert (measured.coverage, measured.false_lock, measured.false_abandon) == (
        row["coverage"],
        row["lock_rate"],
        row["abandon_rate"],
    )
    assert measured.n_sweeps == 30 and list(measured.power) == [0.03]
    assert measured_rates("two_stage_bootstrap", rates) is None  # not simulated in this run


def test_json_prints_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SMALL, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 * 2 * 2  # methods × ρ × lifts
    assert {"coverage", "lock_rate", "abandon_rate", "rejection_rate"} <= set(rows[0])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(["--rho", "1.0"], "rhos must lie in [0, 1)", id="correlation of 1"),
        pytest.param(["--lift", "0.03"], "lifts must include 0", id="no null lift"),
    ],
)
def test_bad_settings_exit_2_with_one_line(extra: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate-calibration", "--n-sweeps", "5", "--quiet", *extra]) == 2
    error = capsys.readouterr().err
    assert error.startswith("cvn-assets gate-calibration: error:") and error.count("\n") == 1
    assert message in error
