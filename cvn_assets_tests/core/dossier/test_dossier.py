"""The dossier of a factor: its files are real PNGs, Markdown and HTML that say what the gate decided."""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import pandas as pd
import pytest

import cvn_assets
from cvn_assets.core.dossier import Dossier, DossierFiles, build_dossier, embedded_markdown, write_dossier
from cvn_assets.core.dossier.document import to_markdown
from cvn_assets.core.dossier.report import dossier_blocks
from cvn_assets.core.errors import CatalogueError, InsufficientDataError
from cvn_assets.execution import close_pools, worker_pool
from cvn_assets_tests.core.dossier.results_table import FACTOR, FAILURE_MESSAGE, SWEEP, toy_catalogue, toy_results

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = {"delta_f1_heatmap", "reliability", "delta_f1_ci"}


@pytest.fixture(scope="module")
def dossier() -> Dossier:
    return build_dossier(
        toy_results(), toy_catalogue(), FACTOR, lineage={"code_version": "abc123", "MLFLOW_TRACKING_TOKEN": "s3cr3t"}
    )


@pytest.fixture(scope="module")
def files(dossier: Dossier, tmp_path_factory: pytest.TempPathFactory) -> DossierFiles:
    return write_dossier(dossier, tmp_path_factory.mktemp("dossier"))


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.tables = 0
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        elif tag != "meta":
            self.open.append(tag)
        self.tables += tag == "table"

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing open"


def _png_size(payload: bytes) -> tuple[int, int]:
    assert payload[:8] == PNG_SIGNATURE
    assert payload[12:16] == b"IHDR"
    return struct.unpack(">II", payload[16:24])


def test_the_verdicts_are_the_gates(dossier: Dossier) -> None:
    verdicts = dict(zip(dossier.summary["variant"], dossier.summary["verdict"], strict=True))
    assert verdicts == {"mild": "LOCK", "aggressive": "ABANDON"}
    assert dossier.sweep_id == SWEEP and dossier.model == "xgboost" and dossier.baseline == "none"


def test_every_figure_is_a_readable_non_empty_png(files: DossierFiles) -> None:
    assert set(files.figures) == FIGURES
    for path in files.figures.values():
        width, height = _png_size(path.read_bytes())
        assert width > 100 and height > 100
        pixels = matplotlib.image.imread(path)
        assert pixels.shape[:2] == (height, width)
        assert pixels.std() > 0.01  # something is drawn, not a blank canvas


def test_markdown_has_the_gate_table_with_observed_values_and_thresholds(files: DossierFiles) -> None:
    markdown = files.markdown.read_text()
    assert "| gate | observed | threshold | result | detail |" in markdown
    # observed mean lift of each variant against its threshold, and the outcome
    assert "| f1_buy_lift.mean | 0.02974 | 0.015 | pass |" in markdown
    assert "| f1_buy_lift.mean | -0.01888 | 0.015 | FAIL |" in markdown
    assert "### mild: LOCK" in markdown and "### aggressive: ABANDON" in markdown
    assert "## Thresholds" in markdown and "| min_mean_delta_f1 | 0.015 |" in markdown
    assert "| bootstrap_resamples | 1000 |" in markdown  # the catalogue's value, not the default
    for name in FIGURES:
        assert f"](figures/{name}.png)" in markdown


def test_the_thresholds_name_the_inference_method_and_its_measured_rates(files: DossierFiles) -> None:
    markdown = files.markdown.read_text()
    document = json.loads((Path(cvn_assets.__file__).parent / "core" / "gate" / "error_rates.json").read_text())
    null = next(r for r in document["results"] if (r["method"], r["rho"], r["lift"]) == ("cluster_t", 0.5, 0.0))
    assert "cluster-robust t on per-crypto means (n_crypto − 1 df) (`inference: cluster_t`)" in markdown
    assert f"false LOCK {null['lock_rate']:.1%}" in markdown and f"CI coverage {null['coverage']:.1%}" in markdown
    assert "| inference | cluster_t |" in markdown


