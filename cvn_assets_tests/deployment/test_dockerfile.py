"""The code location's Dockerfile, read statically: stages, layer order, port, user, command."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from cvn_assets_tests.deployment.files import DOCKERFILE, DOCKERIGNORE, HELM_VALUES_YAML, REPO_ROOT, load_yaml


@dataclass(frozen=True)
class Instruction:
    stage: str
    keyword: str
    arguments: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with their stage name; continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    instructions, stage = [], ""
    for line in filter(None, (line.strip() for line in joined.splitlines())):
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            stage = arguments.split(" AS ")[-1].strip() if " AS " in arguments else arguments
        instructions.append(Instruction(stage, keyword.upper(), arguments.strip()))
    return instructions


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text())


def index_of(instructions: list[Instruction], keyword: str, containing: str) -> int:
    return next(i for i, item in enumerate(instructions) if item.keyword == keyword and containing in item.arguments)


def test_two_stages_and_the_runtime_copies_only_the_built_environment(instructions: list[Instruction]) -> None:
    stages = [item.stage for item in instructions if item.keyword == "FROM"]
    assert stages == ["build", "runtime"]
    runtime_copies = [item.arguments for item in instructions if item.stage == "runtime" and item.keyword == "COPY"]
    assert runtime_copies == ["--from=build /opt/venv /opt/venv"]


def test_dependencies_are_installed_from_pyproject_before_the_source_is_copied(instructions: list[Instruction]) -> None:
    copy_pyproject = index_of(instructions, "COPY", "pyproject.toml")
    install_dependencies = index_of(instructions, "RUN", "pip install -r requirements.txt")
    copy_source = index_of(instructions, "COPY", "cvn_assets")
    install_package = index_of(instructions, "RUN", "--no-deps .")
    assert copy_pyproject < install_dependencies < copy_source < install_package


def test_the_dependency_layer_installs_the_project_dependencies_and_the_k8s_extra(
    instructions: list[Instruction],
    tmp_path: Path,
) -> None:
    run_arguments = instructions[index_of(instructions, "RUN", "tomllib")].arguments
    extraction = re.fullmatch(r'python -c "(.+)" > requirements.txt', run_arguments)
    assert extraction is not None
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path)
    requirements = subprocess.run(
        [sys.executable, "-c", extraction.group(1)], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert requirements == [*project["dependencies"], *project["optional-dependencies"]["k8s"]]
    assert any(requirement.startswith("dagster-k8s") for requirement in requirements)


def test_the_image_runs_as_a_numeric_non_root_user(instructions: list[Instruction]) -> None:
    [user] = [item.arguments for item in instructions if item.keyword == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or int(gid) != 0)
    user = instructions.index(next(i for i in instructions if i.keyword == "USER"))
    assert user > index_of(instructions, "COPY", "--from=build")
    helm_deployment = load_yaml(HELM_VALUES_YAML)["dagster-user-deployments"]["deployments"][0]
    assert helm_deployment["podSecurityContext"]["runAsUser"] == int(uid)


def test_the_code_server_serves_the_package_definitions_on_the_exposed_port(instructions: list[Instruction]) -> None:
    [expose] = [item.arguments for item in instructions if item.keyword == "EXPOSE"]
    [command] = [json.loads(item.arguments) for item in instructions if item.keyword == "CMD"]
    module = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    assert command[:3] == ["dagster", "code-server", "start"]
    assert command[command.index("-p") + 1] == expose == "4000"
    assert command[command.index("-m") + 1] == module
    assert command[command.index("-h") + 1] == "0.0.0.0"


def test_the_build_context_leaves_out_local_state_but_keeps_what_the_build_copies() -> None:
    ignored = {
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".dagster_home", "cvn_assets_tests"} <= ignored
    assert not {"pyproject.toml", "README.md", "cvn_assets"} & ignored
