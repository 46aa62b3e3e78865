"""The kinds of factor a catalogue may vary, each with its typed parameters, and how parameters are fingerprinted."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from cvn_assets.core.catalogue.model_choice import ModelChoiceParams
from cvn_assets.core.labels.smoothing import SmoothingParams
from cvn_assets.core.learners.focal_loss import FocalParams
from cvn_assets.core.noise.params import CleanlabParams

# Factor name -> parameters class. A new factor kind registers its typed parameters here; the
# class's own validation is the guardrail, reported with the factor and variant that broke it, and
# its default is what a sweep that does not vary the factor trains with.
FACTOR_KINDS: dict[str, type] = {
    "label_smoothing": SmoothingParams,
    "cleanlab": CleanlabParams,
    "focal_loss": FocalParams,
    "ensemble": ModelChoiceParams,
}


def register_factor_kind(name: str, params_class: type) -> None:
    """Declare a factor whose variants are parameterised by `params_class`."""
    FACTOR_KINDS[name] = params_class


def as_dict(params: Any) -> Any:
    """A dataclass instance's fields as a dict; any other value as it is."""
    if dataclasses.is_dataclass(params) and not isinstance(params, type):
        return dataclasses.asdict(params)
    return params


def fingerprint(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
