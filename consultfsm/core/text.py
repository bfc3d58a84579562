"""Whether text can leave the process.

JSON's ``\\ud800`` escapes (and ``surrogatepass`` decoding) make Python strings
holding lone surrogates, which no file, topic, database or UUID can carry as
UTF-8. Every boundary refuses them with its own typed error; this is the one
test they share.

>>> is_writable("Zoë"), is_writable("L\\udfff")
(True, False)
"""

from __future__ import annotations

import json

#: Several parts of one id written as one text no other parts make: a compact
#: JSON array (a separator inside a part cannot join two parts into another
#: id). ``id_text(["a:b", "c"]) != id_text(["a", "b:c"])``. (One encoder, made
#: once: ``json.dumps`` with options builds one per call.)
id_text = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

#: A record as compact JSON in ASCII (anything else ``\u``-escaped): what the
#: durable stores keep in a row and the JSON Lines sink writes on a line, the
#: same in any database encoding or terminal.
compact_json = json.JSONEncoder(separators=(",", ":")).encode


def is_writable(text: str) -> bool:
    """True when ``text`` encodes as UTF-8 (ASCII, the common case, costs one scan)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


__all__ = ["compact_json", "id_text", "is_writable"]
