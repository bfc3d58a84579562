"""Hypothesis strategies generated from the upstream CIM JSON Schemas.

``hypothesis-jsonschema`` 0.23 breaks against the Hypothesis this project
uses (``'many' object has no attribute 'more'``), so this builds strategies
itself, for the subset of JSON Schema the CIM v1 files use: ``$ref`` (between
files of the schema directory), ``allOf``, ``type`` (one or a list),
``enum``, ``const``, ``properties`` / ``required`` / ``additionalProperties``,
``items``, ``minLength`` and ``format: date-time``. What it draws is valid
against the schema (``tests/test_fuzz.py`` checks that too), so mutating it
gives *near-valid* documents: the ones a parser is most likely to get wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from strategies import json_values

_JSON_LEAVES = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
)  # fmt: skip
ANY_JSON = json_values(_JSON_LEAVES)
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_DATE_TIMES = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}{}".format,
    st.integers(1970, 2100), st.integers(1, 12), st.integers(1, 28), st.integers(0, 23),
    st.integers(0, 59), st.integers(0, 59), st.sampled_from(["", ".5", ".123", ".123456"]),
    st.sampled_from(["Z", "+05:00", "-03:30", "+00:00"]),
)  # fmt: skip
_TYPES: dict[str, st.SearchStrategy[Any]] = {
    "string": _TEXT,
    "integer": st.integers(-(2**40), 2**40),
    "number": st.integers(-1000, 1000) | st.floats(allow_nan=False, allow_infinity=False),
    "boolean": st.booleans(),
    "null": st.none(),
    "object": st.dictionaries(st.text(max_size=6), ANY_JSON, max_size=2),
    "array": st.lists(ANY_JSON, max_size=2),
}


class SchemaStrategies:
    """Strategies for the schema files of one directory, by file name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[str, Any] = {}

    def _load(self, name: str) -> Any:
        if name not in self._files:
            self._files[name] = json.loads((self.root / name).read_text(encoding="utf-8"))
        return self._files[name]

    def for_file(self, name: str) -> st.SearchStrategy[Any]:
        return self.build(self._load(name), base=name)

    @staticmethod
    def _target(base: str, ref: str) -> str:
        """The file a ``$ref`` in file ``base`` names (refs are relative to it)."""
        return str(Path(base).parent / ref) if "/" in base else ref

    def build(self, schema: Any, base: str) -> st.SearchStrategy[Any]:
        """A strategy for ``schema``, whose ``$ref`` are relative to file ``base``."""
        if schema is True or schema == {}:
            return ANY_JSON
        ref = schema.get("$ref")
        if ref is not None:
            target = self._target(base, ref)
            return st.deferred(lambda: self.for_file(target))
        if "allOf" in schema:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for piece in schema["allOf"]:
                part = self._load(self._target(base, piece["$ref"])) if "$ref" in piece else piece
                merged.setdefault("properties", {}).update(part.get("properties", {}))
                merged["required"] = [*merged.get("required", []), *part.get("required", [])]
                for key in ("type", "additionalProperties"):
                    if key in part:
                        merged[key] = part[key]
            return self.build(merged, base)
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        kind = schema.get("type")
        if isinstance(kind, list):
            return st.one_of(*(self.build({**schema, "type": k}, base) for k in kind))
        if kind == "object" or "properties" in schema:
            return self._object(schema, base)
        if kind == "array":
            items = schema.get("items", True)
            return st.lists(self.build(items, base), max_size=2)
        if kind == "string":
            if schema.get("format") == "date-time":
                return _DATE_TIMES
            return _TEXT.filter(lambda s: len(s) >= schema.get("minLength", 0))
        if kind in _TYPES:
            return _TYPES[kind]
        return ANY_JSON

    def _object(self, schema: Any, base: str) -> st.SearchStrategy[Any]:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        fields = {k: self.build(v, base) for k, v in props.items()}
        named = st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required},
            optional={k: v for k, v in fields.items() if k not in required},
        )
        extra = schema.get("additionalProperties", True)
        if extra is False:
            return named
        values = ANY_JSON if extra is True else self.build(extra, base)
        unnamed = st.dictionaries(st.text(max_size=6).filter(lambda k: k not in props), values,
                                  max_size=1)  # fmt: skip
        return st.tuples(named, unnamed).map(lambda pair: {**pair[1], **pair[0]})


__all__ = ["ANY_JSON", "SchemaStrategies"]
