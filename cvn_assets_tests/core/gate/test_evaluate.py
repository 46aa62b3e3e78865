"""Gate verdicts on the hand-built table of `hand_table`, one gate at a time."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from cvn_assets.core.errors import CatalogueError, DataSourceError, InsufficientDataError
from cvn_assets.core.gate import GateThresholds, VariantVerdict, Verdict, evaluate_factor
from cvn_assets_tests.core.gate.hand_table import (
    BASELINE,
    FACTOR,
    MODEL,
    baseline_rows,
    single_variant_table,
    standard_table,
    variant_rows,
)

# Lock's 24 deltas: 0.03 + offsets; squared deviations sum to 5 cryptos × 2.5e-4 from the fold offsets
# (E keeps ±0.01, ±0.005) plus 5 folds × 4e-5 from the crypto offsets (no cross term: fold offsets sum to 0).
LOCK_SD = math.sqrt((5 * 2.5e-4 + 5 * 4e-5) / 23)
# Cluster-robust t (see hand_table): sd of the 5 per-crypto pseudo-means, standard error, 4 df.
LOCK_CLUSTER_SE = 25 / 24 * math.sqrt(4e-5 / 4) / math.sqrt(5)
T_975_4DF = 2.7764451051977987  # Student t table, 0.975 quantile, 4 degrees of freedom


def verdicts_by_variant(results: pd.DataFrame, **kwargs: object) -> dict[str, VariantVerdict]:
    (factor_verdict,) = evaluate_factor(results, FACTOR, BASELINE, **kwargs)
    return {v.variant: v for v in factor_verdict.variants}


def check(verdict: VariantVerdict, name: str):
    return next(c for c in verdict.checks if c.name == name)


@pytest.fixture(scope="module")
def standard() -> dict[str, VariantVerdict]:
    return verdicts_by_variant(standard_table(), blocking_failures={"blocked": ["ece_hold_not_zero"]})


@pytest.mark.parametrize(
    ("variant", "verdict"),
    [
        pytest.param("lock", Verdict.LOCK, id="every gate passes"),
        pytest.param("keep", Verdict.KEEP_AVAILABLE, id="lift below +0.015 but no regression"),
        pytest.param("abandon", Verdict.ABANDON, id="CI entirely below 0"),
        pytest.param("few", Verdict.INCONCLUSIVE, id="8 pairs, fewer than 10"),
        pytest.param("blocked", Verdict.INCONCLUSIVE, id="blocking check failed"),
    ],
)
def test_standard_table_verdicts(standard: dict[str, VariantVerdict], variant: str, verdict: Verdict) -> None:
    assert standard[variant].verdict is verdict


def test_lock_statistics_match_hand_values(standard: dict[str, VariantVerdict]) -> None:
    lock = standard["lock"]
    assert lock.n_pairs == 24
    assert lock.mean_delta_f1 == pytest.approx(0.03)
    assert lock.cohens_d == pytest.approx(0.03 / LOCK_SD)
    assert (lock.ci_low, lock.ci_high) == pytest.approx(
        (0.03 - T_975_4DF * LOCK_CLUSTER_SE, 0.03 + T_975_4DF * LOCK_CLUSTER_SE)
    )
    assert lock.p_value == pytest.approx(2 * stats.t.sf(0.03 / LOCK_CLUSTER_SE, 4))
    # Lock, abandon (its mirror) and blocked share the smallest p among m = 5 variants:
    # ranks 1–3 tie, so BH gives p · 5 / 3.
    assert standard["abandon"].p_value == pytest.approx(lock.p_value)
    assert standard["blocked"].p_value == lock.p_value < 1e-4
    assert lock.p_adjusted == pytest.approx(lock.p_value * 5 / 3)
    assert (lock.cryptos_improving, lock.universe_size) == (5, 5)
    assert check(lock, "stability").observed == pytest.approx(2.5e-4 / 3)  # crypto E, 4 folds
    assert check(lock, "density").observed == pytest.approx(60.0)
    assert check(lock, "calibration").observed == pytest.approx(0.0)
    assert all(c.passed for c in lock.checks)


def test_every_variant_reports_the_failed_baseline_cell(standard: dict[str, VariantVerdict]) -> None:
    assert standard["lock"].excluded == [("E", 2, "baseline status training_failed")]


def test_too_few_pairs_lists_each_excluded_cell(standard: dict[str, VariantVerdict]) -> None:
    few = standard["few"]
    assert few.n_pairs == 8
    assert len(few.excluded) == 17
    assert ("E", 2, "baseline status training_failed; variant status training_failed") in few.excluded
    assert ("C", 0, "variant status training_failed") in few.excluded
    assert any("only 8 valid pair" in reason for reason in few.reasons)


def test_keep_fails_only_the_mean_lift(standard: dict[str, VariantVerdict]) -> None:
    keep = standard["keep"]
    assert keep.failed_gates == ["f1_buy_lift.mean"]
    assert keep.mean_delta_f1 == pytest.approx(0.005)
    assert keep.ci_low > 0.0


def test_abandon_counts_no_improving_crypto(standard: dict[str, VariantVerdict]) -> None:
    abandon = standard["abandon"]
    assert abandon.ci_high < 0.0
    assert abandon.cryptos_improving == 0
    assert "entirely below 0" in abandon.reasons[0]


def test_blocked_names_the_blocking_check(standard: dict[str, VariantVerdict]) -> None:
    assert "ece_hold_not_zero" in standard["blocked"].reasons[0]


def test_reasons_state_the_mde_and_whether_the_lift_was_detectable(standard: dict[str, VariantVerdict]) -> None:
    lock = standard["lock"]
    # The MDE of the cluster-robust t: 80 % power of a two-sided t test with 4 df at that standard error.
    noncentrality = lock.mde / LOCK_CLUSTER_SE
    power = stats.nct.sf(T_975_4DF, 4, noncentrality) + stats.nct.cdf(-T_975_4DF, 4, noncentrality)
    assert power == pytest.approx(0.8, abs=1e-6)
    assert lock.lift_detectable is True
    assert any("could detect a lift of +0.0150" in reason for reason in lock.reasons)


def test_blocking_failure_outranks_a_regression() -> None:
    verdicts = verdicts_by_variant(standard_table(), blocking_failures={"abandon": ["ohlcv_valid"]})
    assert verdicts["abandon"].verdict is Verdict.INCONCLUSIVE


def test_blocking_failure_on_the_baseline_makes_every_variant_inconclusive() -> None:
    verdicts = verdicts_by_variant(standard_table(), blocking_failures={BASELINE: ["ohlcv_valid"]})
    assert {v.verdict for v in verdicts.values()} == {Verdict.INCONCLUSIVE}
    assert "baseline ohlcv_valid" in verdicts["lock"].reasons[0]


def test_reporting_a_subset_keeps_the_correction_over_every_variant(standard: dict[str, VariantVerdict]) -> None:
    subset = verdicts_by_variant(standard_table(), variants=["lock"])
    assert list(subset) == ["lock"]
    assert subset["lock"].p_adjusted == pytest.approx(standard["lock"].p_adjusted)


def _regress_d_and_e(crypto: str, _fold: int) -> float:
    return -0.005 if crypto in ("D", "E") else 0.03


@pytest.mark.parametrize(
    ("shift", "overrides", "base_overrides", "failed"),
    [
        pytest.param(0.03, {"sortino": 0.9}, None, ["joint.sortino"], id="sortino drops"),
        pytest.param(0.03, {"expectancy_net": 0.001}, None, ["joint.expectancy_net"], id="expectancy_net drops"),
        pytest.param(0.03, {"max_drawdown": 0.12}, None, ["joint.max_drawdown"], id="drawdown grows 2 points"),
        pytest.param(0.03, {"ece_hold": 0.06}, None, ["calibration"], id="ECE_HOLD worse by 0.02"),
        pytest.param(0.03, {"n_trades": 40.0}, None, ["density"], id="40 BUY trades per fold"),
        pytest.param(
            _regress_d_and_e,
            None,
            None,
            ["f1_buy_lift.ci_low", "per_asset", "significance"],
            id="3 of 5 cryptos improve: the per-crypto means also spread the CI over 0",
        ),
        pytest.param(0.03, {"max_drawdown": 0.105}, None, [], id="drawdown grows half a point: allowed"),
        pytest.param(0.03, {"ece_hold": 0.045}, None, [], id="ECE_HOLD worse within tolerance"),
    ],
)
def test_single_gate_failures_keep_the_variant_available(
    shift: object, overrides: dict | None, base_overrides: dict | None, failed: list[str]
) -> None:
    verdict = verdicts_by_variant(single_variant_table(shift, overrides, base_overrides))["candidate"]
    assert verdict.failed_gates == failed
    assert verdict.verdict is (Verdict.KEEP_AVAILABLE if failed else Verdict.LOCK)


@pytest.mark.parametrize(
    ("overrides", "base_overrides", "side"),
    [
        pytest.param({"ece_hold": 0.0}, None, "variant", id="variant ECE_HOLD exactly 0 (soft-label defect)"),
        pytest.param(None, {"ece_hold": math.nan}, "baseline", id="baseline ECE_HOLD missing"),
    ],
)
def test_degenerate_calibration_is_not_evaluable_and_withholds_the_lock(
    overrides: dict | None, base_overrides: dict | None, side: str
) -> None:
    verdict = verdicts_by_variant(single_variant_table(0.03, overrides, base_overrides))["candidate"]
    calibration = check(verdict, "calibration")
    assert calibration.passed is None
    assert side in calibration.detail and calibration.detail.startswith("not evaluable")
    assert verdict.not_evaluable_gates == ["calibration"]
    assert verdict.verdict is Verdict.INCONCLUSIVE


@pytest.mark.parametrize(
    ("thresholds", "failed"),
    [
        pytest.param(GateThresholds(min_mean_delta_f1=0.05), ["f1_buy_lift.mean"], id="lift floor above +0.03"),
        pytest.param(GateThresholds(min_cohens_d=5.0), ["effect_size"], id="d 3.78 below 5"),
        pytest.param(GateThresholds(stability_max_variance=5e-5), ["stability"], id="variance 8.3e-5 above 5e-5"),
        pytest.param(GateThresholds(alpha=1e-9), ["significance"], id="p_adj 3e-5 above alpha"),
        pytest.param(GateThresholds(density_min_mean_trades=61), ["density"], id="60 trades below 61"),
    ],
)
def test_thresholds_are_configurable(thresholds: GateThresholds, failed: list[str]) -> None:
    verdict = verdicts_by_variant(single_variant_table(0.03), thresholds=thresholds)["candidate"]
    assert verdict.failed_gates == failed


def test_stability_reports_the_worst_crypto_variance() -> None:
    # Crypto A's deltas spread 30× the offsets: variance (2·0.09 + 2·0.0225) / 4 = 0.05625.
    def spread_a(crypto: str, fold: int) -> float:
        return 0.03 + (29 * [-0.01, -0.005, 0.0, 0.005, 0.01][fold] if crypto == "A" else 0.0)

    stability = check(verdicts_by_variant(single_variant_table(spread_a))["candidate"], "stability")
    assert stability.observed == pytest.approx(0.05625)
    assert stability.passed is False
    assert "(A)" in stability.detail


@pytest.mark.parametrize(
    ("universe_size", "passed"),
    [pytest.param(6, True, id="5 of 6 is 83 percent"), pytest.param(7, False, id="5 of 7 is 71 percent")],
)
def test_cryptos_without_pairs_count_against_the_universe(universe_size: int, passed: bool) -> None:
    verdict = verdicts_by_variant(single_variant_table(0.03), universe_size=universe_size)["candidate"]
    assert check(verdict, "per_asset").passed is passed
    assert verdict.universe_size == universe_size


def test_one_factor_verdict_per_model_unless_a_model_is_chosen() -> None:
    rows = baseline_rows() + variant_rows("lock", 0.03)
    rows += baseline_rows(model="lightgbm") + variant_rows("lock", -0.03, model="lightgbm")
    table = pd.DataFrame(rows)
    by_model = {f.model: f.variants[0].verdict for f in evaluate_factor(table, FACTOR, BASELINE)}
    assert by_model == {"lightgbm": Verdict.ABANDON, MODEL: Verdict.LOCK}
    (only,) = evaluate_factor(table, FACTOR, BASELINE, model="lightgbm")
    assert only.model == "lightgbm"


def test_extra_columns_are_ignored() -> None:
    table = standard_table().assign(sweep_id="s1", auc=0.6)
    assert verdicts_by_variant(table)["lock"].verdict is Verdict.LOCK


@pytest.mark.parametrize(
    ("mutate", "kwargs", "error", "match"),
    [
        pytest.param(
            None, {"baseline": "nope"}, InsufficientDataError, r"\['nope'\] missing.*present", id="baseline absent"
        ),
        pytest.param(None, {"variants": ["lock", "ghost"]}, InsufficientDataError, "ghost", id="variant absent"),
        pytest.param(None, {"factor": "unknown"}, InsufficientDataError, "factors present", id="factor absent"),
        pytest.param(None, {"model": "catboost"}, InsufficientDataError, "models present", id="model absent"),
        pytest.param(None, {"universe_size": 4}, CatalogueError, "universe_size 4", id="universe smaller than table"),
        pytest.param(
            lambda t: t.drop(columns=["ece_hold", "n_trades"]),
            {},
            DataSourceError,
            "ece_hold, n_trades",
            id="columns missing",
        ),
        pytest.param(lambda t: pd.concat([t, t.head(1)]), {}, DataSourceError, "one row per cell", id="duplicate cell"),
        pytest.param(
            lambda t: t.assign(sortino="high"), {}, DataSourceError, "sortino must be numeric", id="text metric"
        ),
        pytest.param(
            lambda t: t[t["variant"] == BASELINE], {}, InsufficientDataError, "only its baseline", id="nothing to gate"
        ),
    ],
)
def test_bad_input_raises_a_named_error(mutate, kwargs: dict, error: type[Exception], match: str) -> None:
    table = standard_table() if mutate is None else mutate(standard_table())
    arguments = {"factor": FACTOR, "baseline": BASELINE, **kwargs}
    with pytest.raises(error, match=match):
        evaluate_factor(table, **arguments)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("ci_level", 1.0, id="CI level of 1"),
        pytest.param("alpha", 0.0, id="alpha of 0"),
        pytest.param("per_asset_min_share", 1.2, id="share above 1"),
        pytest.param("bootstrap_resamples", 10, id="too few resamples"),
        pytest.param("min_valid_pairs", 1, id="one pair cannot give a CI"),
        pytest.param("mde_power", 0.01, id="power below alpha"),
        pytest.param("stability_max_variance", -0.1, id="negative variance"),
        pytest.param("min_cohens_d", math.nan, id="NaN threshold"),
        pytest.param("bootstrap_seed", 1.5, id="fractional seed"),
    ],
)
def test_thresholds_validation_names_the_field(field: str, value: float) -> None:
    with pytest.raises(CatalogueError, match=f"GateThresholds.{field}"):
        GateThresholds(**{field: value})


def test_an_unknown_inference_method_lists_the_known_ones() -> None:
    with pytest.raises(CatalogueError, match="inference must be one of cluster_t, two_stage_bootstrap, cell_bootstrap"):
        GateThresholds(inference="sandwich")  # type: ignore[arg-type]


def test_a_variant_with_no_valid_pair_is_inconclusive_with_nothing_evaluated() -> None:
    table = pd.DataFrame(baseline_rows() + variant_rows("dead", 0.03, ok_cells=set()))
    dead = verdicts_by_variant(table)["dead"]
    assert (dead.verdict, dead.n_pairs, len(dead.excluded)) == (Verdict.INCONCLUSIVE, 0, 25)
    assert all(c.passed is None for c in dead.checks if c.name != "per_asset")
    assert check(dead, "per_asset").passed is False  # 0 of 5 cryptos improve
    assert math.isnan(dead.p_adjusted) and math.isnan(dead.mde)
    assert dead.lift_detectable is None


def test_a_variant_that_never_predicts_buy_has_a_degenerate_f1_buy() -> None:
    table = single_variant_table(0.0)
    table.loc[table["variant"] == "candidate", "f1_buy"] = 0.0  # f1_buy 0.0 in every window: no BUY call at all
    verdict = verdicts_by_variant(table)["candidate"]
    assert verdict.verdict is Verdict.INCONCLUSIVE  # not ABANDON, though every Δf1_buy is about −0.42
    assert "f1_buy is degenerate: the variant reads 0 on every one of 24 pairs" in verdict.reasons


def test_one_crypto_gives_no_cluster_interval_so_the_verdict_is_inconclusive() -> None:
    table = single_variant_table(-0.05)
    one = table[table["crypto"] == "A"].copy()
    more = pd.concat([one.assign(fold=one["fold"] + 5 * k) for k in range(3)], ignore_index=True)  # 15 pairs
    more["f1_buy"] += 0.001 * more["fold"]  # both sides alike: folds differ, the deltas do not change
    verdict = verdicts_by_variant(more, universe_size=5)["candidate"]
    assert verdict.n_pairs == 15
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert "no confidence interval" in verdict.reasons[0]
