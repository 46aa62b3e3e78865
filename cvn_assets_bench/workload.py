"""What a benchmark sweeps: the catalogue, the data source and the threads, shared by every part.

The Dagster parts read it from the environment, as `cvn-assets run` does; the plain loop gets the
same values directly. `--quick` writes a tiny configuration (one crypto, a few months, XGBoost with
few rounds); the re-run part writes a copy of the catalogue with one variant's parameters changed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cvn_assets.core.catalogue.loading import DEFAULT_CATALOGUE_PATH, Catalogue, load_catalogue
from cvn_assets.core.data.loading import OhlcvSourceSpec, load_ohlcv
from cvn_assets.core.errors import CatalogueError

QUICK_CRYPTOS = ("BTC",)
QUICK_ROWS = 2400
QUICK_CATALOGUE: dict[str, Any] = {
    "sweep": {"name": "bench_quick", "universe": list(QUICK_CRYPTOS), "seed": 7, "models": ["xgboost"]},
    "learners": {"xgboost": {"num_boost_round": 20}},
    "folds": {"n_folds": 2},
    "factors": {
        "label_smoothing": {
            "alias": "ls",
            "baseline": "none",
            "variants": {"none": {"eps_buy": 0.0, "eps_hold": 0.0}, "mild": {"eps_buy": 0.15, "eps_hold": 0.075}},
        },
        "cleanlab": {
            "alias": "cl",
            "baseline": "off",
            "variants": {
                "off": {"mode": "off"},
                "filter": {"mode": "filter", "inner_model_params": {"num_boost_round": 10}},
            },
        },
    },
    "joint": [["label_smoothing", "cleanlab"]],
}
CHANGED_FACTOR = "label_smoothing"
PREFERRED_VARIANT = "mild"
# The changed variant trains with two thirds of its smoothing: a parameter change, same guardrails.
CHANGE_SCALE = 2.0 / 3.0

# Settings of the deployment that the benchmark replaces or must not inherit from the caller: its
# runs, results, alerts and tracking stay inside the temporary instance.
_OWN_KEYS = (
    "DAGSTER_HOME",
    "CVN_STORAGE_DIR",
    "CVN_RESULTS_URL",
    "CVN_ALERTS_URL",
    "CVN_ALERT_WEBHOOK_URL",
    "CVN_MLFLOW_URI",
    "CVN_CATALOGUE",
    "CVN_UNIVERSE",
    "CVN_SWEEP_ID",
    "CVN_DATA_DIR",
    "CVN_DATA_PATTERN",
    "CVN_DATA_SQL_URL",
    "CVN_DATA_SQL_TABLE",
    "CVN_THREADS",
    "CVN_CELL_WORKERS",
    "CVN_CELL_PROCESSES",
)


@dataclass(frozen=True)
class Workload:
    """One sweep configuration, in the terms of the deployment settings."""

    catalogue_path: str | None = None
    universe: tuple[str, ...] | None = None
    sweep_id: str | None = None
    data_dir: str | None = None
    data_pattern: str = "{crypto}.*"
    data_sql_url: str | None = None
    data_sql_table: str | None = None
    n_threads: int = 2
    cell_workers: int = 1
    cell_processes: str = "auto"

    def catalogue(self) -> Catalogue:
        return load_catalogue(self.catalogue_path, universe=list(self.universe) if self.universe else None)

    def source(self) -> OhlcvSourceSpec:
        return OhlcvSourceSpec(
            directory=self.data_dir,
            file_pattern=self.data_pattern,
            sql_url=self.data_sql_url,
            sql_table=self.data_sql_table,
        )

    def with_catalogue(self, path: Path) -> Workload:
        return dataclasses.replace(self, catalogue_path=str(path))

    def environment(self, home: Path, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with a fresh instance and storage under `home` and this workload's settings."""
        env = {k: v for k, v in base.items() if k not in _OWN_KEYS}
        storage = home / "storage"
        env.update(
            DAGSTER_HOME=str(home),
            CVN_STORAGE_DIR=str(storage),
            CVN_RESULTS_URL=f"sqlite:///{storage / 'results.db'}",
            CVN_THREADS=str(self.n_threads),
            CVN_CELL_WORKERS=str(self.cell_workers),
            CVN_CELL_PROCESSES=self.cell_processes,
            CVN_DATA_PATTERN=self.data_pattern,
        )
        optional = {
            "CVN_CATALOGUE": self.catalogue_path,
            "CVN_SWEEP_ID": self.sweep_id,
            "CVN_DATA_DIR": self.data_dir,
            "CVN_DATA_SQL_URL": self.data_sql_url,
            "CVN_DATA_SQL_TABLE": self.data_sql_table,
            "CVN_UNIVERSE": ",".join(self.universe) if self.universe else None,
        }
        env.update({k: v for k, v in optional.items() if v})
        return env

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Workload:
        values = json.loads(text)
        if values.get("universe") is not None:
            values["universe"] = tuple(values["universe"])
        return cls(**values)

    def describe(self) -> dict[str, Any]:
        """The grid this workload sweeps, for the report."""
        catalogue = self.catalogue()
        configs = catalogue.config_ids(include_joint=False)
        folds = catalogue.pipeline.folds.n_folds
        return {
            "catalogue": catalogue.source,
            "sweep": self.sweep_id or catalogue.sweep_name,
            "universe": list(catalogue.universe),
            "folds": folds,
            "configurations": configs,
            "models": list(catalogue.models),
            "ensembles": list(catalogue.ensembles),
            "factors": [f.name for f in catalogue.factors],
            "joint_rules": [r.name for r in catalogue.joint_rules],
            "cells": len(catalogue.universe) * folds * len(configs),
            "n_threads": self.n_threads,
            "cell_workers": self.cell_workers,
            "cell_processes": self.cell_processes,
            "data": self.source().kind if self.data_dir is None else f"files {self.data_dir}/{self.data_pattern}",
        }


