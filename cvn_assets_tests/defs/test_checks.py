"""Blocking checks stop downstream steps in the run; the advisory skill check warns without stopping it;
the gate check passes only for LOCK."""

from pathlib import Path

import dagster as dg
import pandas as pd

from cvn_assets.defs.build import build_defs
from cvn_assets_tests.conftest import make_settings, small_catalogue_document


def test_label_check_failure_blocks_the_downstream_fold_plan(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    document = small_catalogue_document()
    document["checks"] = {"buy_rate_min": 0.5, "buy_rate_max": 0.9}
    defs = build_defs(make_settings(tmp_path, small_data_dir, document))
    result = defs.resolve_job_def("crypto_data_job").execute_in_process(
        partition_key="BTC", instance=instance, raise_on_error=False
    )
    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    failed = evaluations["label_rate_and_tail"]
    assert not failed.passed
    assert failed.metadata["threshold"].value == "[0.5, 0.9]"
    assert evaluations["ohlcv_sanity"].passed
    assert instance.fetch_materializations(dg.AssetKey("raw_labels"), limit=1).records
    assert not instance.fetch_materializations(dg.AssetKey("fold_windows"), limit=1).records


def test_cell_checks_pass_on_real_data_and_record_observed_and_threshold(small_settings, instance) -> None:
    defs = build_defs(small_settings)
    assert defs.resolve_job_def("crypto_data_job").execute_in_process(partition_key="ETH", instance=instance).success
    result = defs.resolve_job_def("cell_job").execute_in_process(partition_key="ETH|f2.cl_reweight", instance=instance)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {
        "targets_in_range_and_train_only",
        "cleanlab_within_class_cap",
        "xgboost_probabilities_valid",
        "no_degenerate_metrics",
        "models_beat_always_buy",
    }
    for name, evaluation in evaluations.items():
        assert {"observed", "threshold"} <= set(evaluation.metadata)
        if name != "models_beat_always_buy":  # advisory: its outcome depends on the model, not on a bug
            assert evaluation.passed, evaluation.description


def test_the_catalogue_gap_tolerance_applies_to_loading_and_to_the_ohlcv_check(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    """A weekend without trading (48 missing hourly bars) passes once the catalogue allows it."""
    candles = pd.read_csv(small_data_dir / "BTC.csv")
    gapped = tmp_path / "data"
    gapped.mkdir()
    pd.concat([candles.iloc[:1000], candles.iloc[1048:]]).to_csv(gapped / "BTC.csv", index=False)
    document = small_catalogue_document(("BTC",))

    def run(root: Path, doc: dict) -> dg.ExecuteInProcessResult:
        defs = build_defs(make_settings(root, gapped, doc))
        return defs.resolve_job_def("crypto_data_job").execute_in_process(
            partition_key="BTC", instance=instance, raise_on_error=False
        )

    (tmp_path / "strict").mkdir()
    refused = run(tmp_path / "strict", document)
    assert not refused.success
    failure = refused.get_step_failure_events()[0].step_failure_data.error.cause
    assert "gap of 48 bars (> 24 allowed)" in failure.message
    assert "data.max_gap_bars in the catalogue or CVN_MAX_GAP_BARS" in failure.message

    (tmp_path / "sessions").mkdir()
    accepted = run(tmp_path / "sessions", {**document, "data": {"max_gap_bars": 48}})
    assert accepted.success
    evaluations = {e.check_name: e for e in accepted.get_asset_check_evaluations()}
    assert evaluations["ohlcv_sanity"].passed


def test_a_gate_launched_without_any_results_names_the_factor(
    tmp_path: Path, small_settings, instance: dg.DagsterInstance
) -> None:
    """As from the UI before any cell ran: the empty results table keeps its columns (no KeyError)."""
    defs = build_defs(small_settings)
    result = defs.resolve_job_def("gate_job").execute_in_process(
        partition_key="label_smoothing", instance=instance, raise_on_error=False
    )
    error = result.get_step_failure_events()[0].step_failure_data.error.cause
    assert error.cls_name == "InsufficientDataError"
    assert "factor 'label_smoothing' has no rows in the results table; factors present: []" in error.message


def test_a_series_too_short_for_the_folds_names_the_crypto_and_the_settings(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    short = tmp_path / "short"
    short.mkdir()
    pd.read_csv(small_data_dir / "BTC.csv").head(700).to_csv(short / "BTC.csv", index=False)
    defs = build_defs(make_settings(tmp_path, short, small_catalogue_document(("BTC",))))
    result = defs.resolve_job_def("crypto_data_job").execute_in_process(
        partition_key="BTC", instance=instance, raise_on_error=False
    )
    error = result.get_step_failure_events()[0].step_failure_data.error.cause
    assert error.message.startswith(
        "cvn_assets.core.errors.InsufficientDataError: BTC: walk-forward folds need at least 2224 labeled rows"
    )
    assert error.message.rstrip().endswith("lower folds.n_folds or folds.min_window_rows in the catalogue")


def _skill_check(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance, skill: dict
) -> tuple[dg.ExecuteInProcessResult, dg.AssetCheckEvaluation]:
    document = small_catalogue_document(("ETH",))
    document["skill"] = skill
    defs = build_defs(make_settings(tmp_path, small_data_dir, document))
    assert defs.resolve_job_def("crypto_data_job").execute_in_process(partition_key="ETH", instance=instance).success
    result = defs.resolve_job_def("cell_job").execute_in_process(
        partition_key="ETH|f2.baseline", instance=instance, raise_on_error=False
    )
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    return result, evaluations["models_beat_always_buy"]


def test_skill_check_fails_as_a_warning_naming_the_model_its_values_and_the_rule(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    # No model lifts its F1 by 0.9 over always-BUY: the check must fail, and the run must go on.
    result, evaluation = _skill_check(
        tmp_path, small_data_dir, instance, {"min_f1_lift": 0.9, "max_buy_signal_rate": 0.5}
    )
    assert result.success
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN and not evaluation.blocking
    assert evaluation.metadata["observed"].value == 1
    assert evaluation.metadata["threshold"].value == "f1_lift_over_always_buy > 0.9 and buy_signal_rate ≤ 0.5"
    values = evaluation.metadata["breakdown"].value["xgboost"]
    assert values["skill"] is False
    assert values["f1_lift_over_always_buy"] == round(values["f1_buy"] - values["always_buy_f1"], 6)
    assert 0.0 <= values["buy_signal_rate"] <= 1.0
    assert "xgboost" in evaluation.description
    assert instance.fetch_materializations(dg.AssetKey("fold_metrics"), limit=1).records


def test_skill_check_passes_when_the_rule_admits_every_model(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    result, evaluation = _skill_check(
        tmp_path, small_data_dir, instance, {"min_f1_lift": -1.0, "max_buy_signal_rate": 1.0}
    )
    assert result.success and evaluation.passed
    assert evaluation.metadata["observed"].value == 0
    assert evaluation.metadata["breakdown"].value["xgboost"]["skill"] is True
