"""`cvn-assets dossier`: the results dossier of one factor from an imported `finetune_results` table.

Re-evaluates the gate on the table's rows (no training) and writes report.md, report.html and the
figures, exactly as the `results_dossier` asset does for a sweep run here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cvn_assets.core.catalogue.loading import load_catalogue
from cvn_assets.core.dossier import build_dossier, describe_source, load_results_table, select_sweep, write_dossier
from cvn_assets.core.results.store import RESULTS_TABLE
from cvn_assets.defs.settings import Settings


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `dossier` subcommand."""
    parser = subparsers.add_parser(
        "dossier",
        help="write the results dossier of a factor from a results table",
        description="Gate a factor on an existing finetune_results table (CSV, Parquet or a database table) and "
        "write its dossier: verdicts, gate table, heat map, reliability diagrams, CI plot, lineage.",
    )
    parser.add_argument("factor", help="factor or joint rule of the catalogue, e.g. label_smoothing")
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        help="a .csv or .parquet file, or a SQLAlchemy URL such as sqlite:///results.db",
    )
    parser.add_argument(
        "--table", default=RESULTS_TABLE, help=f"table name at a database URL (default {RESULTS_TABLE})"
    )
    parser.add_argument("--sweep-id", help="sweep to report when the table holds several")
    parser.add_argument(
        "--catalogue",
        type=Path,
        help="catalogue YAML with the factor's baseline and the gate thresholds "
        "(default: $CVN_CATALOGUE, else the packaged catalogue)",
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="folder to write report.md, report.html and figures/ into"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Build and write the dossier, then print the verdicts and where the files are."""
    catalogue = load_catalogue(args.catalogue or Settings.from_env().catalogue_path)
    where = describe_source(args.source, args.table)
    results, sweep_id = select_sweep(load_results_table(args.source, args.table), args.sweep_id, where)
    dossier = build_dossier(results, catalogue, args.factor, lineage=None, sweep_id=sweep_id)
    files = write_dossier(dossier, args.out)
    print(f"Dossier of {args.factor} from {where}" + (f", sweep {sweep_id}" if sweep_id else ""))
    for row in dossier.summary.itertuples(index=False):
        print(f"  {row.variant} ({row.model}): {row.verdict}")
    print(f"  markdown: {files.markdown}")
    print(f"  html:     {files.html}")
    for name, path in files.figures.items():
        print(f"  figure {name}: {path}")
    return 0
