"""Statistical gate: paired comparison of each variant with its factor's baseline."""

from cvn_assets.core.gate.checks import GateCheck
from cvn_assets.core.gate.evaluate import FactorVerdict, VariantVerdict, Verdict, evaluate_factor
from cvn_assets.core.gate.pairs import GATE_METRICS, REQUIRED_COLUMNS
from cvn_assets.core.gate.report import render_verdict_table, verdict_table, verdicts_to_dict
from cvn_assets.core.gate.thresholds import GateThresholds

__all__ = [
    "GATE_METRICS",
    "REQUIRED_COLUMNS",
    "FactorVerdict",
    "GateCheck",
    "GateThresholds",
    "VariantVerdict",
    "Verdict",
    "evaluate_factor",
    "render_verdict_table",
    "verdict_table",
    "verdicts_to_dict",
]
