"""Shared fixtures: a small real-data sweep (2 cryptos, first ~100 days) on a temporary instance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from cvn_assets.core.data.loading import load_ohlcv
from cvn_assets.defs.settings import Settings

SMALL_CRYPTOS = ("BTC", "ETH")
SMALL_ROWS = 2400


def small_catalogue_document(universe: tuple[str, ...] = SMALL_CRYPTOS) -> dict:
    return {
        "sweep": {"name": "test_sweep", "universe": list(universe), "seed": 7, "models": ["xgboost"]},
        "learners": {"xgboost": {"num_boost_round": 25}},
        "factors": {
            "label_smoothing": {
                "alias": "ls",
                "baseline": "none",
                "variants": {
                    "none": {"eps_buy": 0.0, "eps_hold": 0.0},
                    "mild": {"eps_buy": 0.15, "eps_hold": 0.075},
                    "aggressive": {"eps_buy": 0.30, "eps_hold": 0.15},
                },
            },
            "cleanlab": {
                "alias": "cl",
                "baseline": "off",
                "variants": {
                    "off": {"mode": "off"},
                    "filter": {"mode": "filter", "inner_model_params": {"num_boost_round": 20}},
                    "reweight": {"mode": "reweight", "inner_model_params": {"num_boost_round": 20}},
                },
            },
        },
        "joint": [["label_smoothing", "cleanlab"]],
    }


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CSV files of the first SMALL_ROWS real hourly bars of each small crypto."""
    directory = tmp_path_factory.mktemp("ohlcv")
    for crypto in SMALL_CRYPTOS:
        load_ohlcv(crypto).head(SMALL_ROWS).to_csv(directory / f"{crypto}.csv", index=False)
    return directory


def make_settings(
    root: Path,
    data_dir: Path,
    catalogue: dict | None = None,
    sweep_id: str | None = None,
    mlflow: bool = False,
    cells_per_run: int = 5,
) -> Settings:
    """Settings of a small sweep under `root`; MLflow tracking only when a test is about it."""
    catalogue_path = root / "catalogue.yaml"
    catalogue_path.write_text(yaml.safe_dump(catalogue or small_catalogue_document(), sort_keys=False))
    return Settings.on_files(
        catalogue_path, data_dir, root / "storage", sweep_id, mlflow_enabled=mlflow, cells_per_run=cells_per_run
    )


@pytest.fixture
def small_settings(tmp_path: Path, small_data_dir: Path) -> Settings:
    return make_settings(tmp_path, small_data_dir)


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(str(home), overrides={"telemetry": {"enabled": False}}) as temp_instance:
        yield temp_instance