def test_per_crypto_excluded_cells_mde_and_lineage_are_reported(files: DossierFiles) -> None:
    markdown = files.markdown.read_text()
    assert "| aggressive | EOS | 4 |" in markdown  # the failed cell leaves EOS 4 pairs
    assert f"| aggressive | EOS | f2 | variant status training_failed ({FAILURE_MESSAGE}) |" in markdown
    assert "| mild | 25 |" in markdown and "| +0.0150 | yes |" in markdown  # MDE table: lift detectable
    assert "| code_version | abc123 |" in markdown
    assert "s3cr3t" not in markdown and "| MLFLOW_TRACKING_TOKEN | *** |" in markdown


def test_html_is_well_formed_and_self_contained(files: DossierFiles) -> None:
    page = _Page()
    page.feed(files.html.read_text())
    page.close()
    assert page.open == []
    assert page.tables >= 6
    assert len(page.images) == len(FIGURES)
    embedded = {base64.b64decode(src.removeprefix("data:image/png;base64,")) for src in page.images}
    assert embedded == {path.read_bytes() for path in files.figures.values()}


def test_the_embedded_markdown_inlines_the_same_pngs(dossier: Dossier, files: DossierFiles) -> None:
    markdown = embedded_markdown(dossier, files)
    assert "figures/" not in markdown
    assert markdown.count("(data:image/png;base64,") == len(FIGURES)
    assert len(markdown) < 400_000


def test_the_same_dossier_gives_byte_identical_files(dossier: Dossier, files: DossierFiles, tmp_path: Path) -> None:
    again = write_dossier(
        build_dossier(toy_results(), toy_catalogue(), FACTOR, lineage=dict(dossier.lineage)), tmp_path
    )
    assert again.markdown.read_bytes() == files.markdown.read_bytes()
    assert again.html.read_bytes() == files.html.read_bytes()
    for name, path in files.figures.items():
        assert again.figures[name].read_bytes() == path.read_bytes()


@pytest.mark.slow
def test_figures_drawn_at_once_in_worker_processes_are_the_same_files(
    dossier: Dossier, files: DossierFiles, tmp_path: Path
) -> None:
    try:
        elsewhere = write_dossier(dossier, tmp_path, worker_pool(2).submit)
    finally:
        close_pools()
    assert set(elsewhere.figures) == FIGURES
    for name, path in files.figures.items():
        assert elsewhere.figures[name].read_bytes() == path.read_bytes()
    assert elsewhere.html.read_bytes() == files.html.read_bytes()


def test_matplotlib_loads_only_where_a_figure_is_drawn() -> None:
    # The sweep's process writes dossiers whose figures its workers draw: it need not pay the import.
    code = "import sys, cvn_assets.core.dossier, cvn_assets.defs.evaluation.dossier; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "False"


def test_a_table_without_reliability_bins_says_so_instead_of_failing(tmp_path: Path) -> None:
    files = write_dossier(build_dossier(toy_results(with_bins=False), toy_catalogue(), FACTOR), tmp_path)
    markdown = files.markdown.read_text()
    assert "has no `reliability_bins` column" in markdown
    assert "No lineage recorded" in markdown
    assert set(files.figures) == FIGURES - {"reliability"}


def test_a_sanity_blocked_cell_is_listed_and_makes_the_verdict_inconclusive(tmp_path: Path) -> None:
    # mild passes every other gate, so a calibration gate that is not evaluable withholds its LOCK.
    results = toy_results()
    blocked = (results["variant"] == "mild") & (results["crypto"] == "BTC") & (results["fold"] == "f4")
    results.loc[blocked, "ece_hold"] = 0.0
    dossier = build_dossier(results, toy_catalogue(), FACTOR)
    assert dict(zip(dossier.summary["variant"], dossier.summary["verdict"], strict=True))["mild"] == "INCONCLUSIVE"
    markdown = write_dossier(dossier, tmp_path).markdown.read_text()
    assert (
        "| mild | BTC | f4 | blocking check failed: ece_hold exactly 0.0 on model xgboost (calibration not evaluable) |"
    ) in markdown


def test_a_joint_rule_that_did_not_run_explains_why_and_draws_nothing(tmp_path: Path) -> None:
    cleanlab = (
        toy_results()
        .query("variant != 'aggressive'")
        .replace({"factor": {FACTOR: "cleanlab"}, "variant": {"none": "off", "mild": "filter"}})
    )
    cleanlab.loc[cleanlab["variant"] == "filter", "f1_buy"] -= 0.06
    dossier = build_dossier(pd.concat([toy_results(), cleanlab]), toy_catalogue(), f"{FACTOR}_x_cleanlab")
    files = write_dossier(dossier, tmp_path)
    markdown = files.markdown.read_text()
    assert dossier.summary["verdict"].tolist() == ["INCONCLUSIVE"]
    assert "joint variant not materialized" in markdown and "cleanlab: no variant passes its gate" in markdown
    assert files.figures == {}


