"""Entry point of the `cvn-assets` console script.

A command lives in its own module exposing `add_parser(subparsers)`, which sets `handler` as a
default; adding a command is one more entry in `COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from cvn_assets.cli import alerts, audit, bench, dossier, gate, run
from cvn_assets.core.errors import CvnError
from cvn_assets.core.secrets import install_log_scrubber

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

COMMANDS: tuple[Registrar, ...] = (run.add_parser, gate.add_parser, alerts.add_parser, dossier.add_parser,
                                   bench.add_parser, audit.add_parser)

BAD_INPUT_EXIT_CODE = 2


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subcommand per registered command module."""
    parser = argparse.ArgumentParser(
        prog="cvn-assets", description="Factor-ablation sweeps for crypto BUY-vs-HOLD classifiers."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit code: 0 on success, 2 on bad input or usage."""
    install_log_scrubber()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        # argparse exits on usage errors and --help; return its code so callers get an int.
        return stop.code if isinstance(stop.code, int) else BAD_INPUT_EXIT_CODE
    try:
        return int(args.handler(args))
    except CvnError as error:
        message = " ".join(str(error).split())
        print(f"cvn-assets {args.command}: error: {message}", file=sys.stderr)
        return BAD_INPUT_EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
