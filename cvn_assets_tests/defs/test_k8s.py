"""Per-job Kubernetes tags and the executor choice."""

from __future__ import annotations

import json
import sys

import dagster as dg
import dagster_k8s
import pytest
from dagster_k8s.job import get_user_defined_k8s_config
from kubernetes.utils import parse_quantity

from cvn_assets.defs.build import build_defs
from cvn_assets.defs.k8s import (
    EXECUTOR_ENV_VAR,
    HEAVY_RUN_TAG,
    HEAVY_RUN_TAG_VALUE,
    JOB_POD_SIZES,
    K8S_CONFIG_TAG,
    K8S_JOB_TAGS,
    THREADS_ENV_VAR,
    executor_from_name,
)
from cvn_assets.defs.settings import Settings


def as_run_tags(tags: dict[str, object]) -> dict[str, str]:
    """The tags a job defined with `tags` gives its runs (non-string values become JSON)."""

    @dg.asset
    def probe() -> None: ...

    defs = dg.Definitions(assets=[probe], jobs=[dg.define_asset_job("probe_job", tags=tags)])
    job = defs.resolve_job_def("probe_job")
    return dict(job.run_tags)


def test_every_job_of_the_code_location_has_a_pod_size(small_settings: Settings) -> None:
    jobs = {job.name for job in build_defs(small_settings).jobs or []}
    assert jobs and jobs <= set(K8S_JOB_TAGS)


@pytest.mark.parametrize("job", sorted(K8S_JOB_TAGS))
def test_job_tags_are_valid_pod_config_with_requests_within_limits(job: str) -> None:
    run_tags = as_run_tags(K8S_JOB_TAGS[job])
    container = get_user_defined_k8s_config(run_tags).container_config
    resources = container["resources"]
    for resource in ("cpu", "memory"):
        assert 0 < parse_quantity(resources["requests"][resource]) <= parse_quantity(resources["limits"][resource])
    [threads] = [entry["value"] for entry in container["env"] if entry["name"] == THREADS_ENV_VAR]
    assert threads == resources["limits"]["cpu"] == str(JOB_POD_SIZES[job].cpus)
    assert json.loads(run_tags[K8S_CONFIG_TAG]) == K8S_JOB_TAGS[job][K8S_CONFIG_TAG]
    assert run_tags["dagster/retry_on_asset_or_op_failure"] == "false"
    assert int(run_tags[dg.MAX_RUNTIME_SECONDS_TAG]) == JOB_POD_SIZES[job].max_runtime_seconds


def test_only_training_jobs_are_heavy() -> None:
    heavy = {job for job, tags in K8S_JOB_TAGS.items() if tags.get(HEAVY_RUN_TAG) == HEAVY_RUN_TAG_VALUE}
    assert heavy == {"cell_job"}  # the sweep job only plans: its cell runs train, each under the limit


def test_in_process_is_the_default_executor() -> None:
    assert executor_from_name() is dg.in_process_executor
    assert executor_from_name("in_process") is dg.in_process_executor


def test_the_k8s_executor_is_dagster_k8s_job_executor_and_loads_without_a_cluster() -> None:
    executor = executor_from_name("k8s")
    assert executor is dagster_k8s.k8s_job_executor

    @dg.asset
    def probe() -> None: ...

    defs = dg.Definitions(
        assets=[probe], jobs=[dg.define_asset_job("probe_job", tags=K8S_JOB_TAGS["cell_job"])], executor=executor
    )
    dg.Definitions.validate_loadable(defs)


def test_an_unknown_executor_names_the_variable_and_the_choices() -> None:
    with pytest.raises(ValueError, match=f"'multiprocess' in {EXECUTOR_ENV_VAR}; expected one of: in_process, k8s"):
        executor_from_name("multiprocess")


def test_the_k8s_executor_without_dagster_k8s_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dagster_k8s", None)
    with pytest.raises(ImportError, match=r"cvn-assets\[k8s\]"):
        executor_from_name("k8s")
