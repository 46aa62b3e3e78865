"""Gate verdicts of a whole sweep: each factor against its baseline, and each joint rule.

A joint rule tries the winners of two factors together, and only when both winners pass their
gates (LOCK). The decision is a pure function of the results rows, so the runner that decides
what to train and the gate that explains the outcome always agree.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from cvn_assets.core.catalogue.configs import JOINT_BASELINE_VARIANT, joint_config_id
from cvn_assets.core.catalogue.factors import JointRule
from cvn_assets.core.catalogue.loading import Catalogue
from cvn_assets.core.gate import FactorVerdict, Verdict, blocking_failures_by_variant, evaluate_factor, verdict_table


@dataclass(frozen=True)
class JointDecision:
    """Whether a joint rule's candidate runs, which one, and why."""

    rule: str
    config_id: str | None
    winners: Mapping[str, str | None]
    reasons: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "config_id": self.config_id,
            "winners": dict(self.winners),
            "reasons": list(self.reasons),
        }


# A sweep gates the same factor on the same rows several times: its own gate, each joint rule's
# decision (in the runner and in the joint gate) and each results dossier; the bootstrap and tests
# cost 0.1-0.3 s a time. Keyed on the catalogue and on the rows' content (values, dtypes, index,
# columns: not their pickle, whose bytes change with pandas' memory layout), so a hit is the same input.
_RECENT_VERDICTS: OrderedDict[tuple[str, str, bytes], list[FactorVerdict]] = OrderedDict()
_RECENT_SIZE = 16
_RECENT_LOCK = threading.Lock()


def evaluate_single_factor(catalogue: Catalogue, rows: pd.DataFrame, factor_name: str) -> list[FactorVerdict]:
    """Verdicts of every non-baseline variant of one factor against its baseline."""
    factor = catalogue.factor(factor_name)
    factor_rows = rows[rows["factor"] == factor_name]
    key = (catalogue.fingerprint(), factor_name, _content_digest(factor_rows))
    with _RECENT_LOCK:
        if key in _RECENT_VERDICTS:
            _RECENT_VERDICTS.move_to_end(key)
            return copy.deepcopy(_RECENT_VERDICTS[key])
    verdicts = evaluate_factor(
        factor_rows,
        factor_name,
        factor.baseline,
        variants=[v.name for v in factor.variants if not v.is_baseline],
        universe_size=len(catalogue.universe),
        thresholds=catalogue.pipeline.gate,
        blocking_failures=blocking_failures_by_variant(factor_rows),
    )
    with _RECENT_LOCK:
        _RECENT_VERDICTS[key] = copy.deepcopy(verdicts)
        while len(_RECENT_VERDICTS) > _RECENT_SIZE:
            _RECENT_VERDICTS.popitem(last=False)
    return verdicts


def _content_digest(rows: pd.DataFrame) -> bytes:
    digest = hashlib.sha256(repr([(str(c), str(t)) for c, t in rows.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(rows, index=True).to_numpy().tobytes())
    return digest.digest()


def forget_recent_verdicts() -> None:
    """Empties the verdicts kept for identical inputs (a benchmark times the evaluation itself)."""
    with _RECENT_LOCK:
        _RECENT_VERDICTS.clear()


def decide_joint(catalogue: Catalogue, rule: JointRule, rows: pd.DataFrame) -> JointDecision:
    """The joint candidate to run: the best LOCK variant of each factor, or none with the reasons."""
    model = catalogue.primary_model
    winners: dict[str, str | None] = {}
    reasons = []
    for factor_name in rule.factors:
        verdicts = [
            v for fv in evaluate_single_factor(catalogue, rows, factor_name) if fv.model == model for v in fv.variants
        ]
        passing = [v for v in verdicts if v.verdict == Verdict.LOCK]
        if passing:
            best = max(passing, key=lambda v: v.mean_delta_f1)
            winners[factor_name] = best.variant
            reasons.append(f"{factor_name}: {best.variant} passes its gate (mean Δf1_buy {best.mean_delta_f1:+.4f})")
        else:
            winners[factor_name] = None
            summary = ", ".join(f"{v.variant} {v.verdict}" for v in verdicts) or "no variant evaluated"
            reasons.append(f"{factor_name}: no variant passes its gate ({summary})")
    first_winner, second_winner = (winners[name] for name in rule.factors)
    if first_winner is None or second_winner is None:
        return JointDecision(rule.name, None, winners, ("joint variant not materialized", *reasons))
    first, second = (catalogue.factor(name) for name in rule.factors)
    config_id = joint_config_id(first.alias, first_winner, second.alias, second_winner)
    return JointDecision(rule.name, config_id, winners, tuple(reasons))


def evaluate_joint(
    catalogue: Catalogue, rule: JointRule, rows: pd.DataFrame
) -> tuple[list[FactorVerdict], JointDecision]:
    """Verdict of the joint candidate against the shared baseline, when the rule lets it run."""
    decision = decide_joint(catalogue, rule, rows)
    joint_rows = rows[rows["factor"] == rule.name]
    if decision.config_id is None or decision.config_id not in set(joint_rows["variant"]):
        return [], decision
    verdicts = evaluate_factor(
        joint_rows,
        rule.name,
        JOINT_BASELINE_VARIANT,
        variants=[decision.config_id],
        universe_size=len(catalogue.universe),
        thresholds=catalogue.pipeline.gate,
        blocking_failures=blocking_failures_by_variant(joint_rows),
    )
    return verdicts, decision


def gate_table(verdicts: list[FactorVerdict], decision: JointDecision | None = None) -> pd.DataFrame:
    """The verdict table; a joint rule that did not run gets one INCONCLUSIVE row saying why."""
    if verdicts:
        return verdict_table(verdicts)
    if decision is None:
        return pd.DataFrame()
    return pd.DataFrame(
        [
            {
                "factor": decision.rule,
                "variant": "-",
                "model": "-",
                "baseline": JOINT_BASELINE_VARIANT,
                "verdict": str(Verdict.INCONCLUSIVE),
                "n_pairs": 0,
                "failed_gates": "",
                "reasons": "; ".join(decision.reasons),
            }
        ]
    )
