"""The gate verdict's metadata counts the cells of each variant whose model beats always-BUY."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from cvn_assets.defs.build import build_defs
from cvn_assets_tests.conftest import make_settings
from cvn_assets_tests.core.dossier.results_table import FACTOR, SWEEP, toy_catalogue_document, toy_results


def test_the_verdict_metadata_says_how_many_cells_of_each_variant_have_skill(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    document = toy_catalogue_document()
    document["skill"] = {"min_f1_lift": 0.01, "max_buy_signal_rate": 0.4}
    defs = build_defs(make_settings(tmp_path, tmp_path, document, sweep_id=SWEEP))
    rows = toy_results()
    rows["always_buy_f1"], rows["buy_signal_rate"], rows["f1_lift_over_always_buy"] = 0.3, 0.3, 0.02
    # none: lift at the margin on two cryptos (no skill); mild: BUY on 45 % of BTC's and ETH's bars (no skill).
    rows.loc[(rows["variant"] == "none") & rows["crypto"].isin(["LTC", "XRP"]), "f1_lift_over_always_buy"] = 0.01
    rows.loc[(rows["variant"] == "mild") & rows["crypto"].isin(["BTC", "ETH"]), "buy_signal_rate"] = 0.45
    defs.resources["results"].store().upsert(rows)

    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=FACTOR, asset_selection=[dg.AssetKey("gate_verdict")]
    )

    metadata = result.asset_materializations_for_node("gate_verdict")[0].metadata
    # aggressive's failed (EOS, f2) cell counts as a cell without skill.
    assert metadata["skill"].value == {
        "none/xgboost": "skill: 15/25 cells",
        "mild/xgboost": "skill: 15/25 cells",
        "aggressive/xgboost": "skill: 24/25 cells",
    }
    assert metadata["skill_rule"].value == "f1_lift_over_always_buy > 0.01 and buy_signal_rate ≤ 0.4"
