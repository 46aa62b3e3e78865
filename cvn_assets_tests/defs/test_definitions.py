"""The shape of the asset graph: a change to it shows up here in review."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from cvn_assets.core.errors import CatalogueError
from cvn_assets.defs.build import build_defs
from cvn_assets.defs.settings import Settings
from cvn_assets_tests.conftest import make_settings, small_catalogue_document

EXPECTED_GRAPH = {
    "ohlcv": ("data", set()),
    "features": ("data", {"ohlcv"}),
    "raw_labels": ("labels", {"ohlcv"}),
    "fold_windows": ("labels", {"raw_labels"}),
    "smoothed_labels": ("labels", {"raw_labels", "fold_windows"}),
    "cleanlab_mask": ("labels", {"features", "raw_labels", "fold_windows"}),
    "oos_predictions/xgboost": (
        "models",
        {"features", "raw_labels", "fold_windows", "ohlcv", "smoothed_labels", "cleanlab_mask"},
    ),
    "fold_metrics": ("evaluation", {"oos_predictions/xgboost", "ohlcv"}),
    "gate_verdict": ("evaluation", {"fold_metrics"}),
    "promoted_baseline": ("evaluation", {"gate_verdict"}),
    "results_dossier": ("evaluation", {"gate_verdict"}),
    "drift_monitor": ("monitoring", {"raw_labels", "fold_windows", "oos_predictions/xgboost"}),
}


@pytest.fixture
def defs(small_settings: Settings) -> dg.Definitions:
    return build_defs(small_settings)


def test_graph_shape(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    shape = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        shape[key.to_user_string()] = (node.group_name, {p.to_user_string() for p in node.parent_keys})
    assert shape == EXPECTED_GRAPH


def test_every_asset_is_described_owned_and_kinded(defs: dg.Definitions) -> None:
    for spec in defs.resolve_all_asset_specs():
        assert spec.description, spec.key
        assert spec.owners == ["team:quant-research"], spec.key
        assert spec.kinds, spec.key


def test_partitions_follow_the_catalogue(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("ohlcv")).partitions_def.get_partition_keys() == ["BTC", "ETH"]
    cells = graph.get(dg.AssetKey(["oos_predictions", "xgboost"])).partitions_def.get_partition_keys()
    # 5 unique configurations (the baseline is shared by both factors) + 4 joint candidates.
    assert len(cells) == 2 * 5 * (5 + 4)
    assert "BTC|f1.baseline" in cells and "ETH|f5.ls_aggressive" in cells and "BTC|f2.cl_filter" in cells
    assert "ETH|f3.ls_mild_x_cl_reweight" in cells
    assert not any(".ls_none" in c or ".cl_off" in c for c in cells)
    assert graph.get(dg.AssetKey("gate_verdict")).partitions_def.get_partition_keys() == [
        "label_smoothing",
        "cleanlab",
        "label_smoothing_x_cleanlab",
    ]


def test_jobs(defs: dg.Definitions) -> None:
    assert {job.name for job in defs.resolve_all_job_defs()} >= {"crypto_data_job", "cell_job", "gate_job"}


def test_definitions_are_loadable(defs: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(defs)


def test_bad_catalogue_fails_at_load_naming_factor_variant_and_bound(tmp_path: Path, small_data_dir: Path) -> None:
    document = small_catalogue_document()
    document["factors"]["label_smoothing"]["variants"]["mild"] = {"eps_buy": 0.1, "eps_hold": 0.3}
    with pytest.raises(CatalogueError, match=r"factor 'label_smoothing', variant 'mild': eps_hold=0.3 is outside"):
        build_defs(make_settings(tmp_path, small_data_dir, document))


@pytest.mark.slow
def test_dagster_cli_validates_the_code_location(tmp_path: Path) -> None:
    """`dagster definitions validate` goes through the code server, i.e. the graph the UI and daemon see."""
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr
    yaml.safe_load((Path(__file__).resolve().parents[2] / "workspace.yaml").read_text())
