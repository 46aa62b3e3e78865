"""One `dagster dev` (web server + daemon) over a fresh instance with a tiny sweep, shared by the e2e tests.

Before the server starts, the label-smoothing cells are materialized in process on the same
instance, except the `fold_metrics` of one cell (`UiStack.ui_cell`), which the browser test
materializes from the UI before it materializes the factor's gate verdict. The cleanlab
configurations stay unmaterialized for the GraphQL test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from cvn_assets.core.catalogue.configs import BASELINE_CONFIG_ID
from cvn_assets.core.catalogue.loading import Catalogue
from cvn_assets.core.results.store import ResultsStore
from cvn_assets.core.training.folds import fold_ids
from cvn_assets.defs.build import build_defs
from cvn_assets.defs.jobs import CELL_JOB
from cvn_assets.defs.partitions import cell_key
from cvn_assets.defs.resources import SweepResource
from cvn_assets.defs.settings import Settings
from cvn_assets.orchestration.runner import QUIET_CONSOLE, run_sweep
from cvn_assets_tests.conftest import small_catalogue_document
from cvn_assets_tests.e2e.dagster_dev import DagsterDev

REPO = Path(__file__).resolve().parents[2]
MODULE = "cvn_assets.definitions"
FOLD_METRICS = dg.AssetKey("fold_metrics")
GATE_FACTOR = "label_smoothing"
SEEDED_CONFIGS = (BASELINE_CONFIG_ID,)
UI_CONFIG = "ls_mild"
SERVER_START_TIMEOUT_S = 300.0


def e2e_catalogue_document() -> dict:
    document = small_catalogue_document()
    # One label-smoothing variant besides the baseline: the gate has a verdict to show, seeding stays short.
    del document["factors"]["label_smoothing"]["variants"]["aggressive"]
    # Two folds keep a one-variant backfill to 2 cryptos x 2 folds = 4 runs through the daemon.
    document["folds"] = {"n_folds": 2}
    # Every crypto x fold pair is needed, so the gate's statistics decide rather than the pair count.
    document["gate"] = {"min_valid_pairs": 4}
    return document


def artifacts_dir() -> Path:
    """Screenshots and the server log: `$CVN_TEST_ARTIFACTS/ui`, else `<repo>/test-artifacts/ui`."""
    base = Path(os.environ.get("CVN_TEST_ARTIFACTS") or REPO / "test-artifacts")
    directory = base / "ui"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@dataclass(frozen=True)
class UiStack:
    server: DagsterDev
    location: str
    defs: dg.Definitions
    settings: Settings
    instance_dir: Path
    ui_cell: str
    artifacts: Path

    @property
    def sweep(self) -> SweepResource:
        resource = self.defs.resources["sweep"]
        assert isinstance(resource, SweepResource)
        return resource

    @property
    def catalogue(self) -> Catalogue:
        return self.sweep.catalogue

    @property
    def folds(self) -> list[str]:
        return fold_ids(self.catalogue.pipeline.folds)

    def results(self) -> pd.DataFrame:
        """`finetune_results` rows of this sweep, as the code location wrote them."""
        return ResultsStore(self.settings.results_url).read(self.sweep.name)


def stack_environment(root: Path, data_dir: Path) -> dict[str, str]:
    """The server's environment: this process's, minus any CVN_* or DAGSTER_HOME, plus the tiny sweep's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CVN_") and k != "DAGSTER_HOME"}
    env.update(stack_settings(root, data_dir))
    return env


def stack_settings(root: Path, data_dir: Path) -> dict[str, str]:
    storage = root / "storage"
    return {
        "DAGSTER_HOME": str(root / "dagster_home"),
        "CVN_CATALOGUE": str(root / "catalogue.yaml"),
        "CVN_DATA_DIR": str(data_dir),
        "CVN_DATA_PATTERN": "{crypto}.csv",
        "CVN_STORAGE_DIR": str(storage),
        "CVN_RESULTS_URL": f"sqlite:///{storage / 'results.db'}",
        "CVN_THREADS": "1",
        "CVN_SCHEDULES": "off",
    }


def _quiet(_: str) -> None:
    return None


def seed_instance(defs: dg.Definitions, instance_dir: Path, ui_cell: tuple[str, str, str]) -> None:
    """Every label-smoothing cell, all but the `fold_metrics` of `ui_cell`, through the sweep runner."""
    catalogue = defs.resources["sweep"].catalogue
    ui_crypto, ui_fold, ui_config = ui_cell
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        failures = dict(run_sweep(defs, instance, configs=list(SEEDED_CONFIGS), gate=False, log=_quiet).failures)
        for crypto in catalogue.universe:
            folds = [f for f in fold_ids(catalogue.pipeline.folds) if (crypto, f) != (ui_crypto, ui_fold)]
            if folds:
                failures |= run_sweep(
                    defs, instance, cryptos=[crypto], folds=folds, configs=[ui_config], gate=False, log=_quiet
                ).failures
        cell_job = defs.resolve_job_def(CELL_JOB)
        upstream = [
            spec.key
            for spec in defs.resolve_all_asset_specs()
            if spec.partitions_def == cell_job.partitions_def and spec.key != FOLD_METRICS
        ]
        partial = cell_job.execute_in_process(
            partition_key=str(cell_key(*ui_cell)),
            instance=instance,
            asset_selection=upstream,
            run_config=QUIET_CONSOLE,
            raise_on_error=False,
        )
        assert partial.success, f"seeding the upstream of {cell_key(*ui_cell)} failed"
    assert not failures, f"seeding failed: {failures}"


@pytest.fixture(scope="session")
def ui_stack(tmp_path_factory: pytest.TempPathFactory, small_data_dir: Path) -> Iterator[UiStack]:
    root = tmp_path_factory.mktemp("ui_stack")
    (root / "catalogue.yaml").write_text(yaml.safe_dump(e2e_catalogue_document(), sort_keys=False))
    instance_dir = root / "dagster_home"
    instance_dir.mkdir()
    shutil.copy(REPO / "dagster.yaml", instance_dir / "dagster.yaml")
    # The tests read the same settings the server's code location reads from its environment.
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("CVN_")]:
            patch.delenv(key)
        for key, value in stack_settings(root, small_data_dir).items():
            patch.setenv(key, value)
        settings = Settings.from_env()
    defs = build_defs(settings)
    catalogue = defs.resources["sweep"].catalogue
    ui_cell = (catalogue.universe[-1], fold_ids(catalogue.pipeline.folds)[-1], UI_CONFIG)
    seed_instance(defs, instance_dir, ui_cell)

    artifacts = artifacts_dir()
    server = DagsterDev.start(
        MODULE, stack_environment(root, small_data_dir), cwd=root, log_path=artifacts / "dagster-dev.log"
    )
    try:
        location = server.wait_until_loaded(SERVER_START_TIMEOUT_S)
        yield UiStack(
            server=server,
            location=location,
            defs=defs,
            settings=settings,
            instance_dir=instance_dir,
            ui_cell=str(cell_key(*ui_cell)),
            artifacts=artifacts,
        )
    finally:
        server.stop()
