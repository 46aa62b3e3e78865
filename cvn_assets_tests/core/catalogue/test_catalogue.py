from pathlib import Path

import pytest
import yaml

from cvn_assets.core.catalogue.configs import BASELINE_CONFIG_ID
from cvn_assets.core.catalogue.loading import load_catalogue, parse_catalogue
from cvn_assets.core.errors import CatalogueError


def _document(**overrides: object) -> dict:
    document = {
        "sweep": {"name": "t", "universe": ["BTC", "ETH"], "seed": 1},
        "factors": {
            "label_smoothing": {
                "alias": "ls",
                "baseline": "none",
                "variants": {
                    "none": {"eps_buy": 0.0, "eps_hold": 0.0},
                    "mild": {"eps_buy": 0.15, "eps_hold": 0.075},
                },
            }
        },
    }
    document.update(overrides)
    return document


def test_default_catalogue_has_label_smoothing_with_three_variants() -> None:
    catalogue = load_catalogue()
    factor = catalogue.factor("label_smoothing")
    assert [v.name for v in factor.variants] == ["none", "mild", "aggressive"]
    assert factor.baseline == "none"
    assert catalogue.config_ids(include_joint=False)[:3] == [BASELINE_CONFIG_ID, "ls_mild", "ls_aggressive"]
    assert catalogue.universe == ("BTC", "ETH", "LTC", "XRP", "EOS")


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


