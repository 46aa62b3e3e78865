"""Reading a catalogue file: YAML whose mappings may not repeat a key.

PyYAML keeps the last of two equal keys, so a second `mild:` under a factor's variants would
silently replace the first; here it is an error naming the file and both lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from cvn_assets.core.errors import CatalogueError

_MERGE_TAG = "tag:yaml.org,2002:merge"


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping key given twice (merge keys `<<` may still be overridden)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = first_lines.setdefault(key, line)
            except TypeError as exc:
                raise ConstructorError(None, None, f"unhashable key {key!r}", key_node.start_mark) from exc
            if first != line:
                raise CatalogueError(
                    f"catalogue {key_node.start_mark.name}: duplicate key {key!r} at line {line} "
                    f"(first given at line {first}); the mapping may hold each key once"
                )
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def read_catalogue_document(source: Path) -> Any:
    """The parsed YAML of a catalogue file; a syntax error or a repeated key names the file."""
    try:
        # A file stream (not its text) makes PyYAML's marks carry the file's name.
        with source.open(encoding="utf-8") as stream:
            return yaml.load(stream, Loader=UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"catalogue {source} is not valid YAML: {exc}") from exc
