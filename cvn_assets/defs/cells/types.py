"""What the per-cell computations take and give back, independent of how many cells a run covers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import pandas as pd

from cvn_assets.core.checks.sanity import CheckOutcome
from cvn_assets.core.training.fold_frames import folds_from_frame
from cvn_assets.core.training.folds import FoldWindows
from cvn_assets.defs.partitions import split_cell_key
from cvn_assets.defs.resources import ArtifactStoreResource, SweepResource

# Structured training events: (event name, fields) → one JSON log line in the run.
EventLog = Callable[..., None]


@dataclass(frozen=True)
class CryptoInputs:
    """The per-crypto values every cell of that crypto reads."""

    features: pd.DataFrame
    raw_labels: pd.DataFrame
    fold_windows: pd.DataFrame
    ohlcv: pd.DataFrame
    _folds: dict[str, FoldWindows] = field(default_factory=dict, compare=False, repr=False)

    def fold(self, fold_id: str) -> FoldWindows:
        """The windows of one fold (parsed once per crypto, not once per asset)."""
        if not self._folds:
            self._folds.update({f.fold: f for f in folds_from_frame(self.fold_windows)})
        if fold_id not in self._folds:
            raise KeyError(f"fold {fold_id} is not in the fold plan")
        return self._folds[fold_id]


@dataclass(frozen=True)
class Cell:
    """One cell partition: its key and what it is made of."""

    key: str
    crypto: str
    fold: str
    config_id: str

    @classmethod
    def of(cls, partition_key: str | dg.MultiPartitionKey) -> Cell:
        crypto, fold, config_id = split_cell_key(partition_key)
        return cls(str(partition_key), crypto, fold, config_id)

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class CellTools:
    """What every per-cell computation may use: the sweep, the artifact store, the training event log."""

    sweep: SweepResource
    artifacts: ArtifactStoreResource
    log_event: EventLog


@dataclass
class Part:
    """One asset's value for one cell, the metadata of that materialization and its check outcome."""

    value: Any
    metadata: dict[str, dg.MetadataValue] = field(default_factory=dict)
    check: CheckOutcome | None = None
    # Outcomes of its advisory (non-blocking) checks, by check name.
    advisory: dict[str, CheckOutcome] = field(default_factory=dict)
    # Values the cell's later steps use but do not store (e.g. the per-model metrics for tracking).
    extra: dict[str, Any] = field(default_factory=dict)
    # The training events it logged, one JSON object per line.
    events: list[str] = field(default_factory=list)
