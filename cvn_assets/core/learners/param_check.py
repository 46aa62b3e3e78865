"""Learner parameters checked by the library itself: a one-round fit on a few synthetic rows.

A learner class opts in with a `check_params(params)` classmethod that raises on a parameter its
library refuses or ignores; a registered learner without one is not checked. The training
libraries are imported by the check, so it runs where the Definitions are built (the code location
loading, a `cvn-assets run` starting), not wherever a catalogue is read, and each (learner,
parameters) pair is checked once per process.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from cvn_assets.core.errors import CatalogueError, TrainingError
from cvn_assets.core.learners.registry import registered_learner
from cvn_assets.core.secrets import scrub, scrub_text, secret_values

if TYPE_CHECKING:
    from cvn_assets.core.catalogue.loading import Catalogue

DRY_RUN_ROWS = 32
DRY_RUN_FEATURES = 3

_PASSED: set[tuple[str, str]] = set()
# Where in the library's C++ sources a check failed: noise next to the parameter and value it names.
_SOURCE_LOCATION = re.compile(r"^\S+\.(?:cpp|h):\d+: | at \S+\.(?:cpp|h), line \d+ ?\.?$")


def dry_run_data() -> tuple[np.ndarray, np.ndarray]:
    """A few rows of features with both classes, enough for every library to build a tree."""
    features = np.random.default_rng(0).normal(size=(DRY_RUN_ROWS, DRY_RUN_FEATURES))
    targets = (np.arange(DRY_RUN_ROWS) % 2).astype(float)
    return features, targets


def check_rounds(learner: str, key: str, value: Any) -> None:
    """The number of boosting rounds, which the dry run replaces by one, must be a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TrainingError(f"{learner}: {key} must be a positive integer, got {type(value).__name__} {value!r}")


def check_learner_params(name: str, params: Mapping[str, Any], where: str) -> None:
    """Raise `CatalogueError` naming `where`, the learner and its parameters if the library refuses them."""
    check = getattr(registered_learner(name), "check_params", None)
    key = (name, json.dumps(dict(params), sort_keys=True, default=repr))
    if check is None or key in _PASSED:
        return
    held = _HeldOutput()
    try:
        with _native_stderr_held(held):
            check(dict(params))
        held.release()
    except Exception as exc:  # each library raises its own error type
        reason = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        held.release(without=reason)
        # A credential given as a parameter (a learner calling a service, say) is named, never shown.
        hidden = secret_values({str(k): v for k, v in params.items()}) | secret_values(os.environ)
        reason = scrub_text(_SOURCE_LOCATION.sub("", reason), hidden)
        raise CatalogueError(
            f"{where}, learner {name!r} with parameters {scrub(dict(params), hidden)}: {reason}"
        ) from None
    _PASSED.add(key)


def check_catalogue_learners(catalogue: Catalogue) -> None:
    """Dry-run every learner parameter set the catalogue gives: the `learners` section and cleanlab's inner model."""
    for name, params, where in _configured_learner_params(catalogue):
        check_learner_params(name, params, where)


def _configured_learner_params(catalogue: Catalogue) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    from cvn_assets.core.catalogue.kinds import FACTOR_KINDS
    from cvn_assets.core.learners.registry import learner_names

    learners = set(learner_names())
    for name, params in catalogue.pipeline.learners.items():
        if name in learners:
            yield name, params, "catalogue section `learners`"
    for factor in catalogue.factors:
        default = FACTOR_KINDS[factor.name]()
        for variant in factor.variants:
            inner = getattr(variant.params, "inner_model", None)
            pairs = getattr(variant.params, "inner_model_params", None)
            # The defaults are known good; checking them would import a library for nothing.
            if inner is None or (inner, pairs) == (
                getattr(default, "inner_model", None),
                getattr(default, "inner_model_params", None),
            ):
                continue
            yield inner, dict(pairs or ()), f"factor {factor.name!r}, variant {variant.name!r}, inner model"


class _HeldOutput:
    def __init__(self) -> None:
        self.data = b""

    def release(self, without: str | None = None) -> None:
        """Writes what was held to stderr, except the lines that repeat `without` (the error raised)."""
        lines = self.data.splitlines(keepends=True)
        if without:
            lines = [line for line in lines if without.encode() not in line]
        self.data = b""
        if lines:
            os.write(2, b"".join(lines))


@contextmanager
def _native_stderr_held(held: _HeldOutput) -> Iterator[None]:
    """Holds back what native code writes to stderr meanwhile; `release()` passes it on.

    LightGBM's C++ prints its refusal ("[LightGBM] [Fatal] ...") straight to file descriptor 2 before
    raising it; the error raised here already says it, once and cleaner."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                sink.seek(0)
                held.data = sink.read()
    finally:
        os.close(saved)
