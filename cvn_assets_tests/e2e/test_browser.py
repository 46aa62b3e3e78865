"""The web UI in a real Chromium, as a researcher uses it: materialize a cell, then read the gate verdict.

Screenshots of every step are written to the folder printed at the start (see `artifacts_dir`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

from cvn_assets.defs.partitions import split_cell_key
from cvn_assets_tests.e2e.conftest import GATE_FACTOR, UiStack

CHROMIUM = Path("/usr/bin/chromium")
HEADLESS_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UI_TIMEOUT_MS = 120_000
RUN_TIMEOUT_MS = 600_000
RUN_FINISHED = re.compile(r"^run_(success|failed|canceled)$")
VERDICTS = {"LOCK", "KEEP_AVAILABLE", "ABANDON", "INCONCLUSIVE"}


class Screenshots:
    """Numbered screenshots, one per step, in the artifacts folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.taken: list[Path] = []

    def take(self, page: Page, name: str) -> Path:
        path = self.directory / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path))
        self.taken.append(path)
        return path


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `make browser` (scripts/ensure-chromium.sh)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=HEADLESS_FLAGS,
            headless=True,
            viewport={"width": 1600, "height": 1000},
        )
        context.set_default_timeout(UI_TIMEOUT_MS)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def launch_one_partition(page: Page, asset: str, keys: list[str]) -> Locator:
    """In the open launch dialog of `asset`, pick one key per partition dimension; returns the dialog."""
    dialog = page.get_by_role("dialog").filter(has_text=f"Launch runs to materialize {asset}")
    expect(dialog).to_be_visible(timeout=UI_TIMEOUT_MS)
    search = page.get_by_role("textbox", name="Filter partitions")
    for key in keys:
        dialog.get_by_text("Select a partition or create one").first.click()
        search.fill(key)
        page.get_by_role("menuitem").filter(has=page.get_by_text(key, exact=True)).click()
        page.keyboard.press("Escape")
        # The next dimension's menu has a search box of its own: wait until this one has closed.
        expect(search).to_have_count(0, timeout=UI_TIMEOUT_MS)
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    return dialog


def follow_launched_run(page: Page, base_url: str) -> tuple[str, str]:
    """Open the run announced by the launch notification and wait until it finishes: (run id, status icon)."""
    view = page.get_by_role("region", name=re.compile("Notifications")).get_by_role("link", name="View")
    href = view.get_attribute("href", timeout=UI_TIMEOUT_MS)
    assert href and href.startswith("/runs/"), href
    page.goto(base_url + href)
    finished = page.get_by_role("img", name=RUN_FINISHED).first
    finished.wait_for(timeout=RUN_TIMEOUT_MS)
    return href.removeprefix("/runs/").split("?")[0], str(finished.get_attribute("aria-label"))


@pytest.mark.slow
def test_materialize_a_cell_from_the_ui_then_read_the_gate_verdict(
    ui_stack: UiStack, page: Page, capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        print(f"\nweb UI screenshots: {ui_stack.artifacts}")
    shots = Screenshots(ui_stack.artifacts)
    base = ui_stack.server.url
    crypto, fold, config_id = split_cell_key(ui_stack.ui_cell)
    first_visit = ui_stack.server.graphql("{ shouldShowNux }")["shouldShowNux"]

    page.goto(f"{base}/asset-groups")
    if first_visit:  # a fresh instance greets its first visitor with a newsletter dialog
        greeting = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
        greeting.get_by_role("button", name="Skip").click()
    expect(page.get_by_role("button", name="Materialize all…")).to_be_visible(timeout=UI_TIMEOUT_MS)
    shots.take(page, "asset-graph")

    # The CodeMirror filter box takes keystrokes, as a person types them.
    page.get_by_role("textbox", name="Search and filter assets").focus()
    page.keyboard.type('key:"fold_metrics"')
    page.keyboard.press("Enter")
    materialize = page.get_by_role("button", name="Materialize…")
    expect(materialize).to_be_visible(timeout=UI_TIMEOUT_MS)
    shots.take(page, "graph-filtered-to-fold-metrics")

    materialize.click()
    dialog = launch_one_partition(page, "fold_metrics", [crypto, f"{fold}.{config_id}"])
    shots.take(page, "fold-metrics-partition-picked")
    dialog.get_by_role("button", name="Launch 1 run").click()
    cell_run, status = follow_launched_run(page, base)
    assert status == "run_success", ui_stack.server.log_tail()
    expect(page.get_by_text(f"partition: {ui_stack.ui_cell}")).to_be_visible(timeout=UI_TIMEOUT_MS)
    shots.take(page, "fold-metrics-run-succeeded")

    results = ui_stack.results()
    cell_rows = results[(results["crypto"] == crypto) & (results["fold"] == fold) & (results["config_id"] == config_id)]
    assert not cell_rows.empty and set(cell_rows["run_id"]) == {cell_run}

    page.goto(f"{base}/assets/gate_verdict")
    page.get_by_role("button", name="Materialize…").click()
    dialog = launch_one_partition(page, "gate_verdict", [GATE_FACTOR])
    shots.take(page, "gate-verdict-partition-picked")
    dialog.get_by_role("button", name="Launch 1 run").click()
    _, status = follow_launched_run(page, base)
    assert status == "run_success", ui_stack.server.log_tail()
    shots.take(page, "gate-verdict-run-succeeded")

    with dg.DagsterInstance.from_config(str(ui_stack.instance_dir)) as instance:
        stored = ui_stack.defs.load_asset_value("gate_verdict", partition_key=GATE_FACTOR, instance=instance)
    factor = ui_stack.catalogue.factor(GATE_FACTOR)
    factor_rows = results[results["factor"] == GATE_FACTOR]
    assert len(factor_rows) == len(ui_stack.catalogue.universe) * len(ui_stack.folds) * len(factor.variants)
    assert {row["variant"] for row in stored["table"]} == {v.name for v in factor.variants if not v.is_baseline}

    page.goto(f"{base}/assets/gate_verdict")
    table = page.get_by_role("row").filter(has=page.get_by_role("cell", name="verdicts", exact=True))
    expect(table.get_by_role("columnheader", name="verdict", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    for verdict in stored["table"]:
        assert verdict["verdict"] in VERDICTS
        line = table.get_by_role("row").filter(has=page.get_by_role("cell", name=verdict["variant"], exact=True))
        expect(line.get_by_role("cell", name=verdict["verdict"], exact=True)).to_be_visible()
    evaluated = page.get_by_role("row").filter(has=page.get_by_role("cell", name="rows_evaluated", exact=True))
    expect(evaluated.get_by_role("cell", name=str(len(factor_rows)), exact=True)).to_be_visible()
    table.scroll_into_view_if_needed()
    shots.take(page, "gate-verdict-metadata")
