"""The Kubernetes Job the K8sRunLauncher of k8s/dagster.yaml submits for a run of each job of the real
Definitions, and in detail for one partition run of cell_job.

No cluster: the launcher is built from the production config with a dummy kubeconfig, and the Job it
sends to the Kubernetes API is captured in place of the API call, then read as the API would see it.
Runs carry the tags of the job definitions as built, so a job that loses its tags is caught here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import kubernetes
import pytest
import yaml

# A run carries the origin of the code that will execute it; these types have no public constructor.
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.launcher import LaunchRunContext
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster_k8s import K8sRunLauncher

from cvn_assets.defs.build import build_defs
from cvn_assets.defs.jobs import CELL_JOB
from cvn_assets.defs.k8s import HEAVY_RUN_TAG, K8S_CONFIG_TAG, K8S_JOB_TAGS
from cvn_assets_tests.conftest import make_settings
from cvn_assets_tests.deployment.files import (
    K8S_INSTANCE_YAML,
    K8S_RESOURCES_YAML,
    load_yaml,
    load_yaml_documents,
    validate_section,
)

IMAGE = "registry.example.com/cvn-assets:0.1.0"
CODE_LOCATION = "cvn-assets"
PARTITION_TAGS = {
    "dagster/partition": "BTC|f1.baseline",
    "dagster/partition/crypto": "BTC",
    "dagster/partition/fv": "f1.baseline",
}


class RecordingBatchApi:
    """Stands in for kubernetes.client.BatchV1Api: keeps the Jobs it is asked to create."""

    def __init__(self) -> None:
        self.created: list[tuple[str, kubernetes.client.V1Job]] = []

    def create_namespaced_job(self, body: kubernetes.client.V1Job, namespace: str, **_: Any) -> kubernetes.client.V1Job:
        self.created.append((namespace, body))
        return body


def write_kubeconfig(path: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "offline",
                "clusters": [{"name": "offline", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "offline", "user": {"token": "not-a-token"}}],
                "contexts": [{"name": "offline", "context": {"cluster": "offline", "user": "offline"}}],
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def launch_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dg.DagsterInstance]:
    home = tmp_path_factory.mktemp("dagster_home")
    with dg.DagsterInstance.local_temp(str(home), overrides={"telemetry": {"enabled": False}}) as local_instance:
        yield local_instance


def launcher_config() -> dict[str, Any]:
    return load_yaml(K8S_INSTANCE_YAML)["run_launcher"]["config"]


def run_tags_of(job: dg.JobDefinition, partition_key: str) -> dict[str, str]:
    """Job tags plus partition tags, as Dagster tags a partition run launched from the UI or a backfill."""
    return {**job.run_tags, **job.get_tags_for_partition_key(partition_key, selected_asset_keys=None)}


Submitted = tuple[str, dict[str, Any], dg.DagsterRun]
Launch = Callable[[dict[str, str]], Submitted]


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory, small_data_dir: Path) -> dg.Definitions:
    return build_defs(make_settings(tmp_path_factory.mktemp("defs"), small_data_dir))


@pytest.fixture(scope="module")
def cell_job(defs: dg.Definitions) -> dg.JobDefinition:
    return defs.resolve_job_def(CELL_JOB)


@pytest.fixture(scope="module")
def launch_job(
    tmp_path_factory: pytest.TempPathFactory,
    launch_instance: dg.DagsterInstance,
) -> Callable[[dg.JobDefinition, dict[str, str]], Submitted]:
    """Launches a run of a job with the given tags through the production launcher: (namespace, Job manifest, run)."""
    kubeconfig = write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")
    config = validate_section(
        K8sRunLauncher.config_type(),
        {**launcher_config(), "load_incluster_config": False, "kubeconfig_file": str(kubeconfig)},
    )
    batch_api = RecordingBatchApi()
    launcher = K8sRunLauncher(**config, k8s_client_batch_api=batch_api)
    launcher.register_instance(launch_instance)
    repository = ReconstructableRepository.for_module("cvn_assets.definitions", "defs", container_image=IMAGE)
    server = GrpcServerCodeLocationOrigin(host=CODE_LOCATION, port=4000, location_name=CODE_LOCATION)

    def launch_with(job: dg.JobDefinition, tags: dict[str, str]) -> Submitted:
        run = launch_instance.create_run_for_job(
            job,
            tags=tags,
            job_code_origin=repository.get_reconstructable_job(job.name).get_python_origin(),
            remote_job_origin=RemoteJobOrigin(RemoteRepositoryOrigin(server, "__repository__"), job.name),
        )
        launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
        namespace, body = batch_api.created.pop()
        return namespace, kubernetes.client.ApiClient().sanitize_for_serialization(body), run

    return launch_with


@pytest.fixture(scope="module")
def launch(launch_job: Callable[[dg.JobDefinition, dict[str, str]], Submitted], cell_job: dg.JobDefinition) -> Launch:
    """Launches a cell_job run with the given tags."""
    return lambda tags: launch_job(cell_job, tags)


@pytest.fixture(scope="module")
def submitted(launch: Launch, cell_job: dg.JobDefinition) -> Submitted:
    """One partition run of cell_job, with the job's tags."""
    return launch(run_tags_of(cell_job, PARTITION_TAGS["dagster/partition"]))


