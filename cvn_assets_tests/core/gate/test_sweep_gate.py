"""Joint rule: the winners of two factors run together only when both pass their gates."""

import pickle

import numpy as np
import pandas as pd
import pytest

from cvn_assets.core.catalogue.loading import load_catalogue
from cvn_assets.core.gate import Verdict
from cvn_assets.core.gate.sweep import decide_joint, evaluate_joint, evaluate_single_factor, gate_table

CRYPTOS = ("BTC", "ETH", "LTC", "XRP", "EOS")
FOLDS = ("f1", "f2", "f3", "f4", "f5")


def _rows(lifts: dict[tuple[str, str], float]) -> pd.DataFrame:
    """Results of the default catalogue's factors; `lifts` maps (factor, variant) to its Δf1_buy."""
    rng = np.random.default_rng(0)
    rows = []
    for i, crypto in enumerate(CRYPTOS):
        for j, fold in enumerate(FOLDS):
            base = 0.40 + 0.01 * i - 0.005 * j
            for factor, variant, config_id in (
                ("label_smoothing", "none", "baseline"),
                ("cleanlab", "off", "baseline"),
                ("label_smoothing_x_cleanlab", "baseline", "baseline"),
                ("label_smoothing", "mild", "ls_mild"),
                ("label_smoothing", "aggressive", "ls_aggressive"),
                ("cleanlab", "filter", "cl_filter"),
                ("cleanlab", "reweight", "cl_reweight"),
            ):
                lift = lifts.get((factor, variant), 0.0)
                noise = 0.0 if config_id == "baseline" else rng.normal(0, 0.004)
                rows.append(
                    {
                        "crypto": crypto,
                        "fold": fold,
                        "factor": factor,
                        "variant": variant,
                        "config_id": config_id,
                        "model": "xgboost",
                        "status": "ok",
                        "f1_buy": base + lift + noise,
                        "sortino": 1.0,
                        "expectancy_net": 0.002,
                        "max_drawdown": 0.05,
                        "ece_hold": 0.03,
                        "n_trades": 60,
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def test_both_winners_pass_so_the_joint_of_the_best_variants_runs(catalogue) -> None:
    rows = _rows(
        {("label_smoothing", "mild"): 0.03, ("label_smoothing", "aggressive"): 0.02, ("cleanlab", "filter"): 0.025}
    )
    assert {v.variant: v.verdict for fv in evaluate_single_factor(catalogue, rows, "cleanlab") for v in fv.variants}[
        "filter"
    ] == Verdict.LOCK
    decision = decide_joint(catalogue, catalogue.joint_rules[0], rows)
    assert decision.config_id == "ls_mild_x_cl_filter"
    assert decision.winners == {"label_smoothing": "mild", "cleanlab": "filter"}
    assert "ls_mild_x_cl_filter" in catalogue.config_ids()


def test_one_factor_fails_so_the_joint_is_not_materialized_and_the_verdict_says_why(catalogue) -> None:
    rows = _rows({("label_smoothing", "mild"): 0.03, ("cleanlab", "filter"): -0.05, ("cleanlab", "reweight"): -0.04})
    verdicts, decision = evaluate_joint(catalogue, catalogue.joint_rules[0], rows)
    assert verdicts == [] and decision.config_id is None
    table = gate_table(verdicts, decision)
    assert table["verdict"].tolist() == ["INCONCLUSIVE"]
    reasons = table["reasons"].iloc[0]
    assert "joint variant not materialized" in reasons
    assert "cleanlab: no variant passes its gate (filter ABANDON, reweight ABANDON)" in reasons
    assert "label_smoothing: mild passes its gate" in reasons


def test_a_materialized_joint_is_gated_against_the_shared_baseline(catalogue) -> None:
    rows = _rows({("label_smoothing", "mild"): 0.03, ("cleanlab", "filter"): 0.025})
    joint = (
        rows[rows["config_id"] == "baseline"]
        .query("factor == 'cleanlab'")
        .assign(factor="label_smoothing_x_cleanlab", variant="ls_mild_x_cl_filter", config_id="ls_mild_x_cl_filter")
    )
    joint["f1_buy"] += 0.04 + np.random.default_rng(1).normal(0, 0.004, len(joint))
    verdicts, decision = evaluate_joint(catalogue, catalogue.joint_rules[0], pd.concat([rows, joint]))
    assert decision.config_id == "ls_mild_x_cl_filter"
    (variant,) = verdicts[0].variants
    assert variant.baseline == "baseline" and variant.n_pairs == 25 and variant.verdict == Verdict.LOCK


def test_the_same_factor_on_the_same_rows_is_evaluated_once(catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    from cvn_assets.core.gate import sweep as sweep_gate

    evaluated: list[str] = []
    real = sweep_gate.evaluate_factor
    monkeypatch.setattr(
        sweep_gate,
        "evaluate_factor",
        lambda rows, factor, *a, **k: evaluated.append(factor) or real(rows, factor, *a, **k),
    )
    sweep_gate.forget_recent_verdicts()
    rows = _rows({("cleanlab", "filter"): 0.025})
    first = evaluate_single_factor(catalogue, rows, "cleanlab")
    first[0].variants.clear()  # what a caller does with its verdicts does not reach the next caller
    again = evaluate_single_factor(catalogue, rows.copy(), "cleanlab")
    assert evaluated == ["cleanlab"] and len(again[0].variants) == 2
    decide_joint(catalogue, catalogue.joint_rules[0], rows)  # cleanlab found again; label_smoothing evaluated
    assert evaluated == ["cleanlab", "label_smoothing"]

    # The same content laid out otherwise in memory (the dossier's normalised copy) is the same input;
    # the rows in another order are not.
    relaid = pd.DataFrame(index=rows.index)
    for column in rows.columns:  # one block per column
        relaid[column] = rows[column].to_numpy(copy=True)
    assert pickle.dumps(relaid) != pickle.dumps(rows)
    evaluate_single_factor(catalogue, relaid, "cleanlab")
    assert evaluated == ["cleanlab", "label_smoothing"]
    evaluate_single_factor(catalogue, rows.iloc[::-1], "cleanlab")
    assert evaluated == ["cleanlab", "label_smoothing", "cleanlab"]

    changed = rows.copy()
    changed.loc[changed["variant"] == "filter", "f1_buy"] += 0.001
    evaluate_single_factor(catalogue, changed, "cleanlab")  # other rows
    evaluate_single_factor(load_catalogue(universe=[*CRYPTOS, "ADA"]), rows, "cleanlab")  # another catalogue
    assert evaluated == ["cleanlab", "label_smoothing", "cleanlab", "cleanlab", "cleanlab"]
    sweep_gate.forget_recent_verdicts()
    evaluate_single_factor(catalogue, rows, "cleanlab")
    assert len(evaluated) == 6
