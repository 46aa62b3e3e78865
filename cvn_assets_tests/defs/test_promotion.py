"""Promotion: automated on the gate check, and refused by hand without a LOCK."""

import dagster as dg
import pytest

from cvn_assets.defs.assets.promotion import PROMOTION_CONDITION
from cvn_assets.defs.build import build_defs

PROMOTED = dg.AssetKey("promoted_baseline")


def test_promotion_is_automated_on_the_gate_check(small_settings) -> None:
    condition = build_defs(small_settings).get_assets_def(PROMOTED).automation_conditions_by_key[PROMOTED]
    assert condition.get_snapshot() == PROMOTION_CONDITION.get_snapshot()


def test_promoting_without_a_lock_fails_naming_the_verdicts(small_settings, instance: dg.DagsterInstance) -> None:
    defs = build_defs(small_settings)
    asset = defs.get_assets_def(PROMOTED)
    with pytest.raises(ValueError, match=r"nothing to promote, no LOCK for xgboost \(filter KEEP_AVAILABLE\)"):
        asset(context=dg.build_asset_context(partition_key="cleanlab"),
              gate_verdict={"table": [{"variant": "filter", "model": "xgboost", "verdict": "KEEP_AVAILABLE",
                                       "mean_delta_f1_buy": 0.0}]},
              sweep=defs.resources["sweep"])
