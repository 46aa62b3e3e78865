"""The learner protocol every model and ensemble implements (scikit-learn conventions)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Learner(Protocol):
    """A binary BUY-vs-HOLD classifier.

    The constructor only stores parameters; `fit` returns self and leaves fitted state in
    attributes ending with `_`. Targets may be soft (in [0, 1]); a learner must train on them as
    probabilities, not binarise them.
    """

    name: str

    def get_params(self) -> dict[str, Any]:
        """Parameters as passed to the constructor (plus resolved defaults)."""
        ...

    def fit(self, features: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None) -> Learner:
        """Train on features with hard or soft targets in [0, 1]."""
        ...

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """P(BUY) per row, in [0, 1]."""
        ...

    def decision_margin(self, features: np.ndarray) -> np.ndarray | None:
        """Raw margins (logits) where the library has them, else None."""
        ...
