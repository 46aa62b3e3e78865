"""`cvn-assets alerts`: list the alerts recorded by the sensors, newest first (grouped as they were sent,
or each cell's own with `--detail`)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pandas as pd

from cvn_assets.core.errors import CatalogueError

_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("alerts", help="list recorded alerts (drop rates, training failures, drift)")
    parser.add_argument("--since", help="ISO time (2026-11-01T00:00Z) or an age such as 24h, 7d, 30m")
    parser.add_argument("--kind", help="only this kind, e.g. training_failed")
    parser.add_argument("--url", help="SQLAlchemy URL of the alerts table (default: from the environment)")
    parser.add_argument(
        "--detail",
        action="store_true",
        help="each cell's own alert instead of the one alert per sweep, variant and kind that groups them",
    )
    parser.set_defaults(handler=handle)


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    if not text:
        return None
    now = now or datetime.now(UTC)
    if text[-1] in _UNITS and text[:-1].isdecimal():
        try:
            return now - timedelta(**{_UNITS[text[-1]]: int(text[:-1])})
        except OverflowError as error:
            raise CatalogueError(f"--since {text!r} reaches back before the year 1") from error
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise CatalogueError(f"--since {text!r} is neither an ISO time nor an age like 24h / 7d") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def handle(args: argparse.Namespace) -> int:
    from cvn_assets.core.alerts.sink import ALERT_KINDS, AlertStore
    from cvn_assets.defs.settings import Settings

    since = parse_since(args.since)
    if args.kind is not None and args.kind not in ALERT_KINDS:
        raise CatalogueError(f"--kind {args.kind!r} is not an alert kind; known kinds: {list(ALERT_KINDS)}")
    settings = Settings.from_env()
    url = args.url or settings.alerts_url or settings.results_url
    # Listing alerts must not create an empty store where none was: a wrong path would read as "no alerts".
    table = AlertStore(url, create_database=False).query(since=since, kind=args.kind, detail=args.detail)
    if table.empty:
        print("no alerts")
        return 0
    columns = ["created_at", "severity", "kind", "subject", "observed", "threshold", "message"]
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        print(table[columns].to_string(index=False))
    return 0
