"""Deployment settings read from the environment: threads per fit and cells computed at once."""

import dataclasses

import pytest

from cvn_assets.core.errors import CvnError
from cvn_assets.defs.build import build_defs
from cvn_assets.defs.settings import Settings
from cvn_assets.lineage.fingerprints import SweepFingerprints


def test_threads_and_cell_workers_default_to_one_cell_with_two_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CVN_THREADS", raising=False)
    monkeypatch.delenv("CVN_CELL_WORKERS", raising=False)
    settings = Settings.from_env()
    assert (settings.n_threads, settings.cell_workers) == (2, 1)


def test_threads_and_cell_workers_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CVN_THREADS", "1")
    monkeypatch.setenv("CVN_CELL_WORKERS", "2")
    settings = Settings.from_env()
    assert (settings.n_threads, settings.cell_workers) == (1, 2)


@pytest.mark.parametrize("name", ["CVN_THREADS", "CVN_CELL_WORKERS", "CVN_CELLS_PER_RUN", "CVN_SWEEP_SENSOR_SECONDS"])
@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_count_names_its_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name} must be a whole number of at least 1, got '{value}'"):
        Settings.from_env()


def test_the_run_size_keeps_a_default_run_well_under_a_tenth_of_the_default_sweep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CVN_CELLS_PER_RUN", raising=False)
    default_sweep_cells = 5 * 5 * 5  # the packaged catalogue: 5 cryptos × 5 folds × 5 configurations
    assert Settings.from_env().cells_per_run * 10 < default_sweep_cells
    monkeypatch.setenv("CVN_CELLS_PER_RUN", "25")
    monkeypatch.setenv("CVN_SWEEP_POLL_SECONDS", "0.5")
    settings = Settings.from_env()
    assert (settings.cells_per_run, settings.sweep_poll_seconds) == (25, 0.5)
    sweep = build_defs(dataclasses.replace(settings, catalogue_path=None)).resources["sweep"]
    assert (sweep.cells_per_run, sweep.poll_seconds) == (25, 0.5)


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_a_bad_poll_interval_names_its_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CVN_SWEEP_POLL_SECONDS", value)
    with pytest.raises(CvnError, match=f"CVN_SWEEP_POLL_SECONDS must be a number of seconds above 0, got '{value}'"):
        Settings.from_env()


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        pytest.param("CVN_MLFLOW", "maybe", "'on' or 'off'", id="on-off"),
        pytest.param("CVN_CELL_PROCESSES", "sometimes", "'auto' or 'on' or 'off'", id="choice"),
    ],
)
def test_a_bad_switch_is_a_project_error_naming_variable_value_and_choices(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, accepted: str
) -> None:
    """A project error, so the CLI reports it as `cvn-assets <command>: error: ...` instead of a traceback."""
    monkeypatch.setenv(name, value)
    with pytest.raises(CvnError, match=f"{name} must be {accepted}, got '{value}'"):
        Settings.from_env()


def test_the_sweep_resource_gets_both_and_the_cell_fingerprint_does_not_depend_on_them(
    small_settings: Settings,
) -> None:
    one_thread = build_defs(dataclasses.replace(small_settings, n_threads=1, cell_workers=2))
    two_threads = build_defs(dataclasses.replace(small_settings, n_threads=2, cell_workers=1))
    sweep = one_thread.resources["sweep"]
    assert (sweep.n_threads, sweep.cell_workers) == (1, 2)

    def cell_fingerprint(defs: object) -> str:
        fingerprints = SweepFingerprints(defs, sweep.catalogue, sweep.name)  # type: ignore[arg-type]
        return fingerprints.cell("crypto-fp", "f1", "baseline", [])

    # No model depends on the run's threads (CatBoost's thread count is a parameter of the catalogue), so
    # `make run`, `make ui` and `cvn-assets run`, which use different threads, skip each other's cells.
    assert cell_fingerprint(one_thread) == cell_fingerprint(two_threads)


def test_the_gap_tolerance_comes_from_the_catalogue_unless_the_environment_sets_it(
    tmp_path, small_data_dir, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cvn_assets_tests.conftest import make_settings, small_catalogue_document

    settings = make_settings(tmp_path, small_data_dir, {**small_catalogue_document(), "data": {"max_gap_bars": 48}})
    assert build_defs(settings).resources["ohlcv_source"].rules.max_gap_bars == 48
    monkeypatch.setenv("CVN_MAX_GAP_BARS", "72")
    overridden = dataclasses.replace(settings, max_gap_bars=Settings.from_env().max_gap_bars)
    assert build_defs(overridden).resources["ohlcv_source"].rules.max_gap_bars == 72
    monkeypatch.setenv("CVN_MAX_GAP_BARS", "0")
    assert Settings.from_env().max_gap_bars == 0
    monkeypatch.delenv("CVN_MAX_GAP_BARS")
    assert Settings.from_env().max_gap_bars is None


@pytest.mark.parametrize("value", ["-1", "two days", "1.5"])
def test_a_bad_gap_tolerance_names_its_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CVN_MAX_GAP_BARS", value)
    with pytest.raises(CvnError, match=f"CVN_MAX_GAP_BARS must be a whole number of at least 0, got '{value}'"):
        Settings.from_env()
