"""`results_dossier`: wired after the gate verdict of its factor, and materialized on a small real sweep."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from cvn_assets.cli.main import main
from cvn_assets.core.dossier import png_data_uri
from cvn_assets.defs.build import build_defs
from cvn_assets.defs.evaluation.dossier import lineage_mapping
from cvn_assets.defs.settings import Settings
from cvn_assets.orchestration.runner import run_sweep
from cvn_assets_tests.conftest import make_settings

FACTOR = "label_smoothing"
DOSSIER_KEY = dg.AssetKey("results_dossier")


def _catalogue() -> dict:
    """2 cryptos × 3 folds × 2 configurations of XGBoost (25 rounds); 6 pairs are enough for a verdict here."""
    return {
        "sweep": {"name": "test_sweep", "universe": ["BTC", "ETH"], "seed": 7, "models": ["xgboost"]},
        "learners": {"xgboost": {"num_boost_round": 25}},
        "folds": {"n_folds": 3},
        "gate": {"min_valid_pairs": 2, "bootstrap_resamples": 1000},
        "factors": {
            FACTOR: {
                "alias": "ls",
                "baseline": "none",
                "variants": {"none": {"eps_buy": 0.0, "eps_hold": 0.0}, "mild": {"eps_buy": 0.15, "eps_hold": 0.075}},
            }
        },
    }


def _with_dossier(settings: Settings) -> dg.Definitions:
    return build_defs(settings)  # the code location's own Definitions carry the dossier


def test_the_dossier_follows_the_gate_verdict_of_the_same_factor(tmp_path: Path, small_data_dir: Path) -> None:
    defs = _with_dossier(make_settings(tmp_path, small_data_dir))
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    node = graph.get(DOSSIER_KEY)
    assert node.parent_keys == {dg.AssetKey("gate_verdict")}
    assert node.partitions_def == graph.get(dg.AssetKey("gate_verdict")).partitions_def
    assert node.partitions_def.get_partition_keys() == ["label_smoothing", "cleanlab", "label_smoothing_x_cleanlab"]
    spec = next(s for s in defs.resolve_all_asset_specs() if s.key == DOSSIER_KEY)
    assert spec.group_name == "evaluation" and spec.owners == ["team:quant-research"]
    assert set(spec.kinds) == {"python", "matplotlib"} and spec.description


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {"code_version": "abc", "runs": ["r1", "r2"]},
            {"code_version": "abc", "runs": '["r1", "r2"]'},
            id="mapping-with-nested-values-as-json",
        ),
        pytest.param('{"data_version": "v3"}', {"data_version": "v3"}, id="json-text"),
        pytest.param("catalogue 1f2e", {"lineage": "catalogue 1f2e"}, id="plain-text"),
        pytest.param(
            {"mlflow": {"MLFLOW_TRACKING_TOKEN": "t0ken"}},
            {"mlflow": '{"MLFLOW_TRACKING_TOKEN": "***"}'},
            id="nested-secret-masked",
        ),
    ],
)
def test_lineage_metadata_becomes_a_table_of_text(raw: object, expected: dict[str, str]) -> None:
    assert lineage_mapping(raw) == expected


@pytest.mark.slow
def test_materialized_on_a_small_sweep_the_dossier_is_in_the_ui_and_matches_the_cli(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path, small_data_dir, catalogue=_catalogue())
    defs = _with_dossier(settings)
    report = run_sweep(defs, instance, log=lambda _: None)
    assert report.ok, report.failures

    rows = defs.resources["results"].store().read("test_sweep")
    for row in rows[rows["status"] == "ok"].itertuples():
        assert sum(json.loads(row.reliability_bins)["count"]) == row.test_rows

    job = defs.resolve_implicit_global_asset_job_def()
    first = job.execute_in_process(instance=instance, partition_key=FACTOR, asset_selection=[DOSSIER_KEY])
    assert first.success
    metadata = first.asset_materializations_for_node("results_dossier")[0].metadata
    folder = Path(settings.storage_dir) / "dossier" / "test_sweep" / FACTOR
    assert metadata["report_markdown"].value == str(folder / "report.md")
    assert metadata["report_html"].value == str(folder / "report.html")
    figures = {
        key: Path(value.value) for key, value in metadata.items() if key.startswith("figure_") and key != "figure_model"
    }
    assert set(figures) == {"figure_delta_f1_heatmap", "figure_reliability", "figure_delta_f1_ci"}
    shown = metadata["report"].value
    assert "| gate | observed | threshold | result | detail |" in shown
    for path in figures.values():
        assert path.parent == folder / "figures"
        assert png_data_uri(path.read_bytes()) in shown  # the UI shows the very files
    assert "| catalogue_fingerprint |" in shown and "| ohlcv_sha256[ETH] |" in shown  # the verdict's lineage

    # Re-evaluating the store's table from the command line, without training, gives the same dossier.
    out = tmp_path / "cli"
    assert (
        main(
            [
                "dossier",
                FACTOR,
                "--from",
                settings.results_url,
                "--catalogue",
                str(settings.catalogue_path),
                "--out",
                str(out),
            ]
        )
        == 0
    ), capsys.readouterr()
    # The same dossier, but for the lineage: an imported table carries none.
    assert _before_lineage(out / "report.md") == _before_lineage(folder / "report.md")
    assert "No lineage recorded" in (out / "report.md").read_text()
    for path in figures.values():
        assert (out / "figures" / path.name).read_bytes() == path.read_bytes()

    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            "gate_verdict",
            partition=FACTOR,
            metadata={"lineage": dg.MetadataValue.json({"code_version": "c0ffee", "DB_PASSWORD": "hunter2"})},
        )
    )
    second = job.execute_in_process(instance=instance, partition_key=FACTOR, asset_selection=[DOSSIER_KEY])
    assert second.success
    markdown = (folder / "report.md").read_text()
    assert "| code_version | c0ffee |" in markdown and "| DB_PASSWORD | *** |" in markdown
    assert "hunter2" not in markdown
    assert instance.get_materialized_partitions(DOSSIER_KEY) == {FACTOR}


def _before_lineage(report: Path) -> str:
    return report.read_text().split("## Lineage")[0]
