"""Cost formula v3: what one round trip (entry and exit) of a trade costs, as a fraction of its notional."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from cvn_assets.core.errors import CatalogueError

HOURS_PER_FUNDING_PERIOD = 8.0


@dataclass(frozen=True)
class CostModel:
    """Round-trip cost of one trade, as fractions of the notional (cost formula v3).

    cost = taker_fee + spread + slippage + funding_per_8h * hours_held / 8, where
    hours_held = bars held * bar_hours. `version` names the formula, not a setting.
    """

    taker_fee: float = 0.0010
    spread: float = 0.0005
    slippage: float = 0.0010
    funding_per_8h: float = 0.0001
    bar_hours: float = 1.0
    version: str = field(default="v3", init=False)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "version":
                continue
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise CatalogueError(f"cost model {f.name} must be a finite number, got {value!r}")
            if value < 0:
                raise CatalogueError(f"cost model {f.name} must be >= 0, got {value!r}")
        if self.bar_hours <= 0:
            raise CatalogueError(f"cost model bar_hours must be > 0, got {self.bar_hours!r}")

    def trade_cost(self, hours_held: float | np.ndarray) -> float | np.ndarray:
        """Cost of one trade held `hours_held` hours (scalar or array, each >= 0)."""
        hours = np.asarray(hours_held, dtype=np.float64)
        if not np.all(np.isfinite(hours) & (hours >= 0)):
            raise ValueError(f"hours_held must be finite and >= 0, got {hours_held!r}")
        fixed = self.taker_fee + self.spread + self.slippage
        cost = fixed + self.funding_per_8h * hours / HOURS_PER_FUNDING_PERIOD
        return float(cost) if cost.ndim == 0 else cost
