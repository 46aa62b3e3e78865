"""Assets materialized in process on small slices of the real data."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from cvn_assets.core.errors import CatalogueError
from cvn_assets.defs.build import build_defs
from cvn_assets.defs.settings import Settings
from cvn_assets_tests.conftest import SMALL_CRYPTOS, make_settings

PER_CRYPTO = ["ohlcv", "features", "raw_labels", "fold_windows"]
XGBOOST_PREDICTIONS = dg.AssetKey(["oos_predictions", "xgboost"])


def _materialize(
    defs: dg.Definitions, job: str, partition: str, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(job).execute_in_process(
        partition_key=partition, instance=instance, raise_on_error=False
    )


def test_per_crypto_assets_are_computed_once_per_crypto(small_settings: Settings, instance: dg.DagsterInstance) -> None:
    defs = build_defs(small_settings)
    result = _materialize(defs, "crypto_data_job", "BTC", instance)
    assert result.success
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == set(PER_CRYPTO)
    labels = result.asset_value("raw_labels")
    assert labels["label"].isna().sum() >= 4  # the last H rows are unlabeled
    materialization = instance.fetch_materializations(dg.AssetKey("ohlcv"), limit=1).records[0]
    assert len(materialization.asset_materialization.metadata["content_sha256"].value) == 64


def test_a_cryptos_data_is_one_step_whose_assets_name_the_materializations_they_read(
    small_settings: Settings, instance: dg.DagsterInstance
) -> None:
    defs = build_defs(small_settings)
    result = _materialize(defs, "crypto_data_job", "BTC", instance)
    assert result.success
    assert [e.step_key for e in result.all_events if e.event_type_value == "STEP_START"] == ["crypto_data"]
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(checks) == {"ohlcv_sanity", "label_rate_and_tail"}
    assert all(c.passed and c.partition == "BTC" and "threshold" in c.metadata for c in checks.values())
    records = {key: instance.fetch_materializations(dg.AssetKey(key), limit=1).records[0] for key in PER_CRYPTO}
    consumed = {
        key: records[key].asset_materialization.metadata["consumed_inputs"].value
        for key in ("features", "raw_labels", "fold_windows")
    }
    upstream = {"features": "ohlcv", "raw_labels": "ohlcv", "fold_windows": "raw_labels"}
    for key, read in upstream.items():
        data_version = records[read].asset_materialization.tags["dagster/data_version"]
        assert consumed[key] == {
            read: [
                {
                    "partition": "BTC",
                    "storage_id": records[read].storage_id,
                    "run_id": result.run_id,
                    "data_version": data_version,
                    "code_version": "1",
                }
            ]
        }
    digest = records["ohlcv"].asset_materialization.metadata["content_sha256"].value
    assert records["ohlcv"].asset_materialization.tags["dagster/data_version"] == digest


def test_a_per_crypto_asset_materialized_alone_reads_its_upstream_from_storage(
    small_settings: Settings, instance: dg.DagsterInstance
) -> None:
    defs = build_defs(small_settings)
    assert _materialize(defs, "crypto_data_job", "ETH", instance).success
    stored = instance.fetch_materializations(dg.AssetKey("raw_labels"), limit=1).records[0]
    before = defs.load_asset_value("fold_windows", partition_key="ETH", instance=instance)
    result = dg.materialize(
        [defs.get_assets_def("fold_windows")],
        selection=["fold_windows"],
        partition_key="ETH",
        instance=instance,
        resources=defs.resources,
    )
    assert result.success
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == {"fold_windows"}
    assert not result.get_asset_check_evaluations()  # the checks of unselected assets do not run
    latest = instance.fetch_materializations(dg.AssetKey("fold_windows"), limit=1).records[0]
    read = latest.asset_materialization.metadata["consumed_inputs"].value["raw_labels"]
    assert [(r["storage_id"], r["run_id"]) for r in read] == [(stored.storage_id, stored.run_id)]
    assert result.asset_value("fold_windows").equals(before)


def test_one_cell_trains_predicts_and_writes_its_results_rows(
    small_settings: Settings, instance: dg.DagsterInstance
) -> None:
    defs = build_defs(small_settings)
    assert _materialize(defs, "crypto_data_job", "BTC", instance).success
    result = _materialize(defs, "cell_job", "BTC|f2.ls_mild", instance)
    assert result.success
    targets = result.asset_value("smoothed_labels")["BTC|f2.ls_mild"]
    assert set(targets["target"].round(6)) == {0.85, 0.075}
    predictions = result.asset_value(XGBOOST_PREDICTIONS)["BTC|f2.ls_mild"]["predictions"]
    assert set(predictions["window"]) == {"validation", "test"}
    assert set(predictions["y"]) <= {0, 1}  # evaluation labels stay hard
    assert predictions["p"].between(0, 1).all()
    rows = defs.resources["results"].store().read("test_sweep")
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row["crypto"], row["fold"], row["factor"], row["variant"], row["model"]) == (
        "BTC",
        "f2",
        "label_smoothing",
        "mild",
        "xgboost",
    )
    assert row["status"] == "ok" and 0 < row["f1_buy"] <= 1 and row["ece_hold"] > 0


def test_a_failing_fit_is_recorded_and_the_sweep_goes_on(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cvn_assets_tests.conftest import small_catalogue_document

    document = small_catalogue_document()
    document["learners"] = {"xgboost": {"num_boost_round": 5, "max_depth": -3}}
    # The load-time dry run would refuse these parameters; skipping it stands for a learner without
    # a check (or a failure only real data shows), whose fit fails in the cell instead.
    monkeypatch.setattr("cvn_assets.defs.build.check_catalogue_learners", lambda catalogue: None)
    defs = build_defs(make_settings(tmp_path, small_data_dir, document))
    assert _materialize(defs, "crypto_data_job", "BTC", instance).success
    result = _materialize(defs, "cell_job", "BTC|f1.baseline", instance)
    assert result.success
    row = defs.resources["results"].store().read("test_sweep").iloc[0]
    assert row["status"] == "training_failed"
    assert "max_depth" in row["error"]
    assert pd.isna(row["f1_buy"])


def test_learner_parameters_the_library_refuses_fail_when_the_definitions_are_built(
    tmp_path: Path, small_data_dir: Path
) -> None:
    from cvn_assets_tests.conftest import small_catalogue_document

    document = small_catalogue_document()
    document["learners"] = {"xgboost": {"num_boost_round": 5, "max_depth": -3}}
    with pytest.raises(CatalogueError, match=r"learner 'xgboost' with parameters .*'max_depth': -3.*max_depth"):
        build_defs(make_settings(tmp_path, small_data_dir, document))


@pytest.mark.parametrize(
    ("corrupt", "problem"),
    [
        pytest.param(
            lambda f: f.assign(high=f["high"].where(f.index != 100, f["low"] - 1)), "row 100", id="high-below-low"
        ),
        pytest.param(lambda f: f.drop(index=range(200, 260)), "gap", id="gap-beyond-tolerance"),
        pytest.param(lambda f: pd.concat([f.iloc[:50], f.iloc[49:]]), "duplicate", id="duplicate-timestamp"),
    ],
)
def test_bad_ohlcv_stops_that_crypto_and_nothing_downstream_is_written(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance, corrupt, problem: str
) -> None:
    data = tmp_path / "bad"
    data.mkdir()
    for crypto in SMALL_CRYPTOS:
        frame = pd.read_csv(small_data_dir / f"{crypto}.csv")
        (corrupt(frame) if crypto == "ETH" else frame).to_csv(data / f"{crypto}.csv", index=False)
    defs = build_defs(make_settings(tmp_path, data))
    result = _materialize(defs, "crypto_data_job", "ETH", instance)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = str(failure.step_failure_data.error.cause or failure.step_failure_data.error)
    assert f"{data / 'ETH.csv'} (ETH)" in message and problem in message
    for key in PER_CRYPTO:
        assert not instance.fetch_materializations(dg.AssetKey(key), limit=1).records
    assert _materialize(defs, "crypto_data_job", "BTC", instance).success


def test_cleanlab_cell_records_its_drop_rates_and_trains_without_the_flagged_rows(
    small_settings: Settings, instance: dg.DagsterInstance
) -> None:
    defs = build_defs(small_settings)
    assert _materialize(defs, "crypto_data_job", "ETH", instance).success
    result = _materialize(defs, "cell_job", "ETH|f3.cl_filter", instance)
    assert result.success
    record = instance.fetch_materializations(dg.AssetKey("cleanlab_mask"), limit=1).records[0]
    metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
    for key in ("suspect_count", "drop_pct", "buy_drop_pct", "hold_drop_pct", "coverage_pct", "duration_seconds"):
        assert key in metadata, key
    assert metadata["mode"] == "filter" and metadata["coverage_pct"] == 100.0
    assert 0 < metadata["buy_drop_pct"] <= 5.0 and 0 < metadata["hold_drop_pct"] <= 5.0
    mask = result.asset_value("cleanlab_mask")["ETH|f3.cl_filter"]
    kept = result.asset_value(XGBOOST_PREDICTIONS)["ETH|f3.cl_filter"]["models"]["train_rows"].iloc[0]
    assert kept == len(mask) - int(mask["flagged"].sum())


def test_focal_variant_trains_the_focal_objective_under_the_xgboost_name(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance
) -> None:
    import yaml

    catalogue_path = Path(__file__).resolve().parents[2] / "cvn_assets/catalogues/focal_loss.yaml"
    document = yaml.safe_load(catalogue_path.read_text())
    document["sweep"]["universe"] = ["BTC"]
    document["learners"] = {"xgboost": {"num_boost_round": 25}}
    defs = build_defs(make_settings(tmp_path, small_data_dir, document))
    assert _materialize(defs, "crypto_data_job", "BTC", instance).success
    assert _materialize(defs, "cell_job", "BTC|f2.fl_g2", instance).success
    record = instance.fetch_materializations(XGBOOST_PREDICTIONS, limit=1).records[0]
    metadata = record.asset_materialization.metadata
    assert metadata["learner"].value == "xgboost_focal"
    assert metadata["learner_params"].value == {"num_boost_round": 25, "focal_gamma": 2.0, "focal_alpha": 0.5}
    rows = defs.resources["results"].store().read("ftf_focal_loss")
    assert rows[["factor", "variant", "model", "status"]].values.tolist() == [["focal_loss", "g2", "xgboost", "ok"]]
