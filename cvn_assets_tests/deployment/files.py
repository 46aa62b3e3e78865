"""The deployment files under test, and validation of a config section against a Dagster config schema."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT_DIR = REPO_ROOT / "deployment"
INSTANCE_YAML = DEPLOYMENT_DIR / "dagster.yaml"
K8S_INSTANCE_YAML = DEPLOYMENT_DIR / "k8s" / "dagster.yaml"
K8S_RESOURCES_YAML = DEPLOYMENT_DIR / "k8s" / "resources.yaml"
HELM_VALUES_YAML = DEPLOYMENT_DIR / "helm" / "values.yaml"
DOCKERFILE = DEPLOYMENT_DIR / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

PG_ENV = {
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "secret",
    "DAGSTER_PG_HOST": "db.internal",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_PORT": "5432",
}


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def configurable_class(section: Mapping[str, Any]) -> type:
    """The class a `module`/`class`/`config` section of dagster.yaml names, imported as Dagster would."""
    return getattr(importlib.import_module(section["module"]), section["class"])


def validate_section(config_schema: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    """`config` checked and completed against `config_schema`, or DagsterInvalidConfigError naming the bad key.

    The instance validates only the top level of dagster.yaml, where a class's `config` is free-form.
    The public route to a schema check is run config validation, so the schema becomes an op's config.
    """

    @dg.op(name="section", config_schema=config_schema)
    def section() -> None: ...

    @dg.job(name="validate_section")
    def validation_job() -> None:
        section()

    validated = dg.validate_run_config(validation_job, {"ops": {"section": {"config": dict(config)}}})
    return validated["ops"]["section"]["config"]
