"""Kubernetes settings of each job and the executor choice for production runs.

Each job's tags size its run pod (`dagster-k8s/config`, read by the K8sRunLauncher), bound its
runtime (`dagster/max_runtime`, read by run monitoring), keep run retries for lost workers only, and
mark training runs `cvn/heavy`, the tag the run queue limits (deployment/dagster.yaml and
deployment/helm/values.yaml). Off Kubernetes the pod settings are simply not read, so the same jobs
run locally unchanged.

Executor: partitions are the unit of parallelism here (one run per few cells), and the Dagster docs advise
the in-process executor for that case: `k8s_job_executor` would start one pod per step and pay the ML
imports (~4 s, ~320 MB) in each. It stays available with CVN_EXECUTOR=k8s (extra `cvn-assets[k8s]`)
for selections made of few, long steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

K8S_CONFIG_TAG = "dagster-k8s/config"
HEAVY_RUN_TAG = "cvn/heavy"
HEAVY_RUN_TAG_VALUE = "true"
RETRY_ON_ASSET_OR_OP_FAILURE_TAG = "dagster/retry_on_asset_or_op_failure"
THREADS_ENV_VAR = "CVN_THREADS"

EXECUTOR_ENV_VAR = "CVN_EXECUTOR"
IN_PROCESS_EXECUTOR = "in_process"
K8S_EXECUTOR = "k8s"
EXECUTOR_NAMES = (IN_PROCESS_EXECUTOR, K8S_EXECUTOR)


@dataclass(frozen=True)
class RunPodSize:
    """What one run of a job gets: whole CPUs (request = limit = learner threads), memory, time."""

    cpus: int
    memory_request: str
    memory_limit: str
    max_runtime_seconds: int
    heavy: bool = False

    def tags(self) -> dict[str, object]:
        resources = {
            "requests": {"cpu": str(self.cpus), "memory": self.memory_request},
            "limits": {"cpu": str(self.cpus), "memory": self.memory_limit},
        }
        # Learner threads match the CPU limit: more threads than CPUs only buys CFS throttling.
        container_config = {"resources": resources, "env": [{"name": THREADS_ENV_VAR, "value": str(self.cpus)}]}
        tags: dict[str, object] = {
            K8S_CONFIG_TAG: {"container_config": container_config},
            dg.MAX_RUNTIME_SECONDS_TAG: str(self.max_runtime_seconds),
            RETRY_ON_ASSET_OR_OP_FAILURE_TAG: "false",
        }
        if self.heavy:
            tags[HEAVY_RUN_TAG] = HEAVY_RUN_TAG_VALUE
        return tags


LIGHT_RUN = RunPodSize(cpus=1, memory_request="1Gi", memory_limit="2Gi", max_runtime_seconds=1800)
JOB_POD_SIZES: dict[str, RunPodSize] = {
    "crypto_data_job": LIGHT_RUN,
    "cell_job": RunPodSize(cpus=2, memory_request="2Gi", memory_limit="4Gi", max_runtime_seconds=3600, heavy=True),
    "gate_job": LIGHT_RUN,
    "drift_job": LIGHT_RUN,
    # It only plans: the sweep sensor submits the sweep's runs, each sized by its own job's tags.
    "sweep_job": LIGHT_RUN,
}

K8S_JOB_TAGS: dict[str, dict[str, object]] = {job: size.tags() for job, size in JOB_POD_SIZES.items()}


def executor_from_name(name: str = IN_PROCESS_EXECUTOR) -> dg.ExecutorDefinition:
    """The executor called `name` (the value of CVN_EXECUTOR): "in_process" (default) or "k8s"."""
    if name == IN_PROCESS_EXECUTOR:
        return dg.in_process_executor
    if name == K8S_EXECUTOR:
        try:
            from dagster_k8s import k8s_job_executor
        except ImportError as error:
            raise ImportError(
                f"{EXECUTOR_ENV_VAR}={K8S_EXECUTOR} needs dagster-k8s: install cvn-assets[k8s]"
            ) from error
        return k8s_job_executor
    raise ValueError(f"Unknown executor {name!r} in {EXECUTOR_ENV_VAR}; expected one of: {', '.join(EXECUTOR_NAMES)}")
