"""`cvn-assets gate`: gate verdicts of a results table (CSV or Parquet) printed as a table or JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from cvn_assets.core.dossier.source import load_results_table, select_sweep
from cvn_assets.core.errors import DataSourceError, InsufficientDataError
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

BASELINE_FLAG_COLUMN = "is_baseline"
TRUE_MARKERS: frozenset[str] = frozenset({"true", "1", "1.0", "yes"})


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
        "--baseline", help=f"baseline variant (default: the variant flagged in an {BASELINE_FLAG_COLUMN} column)"
    )
    parser.add_argument("--model", help="gate only this model (default: every model)")
    parser.add_argument("--sweep-id", help="sweep to gate when the table's sweep_id column holds several")
    parser.add_argument("--universe-size", type=int, help="cryptos in the universe (default: cryptos in the table)")
    parser.add_argument(
        "--inference", choices=INFERENCE_METHODS, default=DEFAULT_INFERENCE,
        help="how the CI, p-value and MDE are computed: "
             + "; ".join(f"{name}: {label}" for name, label in METHOD_LABELS.items())
             + f" (default {DEFAULT_INFERENCE}; docs/gate-error-rates.md compares them)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate the requested factors and print the verdicts."""
    results, _ = select_sweep(read_results(args.results), args.sweep_id, str(args.results))
    factors = sorted(map(str, results["factor"].dropna().unique()))
    if args.factor is not None:
        if args.factor not in factors:
            raise InsufficientDataError(f"unknown factor {args.factor!r}; factors in {args.results}: {factors}")
        factors = [args.factor]
    elif args.baseline is not None and len(factors) > 1:
        raise InsufficientDataError(f"--baseline needs --factor when the table holds several factors: {factors}")
    thresholds = GateThresholds(inference=args.inference)
    verdicts: list[FactorVerdict] = []
    for factor in factors:
        baseline = args.baseline if args.baseline is not None else flagged_baseline(results, factor)
        # As in a sweep: a row failing a blocking check makes its variant INCONCLUSIVE, or only the gate
        # its metric feeds not evaluable (ECE: calibration).
        blocking = blocking_failures_by_variant(results[results["factor"] == factor])
        verdicts += evaluate_factor(
            results, factor, baseline, model=args.model, universe_size=args.universe_size, thresholds=thresholds,
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


def flagged_baseline(results: pd.DataFrame, factor: str) -> str:
    """The one variant of `factor` flagged in the is_baseline column."""
    if BASELINE_FLAG_COLUMN not in results.columns:
        raise InsufficientDataError(
            f"no baseline for factor {factor!r}: pass --baseline or add an {BASELINE_FLAG_COLUMN} column"
        )
    rows = results[results["factor"] == factor]
    flags = rows[BASELINE_FLAG_COLUMN]
    if not pd.api.types.is_bool_dtype(flags):
        flags = flags.astype(str).str.strip().str.lower().isin(TRUE_MARKERS)
    flagged = sorted(map(str, rows.loc[flags.to_numpy(dtype=bool), "variant"].unique()))
    if len(flagged) != 1:
        raise InsufficientDataError(
            f"factor {factor!r} needs exactly one variant flagged {BASELINE_FLAG_COLUMN}, found {flagged}; "
            "pass --baseline"
        )
    return flagged[0]
