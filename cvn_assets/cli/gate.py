"""`cvn-assets gate`: gate verdicts of a results table (CSV or Parquet) printed as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from cvn_assets.cli.gate_arguments import BASELINE_FLAG_COLUMN, catalogue_loader, resolve_gate_arguments
from cvn_assets.core.dossier.source import load_results_table
from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.gate import (
    FactorVerdict,
    GateThresholds,
    blocking_failures_by_variant,
    evaluate_factor,
    render_verdict_table,
    verdicts_to_dict,
)
from cvn_assets.core.gate.inference import METHOD_LABELS
from cvn_assets.core.gate.pairs import require_results_columns
from cvn_assets.core.gate.thresholds import DEFAULT_INFERENCE, INFERENCE_METHODS


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `gate` subcommand."""
    parser = subparsers.add_parser(
        "gate",
        help="gate verdicts of a results table",
        description="Gate each variant of a factor against its baseline (CI and significance test that treat "
        "each crypto as one unit, Benjamini-Hochberg, effect size, MDE; default thresholds) "
        "and print the verdicts.",
    )
    parser.add_argument("--results", required=True, type=Path, help="results table, .csv or .parquet")
    parser.add_argument("--factor", help="factor to gate (default: every factor in the table)")
    parser.add_argument(
        "--baseline",
        help=f"baseline variant (default: the variant flagged in an {BASELINE_FLAG_COLUMN} column, "
        "else the catalogue's baseline of the factor)",
    )
    parser.add_argument(
        "--catalogue",
        type=Path,
        help="catalogue naming each factor's baseline, read when the table flags none "
        "(default: $CVN_CATALOGUE, else the packaged catalogue)",
    )
    parser.add_argument("--model", help="gate only this model (default: every model)")
    parser.add_argument(
        "--sweep-id",
        help="sweep to gate when the table's sweep_id column holds several "
        "(default: the only one with rows of --factor)",
    )
    parser.add_argument("--universe-size", type=int, help="cryptos in the universe (default: cryptos in the table)")
    parser.add_argument(
        "--inference",
        choices=INFERENCE_METHODS,
        default=DEFAULT_INFERENCE,
        help="how the CI, p-value and MDE are computed: "
        + "; ".join(f"{name}: {label}" for name, label in METHOD_LABELS.items())
        + f" (default {DEFAULT_INFERENCE}; docs/gate-error-rates.md compares them)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate the requested factors and print the verdicts."""
    chosen = resolve_gate_arguments(
        read_results(args.results),
        str(args.results),
        args.factor,
        args.baseline,
        args.sweep_id,
        catalogue_loader(args.catalogue),
    )
    for line in chosen.inferred:  # on stderr, so the verdicts on stdout stay a table or JSON
        print(line, file=sys.stderr)
    results = chosen.results
    thresholds = GateThresholds(inference=args.inference)
    verdicts: list[FactorVerdict] = []
    for factor in chosen.factors:
        # As in a sweep: a row failing a blocking check makes its variant INCONCLUSIVE, or only the gate
        # its metric feeds not evaluable (ECE: calibration).
        blocking = blocking_failures_by_variant(results[results["factor"] == factor])
        verdicts += evaluate_factor(
            results,
            factor,
            chosen.baselines[factor],
            model=args.model,
            universe_size=args.universe_size,
            thresholds=thresholds,
            blocking_failures=blocking,
        )
    if args.json:
        print(json.dumps(verdicts_to_dict(verdicts), indent=2, allow_nan=False, ensure_ascii=False))
    else:
        print(render_verdict_table(verdicts))
    return 0


def read_results(path: Path) -> pd.DataFrame:
    """Read a results table from CSV or Parquet as the dossier does, and check it as the gate needs."""
    table = load_results_table(path)
    try:
        require_results_columns(table)
    except DataSourceError as error:
        raise DataSourceError(f"{path}: {error}") from error
    return table
