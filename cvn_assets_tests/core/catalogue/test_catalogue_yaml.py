from pathlib import Path

import pytest

from cvn_assets.core.catalogue.loading import load_catalogue
from cvn_assets.core.catalogue.yaml_io import read_catalogue_document
from cvn_assets.core.errors import CatalogueError

_VARIANTS = """factors:
  label_smoothing:
    baseline: none
    variants:
      none: {eps_buy: 0.0, eps_hold: 0.0}
      mild: {eps_buy: 0.15, eps_hold: 0.075}
"""


def test_a_key_given_twice_is_refused_naming_file_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(_VARIANTS + "      mild: {eps_buy: 0.3, eps_hold: 0.1}\n")
    message = rf"catalogue {path}: duplicate key 'mild' at line 7 \(first given at line 6\)"
    with pytest.raises(CatalogueError, match=message):
        read_catalogue_document(path)


def test_a_top_level_section_given_twice_is_refused_through_load(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sweep: {universe: [BTC]}\n" + _VARIANTS + "sweep: {universe: [ETH]}\n")
    with pytest.raises(CatalogueError, match=r"duplicate key 'sweep' at line 8 \(first given at line 1\)"):
        load_catalogue(path)


def test_equal_keys_in_different_mappings_and_merge_overrides_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("base: &base {eps_buy: 0.1, eps_hold: 0.0}\nother: {<<: *base, eps_buy: 0.2}\n")
    assert read_catalogue_document(path) == {
        "base": {"eps_buy": 0.1, "eps_hold": 0.0},
        "other": {"eps_buy": 0.2, "eps_hold": 0.0},
    }


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sweep: [unclosed\n")
    with pytest.raises(CatalogueError, match=rf"catalogue {path} is not valid YAML"):
        read_catalogue_document(path)