def test_data_section_sets_the_gap_tolerance() -> None:
    """A market with sessions misses 48 hourly bars every weekend; the default allows 24."""
    assert parse_catalogue(_document()).pipeline.data.max_gap_bars == 24
    catalogue = parse_catalogue(_document(data={"max_gap_bars": 72}))
    assert catalogue.pipeline.data.max_gap_bars == 72
    assert catalogue.snapshot()["pipeline"]["data"] == {"max_gap_bars": 72}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param(
            _document(data={"max_gap_bars": -1}),
            r"section `data`: OHLCV rule max_gap_bars must be an integer >= 0, got -1",
            id="negative-gap",
        ),
        pytest.param(
            _document(data={"max_gap_bars": "48"}),
            r"section `data`: max_gap_bars must be an integer, got str '48'",
            id="gap-as-text",
        ),
        pytest.param(
            _document(data={"max_gap": 48}),
            r"section `data`: unknown key 'max_gap' \(did you mean 'max_gap_bars'\?\)",
            id="gap-key-typo",
        ),
    ],
)
def test_bad_data_section_is_named(document: dict, message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param(
            _document(
                factors={
                    "label_smoothing": {
                        "baseline": "none",
                        "variants": {"none": {}, "bad": {"eps_buy": 0.1, "eps_hold": 0.2}},
                    }
                }
            ),
            r"factor 'label_smoothing', variant 'bad': eps_hold=0.2 is outside \[0, eps_buy=0.1\]",
            id="eps-hold-above-eps-buy",
        ),
        pytest.param(
            _document(
                factors={
                    "label_smoothing": {
                        "baseline": "none",
                        "variants": {"none": {}, "wild": {"eps_buy": 0.9, "eps_hold": 0.1}},
                    }
                }
            ),
            r"factor 'label_smoothing', variant 'wild': eps_buy=0.9 is outside \[0, 0.5\]",
            id="eps-buy-above-bound",
        ),
        pytest.param(
            _document(
                factors={"label_smoothing": {"baseline": "none", "variants": {"none": {}, "typo": {"eps_bu": 0.1}}}}
            ),
            r"factor 'label_smoothing', variant 'typo': unknown parameter 'eps_bu' \(did you mean 'eps_buy'\?\)",
            id="unknown-parameter",
        ),
        pytest.param(
            _document(
                factors={
                    "label_smoothing": {
                        "baseline": "zero",
                        "variants": {"none": {}, "mild": {"eps_buy": 0.1, "eps_hold": 0.0}},
                    }
                }
            ),
            r"baseline 'zero' is not one of its variants",
            id="baseline-not-a-variant",
        ),
        pytest.param(
            _document(factors={"dropout": {"baseline": "a", "variants": {"a": {}, "b": {}}}}),
            r"factor 'dropout' is not a known factor kind",
            id="unknown-factor",
        ),
        pytest.param(_document(sweep={"universe": ["BTC|X"]}), r"crypto symbol 'BTC\|X'", id="crypto-breaks-keys"),
        pytest.param(
            _document(labels={"horizn": 3}),
            r"section `labels`: unknown key 'horizn' \(did you mean 'horizon'\?\)",
            id="typo-in-pipeline-section",
        ),
        pytest.param(
            _document(extras={}),
            r"catalogue <memory>: unknown section 'extras'; allowed: \['alerts'",
            id="unknown-section",
        ),
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


def test_default_sweep_has_five_unique_configurations_and_a_shared_baseline() -> None:
    catalogue = load_catalogue()
    assert catalogue.config_ids(include_joint=False) == [
        "baseline",
        "ls_mild",
        "ls_aggressive",
        "cl_filter",
        "cl_reweight",
    ]
    baseline = catalogue.config("baseline")
    assert {
        ("label_smoothing", "none"),
        ("cleanlab", "off"),
        ("label_smoothing_x_cleanlab", "baseline"),
        ("ensemble", "xgb_only"),
    } <= set(baseline.members)
    assert baseline.params_for("cleanlab").mode == "off"
    assert catalogue.gate_names() == ["label_smoothing", "cleanlab", "ensemble", "label_smoothing_x_cleanlab"]


def test_joint_candidates_combine_both_factors_parameters() -> None:
    catalogue = load_catalogue()
    joint = catalogue.config("ls_aggressive_x_cl_reweight")
    assert joint.joint_rule == "label_smoothing_x_cleanlab"
    assert joint.params_for("label_smoothing").eps_buy == 0.30
    assert joint.params_for("cleanlab").mode == "reweight"
    assert len([c for c in catalogue.configs() if c.joint_rule]) == 4


@pytest.mark.parametrize(
    ("joint", "message"),
    [
        pytest.param([["label_smoothing", "focal"]], r"names unknown factor\(s\) \['focal'\]", id="unknown-factor"),
        pytest.param([["label_smoothing", "label_smoothing"]], "two different factors", id="same-factor-twice"),
        pytest.param("label_smoothing", "must be a list of factor pairs", id="not-a-list"),
    ],
)
def test_bad_joint_rules_are_named(joint: object, message: str) -> None:
    document = _document(joint=joint)
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(document)


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        pytest.param(
            {"mode": "drop"},
            r"variant 'bad': mode 'drop' is not one of \['off', 'filter', 'reweight'\]",
            id="mode-outside-the-closed-enum",
        ),
        pytest.param(
            {"mode": "filter", "max_drop_pct": 7.0},
            r"variant 'bad': max_drop_pct=7.0 is outside \[0, 5\]",
            id="cap-above-five-percent",
        ),
        pytest.param(
            {"mode": "reweight", "reweight_floor": 1.5},
            r"variant 'bad': reweight_floor=1.5 is outside",
            id="floor-above-one",
        ),
    ],
)
def test_cleanlab_guardrails_fail_at_load(variant: dict, message: str) -> None:
    document = _document()
    document["factors"]["cleanlab"] = {
        "alias": "cl",
        "baseline": "off",
        "variants": {"off": {"mode": "off"}, "bad": variant},
    }
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(document)


def _with_sweep(**keys: object) -> dict:
    document = _document()
    document["sweep"] = {**document["sweep"], **keys}
    return document


