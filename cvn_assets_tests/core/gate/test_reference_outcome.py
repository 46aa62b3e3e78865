"""The reference outcome of SPEC §7 on tables rebuilt from the results document (see `document_table`)."""

from __future__ import annotations

import pandas as pd
import pytest

from cvn_assets.core.gate import Verdict, evaluate_factor
from cvn_assets_tests.core.gate.document_table import (
    CLEANLAB_FAILED_CELL,
    FOLDS,
    cleanlab_table,
    document_f1,
    label_smoothing_table,
)

CASES = [
    pytest.param(
        label_smoothing_table(),
        "label_smoothing",
        "none",
        ["aggressive", "mild"],
        25,
        id="label_smoothing none vs mild, aggressive",
    ),
    pytest.param(
        cleanlab_table(with_failed_cell=False),
        "cleanlab",
        "off",
        ["filter", "reweight"],
        25,
        id="cleanlab off vs filter, reweight: 25 pairs",
    ),
    pytest.param(
        cleanlab_table(with_failed_cell=True),
        "cleanlab",
        "off",
        ["filter", "reweight"],
        24,
        id="cleanlab with the run's failed UNIUSDC fold 3 baseline: 24 pairs",
    ),
]


@pytest.mark.parametrize(("table", "factor", "baseline", "variants", "n_pairs"), CASES)
def test_table_reproduces_the_document_means(
    table: pd.DataFrame, factor: str, baseline: str, variants: list[str], n_pairs: int
) -> None:
    ok = table[table["status"] == "ok"]
    means = ok.groupby(["crypto", "variant"])["f1_buy"].mean()
    for crypto, by_variant in document_f1(factor).items():
        for variant, mean in by_variant.items():
            assert means[(crypto, variant)] == pytest.approx(mean, abs=1e-12)


@pytest.mark.parametrize(("table", "factor", "baseline", "variants", "n_pairs"), CASES)
def test_every_variant_is_abandoned_with_no_crypto_improving(
    table: pd.DataFrame, factor: str, baseline: str, variants: list[str], n_pairs: int
) -> None:
    (factor_verdict,) = evaluate_factor(table, factor, baseline)
    verdicts = {v.variant: v for v in factor_verdict.variants}
    assert sorted(verdicts) == variants
    document = document_f1(factor)
    # Every crypto contributes 5 pairs, except UNIUSDC when its fold 3 baseline failed.
    pairs = {c: len(FOLDS) - (n_pairs < 25 and c == CLEANLAB_FAILED_CELL[0]) for c in document}
    for variant, verdict in verdicts.items():
        expected_mean = sum(pairs[c] * (by[variant] - by[baseline]) for c, by in document.items()) / n_pairs
        assert verdict.verdict is Verdict.ABANDON, verdict.reasons
        assert (verdict.cryptos_improving, verdict.universe_size) == (0, 5)
        assert verdict.n_pairs == n_pairs
        assert verdict.mean_delta_f1 == pytest.approx(expected_mean, abs=1e-12)
        assert verdict.ci_high < 0.0
        assert {"f1_buy_lift.mean", "f1_buy_lift.ci_low", "per_asset", "density"} <= set(verdict.failed_gates)


def test_the_failed_baseline_cell_is_reported_as_excluded() -> None:
    (factor_verdict,) = evaluate_factor(cleanlab_table(with_failed_cell=True), "cleanlab", "off")
    for verdict in factor_verdict.variants:
        assert verdict.excluded == [("UNIUSDC", 3, "baseline status training_failed")]


def test_soft_label_ece_of_zero_leaves_calibration_unevaluated() -> None:
    (factor_verdict,) = evaluate_factor(label_smoothing_table(), "label_smoothing", "none")
    for verdict in factor_verdict.variants:
        calibration = next(c for c in verdict.checks if c.name == "calibration")
        assert calibration.passed is None
        assert "exactly 0.0" in calibration.detail
