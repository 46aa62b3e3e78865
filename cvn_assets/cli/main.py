"""Entry point of the `cvn-assets` console script.

A command lives in its own module exposing `add_parser(subparsers)`, which sets `handler` as a
default; adding a command is one more entry in `COMMANDS`.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable

from cvn_assets.cli import alerts, audit, bench, dossier, gate, gate_calibration, run
from cvn_assets.core.errors import CvnError
from cvn_assets.core.secrets import install_log_scrubber

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

COMMANDS: tuple[Registrar, ...] = (
    run.add_parser,
    gate.add_parser,
    alerts.add_parser,
    dossier.add_parser,
    bench.add_parser,
    audit.add_parser,
    gate_calibration.add_parser,
)

BAD_INPUT_EXIT_CODE = 2
BROKEN_PIPE_EXIT_CODE = 141  # 128 + SIGPIPE, what a shell reports for a command whose reader closed the pipe
# Dagster flags the beta and preview APIs the project builds on (partitioned asset checks, for one) on
# every load; the choice is made and tested once, so a command's output need not repeat it. By message,
# so a command that does not need Dagster does not import it for its warning classes.
KNOWN_API_STAGE_WARNING = r".* is currently in (beta|preview)"


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
    warnings.filterwarnings("ignore", message=KNOWN_API_STAGE_WARNING)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        # argparse exits on usage errors and --help; return its code so callers get an int.
        return stop.code if isinstance(stop.code, int) else BAD_INPUT_EXIT_CODE
    try:
        code = int(args.handler(args))
        sys.stdout.flush()  # so that a reader gone away surfaces here, not in Python's own flush at exit
        return code
    except CvnError as error:
        message = " ".join(str(error).split())
        print(f"cvn-assets {args.command}: error: {message}", file=sys.stderr)
        return BAD_INPUT_EXIT_CODE
    except BrokenPipeError:
        # The output went to a reader that stopped early (`| head`): what it read is all it wanted.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
