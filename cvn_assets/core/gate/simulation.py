"""Error rates of the gate measured on synthetic sweeps whose true f1_buy lift is known.

Each synthetic sweep has n_cryptos × n_folds cells with Δf1_buy = lift + a_crypto + e_cell, where
a ~ N(0, ρ·sd²) is shared by a crypto's folds (their common history) and e ~ N(0, (1 − ρ)·sd²):
every cell has sd `delta_sd`, two folds of one crypto correlate by ρ. Every inference method sees
the same sweeps (common random numbers), so their rates differ by the method alone.

Each sweep runs the gate's own checks and verdict order: the f1_buy lift, per-asset, effect size
and significance gates are computed; the gates that need other metrics (joint, calibration,
density) and stability are set to pass, so the four f1_buy gates decide. One variant per factor,
so Benjamini–Hochberg leaves p unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvn_assets.core.errors import CatalogueError
from cvn_assets.core.gate.checks import GateCheck
from cvn_assets.core.gate.decision import Verdict, decide
from cvn_assets.core.gate.evaluate import primary_checks
from cvn_assets.core.gate.inference import infer
from cvn_assets.core.gate.statistics import cohens_d_paired
from cvn_assets.core.gate.thresholds import INFERENCE_METHODS, GateThresholds, InferenceMethod

SET_TO_PASS: tuple[str, ...] = ("joint.sortino", "joint.expectancy_net", "joint.max_drawdown", "calibration", "density")
DECIDING_EXCLUDED: tuple[str, ...] = ("stability",)
RESULT_COLUMNS: tuple[str, ...] = (
    "method",
    "rho",
    "lift",
    "sweeps",
    "coverage",
    "lock_rate",
    "abandon_rate",
    "rejection_rate",
    "mean_ci_width",
)


@dataclass(frozen=True)
class SimulationSettings:
    """What to simulate. delta_sd 0.03 is the middle of the spread of Δf1_buy across a real sweep's
    cells (0.02–0.04); the bootstrap uses fewer resamples than the gate's 10 000 to keep a run short.
    """

    n_sweeps: int = 1000
    seed: int = 20260428
    n_cryptos: int = 5
    n_folds: int = 5
    rhos: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)
    lifts: tuple[float, ...] = (0.0, 0.015, 0.03)
    delta_sd: float = 0.03
    bootstrap_resamples: int = 1000
    methods: tuple[InferenceMethod, ...] = INFERENCE_METHODS
    reference_rho: float = 0.5
    target_false_lock: float = 0.05
    target_coverage: float = 0.90

    def __post_init__(self) -> None:
        # A sweep needs 2 cryptos for a between-crypto spread and 2 folds for a within-crypto one.
        for name, least in (("n_sweeps", 1), ("n_cryptos", 2), ("n_folds", 2)):
            if getattr(self, name) < least:
                raise CatalogueError(f"simulation setting {name} must be at least {least}, got {getattr(self, name)}")
        if not all(0.0 <= rho < 1.0 for rho in self.rhos) or not self.rhos:
            raise CatalogueError(f"simulation setting rhos must lie in [0, 1), got {list(self.rhos)}")
        if not self.lifts or 0.0 not in self.lifts:
            raise CatalogueError(f"simulation setting lifts must include 0 (the null), got {list(self.lifts)}")
        if not (math.isfinite(self.delta_sd) and self.delta_sd > 0.0):
            raise CatalogueError(f"simulation setting delta_sd must be a positive number, got {self.delta_sd}")
        unknown = [m for m in self.methods if m not in INFERENCE_METHODS]
        if unknown or not self.methods:
            raise CatalogueError(f"simulation setting methods: unknown {unknown}; allowed: {list(INFERENCE_METHODS)}")
        # Validated once here, with the gate's own checks, instead of on the first sweep.
        GateThresholds(bootstrap_resamples=self.bootstrap_resamples, bootstrap_seed=self.seed)


@dataclass(frozen=True)
class _Outcome:
    covered: bool
    verdict: Verdict
    rejected: bool
    width: float


def simulate(settings: SimulationSettings, progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """One row per (method, ρ, lift): CI coverage of the true lift, LOCK, ABANDON and rejection rates."""
    index = pd.MultiIndex.from_product(
        [[f"C{c}" for c in range(settings.n_cryptos)], range(settings.n_folds)], names=["crypto", "fold"]
    )
    rng = np.random.default_rng(settings.seed)
    shared = rng.standard_normal((settings.n_sweeps, settings.n_cryptos, 1))
    own = rng.standard_normal((settings.n_sweeps, settings.n_cryptos, settings.n_folds))
    base = {m: GateThresholds(inference=m, bootstrap_resamples=settings.bootstrap_resamples) for m in settings.methods}
    rows = []
    for rho in settings.rhos:
        noise = settings.delta_sd * (math.sqrt(rho) * shared + math.sqrt(1.0 - rho) * own)
        for lift in settings.lifts:
            outcomes: dict[str, list[_Outcome]] = {m: [] for m in settings.methods}
            for sweep in range(settings.n_sweeps):
                deltas = pd.Series((lift + noise[sweep]).ravel(), index=index)
                for method, thresholds in base.items():
                    seeded = dataclasses.replace(thresholds, bootstrap_seed=settings.seed + sweep)
                    outcomes[method].append(_gate(deltas, lift, settings.n_cryptos, seeded))
            rows += [_summary(method, rho, lift, found) for method, found in outcomes.items()]
            if progress is not None:
                progress(f"ρ {rho:g}, lift {lift:+g}: {settings.n_sweeps} sweeps done")
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def _gate(deltas: pd.Series, lift: float, universe: int, thresholds: GateThresholds) -> _Outcome:
    inference = infer(deltas, thresholds)
    values = deltas.to_numpy()
    primary, _ = primary_checks(deltas, inference, cohens_d_paired(values), inference.p_value, 1, universe, thresholds)
    passing = [GateCheck(name, math.nan, math.nan, True, "set to pass in the simulation") for name in SET_TO_PASS]
    deciding = [c for c in primary if c.name not in DECIDING_EXCLUDED] + passing
    verdict, _ = decide(values.size, float(values.mean()), inference.ci, deciding, [], thresholds)
    low, high = inference.ci
    return _Outcome(low <= lift <= high, verdict, inference.p_value < thresholds.alpha, high - low)


def _summary(method: str, rho: float, lift: float, outcomes: list[_Outcome]) -> dict[str, object]:
    n = len(outcomes)
    return {
        "method": method,
        "rho": rho,
        "lift": lift,
        "sweeps": n,
        "coverage": sum(o.covered for o in outcomes) / n,
        "lock_rate": sum(o.verdict is Verdict.LOCK for o in outcomes) / n,
        "abandon_rate": sum(o.verdict is Verdict.ABANDON for o in outcomes) / n,
        "rejection_rate": sum(o.rejected for o in outcomes) / n,
        "mean_ci_width": float(np.mean([o.width for o in outcomes])),
    }
