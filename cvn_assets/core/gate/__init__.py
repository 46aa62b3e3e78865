"""Statistical gate: paired comparison of each variant with its factor's baseline."""

from cvn_assets.core.gate.blocking import BlockingFailure, blocking_failures_by_variant
from cvn_assets.core.gate.checks import NOT_EVALUABLE, GateCheck
from cvn_assets.core.gate.decision import Verdict
from cvn_assets.core.gate.evaluate import FactorVerdict, VariantVerdict, evaluate_factor
from cvn_assets.core.gate.pairs import GATE_METRICS, REQUIRED_COLUMNS
from cvn_assets.core.gate.report import render_verdict_table, verdict_table, verdicts_to_dict
from cvn_assets.core.gate.thresholds import GateThresholds

__all__ = [
    "GATE_METRICS",
    "NOT_EVALUABLE",
    "REQUIRED_COLUMNS",
    "BlockingFailure",
    "FactorVerdict",
    "GateCheck",
    "GateThresholds",
    "VariantVerdict",
    "Verdict",
    "blocking_failures_by_variant",
    "evaluate_factor",
    "render_verdict_table",
    "verdict_table",
    "verdicts_to_dict",
]
