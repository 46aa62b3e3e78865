"""MLflow params of a materialization: nested mappings flattened to dotted keys, values within MLflow's limit."""

import json
from collections.abc import Mapping
from typing import Any

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
            text = text[:MAX_PARAM_LENGTH - len(TRUNCATION_MARK)] + TRUNCATION_MARK
        flat[name] = text
    return flat
