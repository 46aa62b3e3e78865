"""The whole sweep as one job, so a schedule (or a click in the UI) runs exactly what `make run` runs.

The sweep is not one asset selection: joint candidates are trained only when the joint rule allows,
which the runner decides after the factor gates. The job's single op hands over to the runner, which
records one run per partition on the same instance, so the UI shows every partition as usual.
"""


import dagster as dg

from cvn_assets.orchestration.progress import PROGRESS_LINE_SECONDS, ProgressLines, listening
from cvn_assets.defs.settings import Settings

SWEEP_JOB = "sweep_job"


class SweepSelection(dg.Config):
    """Optional slice of the sweep; empty lists mean everything."""

    cryptos: list[str] = []
    folds: list[str] = []
    configs: list[str] = []
    gate: bool = True
    force: bool = False
    # At most one line of a cell run's progress in this run's log this often.
    progress_every_seconds: float = PROGRESS_LINE_SECONDS


def build_sweep_job(settings: Settings, tags: dict[str, object] | None = None) -> dg.JobDefinition:
    @dg.op(description="Materialize the sweep's partitions (skipping unchanged ones), the gates and the joint rules.")
    def run_whole_sweep(context: dg.OpExecutionContext, config: SweepSelection) -> None:
        # Imported here: the Definitions hold this job, so building them at import time would be circular.
        from cvn_assets.defs.build import build_defs
        from cvn_assets.orchestration.runner import run_sweep

        # The cell runs' progress in this run's log, a line every few seconds: the UI shows how far it is.
        with listening(ProgressLines(context.log.info, config.progress_every_seconds)):
            report = run_sweep(build_defs(settings), context.instance, cryptos=config.cryptos or None,
                               folds=config.folds or None, configs=config.configs or None, gate=config.gate,
                               force=config.force, log=context.log.info)
        if report.failures:
            # The description is what the failed-run alert carries: the partition runs are not this run's steps.
            causes = "; ".join(f"{name}: {message}" for name, message in report.failures.items())
            raise dg.Failure(description=f"{len(report.failures)} partition run(s) failed: {causes}",
                             metadata={"failures": dg.MetadataValue.json(report.failures)})
        verdicts = {name: sorted(set(table["verdict"])) for name, table in report.verdicts.items()}
        # The op has no output (nothing to store): the partitions' own runs hold the results.
        waiting = f", gates waiting for cells: {report.waiting}" if report.waiting else ""
        context.log.info(f"sweep done: {report.runs} runs in {report.seconds:.1f}s, {report.alerts} new alert(s), "
                         f"verdicts {verdicts}{waiting}")

    @dg.job(name=SWEEP_JOB, executor_def=dg.in_process_executor, tags=tags or {},
            description="The whole FTF sweep (as `make run`): per-crypto data, every cell, gates, joint rules.")
    def sweep_job() -> None:
        run_whole_sweep()

    return sweep_job
