"""`cvn-assets audit` before any sweep: it reads an instance and never creates one."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvn_assets.cli.main import main


def test_a_missing_instance_is_an_error_naming_it_and_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "no_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert main(["audit", "label_smoothing"]) == 2
    error = capsys.readouterr().err
    assert error == (
        f"cvn-assets audit: error: no Dagster instance at {home} (DAGSTER_HOME); run the sweep there first\n"
    )
    assert not home.exists()