def _with_variant(name: str, params: object) -> dict:
    document = _document()
    document["factors"]["label_smoothing"]["variants"][name] = params
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param(
            _with_sweep(modles=["xgboost"]),
            r"section `sweep`: unknown key 'modles' \(did you mean 'models'\?\)",
            id="sweep-key-typo",
        ),
        pytest.param(
            _document(factor={}), r"unknown section 'factor' \(did you mean 'factors'\?\)", id="top-level-typo"
        ),
        pytest.param(
            _document(learners={"xgbost": {"num_boost_round": 10}}),
            r"section `learners`: unknown learner or ensemble 'xgbost' \(did you mean 'xgboost'\?\)",
            id="learner-name-typo",
        ),
        pytest.param(
            _document(learners={"stack_xgb": {"max_dept": 2}}),
            r"section `learners`: ensemble 'stack_xgb': unknown parameter\(s\) \['max_dept'\]",
            id="ensemble-parameter-typo",
        ),
        pytest.param(
            _document(learners={"xgboost": 10}),
            r"'xgboost': parameters must be a mapping, got int 10",
            id="learner-parameters-not-a-mapping",
        ),
        pytest.param(
            _with_sweep(models="xgboost"),
            r"sweep.models must be a list of model names, e.g. \[xgboost\], got str 'xgboost'",
            id="models-a-string",
        ),
        pytest.param(
            _with_sweep(ensembles="blend_mean"),
            r"sweep.ensembles must be a list of ensemble names, e.g. \[blend_mean\], got str 'blend_mean'",
            id="ensembles-a-string",
        ),
        pytest.param(
            _with_sweep(models=["xgboost", "xgboost"]),
            r"sweep.models lists \['xgboost'\] more than once",
            id="model-twice",
        ),
        pytest.param(_with_sweep(seed="abc"), r"sweep.seed must be an integer, got str 'abc'", id="seed-text"),
        pytest.param(_with_sweep(seed=1.9), r"sweep.seed must be an integer, got float 1.9", id="seed-float"),
        pytest.param(_with_sweep(seed=True), r"sweep.seed must be an integer, got bool True", id="seed-bool"),
        pytest.param(
            _with_sweep(universe=["BTC", "BTC", "ETH"]),
            r"sweep.universe lists crypto\(s\) \['BTC'\] more than once",
            id="crypto-twice",
        ),
        pytest.param(
            _with_sweep(universe="BTC"),
            r"sweep.universe must be a non-empty list .*got str 'BTC'",
            id="universe-a-string",
        ),
        pytest.param(
            _with_variant("mild", {"eps_buy": "high"}),
            r"variant 'mild': eps_buy must be a number, got str 'high'",
            id="eps-text",
        ),
        pytest.param(_with_variant("mild", None), r"variant 'mild' has no parameters", id="empty-variant"),
        pytest.param(
            _with_variant("mild", {"eps_buy": 0.0}),
            r"variant 'mild': parameters .* are those of the baseline 'none'",
            id="variant-equals-baseline",
        ),
        pytest.param(
            _document(labels={"horizon": "6"}),
            r"section `labels`: horizon must be an integer, got str '6'",
            id="pipeline-value-text",
        ),
    ],
)
def test_unknown_keys_and_mistyped_values_fail_at_load(document: dict, message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(document)


def test_factor_key_typo_is_named_with_a_suggestion() -> None:
    document = _document()
    document["factors"]["label_smoothing"]["aliass"] = "x"
    message = r"factor 'label_smoothing': unknown key 'aliass' \(did you mean 'alias'\?\)"
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(document)


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        pytest.param(
            {"mode": "filter", "max_drop_pct": "5"},
            r"variant 'bad': max_drop_pct must be a number, got str '5'",
            id="cap-as-text",
        ),
        pytest.param(
            {"mode": False}, r"variant 'bad': mode must be a string \(YAML reads unquoted off", id="mode-off-unquoted"
        ),
    ],
)
def test_cleanlab_values_of_the_wrong_type_are_named(variant: dict, message: str) -> None:
    document = _document()
    document["factors"]["cleanlab"] = {
        "alias": "cl",
        "baseline": "off",
        "variants": {"off": {"mode": "off"}, "bad": variant},
    }
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(document)


def test_well_typed_values_load() -> None:
    document = _with_sweep(models=["xgboost", "lightgbm", "catboost"], ensembles=["blend_mean"], seed=7)
    document["learners"] = {"xgboost": {"max_depth": 3}, "stack_xgb": {"max_depth": 2}}
    # An integer where a number is expected is a number.
    document["factors"]["label_smoothing"]["variants"]["strong"] = {"eps_buy": 0.2, "eps_hold": 0}
    catalogue = parse_catalogue(document)
    assert catalogue.seed == 7
    assert catalogue.models == ("xgboost", "lightgbm", "catboost")
    assert catalogue.ensembles == ("blend_mean",)
    assert catalogue.pipeline.learners == {"xgboost": {"max_depth": 3}, "stack_xgb": {"max_depth": 2}}


CATALOGUES = sorted((Path(__file__).parents[3] / "cvn_assets" / "catalogues").glob("*.yaml"))


@pytest.mark.parametrize("path", [None, *CATALOGUES], ids=lambda p: "default" if p is None else p.name)
def test_shipped_catalogues_load(path: Path | None) -> None:
    assert load_catalogue(path).config_ids()