def container_of(manifest: dict[str, Any]) -> dict[str, Any]:
    [container] = manifest["spec"]["template"]["spec"]["containers"]
    return container


def test_the_job_runs_the_partition_run_in_the_code_location_image(
    submitted: Submitted,
    launch_instance: dg.DagsterInstance,
) -> None:
    namespace, manifest, run = submitted
    assert namespace == launcher_config()["job_namespace"]
    assert manifest["kind"] == "Job" and manifest["metadata"]["name"] == f"dagster-run-{run.run_id}"
    container = container_of(manifest)
    assert container["image"] == IMAGE
    assert container["args"][:3] == ["dagster", "api", "execute_run"]
    # The pod knows its run only by id; the partition it computes is on that run's record.
    executed = launch_instance.get_run_by_id(dg.deserialize_value(container["args"][3]).run_id)
    assert executed is not None and executed.job_name == CELL_JOB
    assert PARTITION_TAGS.items() <= executed.tags.items()
    assert executed.tags[HEAVY_RUN_TAG] == "true"
    assert executed.tags["dagster/image"] == IMAGE


def test_the_job_carries_the_resources_and_threads_of_the_cell_job_tags(submitted: Submitted) -> None:
    _, manifest, run = submitted
    container = container_of(manifest)
    tagged = json.loads(run.tags[K8S_CONFIG_TAG])["container_config"]
    assert tagged == K8S_JOB_TAGS[CELL_JOB][K8S_CONFIG_TAG]["container_config"]
    assert container["resources"] == tagged["resources"]
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    env = {entry["name"]: entry for entry in container["env"]}
    assert env["CVN_THREADS"]["value"] == tagged["resources"]["limits"]["cpu"]


