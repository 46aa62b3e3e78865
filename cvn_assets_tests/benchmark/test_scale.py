"""The scale benchmark's workload: valid candles and a catalogue of five training configurations, one learner."""

from cvn_assets.core.catalogue.loading import parse_catalogue
from cvn_assets.core.data.validation import validate_ohlcv
from cvn_assets_bench.scale import random_walk_candles, scale_catalogue


def test_the_generated_candles_pass_the_data_checks_and_are_seeded() -> None:
    candles = random_walk_candles(500, seed=3)
    validate_ohlcv(candles, "C03")
    assert candles.equals(random_walk_candles(500, seed=3))
    assert not candles.equals(random_walk_candles(500, seed=4))


def test_the_catalogue_trains_five_configurations_of_one_learner() -> None:
    catalogue = parse_catalogue(scale_catalogue(["C00", "C01"]))
    assert len(catalogue.config_ids()) == 5 and list(catalogue.models) == ["xgboost"] and not catalogue.ensembles
