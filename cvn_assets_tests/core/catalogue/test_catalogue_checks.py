from dataclasses import dataclass

import pytest

from cvn_assets.core.catalogue.checks import check_field_types, check_known_keys, integer, name_list
from cvn_assets.core.errors import CatalogueError


@dataclass(frozen=True)
class _Params:
    rate: float = 0.1
    count: int = 1
    enabled: bool = True
    label: str = "a"
    cap: float | None = None
    pairs: tuple[str, ...] = ()


def test_known_keys_pass_and_a_typo_gets_a_suggestion() -> None:
    check_known_keys({"rate": 1}, ["rate", "count"], "section `x`")
    message = r"section `x`: unknown key 'rtae' \(did you mean 'rate'\?\); allowed: \['count', 'rate'\]"
    with pytest.raises(CatalogueError, match=message):
        check_known_keys({"rtae": 1}, ["rate", "count"], "section `x`")
    with pytest.raises(CatalogueError, match=r"unknown key 'zzz'; allowed"):
        check_known_keys({"zzz": 1}, ["rate", "count"], "section `x`")


def test_well_typed_values_pass() -> None:
    check_field_types(
        _Params, {"rate": 1, "count": 3, "enabled": False, "label": "b", "cap": None, "pairs": ["free", "form"]}, "w"
    )
    check_field_types(_Params, {"cap": 2.5}, "w")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rate": "5"}, r"w: rate must be a number, got str '5'"),
        ({"rate": True}, r"w: rate must be a number, got bool True"),
        ({"count": 1.5}, r"w: count must be an integer, got float 1.5"),
        ({"enabled": "yes please"}, r"w: enabled must be true or false, got str 'yes please'"),
        ({"label": 3}, r"w: label must be a string, got int 3"),
        ({"label": False}, r"w: label must be a string \(YAML reads unquoted"),
        ({"cap": "high"}, r"w: cap must be a number, got str 'high'"),
    ],
)
def test_mistyped_values_name_key_expectation_and_value(values: dict, message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        check_field_types(_Params, values, "w")


def test_name_list_and_integer() -> None:
    assert name_list(["a", "b"], "s.m", "model names", "a") == ["a", "b"]
    with pytest.raises(CatalogueError, match=r"s.m must be a list of model names, e.g. \[a\], got str 'ab'"):
        name_list("ab", "s.m", "model names", "a")
    assert integer(4, "s.seed") == 4
    with pytest.raises(CatalogueError, match=r"s.seed must be an integer, got float 4.0"):
        integer(4.0, "s.seed")
