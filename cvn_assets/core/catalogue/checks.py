"""Shape and type checks of catalogue values, each error naming where the value sits and what it is.

The parameter dataclasses check bounds; these run before them, so a value of the wrong type is
reported as such rather than as a bound it cannot be compared with.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Collection, Mapping
from numbers import Real
from typing import Any

from cvn_assets.core.errors import CatalogueError

# YAML 1.1 reads these unquoted words as booleans, a common surprise where a string is meant.
_YAML_BOOLEAN_WORDS = "off/on/no/yes/true/false"


def check_known_keys(given: Collection[Any], allowed: Collection[str], where: str, what: str = "key") -> None:
    """Raise on the first key of `given` not in `allowed`, suggesting the closest allowed one.

    `where` opens the message (e.g. "catalogue section `sweep`"); `what` names the kind of key.
    """
    for key in given:
        if key in allowed:
            continue
        close = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CatalogueError(f"{where}: unknown {what} {key!r}{hint}; allowed: {sorted(allowed)}")


def describe(value: Any) -> str:
    """A value with its type, as an error shows it: `str '5'`."""
    return f"{type(value).__name__} {value!r}"


def mapping_at(value: Any, where: str) -> Mapping[str, Any]:
    """`value` as a mapping (an absent section is an empty one)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise CatalogueError(f"catalogue: `{where}` must be a mapping, got {describe(value)}")
    return value


def name_list(value: Any, where: str, what: str, example: str) -> list[str]:
    """`value` as a list of names; a bare string is refused rather than read as its letters."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CatalogueError(f"catalogue: {where} must be a list of {what}, e.g. [{example}], got {describe(value)}")
    duplicates = sorted({item for item in value if value.count(item) > 1})
    if duplicates:
        raise CatalogueError(f"catalogue: {where} lists {duplicates} more than once: {value}")
    return list(value)


def integer(value: Any, where: str) -> int:
    """An integer as written: neither a float (which would be truncated) nor text nor a boolean."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise CatalogueError(f"catalogue: {where} must be an integer, got {describe(value)}")
    return value


def check_field_types(params_class: type, values: Mapping[str, Any], where: str) -> None:
    """Check each value against the simple annotation (number, integer, bool, text) of its field.

    Fields with richer annotations (tuples, nested types) are left to the class's own validation.
    """
    expected = _field_types(params_class)
    for key, value in values.items():
        annotation = expected.get(key)
        if annotation is None:
            continue
        problem = _type_problem(annotation, value)
        if problem:
            raise CatalogueError(f"{where}: {key} must be {problem}, got {describe(value)}")


def _field_types(params_class: type) -> dict[str, Any]:
    if not dataclasses.is_dataclass(params_class):
        return {}
    try:
        hints = typing.get_type_hints(params_class)
    except (NameError, TypeError):
        return {}
    return {f.name: hints[f.name] for f in dataclasses.fields(params_class) if f.name in hints}


def _type_problem(annotation: Any, value: Any) -> str | None:
    """What `value` should have been, or None when it fits (or the annotation is not a simple one)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None and len(members) < len(typing.get_args(annotation)):
            return None
        if len(members) == 1:
            return _type_problem(members[0], value)
        return None
    if annotation is float:
        return None if isinstance(value, Real) and not isinstance(value, bool) else "a number"
    if annotation is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "an integer"
    if annotation is bool:
        return None if isinstance(value, bool) else "true or false"
    if annotation is str:
        if isinstance(value, str):
            return None
        if isinstance(value, bool):
            return f"a string (YAML reads unquoted {_YAML_BOOLEAN_WORDS} as booleans: quote it)"
        return "a string"
    return None
