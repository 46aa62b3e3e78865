"""Unique training configurations of a sweep, derived from its factors and joint rules.

A configuration fixes the parameters of every factor. Variants with identical configurations are
trained once (the baseline of every factor is the same configuration), and each configuration
lists the (factor, variant) pairs it stands for so the results table shows the sharing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cvn_assets.core.catalogue.factors import Factor, JointRule
from cvn_assets.core.catalogue.kinds import FACTOR_KINDS, as_dict, fingerprint

BASELINE_CONFIG_ID = "baseline"
JOINT_BASELINE_VARIANT = "baseline"


@dataclass(frozen=True)
class TrainingConfig:
    """One unique training configuration: a parameters object per factor.

    `members` are the (factor, variant) pairs it stands for. `joint_rule` names the joint rule of
    which it is a candidate; such a configuration runs only when that rule allows it.
    """

    config_id: str
    factor_params: Mapping[str, Any]
    members: tuple[tuple[str, str], ...]
    joint_rule: str | None = None

    def params_for(self, factor: str) -> Any:
        """This configuration's parameters of a factor kind (its default when the sweep does not vary it)."""
        if factor in self.factor_params:
            return self.factor_params[factor]
        return FACTOR_KINDS[factor]()

    def fingerprint(self) -> str:
        return fingerprint({name: as_dict(p) for name, p in sorted(self.factor_params.items())})

    def learner_for(self, model: str, params: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
        """The learner and parameters that train `model` here: a factor (e.g. focal loss) may swap them.

        Results keep the model's own name, so a variant pairs with its baseline in the gate.
        """
        name, resolved = model, dict(params or {})
        for factor_params in self.factor_params.values():
            choose = getattr(factor_params, "learner_choice", None)
            if choose is not None:
                name, resolved = choose(name, resolved)
        return name, resolved


def build_configs(factors: Sequence[Factor], joint_rules: Sequence[JointRule] = ()) -> list[TrainingConfig]:
    """Unique configurations: the shared baseline first, then single-factor variants, then joint candidates."""
    baseline_params = {f.name: f.variant(f.baseline).params for f in factors}
    by_key: dict[str, TrainingConfig] = {}

    def add(params: dict[str, Any], member: tuple[str, str], config_id: str, joint_rule: str | None = None) -> None:
        # Evaluation-only factors (which model answers) change no training: their variants share cells.
        params = {n: p for n, p in params.items() if not getattr(p, "evaluation_only", False)}
        key = fingerprint({n: as_dict(p) for n, p in sorted(params.items())})
        if key in by_key:
            existing = by_key[key]
            by_key[key] = dataclasses.replace(existing, members=existing.members + (member,))
            return
        is_baseline = all(params[n] == baseline_params[n] for n in params)
        by_key[key] = TrainingConfig(BASELINE_CONFIG_ID if is_baseline else config_id, params, (member,), joint_rule)

    for factor in factors:
        for variant in factor.variants:
            add(
                {**baseline_params, factor.name: variant.params},
                (factor.name, variant.name),
                f"{factor.alias}_{variant.name}",
            )
    by_name = {f.name: f for f in factors}
    for rule in joint_rules:
        add(dict(baseline_params), (rule.name, JOINT_BASELINE_VARIANT), BASELINE_CONFIG_ID)
        first, second = (by_name[name] for name in rule.factors)
        for a in (v for v in first.variants if not v.is_baseline):
            for b in (v for v in second.variants if not v.is_baseline):
                config_id = joint_config_id(first.alias, a.name, second.alias, b.name)
                add(
                    {**baseline_params, first.name: a.params, second.name: b.params},
                    (rule.name, config_id),
                    config_id,
                    joint_rule=rule.name,
                )
    configs = list(by_key.values())
    return sorted(configs, key=lambda c: (c.config_id != BASELINE_CONFIG_ID, c.joint_rule is not None))


def joint_config_id(first_alias: str, first_variant: str, second_alias: str, second_variant: str) -> str:
    return f"{first_alias}_{first_variant}_x_{second_alias}_{second_variant}"