def test_figures_of_an_earlier_dossier_do_not_linger(files: DossierFiles, tmp_path: Path) -> None:
    write_dossier(build_dossier(toy_results(), toy_catalogue(), FACTOR), tmp_path)
    files = write_dossier(build_dossier(toy_results(with_bins=False), toy_catalogue(), FACTOR), tmp_path)
    assert sorted(p.stem for p in (tmp_path / "figures").glob("*.png")) == sorted(files.figures)


def test_images_the_dossier_did_not_draw_survive_in_its_folder(tmp_path: Path) -> None:
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "my_plot.png").write_bytes(PNG_SIGNATURE)
    write_dossier(build_dossier(toy_results(), toy_catalogue(), FACTOR), tmp_path)
    assert (tmp_path / "figures" / "my_plot.png").read_bytes() == PNG_SIGNATURE


def test_an_unknown_factor_names_what_the_catalogue_gates() -> None:
    with pytest.raises(CatalogueError, match=r"unknown factor 'focal'; the catalogue gates: \['label_smoothing'"):
        build_dossier(toy_results(), toy_catalogue(), "focal")


def test_a_factor_of_the_catalogue_absent_from_the_table_names_the_factors_present() -> None:
    message = r"\['cleanlab'\] have no rows.*factors present: \['label_smoothing'\]"
    with pytest.raises(InsufficientDataError, match=message):
        build_dossier(toy_results(), toy_catalogue(), "cleanlab")


def _skill_results() -> pd.DataFrame:
    """The toy table with skill recorded: none lacks it on BTC and ETH (lift below 0), mild on BTC (BUY on
    80 % of bars); aggressive has it on every ok cell, its failed (EOS, f2) cell aside."""
    results = toy_results()
    results["always_buy_f1"] = 0.3
    results["buy_signal_rate"] = 0.3
    results["f1_lift_over_always_buy"] = 0.02
    no_lift = (results["variant"] == "none") & results["crypto"].isin(["BTC", "ETH"])
    results.loc[no_lift, "f1_lift_over_always_buy"] = -0.01
    results.loc[(results["variant"] == "mild") & (results["crypto"] == "BTC"), "buy_signal_rate"] = 0.8
    failed = results["status"] != "ok"
    results.loc[failed, ["always_buy_f1", "buy_signal_rate", "f1_lift_over_always_buy"]] = float("nan")
    return results


def test_the_dossier_counts_the_cells_of_each_variant_with_skill_against_always_buy() -> None:
    # Rows in reverse order: the table still shows the baseline first.
    dossier = build_dossier(_skill_results().iloc[::-1].reset_index(drop=True), toy_catalogue(), FACTOR)
    markdown = to_markdown(dossier_blocks(dossier, set()), str)
    assert "## Skill against always-BUY" in markdown
    assert "| none | xgboost | skill: 15/25 cells | " in markdown
    # BUY on 80 % of BTC's bars: mild's mean signal rate is (5 · 0.8 + 20 · 0.3) / 25 = 40 %.
    assert "| mild | xgboost | skill: 20/25 cells | " in markdown and "| 40.0% |" in markdown
    assert "| aggressive | xgboost | skill: 24/25 cells | " in markdown
    skill_section = markdown.split("## Skill against always-BUY")[1].split("## Gate table")[0]
    assert skill_section.index("| none |") < skill_section.index("| aggressive |")
    # Next to each verdict too.
    assert "| mild | xgboost | LOCK | 20/25 | 25 |" in markdown
    assert "| aggressive | xgboost | ABANDON | 24/25 | 24 |" in markdown


def test_a_table_written_before_the_skill_metrics_says_skill_cannot_be_counted() -> None:
    markdown = to_markdown(dossier_blocks(build_dossier(toy_results(), toy_catalogue(), FACTOR), set()), str)
    assert "so skill against always-BUY cannot be counted" in markdown
    assert "| mild | xgboost | LOCK | n/a | 25 |" in markdown
