"""Whether text can leave the process.

JSON's ``\\ud800`` escapes (and ``surrogatepass`` decoding) make Python strings
holding lone surrogates, which no file, topic, database or UUID can carry as
UTF-8. Every boundary refuses them with its own typed error; this is the one
test they share.

>>> is_writable("Zoë"), is_writable("L\\udfff")
(True, False)
"""

from __future__ import annotations


def is_writable(text: str) -> bool:
    """True when ``text`` encodes as UTF-8 (ASCII, the common case, costs one scan)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


__all__ = ["is_writable"]
