"""JSON read strictly, for every text the library takes from outside.

Python's :func:`json.loads` accepts ``NaN`` and ``Infinity`` (not JSON),
keeps the last of two equal keys silently, and decodes a ``\\ud800`` escape
to a lone surrogate, which no file, topic or database can carry as UTF-8. A
tampered or mistyped document must not pass that way: :func:`loads_strict`
refuses all three, with a :class:`ValueError` (as :func:`json.loads` raises
for malformed text; :class:`NotUnicode` names the path), and each entry point
turns it into its own typed error.

>>> loads_strict('{"a": 1}')
{'a': 1}
>>> loads_strict('{"a": 1, "a": 2}')
Traceback (most recent call last):
...
ValueError: duplicate key 'a'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from consultfsm.core.text import is_writable


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:  # name the first repeated key
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return obj


class NotUnicode(ValueError):
    """A string (a key or a value) at ``path`` holds a lone surrogate."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.why = "holds text that is not valid Unicode (a lone surrogate)"
        super().__init__(f"{path}: {self.why}")


def check_text(value: Any, path: str = "$") -> None:
    """Raise :class:`NotUnicode` for the first string in ``value`` (keys
    included) that cannot be written as UTF-8; ``path`` is where ``value`` is."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if not is_writable(item):
                raise NotUnicode(where.removeprefix("$."))
        elif isinstance(item, Mapping):
            for k, v in item.items():
                stack.append((k, where))
                stack.append((v, f"{where}.{k}" if isinstance(k, str) and k.isascii() else where))
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))


def loads_strict(text: str | bytes) -> Any:
    """``json.loads`` without ``NaN`` / ``Infinity``, repeated keys or lone
    surrogates; raises :class:`ValueError` (or :class:`RecursionError` for
    absurd nesting). Plain ASCII text without an escape pays nothing for the
    last check: only an escape or non-ASCII text can carry a lone surrogate
    (and json decodes bytes with ``surrogatepass``)."""
    value = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    escaped = "\\u" in text if isinstance(text, str) else b"\\u" in text
    if escaped or not text.isascii():
        check_text(value)
    return value


__all__ = ["NotUnicode", "check_text", "loads_strict"]
