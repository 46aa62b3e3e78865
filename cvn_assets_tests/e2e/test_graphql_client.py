"""Launching work as the web UI does, over GraphQL: one cell through the Python client, one variant as a backfill."""

from __future__ import annotations

import time

import pytest
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

from cvn_assets.defs.jobs import CELL_JOB
from cvn_assets.defs.partitions import cell_key
from cvn_assets.orchestration.runner import RANGE_END_TAG, RANGE_START_TAG
from cvn_assets_tests.e2e.conftest import UiStack
from cvn_assets_tests.e2e.dagster_dev import HOST, POLL_SECONDS

# Configurations no other e2e step materializes, so every row of theirs comes from the runs launched here.
CELL_CONFIG = "cl_filter"
BACKFILL_CONFIG = "cl_reweight"
RUN_TIMEOUT_S = 600.0
TERMINAL = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}

REPOSITORIES_QUERY = """
{ repositoriesOrError { __typename ... on RepositoryConnection { nodes { name location { name } } } } }
"""
JOB_ASSETS_QUERY = """
query JobAssets($job: PipelineSelector!) { assetNodes(pipeline: $job) { assetKey { path } } }
"""
LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
    ... on PartitionKeysNotFoundError { message } ... on InvalidSubsetError { message } } }
"""


def wait_for_run(client: DagsterGraphQLClient, run_id: str, timeout_s: float) -> DagsterRunStatus:
    deadline = time.monotonic() + timeout_s
    while (status := client.get_run_status(run_id)) not in TERMINAL:
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {status.value} after {timeout_s:.0f}s")
        time.sleep(POLL_SECONDS)
    return status


def cell_job_assets(stack: UiStack) -> list[dict]:
    """The asset keys of the cell job, as the web UI lists them."""
    repositories = stack.server.graphql(REPOSITORIES_QUERY)["repositoriesOrError"]["nodes"]
    repository = next(r for r in repositories if r["location"]["name"] == stack.location)
    selector = {
        "repositoryLocationName": stack.location,
        "repositoryName": repository["name"],
        "pipelineName": CELL_JOB,
    }
    return [node["assetKey"] for node in stack.server.graphql(JOB_ASSETS_QUERY, {"job": selector})["assetNodes"]]


@pytest.mark.slow
# Raised inside dagster-graphql's client by the gql version it ships with; nothing here passes those arguments.
@pytest.mark.filterwarnings("ignore:Using variable_values and operation_name:DeprecationWarning")
def test_one_cell_and_one_variant_backfill_launched_over_graphql_write_their_results(ui_stack: UiStack) -> None:
    client = DagsterGraphQLClient(HOST, port_number=ui_stack.server.port, timeout=120)
    cryptos, folds = list(ui_stack.catalogue.universe), ui_stack.folds
    cell = cell_key(cryptos[0], folds[0], CELL_CONFIG)
    run_id = client.submit_job_execution(
        CELL_JOB, repository_location_name=ui_stack.location, tags={"dagster/partition": str(cell)}
    )

    assets = cell_job_assets(ui_stack)
    assert {"path": ["fold_metrics"]} in assets
    backfill_cells = {str(cell_key(c, f, BACKFILL_CONFIG)) for c in cryptos for f in folds}
    launched = ui_stack.server.graphql(
        LAUNCH_BACKFILL,
        {
            "params": {
                "assetSelection": assets,
                "partitionNames": sorted(backfill_cells),
                "title": f"{BACKFILL_CONFIG} everywhere",
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched

    assert wait_for_run(client, run_id, RUN_TIMEOUT_S) == DagsterRunStatus.SUCCESS, ui_stack.server.log_tail()
    backfill = ui_stack.server.wait_for_backfill(launched["backfillId"], RUN_TIMEOUT_S)
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    assert backfill["numPartitions"] == len(backfill_cells)
    run_of_cell = cells_of_runs(ui_stack, backfill["runs"])
    assert set(run_of_cell) == backfill_cells
    assert len(backfill["runs"]) < len(backfill_cells)  # runs over ranges of cells, not one run per cell
    assert {run["status"] for run in backfill["runs"]} == {"SUCCESS"}

    results = ui_stack.results()
    cell_rows = results[
        (results["crypto"] == cryptos[0]) & (results["fold"] == folds[0]) & (results["config_id"] == CELL_CONFIG)
    ]
    assert len(cell_rows) == len(ui_stack.catalogue.models)
    assert set(cell_rows["run_id"]) == {run_id}
    assert set(zip(cell_rows["factor"], cell_rows["variant"], strict=True)) == {("cleanlab", "filter")}
    assert cell_rows["f1_buy"].between(0.0, 1.0).all()

    backfilled = results[results["config_id"] == BACKFILL_CONFIG]
    keys = [str(cell_key(c, f, BACKFILL_CONFIG)) for c, f in zip(backfilled["crypto"], backfilled["fold"], strict=True)]
    assert set(keys) == backfill_cells
    assert [run_of_cell[key] for key in keys] == backfilled["run_id"].tolist()
    assert set(zip(backfilled["factor"], backfilled["variant"], strict=True)) == {("cleanlab", "reweight")}
    assert backfilled["f1_buy"].between(0.0, 1.0).all()


def cells_of_runs(ui_stack: UiStack, runs: list[dict]) -> dict[str, str]:
    """Cell key → the backfill run that materialized it (a run covers one partition or a range of them)."""
    order = [str(k) for k in ui_stack.defs.resolve_job_def(CELL_JOB).partitions_def.get_partition_keys()]
    out = {}
    for run in runs:
        tags = {tag["key"]: tag["value"] for tag in run["tags"]}
        if "dagster/partition" in tags:
            out[tags["dagster/partition"]] = run["id"]
            continue
        start, end = order.index(tags[RANGE_START_TAG]), order.index(tags[RANGE_END_TAG])
        out.update({key: run["id"] for key in order[start : end + 1]})
    return out
