"""One part of the benchmark in a fresh process: `python -m cvn_assets_bench.worker PART --out FILE`.

Every part starts from a new interpreter, so none inherits warm imports, caches or memory from
another, and the peak RSS read at the end is that part's own. Timing starts before the part's
modules are imported: import time is part of what each way of running a sweep costs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from cvn_assets.execution import close_pools
from cvn_assets_bench.measure import Usage, children_peak_rss_mb

PART_MODULES = {
    "plain": "cvn_assets_bench.plain_loop",
    "dagster": "cvn_assets_bench.dagster_part",
    "floor": "cvn_assets_bench.dagster_part",
    "gate": "cvn_assets_bench.gate_bench",
    "events": "cvn_assets_bench.event_cost",
}
PARTS = tuple(PART_MODULES)


def _plain(workload_json: str, gate_repeats: int, sweep_done: Callable[[], None]) -> dict[str, Any]:
    from cvn_assets_bench.plain_loop import run_plain_sweep
    from cvn_assets_bench.workload import Workload

    workload = Workload.from_json(workload_json)
    sweep = run_plain_sweep(
        workload.catalogue(),
        workload.source(),
        n_threads=workload.n_threads,
        cell_workers=workload.cell_workers,
        cell_processes=workload.cell_processes,
        sweep_id=workload.sweep_id,
        log=print,
    )
    return {
        "cells": sweep.cells,
        "rows": len(sweep.results()),
        "failures": sweep.failures,
        "stages": sweep.clock.as_dict(),
        "verdicts": {name: table.to_dict(orient="records") for name, table in sweep.verdicts.items()},
    }


def _dagster(
    workload_json: str, gate_repeats: int, sweep_done: Callable[[], None], in_memory: bool = False
) -> dict[str, Any]:
    from cvn_assets_bench.dagster_part import run_dagster_sweep

    return run_dagster_sweep(log=print, sweep_done=sweep_done, in_memory=in_memory)


def _gate(workload_json: str, gate_repeats: int, sweep_done: Callable[[], None]) -> dict[str, Any]:
    from cvn_assets_bench.gate_bench import time_gate

    return time_gate(repeats=gate_repeats)


def _events(workload_json: str, gate_repeats: int, sweep_done: Callable[[], None]) -> dict[str, Any]:
    from cvn_assets.defs.cells.computations import cell_assets
    from cvn_assets_bench.event_cost import measure_event_cost
    from cvn_assets_bench.workload import Workload

    workload = Workload.from_json(workload_json)
    catalogue = workload.catalogue()
    return measure_event_cost(workload.describe()["cells"], len(cell_assets(catalogue.models, catalogue.ensembles)))


RUNNERS = {
    "plain": _plain,
    "dagster": _dagster,
    "floor": partial(_dagster, in_memory=True),
    "gate": _gate,
    "events": _events,
}


def main(argv: list[str] | None = None) -> int:
    started = Usage.now()
    parser = argparse.ArgumentParser(prog="cvn_assets_bench.worker")
    parser.add_argument("part", choices=PARTS)
    parser.add_argument("--out", type=Path, required=True, help="where to write this part's JSON")
    parser.add_argument("--workload", default="{}", help="the workload as JSON (plain part)")
    parser.add_argument("--gate-repeats", type=int, default=5)
    args = parser.parse_args(argv)
    importing = time.perf_counter(), time.process_time()
    importlib.import_module(PART_MODULES[args.part])
    imports = {
        "wall_seconds": time.perf_counter() - importing[0],
        "cpu_seconds": time.process_time() - importing[1],
        "calls": 1,
    }
    usage: dict[str, float] = {}

    def sweep_done() -> None:
        """Stops the clocks (once): what the part reads afterwards to report on its sweep is not timed."""
        if usage:
            return
        # Stopped and waited for, the worker processes count in the CPU time of this process's children.
        workers_rss = children_peak_rss_mb()
        close_pools()
        usage.update(Usage.now().since(started))
        usage.update(peak_rss_mb=usage["peak_rss_mb"] + workers_rss, workers_peak_rss_mb=workers_rss)

    result = RUNNERS[args.part](args.workload, args.gate_repeats, sweep_done)
    sweep_done()
    if "stages" in result:
        result["stages"]["imports"] = imports
    # Other processes on the machine stretch wall time but not CPU time: the load says how much.
    result.update(usage, dagster_imported="dagster" in sys.modules, load_average=list(os.getloadavg()))
    args.out.write_text(json.dumps(result, default=_plain_value, indent=1))
    return 0


def _plain_value(value: Any) -> Any:
    # numpy scalars and other values pandas leaves in verdict tables.
    if hasattr(value, "item"):
        return value.item()
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
