"""Errors raised by the core. Each names what is wrong so a user can act on it."""

from __future__ import annotations


class CvnError(Exception):
    """Base class of every error cvn-assets raises on purpose."""


class OhlcvValidationError(CvnError):
    """Bad OHLCV input: names the source (when known), the crypto, the offending row and the problem.

    `row` is the 0-based data row and `line` its line in a text file, numbered as the readers' parse
    errors number them, so both kinds of error point at the same place.
    """

    def __init__(
        self,
        crypto: str,
        row: int | None,
        problem: str,
        timestamp: object | None = None,
        source: str | None = None,
        line: int | None = None,
    ) -> None:
        self.crypto = crypto
        self.row = row
        self.problem = problem
        self.timestamp = timestamp
        self.source = source
        self.line = line
        subject = f"OHLCV for {crypto}" if source is None else f"{source} ({crypto})"
        where = "" if row is None else f": row {row}" + ("" if line is None else f" (line {line})")
        when = "" if timestamp is None else f" at {timestamp}"
        super().__init__(f"{subject}{where}{when}: {problem}")


class DataSourceError(CvnError):
    """A data file or table cannot be found or read."""


class CatalogueError(CvnError):
    """The factor catalogue is malformed or violates a guardrail."""


class SettingsError(CvnError, ValueError):
    """An environment setting (CVN_*) has a value outside what it accepts: names the variable, the value
    and what is accepted. Still a ValueError, as settings errors were before."""


class TrainingError(CvnError):
    """A learner failed to fit or predict on one cell."""


class InsufficientDataError(CvnError):
    """A step lacks the rows it needs (e.g. no validation rows for the threshold sweep)."""
