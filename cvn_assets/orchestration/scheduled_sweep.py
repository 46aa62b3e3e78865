"""The whole sweep as one job, so a schedule (or a click in the UI) submits exactly what `make run` runs.

The job's single op plans the sweep and ends: its run names the sweep, and the sweep sensor
(`submit`) submits the sweep's runs to the run queue — the per-crypto data runs, the cell runs, then
the gates and the joint rules as what they need finishes — each tagged with this run's id. The queue,
its limits and the run launcher (one pod per run on Kubernetes) see every one of them.
"""

from collections.abc import Callable

import dagster as dg

from cvn_assets.orchestration.runs import SWEEP_JOB, SWEEP_OP
from cvn_assets.orchestration.submit import announce_sweep, selection_of


class SweepSelection(dg.Config):
    """Optional slice of the sweep; empty lists mean everything."""

    cryptos: list[str] = []
    folds: list[str] = []
    configs: list[str] = []
    gate: bool = True
    force: bool = False


def build_sweep_job(load_defs: Callable[[], dg.Definitions], tags: dict[str, object] | None = None) -> dg.JobDefinition:
    """The sweep job; `load_defs` gives the code location's Definitions, which hold this job."""

    @dg.op(
        name=SWEEP_OP,
        description="Plan the sweep (skipping unchanged partitions); the sweep sensor submits its "
        "runs to the run queue: per-crypto data, every cell, gates, joint rules.",
    )
    def run_whole_sweep(context: dg.OpExecutionContext, config: SweepSelection) -> None:
        announce_sweep(
            load_defs(), context.instance, context.run_id, selection_of(config.model_dump()), context.log.info
        )

    @dg.job(
        name=SWEEP_JOB,
        executor_def=dg.in_process_executor,
        tags=tags or {},
        description="The whole FTF sweep (as `make run`), submitted to the run queue run by run: per-crypto "
        "data, every cell, gates, joint rules.",
    )
    def sweep_job() -> None:
        run_whole_sweep()

    return sweep_job