def test_the_job_reaches_postgres_and_the_shared_storage(submitted: Submitted) -> None:
    _, manifest, _ = submitted
    container, pod = container_of(manifest), manifest["spec"]["template"]["spec"]
    env = {entry["name"]: entry for entry in container["env"]}
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "dagster-postgresql-secret", "key": "postgresql-password"}
    }
    assert env["DAGSTER_HOME"]["value"] == "/opt/dagster/dagster_home"
    assert container["envFrom"] == [
        {"configMapRef": {"name": "cvn-assets-env"}},
        {"secretRef": {"name": "cvn-assets-secrets"}},
    ]

    config_map, claim = load_yaml_documents(K8S_RESOURCES_YAML)
    assert config_map["metadata"]["name"] == "cvn-assets-env"
    assert {"DAGSTER_PG_USERNAME", "DAGSTER_PG_HOST", "DAGSTER_PG_DB", "DAGSTER_PG_PORT"} <= set(config_map["data"])
    [volume] = pod["volumes"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    [mount] = container["volumeMounts"]
    assert mount["name"] == volume["name"]
    assert Path(config_map["data"]["CVN_STORAGE_DIR"]).is_relative_to(mount["mountPath"])
    # Every run pod writes its events to PostgreSQL in batches (read from its environment by Dagster).
    assert int(config_map["data"]["DAGSTER_EVENT_BATCH_SIZE"]) > 0


def test_the_job_is_labelled_and_runs_as_a_non_root_user(submitted: Submitted) -> None:
    _, manifest, run = submitted
    pod_template = manifest["spec"]["template"]
    for labels in (manifest["metadata"]["labels"], pod_template["metadata"]["labels"]):
        assert labels["dagster/job"] == CELL_JOB
        assert labels["dagster/run-id"] == run.run_id
        assert labels["cvn-assets/workload"] == "dagster-run"
    assert manifest["metadata"]["labels"]["dagster/code-location"] == CODE_LOCATION
    assert pod_template["spec"]["serviceAccountName"] == "dagster"
    assert pod_template["spec"]["restartPolicy"] == "Never"
    assert pod_template["spec"]["securityContext"] == {"fsGroup": 10001}
    assert container_of(manifest)["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "allowPrivilegeEscalation": False,
    }
    # A failed pod is not restarted by Kubernetes: run retries start a new run instead.
    assert manifest["spec"]["backoffLimit"] == 0


def test_a_run_without_job_tags_gets_the_size_and_threads_of_a_cell_run(
    launch: Launch, cell_job: dg.JobDefinition
) -> None:
    """Runs launched from the asset graph carry partition tags only: the launcher's defaults size them."""
    tags = cell_job.get_tags_for_partition_key(PARTITION_TAGS["dagster/partition"], selected_asset_keys=None)
    _, manifest, run = launch(tags)
    assert K8S_CONFIG_TAG not in run.tags
    container = container_of(manifest)
    cell_resources = K8S_JOB_TAGS[CELL_JOB][K8S_CONFIG_TAG]["container_config"]["resources"]
    assert container["resources"] == launcher_config()["resources"] == cell_resources
    assert "CVN_THREADS" not in {entry["name"] for entry in container["env"]}
    config_map = load_yaml_documents(K8S_RESOURCES_YAML)[0]
    assert config_map["data"]["CVN_THREADS"] == cell_resources["limits"]["cpu"]


# What each job's run pod must get, written out from the sizing of cvn_assets/defs/k8s.py:
# (CPUs = learner threads, memory request, memory limit, max runtime in seconds, heavy).
EXPECTED_RUN_PODS: dict[str, tuple[str, str, str, int, bool]] = {
    "crypto_data_job": ("1", "1Gi", "2Gi", 1800, False),
    "cell_job": ("2", "2Gi", "4Gi", 3600, True),
    "gate_job": ("1", "1Gi", "2Gi", 1800, False),
    "drift_job": ("1", "1Gi", "2Gi", 1800, False),
    "sweep_job": ("1", "1Gi", "2Gi", 1800, False),  # it only plans; the sweep's runs have their own pods
}


def test_every_job_of_the_definitions_has_an_expected_run_pod(defs: dg.Definitions) -> None:
    assert sorted(job.name for job in defs.jobs) == sorted(EXPECTED_RUN_PODS)


@pytest.mark.parametrize("job_name", sorted(EXPECTED_RUN_PODS))
def test_a_run_of_each_job_gets_the_pod_its_tags_ask_for(
    defs: dg.Definitions,
    launch_job: Callable[[dg.JobDefinition, dict[str, str]], Submitted],
    job_name: str,
) -> None:
    cpus, memory_request, memory_limit, max_runtime, heavy = EXPECTED_RUN_PODS[job_name]
    job = defs.resolve_job_def(job_name)
    _, manifest, run = launch_job(job, dict(job.run_tags))
    container = container_of(manifest)
    assert container["resources"] == {
        "requests": {"cpu": cpus, "memory": memory_request},
        "limits": {"cpu": cpus, "memory": memory_limit},
    }
    env = {entry["name"]: entry.get("value") for entry in container["env"]}
    assert env["CVN_THREADS"] == cpus
    assert run.tags[dg.MAX_RUNTIME_SECONDS_TAG] == str(max_runtime)
    assert run.tags["dagster/retry_on_asset_or_op_failure"] == "false"
    assert (run.tags.get(HEAVY_RUN_TAG) == "true") is heavy


def test_the_cell_runs_of_a_submitted_sweep_get_the_pods_of_the_cell_job(
    defs: dg.Definitions,
    launch_instance: dg.DagsterInstance,
    launch_job: Callable[[dg.JobDefinition, dict[str, str]], Submitted],
) -> None:
    """The runs the sweep sensor requests, as the daemon creates them (the job's tags, then the request's),
    through the production launcher: one Job per run of a few cells, sized by the cell job's tags."""
    config = {
        "ops": {
            "run_whole_sweep": {
                "config": {"cryptos": ["BTC"], "folds": ["f1", "f2"], "configs": ["baseline", "ls_mild"], "gate": False}
            }
        }
    }
    marker = defs.resolve_job_def("sweep_job").execute_in_process(run_config=config, instance=launch_instance)
    sensor = defs.get_repository_def().get_sensor_def("sweep_sensor")
    cursor, cell_requests = None, []
    for _ in range(2):  # the data run's request, then (its run done) the cell runs'
        result = sensor(
            dg.build_sensor_context(instance=launch_instance, cursor=cursor, repository_def=defs.get_repository_def())
        )
        cursor, requests = result.cursor, list(result.run_requests or [])
        for request in requests:
            if request.job_name == "crypto_data_job":
                assert (
                    defs.resolve_job_def(request.job_name)
                    .execute_in_process(
                        partition_key=request.partition_key, instance=launch_instance, tags=request.tags
                    )
                    .success
                )
        cell_requests = [request for request in requests if request.job_name == CELL_JOB]
    assert len(cell_requests) == 2  # one run per configuration, over its two neighbouring folds
    cell_job = defs.resolve_job_def(CELL_JOB)
    expected = K8S_JOB_TAGS[CELL_JOB][K8S_CONFIG_TAG]["container_config"]["resources"]
    for request in cell_requests:
        _, manifest, run = launch_job(cell_job, {**cell_job.run_tags, **request.tags})
        container = container_of(manifest)
        assert container["resources"] == expected and expected["limits"]["cpu"] == "2"
        assert {entry["name"]: entry.get("value") for entry in container["env"]}["CVN_THREADS"] == "2"
        assert run.tags["cvn/sweep"] == marker.run_id and run.tags[HEAVY_RUN_TAG] == "true"
        start, end = run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]
        assert (start.split(".")[0], end.split(".")[0]) == ("BTC|f1", "BTC|f2")
        assert manifest["metadata"]["labels"]["dagster/run-id"] == run.run_id
