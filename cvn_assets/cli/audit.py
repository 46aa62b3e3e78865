"""`cvn-assets audit`: where a gate verdict came from, down to the candles."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="print the lineage of a factor's latest gate verdict",
        description="From the verdict to every cell, model, check, parameter, code version and OHLCV content hash "
        "it rests on, read from the Dagster instance in $DAGSTER_HOME: the catalogue, seed, code "
        "revision and library versions are those recorded when the verdict and its cells were "
        "produced. The current catalogue ($CVN_CATALOGUE, $CVN_UNIVERSE) is only compared with the "
        "recorded one, and read in place of it for a verdict that recorded no catalogue snapshot.",
    )
    parser.add_argument("factor", help="factor or joint rule, e.g. label_smoothing")
    parser.add_argument("--variant", help="only this variant (and the baseline it is paired with)")
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from cvn_assets.core.errors import CatalogueError, DataSourceError

    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path.cwd() / ".dagster_home")))
    # An audit only reads: a mistyped home must not become a new, empty instance that has "no verdict".
    if not home.is_dir():
        raise DataSourceError(f"no Dagster instance at {home} (DAGSTER_HOME); run the sweep there first")

    import dagster as dg

    from cvn_assets.core.dossier.audit import audit_json, audit_markdown
    from cvn_assets.defs.resources import SweepResource
    from cvn_assets.defs.settings import Settings
    from cvn_assets.lineage.audit import audit_verdict

    settings = Settings.from_env()
    current, error = None, None
    try:  # today's catalogue is only compared with the verdict's: a verdict is audited without it
        current = SweepResource(catalogue_path=settings.catalogue_path, universe=settings.universe).catalogue
    except CatalogueError as exc:
        error = str(exc)
    with dg.DagsterInstance.get() as instance:
        tree = audit_verdict(instance, args.factor, args.variant, current=current, current_error=error)
    print(audit_json(tree) if args.format == "json" else audit_markdown(tree))
    return 0
