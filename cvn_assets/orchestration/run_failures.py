"""What a failed run says: its error in one line, and why a gate whose inputs failed has nothing to read.

An error the project raises on purpose (bad input, a guardrail) is shown as its message alone: the
exception's class name is for a bug, whose stack trace is in the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import pandas as pd

from cvn_assets.core.errors import CvnError
from cvn_assets.defs.jobs import CRYPTO_DATA_JOB


class ErrorInfo(Protocol):
    """The fields this module reads of Dagster's serialized error of a failed step."""

    @property
    def message(self) -> str: ...

    @property
    def cls_name(self) -> str | None: ...


def is_project_error(error: ErrorInfo) -> bool:
    """Whether the project raised this error on purpose (any CvnError), rather than a bug."""
    return error.cls_name in _project_error_names()


def error_text(error: ErrorInfo) -> str:
    """The error's message; a project error's without the `module.ClassName: ` that Python puts first."""
    message = error.message.strip()
    if not is_project_error(error):
        return message
    head, separator, rest = message.partition(": ")
    named = separator and (head == error.cls_name or head.endswith(f".{error.cls_name}"))
    return rest.strip() if named else message


def gate_inputs_failed(factor: str, rows: pd.DataFrame, failures: Mapping[str, str]) -> str | None:
    """Why the gate of `factor` has nothing to read, in one line: None when the factor has result
    rows or no run of the sweep failed. `failures` maps "job[partition]" to the run's error."""
    if not failures or ("factor" in rows.columns and (rows["factor"] == factor).any()):
        return None
    prefix = f"{CRYPTO_DATA_JOB}["
    data = {key[len(prefix) : -1]: error for key, error in failures.items() if key.startswith(prefix)}
    if len(data) == 1:
        crypto, error = next(iter(data.items()))
        cause = f"the data run of {crypto} failed: {error}"
    elif data:
        crypto, error = next(iter(data.items()))
        cause = f"the data runs of {', '.join(data)} failed ({crypto}: {error})"
    else:
        run, error = next(iter(failures.items()))
        cause = f"run {run} failed: {error}"
    return f"no results for factor {factor}: {cause}"


def _project_error_names() -> set[str]:
    names, classes = set(), [CvnError]
    while classes:
        error = classes.pop()
        names.add(error.__name__)
        classes += error.__subclasses__()
    return names
