"""`cvn-assets gate` infers the sweep and a factor's baseline when only one answer fits, and says so."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cvn_assets.cli.main import main
from cvn_assets.core.catalogue.loading import DEFAULT_CATALOGUE_PATH
from cvn_assets_tests.core.gate.hand_table import BASELINE, FACTOR, baseline_rows, standard_table, variant_rows


def _csv(table: pd.DataFrame, path: Path) -> str:
    table.to_csv(path, index=False)
    return str(path)


def _gate(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = main(["gate", *arguments, "--json"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _two_sweeps() -> pd.DataFrame:
    """The factor's rows in sweep `chosen`; another factor in sweep `other`."""
    other = pd.DataFrame(baseline_rows(factor="other") + variant_rows("worse", -0.03, factor="other"))
    return pd.concat([standard_table().assign(sweep_id="chosen"), other.assign(sweep_id="other")], ignore_index=True)


def test_the_sweep_holding_all_of_the_factors_rows_is_inferred(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(_two_sweeps(), tmp_path / "results.csv")
    code, inferred, said = _gate(capsys, "--results", path, "--factor", FACTOR, "--baseline", BASELINE)
    assert code == 0
    assert said == f"sweep: chosen (the only sweep with rows of factor {FACTOR}; --sweep-id to choose)\n"
    code, chosen, said = _gate(
        capsys, "--results", path, "--factor", FACTOR, "--baseline", BASELINE, "--sweep-id", "chosen"
    )
    assert (code, said) == (0, "")
    assert json.loads(inferred) == json.loads(chosen)


def test_a_factor_with_rows_in_several_sweeps_still_needs_the_sweep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = pd.concat([standard_table().assign(sweep_id="first"), standard_table().assign(sweep_id="second")])
    code, _, said = _gate(
        capsys, "--results", _csv(table, tmp_path / "results.csv"), "--factor", FACTOR, "--baseline", BASELINE
    )
    assert code == 2
    assert f"factor '{FACTOR}' has rows in 2 sweeps ['first', 'second']; choose one with --sweep-id" in said
    code, _, said = _gate(capsys, "--results", _csv(_two_sweeps(), tmp_path / "two.csv"), "--factor", "nope")
    assert code == 2 and "unknown factor 'nope'; factors in" in said


def _label_smoothing_table(baseline: str = "none") -> pd.DataFrame:
    """The hand table as a label_smoothing sweep without an is_baseline column."""
    return standard_table().replace({"factor": {FACTOR: "label_smoothing"}, "variant": {BASELINE: baseline}})


def test_the_catalogues_baseline_is_used_when_the_table_flags_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(_label_smoothing_table(), tmp_path / "results.csv")
    code, inferred, said = _gate(capsys, "--results", path, "--factor", "label_smoothing")
    assert code == 0
    assert said == (
        f"baseline of label_smoothing: none (the catalogue's, {DEFAULT_CATALOGUE_PATH}; --baseline to choose)\n"
    )
    code, given, _ = _gate(capsys, "--results", path, "--factor", "label_smoothing", "--baseline", "none")
    assert code == 0 and json.loads(inferred) == json.loads(given)
    assert {v["variant"]: v["verdict"] for v in json.loads(given)["factors"][0]["variants"]}["lock"] == "LOCK"


def _catalogue(tmp_path: Path, baseline: str) -> Path:
    path = tmp_path / "catalogue.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "sweep": {"name": "mine", "universe": ["BTC"]},
                "factors": {
                    "label_smoothing": {
                        "alias": "ls",
                        "baseline": baseline,
                        "variants": {
                            baseline: {"eps_buy": 0.0, "eps_hold": 0.0},
                            "lock": {"eps_buy": 0.1, "eps_hold": 0.05},
                        },
                    }
                },
            }
        )
    )
    return path


def test_the_catalogue_comes_from_the_option_then_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _csv(_label_smoothing_table("base"), tmp_path / "results.csv")
    catalogue = _catalogue(tmp_path, "base")
    code, _, said = _gate(capsys, "--results", path, "--factor", "label_smoothing", "--catalogue", str(catalogue))
    assert code == 0 and said.startswith(f"baseline of label_smoothing: base (the catalogue's, {catalogue};")
    monkeypatch.setenv("CVN_CATALOGUE", str(catalogue))
    code, _, said = _gate(capsys, "--results", path, "--factor", "label_smoothing")
    assert code == 0 and said.startswith("baseline of label_smoothing: base")


@pytest.mark.parametrize(
    ("table", "catalogue_baseline", "message"),
    [
        pytest.param(
            _label_smoothing_table("base"),
            "none",
            "its baseline 'none' has no rows (variants: ['abandon', 'base', 'blocked', 'few', 'keep', 'lock'])",
            id="catalogue-baseline-absent-from-the-table",
        ),
        pytest.param(standard_table(), "none", "it does not name this factor", id="catalogue-without-the-factor"),
    ],
)
def test_no_baseline_to_infer_is_one_line_naming_the_catalogue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: pd.DataFrame, catalogue_baseline: str, message: str
) -> None:
    catalogue = _catalogue(tmp_path, catalogue_baseline)
    code, _, said = _gate(capsys, "--results", _csv(table, tmp_path / "results.csv"), "--catalogue", str(catalogue))
    assert code == 2 and said.count("\n") == 1
    assert f"catalogue {catalogue}: {message}; pass --baseline, add an is_baseline column" in said


def test_the_catalogue_is_not_read_when_the_baseline_is_known(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(standard_table(), tmp_path / "results.csv")
    code, _, said = _gate(
        capsys,
        "--results",
        path,
        "--factor",
        FACTOR,
        "--baseline",
        BASELINE,
        "--catalogue",
        str(tmp_path / "absent.yaml"),
    )
    assert (code, said) == (0, "")