def quick_workload(directory: Path, n_threads: int, cell_workers: int = 1) -> Workload:
    """A tiny sweep: the first QUICK_ROWS hourly bars of QUICK_CRYPTOS, XGBoost with few rounds, 2 folds."""
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    for crypto in QUICK_CRYPTOS:
        load_ohlcv(crypto).head(QUICK_ROWS).to_csv(data / f"{crypto}.csv", index=False)
    catalogue = directory / "quick_catalogue.yaml"
    catalogue.write_text(yaml.safe_dump(QUICK_CATALOGUE, sort_keys=False))
    return Workload(
        catalogue_path=str(catalogue),
        data_dir=str(data),
        data_pattern="{crypto}.csv",
        n_threads=n_threads,
        cell_workers=cell_workers,
    )


def write_changed_catalogue(workload: Workload, target: Path) -> dict[str, Any]:
    """Copy the workload's catalogue to `target` with one label-smoothing variant's eps values changed."""
    source = Path(workload.catalogue_path) if workload.catalogue_path else DEFAULT_CATALOGUE_PATH
    document = yaml.safe_load(source.read_text())
    factor = (document.get("factors") or {}).get(CHANGED_FACTOR)
    if not factor:
        raise CatalogueError(
            f"the re-run benchmark changes a {CHANGED_FACTOR} variant, and catalogue {source} "
            f"declares no {CHANGED_FACTOR} factor"
        )
    candidates = [name for name in factor["variants"] if name != factor.get("baseline")]
    if not candidates:
        raise CatalogueError(f"catalogue {source}: factor {CHANGED_FACTOR} has no variant besides its baseline")
    variant = PREFERRED_VARIANT if PREFERRED_VARIANT in candidates else candidates[0]
    before = dict(factor["variants"][variant])
    eps_buy = round(float(before.get("eps_buy", 0.0)) * CHANGE_SCALE, 4)
    after = {
        **before,
        "eps_buy": eps_buy,
        "eps_hold": min(round(float(before.get("eps_hold", 0.0)) * CHANGE_SCALE, 4), eps_buy),
    }
    factor["variants"][variant] = after
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return {
        "catalogue": str(target),
        "factor": CHANGED_FACTOR,
        "variant": variant,
        "config_id": f"{factor.get('alias', CHANGED_FACTOR)}_{variant}",
        "before": before,
        "after": after,
    }
