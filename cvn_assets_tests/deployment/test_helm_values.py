"""helm/values.yaml against the Dagster chart's values schema, and in step with k8s/dagster.yaml.

dagster_chart_values.schema.json is helm/dagster/values.schema.json of dagster-io/dagster at commit
bdb8547fab497826eeec292bc160b549a0a329ef, validation keywords only (titles dropped). Kubernetes
objects inside it refer to an online schema; they are accepted as they are here (helm checks them).
The chart fills every key these values leave out, so `required` is not checked.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7

from cvn_assets_tests.deployment.files import (
    HELM_VALUES_YAML,
    K8S_INSTANCE_YAML,
    K8S_RESOURCES_YAML,
    REPO_ROOT,
    load_yaml,
    load_yaml_documents,
)

CHART_SCHEMA = Path(__file__).with_name("dagster_chart_values.schema.json")
KUBERNETES_SCHEMA_URI = re.compile(r"^https://kubernetesjsonschema\.dev/")


def no_required_keys(*_: Any) -> None:
    """Values here are overrides merged onto the chart's own values, whose defaults supply every required key."""


OverrideValidator = jsonschema.validators.extend(jsonschema.Draft7Validator, {"required": no_required_keys})


def accept_any_kubernetes_object(uri: str) -> Resource:
    if not KUBERNETES_SCHEMA_URI.match(uri):
        raise NoSuchResource(uri)
    return Resource.from_contents(AnyPointer(), default_specification=DRAFT7)


class AnyPointer(dict):
    """A document in which every JSON pointer leads to the empty (accept-all) schema."""

    def __missing__(self, key: str) -> AnyPointer:
        return AnyPointer()


def chart_validator() -> jsonschema.Draft7Validator:
    registry = Registry(retrieve=accept_any_kubernetes_object)
    return OverrideValidator(json.loads(CHART_SCHEMA.read_text()), registry=registry)


def schema_errors(values: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in chart_validator().iter_errors(values)
    ]


def camel_to_snake(value: Any) -> Any:
    if isinstance(value, dict):
        return {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): camel_to_snake(item) for key, item in value.items()}
    if isinstance(value, list):
        return [camel_to_snake(item) for item in value]
    return value


@pytest.fixture
def values() -> dict[str, Any]:
    return load_yaml(HELM_VALUES_YAML)


@pytest.fixture
def instance() -> dict[str, Any]:
    return load_yaml(K8S_INSTANCE_YAML)


def test_values_match_the_chart_schema(values: dict[str, Any]) -> None:
    assert schema_errors(values) == []


@pytest.mark.parametrize(
    ("path", "typo"),
    [
        (
            ["dagsterDaemon", "runCoordinator", "config", "queuedRunCoordinator", "maxConcurrentRuns"],
            "maxConcurentRuns",
        ),
        (["runLauncher", "config", "k8sRunLauncher", "jobNamespace"], "namespace"),
        (
            ["dagsterDaemon", "runCoordinator", "config", "queuedRunCoordinator", "tagConcurrencyLimits", 0, "limit"],
            "max",
        ),
    ],
)
def test_a_misspelt_key_is_rejected(values: dict[str, Any], path: list[str | int], typo: str) -> None:
    broken = copy.deepcopy(values)
    parent: Any = broken
    for step in path[:-1]:
        parent = parent[step]
    parent[typo] = parent.pop(path[-1])
    assert any(typo in error for error in schema_errors(broken))


def test_the_k8s_run_launcher_matches_k8s_dagster_yaml(values: dict[str, Any], instance: dict[str, Any]) -> None:
    chart = camel_to_snake(values["runLauncher"]["config"]["k8sRunLauncher"])
    launcher = instance["run_launcher"]["config"]
    assert values["runLauncher"]["type"] == instance["run_launcher"]["class"] == "K8sRunLauncher"
    assert [item["name"] for item in chart.pop("env_config_maps")] == launcher["env_config_maps"]
    assert [item["name"] for item in chart.pop("env_secrets")] == launcher["env_secrets"]
    assert chart.pop("env_vars") == launcher.get("env_vars", [])
    assert chart.pop("job_namespace") == launcher["job_namespace"]
    for key, value in chart.items():
        assert launcher[key] == value, key


def test_the_run_queue_monitoring_and_retries_match_k8s_dagster_yaml(
    values: dict[str, Any], instance: dict[str, Any]
) -> None:
    daemon = camel_to_snake(values["dagsterDaemon"])
    coordinator = daemon["run_coordinator"]
    assert coordinator["enabled"] and coordinator["type"] == instance["run_coordinator"]["class"]
    assert coordinator["config"]["queued_run_coordinator"] == instance["run_coordinator"]["config"]
    assert daemon["run_monitoring"] == instance["run_monitoring"]
    assert daemon["run_retries"] == instance["run_retries"]
    retention = {key: value for key, value in values["retention"].items() if key != "enabled"}
    assert camel_to_snake(retention) == instance["retention"]
    assert values["telemetry"] == instance["telemetry"]


def test_postgres_settings_match_the_instance_and_cluster_resources(
    values: dict[str, Any], instance: dict[str, Any]
) -> None:
    postgresql, launcher = values["postgresql"], instance["run_launcher"]["config"]
    assert postgresql["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] == launcher["postgres_password_secret"]
    assert postgresql["postgresqlScheme"] == instance["storage"]["postgres"]["postgres_db"]["scheme"]
    config_map = load_yaml_documents(K8S_RESOURCES_YAML)[0]["data"]
    assert (
        postgresql["postgresqlHost"],
        postgresql["postgresqlUsername"],
        postgresql["postgresqlDatabase"],
        str(postgresql["service"]["port"]),
    ) == (
        config_map["DAGSTER_PG_HOST"],
        config_map["DAGSTER_PG_USERNAME"],
        config_map["DAGSTER_PG_DB"],
        config_map["DAGSTER_PG_PORT"],
    )
    # The chart names the instance ConfigMap after the release: "dagster" gives "dagster-instance".
    assert launcher["instance_config_map"] == "dagster-instance"


def test_the_code_location_serves_the_package_definitions_on_the_image_port(
    values: dict[str, Any], instance: dict[str, Any]
) -> None:
    [deployment] = values["dagster-user-deployments"]["deployments"]
    module = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    assert deployment["codeServerArgs"] == ["--module-name", module]
    assert deployment["port"] == 4000
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    for key in ("envConfigMaps", "envSecrets", "volumes", "volumeMounts"):
        assert deployment[key] == launcher[key], key
    assert deployment["podSecurityContext"]["runAsNonRoot"] is True
