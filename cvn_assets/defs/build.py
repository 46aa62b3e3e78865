"""Builds the Definitions of the code location from the settings and the catalogue."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from cvn_assets.core.catalogue.loading import Catalogue
from cvn_assets.core.learners.param_check import check_catalogue_learners
from cvn_assets.core.secrets import install_log_scrubber
from cvn_assets.defs.alerts.sensors import SENSORS
from cvn_assets.defs.cells.step import build_cell_asset
from cvn_assets.defs.checks import build_checks
from cvn_assets.defs.data.assets import build_data_assets
from cvn_assets.defs.evaluation.assets import RESULTS_IO_MANAGER, build_evaluation_assets
from cvn_assets.defs.evaluation.dossier import build_dossier_assets
from cvn_assets.defs.evaluation.promotion import PROMOTION_SENSOR, build_promotion_assets
from cvn_assets.defs.io_managers import FinetuneResultsIOManager, FrameIOManager
from cvn_assets.defs.jobs import build_jobs
from cvn_assets.defs.k8s import K8S_JOB_TAGS, executor_from_name
from cvn_assets.defs.monitoring.assets import build_monitoring_assets
from cvn_assets.defs.partitions import build_partitions
from cvn_assets.defs.resources import (
    ASSETS_FOLDER,
    AlertSinkResource,
    ArtifactStoreResource,
    OhlcvSourceResource,
    ResultsStoreResource,
    SweepResource,
)
from cvn_assets.defs.schedules import build_schedules
from cvn_assets.defs.settings import Settings
from cvn_assets.lineage.tracking import MlflowTrackingResource
from cvn_assets.orchestration.runs import SWEEP_JOB
from cvn_assets.orchestration.scheduled_sweep import build_sweep_job
from cvn_assets.orchestration.submit import build_sweep_sensor


def build_defs(settings: Settings | None = None) -> dg.Definitions:
    """All assets, resources and jobs; the catalogue is validated here, so a bad one fails at load time."""
    install_log_scrubber()
    settings = settings or Settings.from_env()
    sweep = SweepResource(
        catalogue_path=settings.catalogue_path,
        universe=settings.universe,
        sweep_id=settings.sweep_id,
        n_threads=settings.n_threads,
        cell_workers=settings.cell_workers,
        cell_processes=settings.cell_processes,
        cells_per_run=settings.cells_per_run,
        poll_seconds=settings.sweep_poll_seconds,
    )
    check_catalogue_learners(sweep.catalogue)
    partitions = build_partitions(sweep.catalogue)
    results = ResultsStoreResource(url=settings.results_url)
    resources = {
        "ohlcv_source": OhlcvSourceResource(
            directory=settings.data_dir,
            file_pattern=settings.data_pattern,
            sql_url=settings.data_sql_url,
            sql_table=settings.data_sql_table,
            max_gap_bars=_max_gap_bars(settings, sweep.catalogue),
        ),
        "sweep": sweep,
        "results": results,
        "artifacts": ArtifactStoreResource(base_dir=settings.storage_dir),
        "io_manager": FrameIOManager(base_dir=str(Path(settings.storage_dir) / ASSETS_FOLDER)),
        RESULTS_IO_MANAGER: FinetuneResultsIOManager(results=results, sweep=sweep),
        "tracking": MlflowTrackingResource(enabled=settings.mlflow_enabled, tracking_uri=settings.mlflow_uri),
        "alert_sink": AlertSinkResource(
            url=settings.alerts_url or settings.results_url, webhook_url=settings.alert_webhook_url
        ),
    }
    models, ensembles = sweep.catalogue.models, sweep.catalogue.ensembles
    assets = [
        *build_data_assets(partitions),
        *build_cell_asset(partitions, models, ensembles, sweep.catalogue.pipeline.folds.n_folds),
        *build_evaluation_assets(partitions),
        *build_promotion_assets(partitions),
        *build_dossier_assets(partitions),
        *build_monitoring_assets(partitions, sweep.catalogue.primary_model),
    ]
    checks = build_checks(partitions)
    jobs = build_jobs(assets, partitions.cell)
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        resources=resources,
        sensors=[*SENSORS, PROMOTION_SENSOR, build_sweep_sensor(settings, jobs, lambda: build_defs(settings))],
        jobs=[*jobs, build_sweep_job(lambda: build_defs(settings), tags=K8S_JOB_TAGS[SWEEP_JOB])],
        schedules=build_schedules(settings, sweep.catalogue.universe),
        executor=executor_from_name(settings.executor),
    )


def _max_gap_bars(settings: Settings, catalogue: Catalogue) -> int:
    """CVN_MAX_GAP_BARS when set, else the catalogue's `data.max_gap_bars`."""
    return catalogue.pipeline.data.max_gap_bars if settings.max_gap_bars is None else settings.max_gap_bars
