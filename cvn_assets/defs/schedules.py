"""Schedules: the whole sweep (weekly by default) and the drift monitors (daily by default).

Both only submit runs; the instance's run queue decides when they start (at most 2 at a time on one
machine, `concurrency.runs.max_concurrent_runs` in dagster.yaml). Run keys are the scheduled time,
so a tick evaluated twice submits nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from cvn_assets.defs.jobs import DRIFT_JOB
from cvn_assets.defs.settings import Settings
from cvn_assets.orchestration.runs import SWEEP_JOB


def build_schedules(settings: Settings, cryptos: Sequence[str]) -> list[dg.ScheduleDefinition]:
    status = dg.DefaultScheduleStatus.RUNNING if settings.schedules_enabled else dg.DefaultScheduleStatus.STOPPED

    @dg.schedule(
        name="weekly_sweep_schedule",
        job_name=SWEEP_JOB,
        cron_schedule=settings.sweep_cron,
        execution_timezone="UTC",
        default_status=status,
        description="Re-materializes the whole sweep; unchanged partitions are skipped, results and alerts "
        "are upserted, so a re-run duplicates nothing.",
    )
    def weekly_sweep_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        tick = context.scheduled_execution_time
        return dg.RunRequest(run_key=f"sweep-{tick:%Y-%m-%dT%H%M}", tags={"cvn/trigger": "schedule"})

    @dg.schedule(
        name="daily_drift_schedule",
        job_name=DRIFT_JOB,
        cron_schedule=settings.drift_cron,
        execution_timezone="UTC",
        default_status=status,
        description="Runs the drift monitor of every crypto on the newest data of its source.",
    )
    def daily_drift_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        tick = context.scheduled_execution_time
        return [
            dg.RunRequest(
                run_key=f"drift-{tick:%Y-%m-%dT%H%M}-{crypto}", partition_key=crypto, tags={"cvn/trigger": "schedule"}
            )
            for crypto in cryptos
        ]

    return [weekly_sweep_schedule, daily_drift_schedule]
