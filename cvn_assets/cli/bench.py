"""`cvn-assets bench`: time the sweep through Dagster against a plain Python loop, a re-run after a
parameter change, and the gate over many variants; write JSON and print a summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from cvn_assets_bench.suite import DEFAULT_OUT, DEFAULT_PARTS, PARTS, BenchmarkError, BenchOptions, run_benchmark
from cvn_assets_bench.summary import render_summary


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmark the sweep: Dagster vs a plain loop, a re-run, the gate over 20 variants",
        description="Parts: plain (the sweep as a plain loop), dagster (the sweep as `cvn-assets run` does it, on a "
        "fresh instance), rerun (the same instance after one variant's parameters change; implies "
        "dagster), gate (the gate over 20 variants), events (the cells' materializations and checks "
        "recorded with no computation: the event log's floor), and only when named, floor (the dagster "
        "part on Dagster's in-memory instance with MLflow off: what the stores cost). Each runs in its "
        "own process.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny configuration: one crypto, a few months of bars, XGBoost with few rounds, 2 folds",
    )
    parser.add_argument(
        "--only", help=f"comma-separated parts to run, from {','.join(PARTS)} (default: {','.join(DEFAULT_PARTS)})"
    )
    parser.add_argument("--skip-dagster", action="store_true", help="leave out the dagster, floor and rerun parts")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON file to write (default: {DEFAULT_OUT})")
    parser.add_argument("--threads", type=int, help="threads per learner fit (default: CVN_THREADS, or 1 with --quick)")
    parser.add_argument(
        "--cell-workers", type=int, help="cells computed at once (default: CVN_CELL_WORKERS, or 1 with --quick)"
    )
    parser.add_argument("--dagster-yaml", type=Path, help="instance settings to copy (default: the repository's)")
    parser.add_argument("--keep-files", action="store_true", help="keep the temporary instance, data and catalogues")
    parser.set_defaults(handler=handle)


def selected_parts(only: str | None, skip_dagster: bool) -> tuple[str, ...]:
    """The parts to run, in benchmark order."""
    chosen = [p.strip() for p in only.split(",") if p.strip()] if only else list(DEFAULT_PARTS)
    unknown = sorted(set(chosen) - set(PARTS))
    if unknown:
        raise BenchmarkError(f"--only names unknown part(s) {unknown}; choose from {list(PARTS)}")
    if skip_dagster:
        chosen = [p for p in chosen if p not in ("dagster", "floor", "rerun")]
    if not chosen:
        raise BenchmarkError("no benchmark part left to run")
    return tuple(p for p in PARTS if p in chosen)


def handle(args: argparse.Namespace) -> int:
    if args.threads is not None and args.threads < 1:
        raise BenchmarkError(f"--threads must be at least 1, got {args.threads}")
    if args.cell_workers is not None and args.cell_workers < 1:
        raise BenchmarkError(f"--cell-workers must be at least 1, got {args.cell_workers}")
    options = BenchOptions(
        quick=args.quick,
        parts=selected_parts(args.only, args.skip_dagster),
        out=args.out,
        n_threads=args.threads,
        cell_workers=args.cell_workers,
        dagster_yaml=args.dagster_yaml,
        keep_files=args.keep_files,
    )
    document = run_benchmark(options)
    print("\n" + render_summary(document))
    print(f"\nresults written to {args.out}")
    return 0
