"""The `ensemble` factor: which trained model or ensemble answers for the sweep.

Its variants change no training, only which predictions are evaluated, so every variant reuses
the baseline configuration's cells and the gate compares models on identical data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

# The results table names the chosen model this way so that every variant pairs with the baseline.
SELECTED_MODEL = "selected"


@dataclass(frozen=True)
class ModelChoiceParams:
    """The model or ensemble whose predictions stand for this variant."""

    model: str = "xgboost"
    evaluation_only: ClassVar[bool] = True
