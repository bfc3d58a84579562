"""Customer numbers that mean "no number".

Desks and CTI put literal nulls and words for a withheld caller where a
customer's number belongs (``"null"``, ``"anonymous"``, a blank); the CCM
cannot find a session by one, and a desk must not send one as the
customer's number. Both sides read them with :func:`is_placeholder`.

>>> is_placeholder(" NULL "), is_placeholder("+923001234567")
(True, False)
"""

from __future__ import annotations

#: ANI values that mean "no number": empty, the literal nulls desks send, and
#: the words CTI and carriers use for withheld callers. Compared case-folded.
PLACEHOLDER_ANIS: frozenset[str] = frozenset(
    {
        "", "null", "none", "undefined", "nil", "n/a", "na", "-", "0",
        "anonymous", "withheld", "unknown", "private", "restricted", "unavailable",
        "blocked", "hidden", "anonymous caller", "private number", "unknown caller",
    }
)  # fmt: skip


def is_placeholder(value: str | None) -> bool:
    """True for values that mean "nothing": None, blanks, ``"null"``, anonymous."""
    return value is None or value.strip().casefold() in PLACEHOLDER_ANIS


__all__ = ["PLACEHOLDER_ANIS", "is_placeholder"]
