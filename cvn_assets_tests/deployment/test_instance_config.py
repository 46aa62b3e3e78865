"""The production dagster.yaml files, section by section, against the schemas Dagster loads them with."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

# No public API validates a dagster.yaml without connecting to its storage; this is the check
# DagsterInstance.from_config runs first, before it opens PostgreSQL.
from dagster._core.instance.config import dagster_instance_config
from dagster_postgres import DagsterPostgresStorage

from cvn_assets.defs.k8s import HEAVY_RUN_TAG, HEAVY_RUN_TAG_VALUE, K8S_JOB_TAGS
from cvn_assets_tests.deployment.files import (
    INSTANCE_YAML,
    K8S_INSTANCE_YAML,
    PG_ENV,
    configurable_class,
    load_yaml,
    validate_section,
)

INSTANCE_FILES = [
    pytest.param(INSTANCE_YAML, id="dagster.yaml"),
    pytest.param(K8S_INSTANCE_YAML, id="k8s/dagster.yaml"),
]


@pytest.fixture
def pg_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in PG_ENV.items():
        monkeypatch.setenv(name, value)
    return PG_ENV


def check_top_level(config: dict[str, Any], home: Path) -> None:
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    dagster_instance_config(str(home))


def class_sections(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: section for name, section in config.items() if isinstance(section, dict) and "class" in section}


@pytest.mark.parametrize("path", INSTANCE_FILES)
def test_top_level_sections_are_known_to_the_instance(path: Path, tmp_path: Path) -> None:
    shutil.copy(path, tmp_path / "dagster.yaml")
    config, custom_instance_class = dagster_instance_config(str(tmp_path))
    assert custom_instance_class is None
    assert {"storage", "run_coordinator", "run_monitoring", "run_retries"} <= set(config)


@pytest.mark.parametrize("path", INSTANCE_FILES)
def test_each_configurable_class_section_matches_its_class_schema(path: Path) -> None:
    sections = class_sections(load_yaml(path))
    expected = {"run_coordinator"} | ({"run_launcher"} if path == K8S_INSTANCE_YAML else set())
    assert set(sections) == expected
    for section in sections.values():
        klass = configurable_class(section)
        validate_section(klass.config_type(), section.get("config") or {})


@pytest.mark.parametrize("path", INSTANCE_FILES)
def test_storage_matches_the_postgres_storage_schema(path: Path, pg_env: dict[str, str]) -> None:
    postgres = load_yaml(path)["storage"]["postgres"]
    resolved = validate_section(DagsterPostgresStorage.config_type(), postgres)["postgres_db"]
    assert resolved["username"] == pg_env["DAGSTER_PG_USERNAME"]
    assert resolved["hostname"] == pg_env["DAGSTER_PG_HOST"]
    assert resolved["port"] == int(pg_env["DAGSTER_PG_PORT"])
    # SQLAlchemy 2.1 would pick psycopg 3 for a bare postgresql://, which dagster-postgres does not ship.
    assert resolved["scheme"] == "postgresql+psycopg2"


@pytest.mark.parametrize("path", INSTANCE_FILES)
def test_storage_credentials_come_only_from_the_environment(path: Path) -> None:
    postgres_db = load_yaml(path)["storage"]["postgres"]["postgres_db"]
    from_env = {key: value["env"] for key, value in postgres_db.items() if isinstance(value, dict)}
    assert from_env == {
        "username": "DAGSTER_PG_USERNAME",
        "password": "DAGSTER_PG_PASSWORD",
        "hostname": "DAGSTER_PG_HOST",
        "db_name": "DAGSTER_PG_DB",
        "port": "DAGSTER_PG_PORT",
    }


def test_a_missing_environment_variable_is_named(pg_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_PG_HOST")
    with pytest.raises(dg.DagsterInvalidConfigError, match="DAGSTER_PG_HOST"):
        validate_section(DagsterPostgresStorage.config_type(), load_yaml(INSTANCE_YAML)["storage"]["postgres"])


@pytest.mark.parametrize(
    ("section", "path", "key", "typo"),
    [
        ("run_launcher", ["config"], "job_namespace", "job_namespce"),
        ("run_launcher", ["config", "run_k8s_config"], "pod_spec_config", "pod_spec_confg"),
        ("run_coordinator", ["config", "tag_concurrency_limits", 0], "limit", "limt"),
    ],
)
def test_a_nested_typo_passes_the_instance_check_but_not_its_class_schema(
    section: str,
    path: list[str | int],
    key: str,
    typo: str,
    tmp_path: Path,
) -> None:
    config = copy.deepcopy(load_yaml(K8S_INSTANCE_YAML))
    parent = config[section]
    for step in path:
        parent = parent[step]
    parent[typo] = parent.pop(key)

    check_top_level(config, tmp_path / "home")
    with pytest.raises(dg.DagsterInvalidConfigError, match=f'unexpected config entry "{typo}"'):
        validate_section(configurable_class(config[section]).config_type(), config[section]["config"])


def test_a_typo_in_the_storage_is_caught_by_the_instance_check(tmp_path: Path) -> None:
    config = copy.deepcopy(load_yaml(INSTANCE_YAML))
    postgres_db = config["storage"]["postgres"]["postgres_db"]
    postgres_db["hostnme"] = postgres_db.pop("hostname")
    with pytest.raises(dg.DagsterInvalidConfigError, match="hostnme"):
        check_top_level(config, tmp_path / "home")


def test_the_k8s_instance_is_the_base_instance_plus_a_k8s_run_launcher() -> None:
    base, k8s = load_yaml(INSTANCE_YAML), load_yaml(K8S_INSTANCE_YAML)
    launcher = k8s.pop("run_launcher")
    assert k8s == base
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")


def test_heavy_jobs_share_a_run_queue_limit_below_the_global_one() -> None:
    queue = load_yaml(INSTANCE_YAML)["run_coordinator"]["config"]
    limits = [limit for limit in queue["tag_concurrency_limits"] if limit["key"] == HEAVY_RUN_TAG]
    assert limits == [{"key": HEAVY_RUN_TAG, "value": HEAVY_RUN_TAG_VALUE, "limit": limits[0]["limit"]}]
    assert 0 < limits[0]["limit"] < queue["max_concurrent_runs"]
    assert K8S_JOB_TAGS["cell_job"][HEAVY_RUN_TAG] == HEAVY_RUN_TAG_VALUE


def test_runs_time_out_and_only_lost_workers_are_retried() -> None:
    config = load_yaml(INSTANCE_YAML)
    monitoring, retries = config["run_monitoring"], config["run_retries"]
    assert monitoring["enabled"]
    assert monitoring["start_timeout_seconds"] > 0 and monitoring["cancel_timeout_seconds"] > 0
    for job, tags in K8S_JOB_TAGS.items():
        assert 0 < int(str(tags[dg.MAX_RUNTIME_SECONDS_TAG])) <= monitoring["max_runtime_seconds"], job
    assert retries["enabled"] and retries["max_retries"] > 0
    assert retries["retry_on_asset_or_op_failure"] is False
