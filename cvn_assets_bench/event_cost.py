"""(e) What the instance's event log costs per cell, whatever the fits cost.

A step shaped like the cell step (one multi-asset over a range of cells, as many assets and blocking
checks per cell as the sweep's) that computes nothing and only records: a materialization per asset
and cell, then a check evaluation per asset and cell. It runs on a fresh instance made from the same
`dagster.yaml` as (a), so its seconds are the floor Dagster's bookkeeping adds to the sweep.
"""

import time
from collections.abc import Iterator
from typing import Any

import dagster as dg

from cvn_assets.orchestration.run_settings import QUIET_CONSOLE, RANGE_END_TAG, RANGE_START_TAG, planned_as_range


class Discard(dg.ConfigurableIOManager):
    """Stores nothing: only the event log's cost is measured."""

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        return None

    def load_input(self, context: dg.InputContext) -> None:
        return None


def _job(cells: int, assets: int, checks: bool) -> tuple[dg.JobDefinition, list[str]]:
    keys = [f"c{index:04d}" for index in range(cells)]
    partitions = dg.StaticPartitionsDefinition(keys)
    names = [f"asset_{index}" for index in range(assets)]
    specs = (
        [dg.AssetCheckSpec(f"check_{name}", asset=name, blocking=True, partitions_def=partitions) for name in names]
        if checks
        else []
    )

    # Shaped like the cell step: optional outputs, so the checks are yielded as evaluations per cell.
    @dg.multi_asset(
        outs={name: dg.AssetOut(is_required=False) for name in names},
        partitions_def=partitions,
        can_subset=True,
        check_specs=specs,
    )
    def cell(context: dg.AssetExecutionContext) -> Iterator[Any]:
        for name in names:
            for key in context.partition_keys:
                context.add_asset_metadata({"compute_seconds": 0.0}, asset_key=dg.AssetKey(name), partition_key=key)
            yield dg.Output(None, output_name=name)
            if checks:
                for key in context.partition_keys:
                    yield dg.AssetCheckEvaluation(
                        asset_key=dg.AssetKey(name),
                        check_name=f"check_{name}",
                        passed=True,
                        partition=key,
                        blocking=True,
                    )

    definitions = dg.Definitions(
        assets=[cell], resources={"io_manager": Discard()}, jobs=[dg.define_asset_job("event_cost", selection=[cell])]
    )
    return definitions.resolve_job_def("event_cost"), keys


def _time_run(instance: dg.DagsterInstance, cells: int, assets: int, checks: bool) -> dict[str, float]:
    job, keys = _job(cells, assets, checks)
    started, cpu = time.perf_counter(), time.process_time()
    result = job.execute_in_process(
        instance=instance, run_config=QUIET_CONSOLE, tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}
    )
    if not result.success:
        raise RuntimeError("the event-cost run failed")
    return {"wall_seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu}


def measure_event_cost(cells: int, assets: int) -> dict[str, Any]:
    """Seconds of one run over `cells` cells of `assets` assets on $DAGSTER_HOME's instance: without
    checks, planned per cell then per range (as the sweep runner does), then with a check per asset;
    and the milliseconds each materialization and check evaluation adds."""
    events = cells * assets
    with dg.DagsterInstance.get() as instance:
        per_cell = _time_run(instance, cells, assets, checks=False)
        with planned_as_range():
            per_range = _time_run(instance, cells, assets, checks=False)
            checked = _time_run(instance, cells, assets, checks=True)
    return {
        "cells": cells,
        "assets": assets,
        "planned_per_cell": per_cell,
        "planned_per_range": per_range,
        "with_checks": checked,
        "ms_per_planned_event": 1000 * (per_cell["wall_seconds"] - per_range["wall_seconds"]) / events,
        "ms_per_materialization": 1000 * per_range["wall_seconds"] / events,
        "ms_per_check_evaluation": 1000 * (checked["wall_seconds"] - per_range["wall_seconds"]) / events,
    }
