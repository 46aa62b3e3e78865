"""What a materialization gives MLflow, checked before anything is logged: params (nested mappings flattened
to dotted keys, values within MLflow's limit), metrics (numbers) and artifacts (existing files)."""

import json
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cvn_assets.core.errors import CvnError
from cvn_assets.core.secrets import scrub

# mlflow.utils.validation.MAX_PARAM_VAL_LENGTH, repeated here so that mlflow is only imported when tracking.
MAX_PARAM_LENGTH = 6000
TRUNCATION_MARK = "...[truncated]"


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested mappings as dotted keys; lists as JSON; values longer than MLflow allows are truncated."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_params(value, prefix=f"{name}."))
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
        if len(text) > MAX_PARAM_LENGTH:
            text = text[: MAX_PARAM_LENGTH - len(TRUNCATION_MARK)] + TRUNCATION_MARK
        flat[name] = text
    return flat


class TrackingError(CvnError):
    """A materialization cannot be tracked: bad metrics or artifacts, or the tracking store failed."""


def metric_values(metrics: Mapping[str, float], subject: str) -> dict[str, float]:
    """The metrics as floats; a non-number is refused naming the materialization (`subject`)."""
    if bad := {
        name: value for name, value in metrics.items() if not isinstance(value, numbers.Real) or isinstance(value, bool)
    }:
        raise TrackingError(f"MLflow metrics of {subject} must be numbers; got {scrub(bad)}")
    return {str(name): float(value) for name, value in metrics.items()}


def artifact_paths(artifacts: Sequence[Path | str], subject: str) -> list[Path]:
    """The artifacts as paths; a missing one is refused naming the materialization (`subject`)."""
    paths = [Path(artifact) for artifact in artifacts]
    if missing := [str(path) for path in paths if not path.exists()]:
        raise TrackingError(f"MLflow artifacts of {subject} do not exist: {missing}")
    return paths
