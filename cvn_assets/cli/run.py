"""`cvn-assets run`: materialize the sweep (or one cell, crypto or variant) on the local Dagster instance."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cvn_assets.core.errors import SettingsError
from cvn_assets.orchestration.progress import PROGRESS_LINE_SECONDS

if TYPE_CHECKING:
    import dagster as dg

    from cvn_assets.orchestration.report import SweepReport


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="materialize the sweep on the Dagster instance in $DAGSTER_HOME and print the verdicts",
        description="Without options the whole grid runs: every crypto × fold × configuration, then the gates.",
        epilog="Your own sweep and data: CVN_CATALOGUE (catalogue YAML), CVN_DATA_DIR and CVN_DATA_PATTERN "
        "(one file per crypto, default {crypto}.*) or CVN_DATA_SQL_URL and CVN_DATA_SQL_TABLE, "
        "CVN_MAX_GAP_BARS (longest run of missing bars accepted); see docs/data.md.",
    )
    parser.add_argument("--crypto", action="append", help="only this crypto (repeatable)")
    parser.add_argument("--fold", action="append", help="only this fold, e.g. f1 (repeatable)")
    parser.add_argument("--variant", action="append", help="only this configuration id, e.g. ls_mild (repeatable)")
    parser.add_argument("--no-gate", action="store_true", help="skip the gate verdicts")
    parser.add_argument(
        "--force",
        action="store_true",
        help="recompute every selected partition, even those unchanged since their last run",
    )
    parser.add_argument(
        "--submit",
        action="store_true",
        help="submit the sweep to the instance's run queue and return: the daemon's sweep sensor "
        "submits its runs (each in a process or pod of its own), the run queue starts them",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="with --submit: follow the sweep's runs until it is done, then print the verdicts",
    )
    parser.add_argument(
        "--progress-every",
        type=_seconds,
        default=PROGRESS_LINE_SECONDS,
        metavar="SECONDS",
        help="when the output is not a terminal, print a cell run's progress at most this often "
        f"(default {PROGRESS_LINE_SECONDS:g}); on a terminal a progress bar shows it",
    )
    parser.set_defaults(handler=handle)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


SUMMARY_COLUMNS = (
    "variant",
    "model",
    "verdict",
    "n_pairs",
    "mean_delta_f1_buy",
    "ci_low",
    "ci_high",
    "cohens_d",
    "p_adjusted",
    "cryptos_improving",
    "mde",
)


def _summary(table: pd.DataFrame) -> pd.DataFrame:
    summary = table[[c for c in SUMMARY_COLUMNS if c in table.columns]].copy()
    return summary.round({"mean_delta_f1_buy": 4, "ci_low": 4, "ci_high": 4, "cohens_d": 3, "p_adjusted": 4, "mde": 4})


def handle(args: argparse.Namespace) -> int:
    if args.wait and not args.submit:
        raise SettingsError("--wait follows a submitted sweep: add --submit")
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path.cwd() / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)

    import dagster as dg

    from cvn_assets.defs.build import build_defs
    from cvn_assets.orchestration.progress import console_progress, listening
    from cvn_assets.orchestration.runner import run_sweep

    defs = build_defs()
    with dg.DagsterInstance.get() as instance:
        print(f"Dagster instance: {home}")
        if args.submit:
            return _submit(defs, instance, args)
        with listening(console_progress(every_seconds=args.progress_every)):
            report = run_sweep(
                defs,
                instance,
                cryptos=args.crypto,
                folds=args.fold,
                configs=args.variant,
                gate=not args.no_gate,
                force=args.force,
            )
    return print_report(report)


def _submit(defs: dg.Definitions, instance: dg.DagsterInstance, args: argparse.Namespace) -> int:
    from cvn_assets.orchestration.follow import follow_sweep
    from cvn_assets.orchestration.liveness import queue_served
    from cvn_assets.orchestration.state import Selection
    from cvn_assets.orchestration.submit import SWEEP_SENSOR, submit_sweep

    selection = Selection(
        tuple(args.crypto or ()), tuple(args.fold or ()), tuple(args.variant or ()), not args.no_gate, args.force
    )
    sweep_id = submit_sweep(defs, instance, selection)
    print(
        f"sweep {sweep_id} submitted: the {SWEEP_SENSOR} of `dagster-daemon run` submits its runs to the run queue"
        + ("" if args.wait else "; follow them in the UI (runs tagged cvn/sweep=" + sweep_id + ")")
    )
    if not queue_served(instance):
        print(
            "no daemon has reported to this instance lately: the sweep's runs start once `dagster-daemon run` "
            "(or `make ui`) runs on it"
        )
    return print_report(follow_sweep(defs, instance, sweep_id, selection)) if args.wait else 0


def print_report(report: SweepReport) -> int:
    """Prints what a sweep did, its verdicts and its problems; the exit status: 1 if any partition or fit failed."""
    print(f"\n{report.runs} runs, {report.skipped} unchanged partition(s) skipped, in {report.seconds:.1f}s")
    for factor, table in report.verdicts.items():
        print(f"\nGate verdicts — factor {factor}\n{_summary(table).to_string(index=False)}")
        for row in table.itertuples(index=False):
            if getattr(row, "failed_gates", ""):
                print(f"  {row.variant} ({row.model}): failed gates: {row.failed_gates}")
            if getattr(row, "reasons", ""):
                print(f"  {row.reasons}")
    if report.waiting:
        print(
            f"\n{len(report.waiting)} gate(s) not run yet: the cells they compare are not all there "
            "(run those configurations, or the whole grid, to gate them):"
        )
        for name, reason in report.waiting.items():
            print(f"  {name}: {reason}")
    if report.failed_fits:
        print(f"\n{len(report.failed_fits)} fit(s) failed (recorded as training_failed rows, each raised an alert):")
        for name, error in report.failed_fits.items():
            print(f"  {name}: {error}")
    if report.failures:
        print(f"\n{len(report.failures)} partition(s) failed:")
        for partition, message in report.failures.items():
            print(f"  {partition}: {message}")
    return 1 if report.failures or report.failed_fits else 0
