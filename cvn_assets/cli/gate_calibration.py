"""`cvn-assets gate-calibration`: the gate's CI coverage, false-LOCK / false-ABANDON rates and power,
measured on simulated sweeps, for each inference method."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from cvn_assets.core.gate.error_rates import rates_document, render_markdown, summary_table, write_rates
from cvn_assets.core.gate.simulation import SimulationSettings, simulate
from cvn_assets.core.gate.thresholds import INFERENCE_METHODS

DEFAULTS = SimulationSettings()


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `gate-calibration` subcommand."""
    parser = subparsers.add_parser(
        "gate-calibration",
        help="measure the gate's error rates on simulated sweeps",
        description="Simulate sweeps with a known true f1_buy lift and within-crypto correlation ρ, gate each with "
        "every inference method, and report CI coverage, false LOCK, false ABANDON and power. "
        "Seeded: the same options give the same table.",
    )
    parser.add_argument(
        "--n-sweeps", type=int, default=DEFAULTS.n_sweeps, help=f"sweeps per (ρ, lift) (default {DEFAULTS.n_sweeps})"
    )
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help=f"random seed (default {DEFAULTS.seed})")
    parser.add_argument(
        "--cryptos", type=int, default=DEFAULTS.n_cryptos, help=f"cryptos per sweep (default {DEFAULTS.n_cryptos})"
    )
    parser.add_argument(
        "--folds", type=int, default=DEFAULTS.n_folds, help=f"folds per crypto (default {DEFAULTS.n_folds})"
    )
    parser.add_argument(
        "--rho",
        type=float,
        nargs="+",
        default=list(DEFAULTS.rhos),
        help=f"within-crypto correlations (default {' '.join(map(str, DEFAULTS.rhos))})",
    )
    parser.add_argument(
        "--lift",
        type=float,
        nargs="+",
        default=list(DEFAULTS.lifts),
        help=f"true lifts, 0 included (default {' '.join(map(str, DEFAULTS.lifts))})",
    )
    parser.add_argument(
        "--delta-sd",
        type=float,
        default=DEFAULTS.delta_sd,
        help=f"sd of Δf1_buy per cell (default {DEFAULTS.delta_sd})",
    )
    parser.add_argument(
        "--resamples",
        type=int,
        default=DEFAULTS.bootstrap_resamples,
        help=f"bootstrap resamples per sweep (default {DEFAULTS.bootstrap_resamples})",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=INFERENCE_METHODS,
        default=list(DEFAULTS.methods),
        help="inference methods to compare (default: all)",
    )
    parser.add_argument("--doc", type=Path, help="also write the Markdown report here (e.g. docs/gate-error-rates.md)")
    parser.add_argument(
        "--rates", type=Path, help="also write the data file the dossier reads (cvn_assets/core/gate/error_rates.json)"
    )
    parser.add_argument("--json", action="store_true", help="print every result row as JSON instead of the table")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Simulate, print the table, and write the report and data file when asked."""
    settings = SimulationSettings(
        n_sweeps=args.n_sweeps,
        seed=args.seed,
        n_cryptos=args.cryptos,
        n_folds=args.folds,
        rhos=tuple(args.rho),
        lifts=tuple(args.lift),
        delta_sd=args.delta_sd,
        bootstrap_resamples=args.resamples,
        methods=tuple(args.methods),
    )
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    results = simulate(settings, progress)
    command = reproducing_command(args)
    if args.doc is not None:
        args.doc.parent.mkdir(parents=True, exist_ok=True)
        args.doc.write_text(render_markdown(results, settings, command), encoding="utf-8")
    if args.rates is not None:
        write_rates(rates_document(results, settings, command), args.rates)
    if args.json:
        print(json.dumps(results.to_dict(orient="records"), indent=1))
    else:
        print(summary_table(results).to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return 0


def reproducing_command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run: every option that changes its numbers, and its outputs."""
    words = [
        "cvn-assets",
        "gate-calibration",
        "--n-sweeps",
        str(args.n_sweeps),
        "--seed",
        str(args.seed),
        "--cryptos",
        str(args.cryptos),
        "--folds",
        str(args.folds),
        "--rho",
        *map(str, args.rho),
        "--lift",
        *map(str, args.lift),
        "--delta-sd",
        str(args.delta_sd),
        "--resamples",
        str(args.resamples),
        "--methods",
        *args.methods,
    ]
    for option, path in (("--doc", args.doc), ("--rates", args.rates)):
        if path is not None:
            words += [option, str(path)]
    return shlex.join(words)
