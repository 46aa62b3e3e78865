from pathlib import Path

import pytest
import yaml

from cvn_assets.core.catalogue import BASELINE_CONFIG_ID, load_catalogue, parse_catalogue
from cvn_assets.core.errors import CatalogueError


def _document(**overrides: object) -> dict:
    document = {
        "sweep": {"name": "t", "universe": ["BTC", "ETH"], "seed": 1},
        "factors": {"label_smoothing": {"alias": "ls", "baseline": "none", "variants": {
            "none": {"eps_buy": 0.0, "eps_hold": 0.0},
            "mild": {"eps_buy": 0.15, "eps_hold": 0.075},
        }}},
    }
    document.update(overrides)
    return document


def test_default_catalogue_has_label_smoothing_with_three_variants() -> None:
    catalogue = load_catalogue()
    factor = catalogue.factor("label_smoothing")
    assert [v.name for v in factor.variants] == ["none", "mild", "aggressive"]
    assert factor.baseline == "none"
    assert catalogue.config_ids() == [BASELINE_CONFIG_ID, "ls_mild", "ls_aggressive"]
    assert catalogue.universe == ("BTC", "ETH", "LTC", "XRP", "EOS")


def test_baseline_configuration_stands_for_the_baseline_variant() -> None:
    baseline = load_catalogue().config(BASELINE_CONFIG_ID)
    assert baseline.members == (("label_smoothing", "none"),)
    assert baseline.params_for("label_smoothing").is_identity


def test_snapshot_holds_every_parameter_and_is_stable() -> None:
    catalogue = load_catalogue()
    snapshot = catalogue.snapshot()
    assert snapshot["factors"]["label_smoothing"]["variants"]["mild"] == {"eps_buy": 0.15, "eps_hold": 0.075}
    assert snapshot["pipeline"]["labels"]["horizon"] == 4
    assert snapshot["pipeline"]["costs"]["taker_fee"] == pytest.approx(0.001)
    assert catalogue.fingerprint() == load_catalogue().fingerprint()


def test_universe_override() -> None:
    assert parse_catalogue(_document(), universe=["AAVEUSDC"]).universe == ("AAVEUSDC",)


def test_pipeline_sections_override_defaults_key_by_key() -> None:
    catalogue = parse_catalogue(_document(labels={"horizon": 6}, learners={"xgboost": {"num_boost_round": 10}}))
    assert catalogue.pipeline.labels.horizon == 6
    assert catalogue.pipeline.labels.take_atr == 1.5
    assert catalogue.pipeline.learners["xgboost"] == {"num_boost_round": 10}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param(_document(factors={"label_smoothing": {"baseline": "none", "variants": {
            "none": {}, "bad": {"eps_buy": 0.1, "eps_hold": 0.2}}}}),
            r"factor 'label_smoothing', variant 'bad': eps_hold=0.2 is outside \[0, eps_buy=0.1\]",
            id="eps-hold-above-eps-buy"),
        pytest.param(_document(factors={"label_smoothing": {"baseline": "none", "variants": {
            "none": {}, "wild": {"eps_buy": 0.9, "eps_hold": 0.1}}}}),
            r"factor 'label_smoothing', variant 'wild': eps_buy=0.9 is outside \[0, 0.5\]", id="eps-buy-above-bound"),
        pytest.param(_document(factors={"label_smoothing": {"baseline": "none", "variants": {
            "none": {}, "typo": {"eps_bu": 0.1}}}}),
            r"factor 'label_smoothing', variant 'typo': bad parameters", id="unknown-parameter"),
        pytest.param(_document(factors={"label_smoothing": {"baseline": "zero", "variants": {
            "none": {}, "mild": {"eps_buy": 0.1, "eps_hold": 0.0}}}}),
            r"baseline 'zero' is not one of its variants", id="baseline-not-a-variant"),
        pytest.param(_document(factors={"dropout": {"baseline": "a", "variants": {"a": {}, "b": {}}}}),
            r"factor 'dropout' is not a known factor kind", id="unknown-factor"),
        pytest.param(_document(sweep={"universe": ["BTC|X"]}), r"crypto symbol 'BTC\|X'", id="crypto-breaks-keys"),
        pytest.param(_document(labels={"horizn": 3}), r"section `labels`: unknown key\(s\) \['horizn'\]",
            id="typo-in-pipeline-section"),
        pytest.param(_document(extras={}), r"unknown section\(s\) \['extras'\]", id="unknown-section"),
    ],
)
def test_bad_catalogues_fail_at_load_naming_what_is_wrong(document: dict, message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(document)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="catalogue file not found"):
        load_catalogue(tmp_path / "nope.yaml")


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_document()))
    assert load_catalogue(path).config_ids() == ["baseline", "ls_mild"]
