"""JSON read strictly, for every text the library takes from outside.

Python's :func:`json.loads` accepts ``NaN`` and ``Infinity`` (not JSON) and
keeps the last of two equal keys silently. A tampered or mistyped document
must not pass that way: :func:`loads_strict` refuses both, with a
:class:`ValueError` (as :func:`json.loads` raises for malformed text), and
each entry point turns it into its own typed error.

>>> loads_strict('{"a": 1}')
{'a': 1}
>>> loads_strict('{"a": 1, "a": 2}')
Traceback (most recent call last):
...
ValueError: duplicate key 'a'
"""

from __future__ import annotations

import json
from typing import Any


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


def loads_strict(text: str | bytes) -> Any:
    """``json.loads`` without ``NaN`` / ``Infinity`` and without repeated keys;
    raises :class:`ValueError` (or :class:`RecursionError` for absurd nesting)."""
    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)


__all__ = ["loads_strict"]
