"""Keeps secrets out of metadata, logs, tracking params and the audit.

A secret is either the value of a secret-like key (`*_KEY`, `*_TOKEN`, `*_PASSWORD`, `*_SECRET`, any
case) in a mapping, the value of an environment variable with such a name wherever it appears in
text, or the password of a URL with credentials (`postgresql://user:PASSWORD@host/db`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

REDACTED = "***"
# Keys named like environment secrets (API_KEY, db_password, slack_token, ...), any case.
SECRET_KEY_PATTERN = re.compile(r"_(KEY|TOKEN|PASSWORD|SECRET)$", re.IGNORECASE)
# Dagster and project identifiers that end in `_key` but name a partition, asset or record, not a credential;
# masking them would erase the lineage the metadata exists for.
NON_SECRET_NAMES: frozenset[str] = frozenset({"partition_key", "asset_key", "run_key", "check_key", "dedup_key"})
MIN_SECRET_LENGTH = 4
# scheme://[user]:password@ — the password stops at the first character that cannot be in it unencoded.
_URL_PASSWORD = re.compile(r"(?P<prefix>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@?#'\"]*:)(?P<password>[^\s/@?#'\"]+)@")
# NAME=value, NAME: value, 'NAME': 'value' (dict reprs, env dumps, DSN-like strings) for secret-like names.
_NAMED_VALUE = re.compile(
    r"(?P<name>\b\w*_(?:KEY|TOKEN|PASSWORD|SECRET))\b(?P<separator>['\"]?\s*[:=]\s*['\"]?)(?P<value>[^\s'\",;}&)\]]+)",
    re.IGNORECASE,
)


# What every match of _NAMED_VALUE contains.
_SECRET_NAME_HINT = re.compile(r"_(?:KEY|TOKEN|PASSWORD|SECRET)", re.IGNORECASE)


def is_secret_name(name: object) -> bool:
    """True for keys and variable names that hold credentials by convention (`*_KEY`, `*_TOKEN`, ...)."""
    text = str(name)
    return bool(SECRET_KEY_PATTERN.search(text)) and text.lower() not in NON_SECRET_NAMES


def redact(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of `mapping` with the values of secret-like keys (`*_KEY`, `*_TOKEN`, `*_PASSWORD`,
    `*_SECRET`, any case) replaced by "***", in nested mappings and in lists of mappings too."""
    return {key: REDACTED if is_secret_name(key) else _redact_value(value) for key, value in mapping.items()}


def _redact_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    return value


def secret_values(environ: Mapping[str, str]) -> set[str]:
    """Values of the variables in `environ` whose names are secret-like, when at least 4 characters long
    (shorter values would mask ordinary text)."""
    return {
        value
        for name, value in environ.items()
        if is_secret_name(name) and isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH
    }


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of a secret value (also URL-encoded), every URL password and every
    value written next to a secret-like name (`API_TOKEN=...`) replaced by "***"."""
    return _scrub_text(text, _masking_order(secrets))


def _masking_order(secrets: Iterable[str]) -> tuple[str, ...]:
    # Longest first, so a secret containing another one is masked whole.
    return tuple(sorted(_with_encoded_forms(secrets), key=len, reverse=True))


def _scrub_text(text: str, ordered_secrets: tuple[str, ...]) -> str:
    # The patterns only match around "://" or a secret-like name: most texts (an audit holds thousands)
    # skip the regular expressions.
    masked = _URL_PASSWORD.sub(lambda match: f"{match['prefix']}{REDACTED}@", text) if "://" in text else text
    if _SECRET_NAME_HINT.search(masked):
        masked = _NAMED_VALUE.sub(_mask_named_value, masked)
    for secret in ordered_secrets:
        masked = masked.replace(secret, REDACTED)
    return masked


def _mask_named_value(match: re.Match[str]) -> str:
    if not is_secret_name(match["name"]) or match["value"] == REDACTED:
        return match[0]
    return f"{match['name']}{match['separator']}{REDACTED}"


def _with_encoded_forms(secrets: Iterable[str]) -> set[str]:
    values = {secret for secret in secrets if secret}
    return values | {quote(secret, safe="") for secret in values}


def scrub(obj: Any, secrets: Iterable[str] | None = None) -> Any:
    """Copy of `obj` (mappings, lists, tuples, strings, nested) with secret-like keys redacted and secret
    values masked in every string, keys included. `secrets` defaults to the secret values of `os.environ`.
    Other values (numbers, None, ...) are returned as they are."""
    return _scrub(obj, _masking_order(secret_values(os.environ) if secrets is None else secrets))


def _scrub(obj: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(obj, str):
        return _scrub_text(obj, secrets)
    if isinstance(obj, Mapping):
        return {
            _scrub(key, secrets): REDACTED if is_secret_name(key) else _scrub(value, secrets)
            for key, value in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [_scrub(item, secrets) for item in obj]
    return obj


class SecretScrubFilter(logging.Filter):
    """Masks secrets in a log record's message, arguments, traceback and stack; never drops a record."""

    def __init__(self, secrets: Iterable[str] | None = None) -> None:
        super().__init__()
        self.secrets = frozenset(secret_values(os.environ) if secrets is None else secrets)
        self._ordered = _masking_order(self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is left for the handler to report
            return True
        scrubbed = _scrub_text(message, self._ordered)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _scrub_text(record.exc_text, self._ordered)
        if record.stack_info:
            record.stack_info = _scrub_text(record.stack_info, self._ordered)
        return True


class ScrubbingRecordFactory:
    """A log record factory that passes every new record through a `SecretScrubFilter`."""

    def __init__(self, base: Callable[..., logging.LogRecord], scrubber: SecretScrubFilter) -> None:
        self.base = base
        self.scrubber = scrubber

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.base(*args, **kwargs)
        self.scrubber.filter(record)
        return record


def install_log_scrubber(environ: Mapping[str, str] | None = None) -> SecretScrubFilter:
    """Masks secrets in every log record created from now on, in this process, by any logger.

    Installed as the record factory rather than as a filter on named loggers because Dagster builds a
    new, unregistered `dagster` logger and new handlers for each run (`context.log`), and logger filters
    never see records propagated from child loggers. Calling it again refreshes the secrets from `environ`
    (default `os.environ`) without stacking factories.
    """
    scrubber = SecretScrubFilter(secret_values(os.environ if environ is None else environ))
    current = logging.getLogRecordFactory()
    if isinstance(current, ScrubbingRecordFactory):
        current.scrubber = scrubber
    else:
        logging.setLogRecordFactory(ScrubbingRecordFactory(current, scrubber))
    return scrubber


def uninstall_log_scrubber() -> None:
    """Restores the record factory that `install_log_scrubber` replaced (nothing if it is not installed)."""
    current = logging.getLogRecordFactory()
    if isinstance(current, ScrubbingRecordFactory):
        logging.setLogRecordFactory(current.base)
