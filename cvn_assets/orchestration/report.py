"""What a sweep run did, as `cvn-assets run` and the benchmark report it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from cvn_assets.core.schema import STATUS_TRAINING_FAILED
from cvn_assets.defs.partitions import cell_key


@dataclass
class SweepReport:
    """What a sweep run did: runs launched, partitions skipped as unchanged, failures, verdicts, gates waiting."""

    runs: int = 0
    skipped: int = 0
    executed: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    # The run id of each failure that is a failed run (a joint rule left undecided is not one).
    failed_run_ids: dict[str, str] = field(default_factory=dict)
    # Fits that failed in this sweep's cell runs ("<cell> <model>" → error): recorded as `training_failed`
    # rows and alerts, the runs themselves succeed.
    failed_fits: dict[str, str] = field(default_factory=dict)
    verdicts: dict[str, pd.DataFrame] = field(default_factory=dict)
    # Gates not run because a configuration they compare was neither selected nor stored for every
    # selected cell (name → what is lacking): a partial run, not a failure.
    waiting: dict[str, str] = field(default_factory=dict)
    alerts: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


def failed_fits(rows: pd.DataFrame, cells: set[str]) -> dict[str, str]:
    """The `training_failed` rows of these cells, one per cell and model ("<cell> <model>" → error)."""
    failed = rows[rows["status"] == STATUS_TRAINING_FAILED]
    return {f"{key} {row.model}": str(row.error)
            for row in failed.itertuples(index=False)
            if (key := str(cell_key(row.crypto, row.fold, row.config_id))) in cells}
