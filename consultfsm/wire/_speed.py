"""Every speed trick of the wire, in one place, beside the plain path it replaces.

A durable CCM reads one desk message and writes one conversation event per
input, so reading and writing CIM is a large share of its cost. The desks this
library drives write their messages with :meth:`CimCodec.dumps
<consultfsm.wire.cim.CimCodec.dumps>`: compact JSON, keys in one order, most
strings plain. The tricks below take that *canonical* form the short way and
leave everything else to the plain path; each is checked against the plain
path it replaces (``tests/test_cim.py``):

* **Reading a canonical message.** :data:`CANONICAL_MESSAGE` is the grammar
  of a message as the codec writes it without pass-through keys, with every
  string free of escapes and control characters. A text it matches in full is
  JSON with no repeated key, no ``NaN`` and no escape (so no lone surrogate
  from one); :func:`consultfsm.wire.cim.parse_message` then builds the message
  from the groups, with the plain path's checks on each value, instead of
  decoding the text with a hook per object and walking the result. A text it
  does not match goes to the plain path, which also names what is wrong.
* **Remembering that text.** A message read that way *is* its own canonical
  text (for the timestamp form the text used), so :class:`KnownTexts` keeps the
  last few, by identity: an event that carries the message writes that text
  instead of encoding the message again. A message built any other way
  (``attrs.evolve`` included) is another object and is encoded as usual.
* **Writing an event.** :func:`event_text` writes a conversation event's JSON
  by joining its parts, each string through the C encoder the plain
  :func:`json.dumps` path uses, instead of building nested dicts first.
* **Ids and times.** :func:`uuid5_text` is :func:`uuid.uuid5` without the
  ``UUID`` object; :class:`SecondCache` reuses the date and time of day of
  the last few whole seconds timestamps named (events come in bursts).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from json.encoder import encode_basestring
from typing import Any

#: A JSON string the fast path takes: no escape, no control character.
_S = r'"([^"\\\x00-\x1f]*)"'
_ATTRIBUTE = r'\{"key":' + _S + r',"type":' + _S + r',"value":' + _S + r"\}"
#: An attribute without its groups, to match the list in one group.
_ATTRIBUTE_BARE = _ATTRIBUTE.replace("(", "(?:")

#: A message as :meth:`CimCodec.dumps` writes one without pass-through keys
#: (groups: id, sender id and type, customer, service, the attributes' text,
#: intent, timestamp as a string or a number, channel session, conversation,
#: call id, leg, reason code, markdown text).
CANONICAL_MESSAGE = re.compile(
    r'\{"id":' + _S
    + r',"header":\{"sender":\{"id":' + _S + r',"type":' + _S + r"\}"
    + r',"channelData":\{"channelCustomerIdentifier":' + _S + r',"serviceIdentifier":' + _S
    + r'(?:,"additionalAttributes":\[(' + _ATTRIBUTE_BARE + r"(?:," + _ATTRIBUTE_BARE
    + r")*)\])?\}"
    + r',"intent":"([A-Z_]+)"'
    + r'(?:,"timestamp":(?:' + _S + r"|(-?(?:0|[1-9][0-9]{0,17}))))?"
    + r'(?:,"channelSessionId":' + _S + r")?"
    + r'(?:,"conversationId":' + _S + r")?"
    + r'\},"body":\{"type":"VOICE"'
    + r'(?:,"callId":' + _S + r")?"
    + r'(?:,"leg":' + _S + r")?"
    + r'(?:,"reasonCode":' + _S + r")?"
    + r'(?:,"markdownText":' + _S + r")?"
    + r"\}\}"
)  # fmt: skip
#: One attribute of the list :data:`CANONICAL_MESSAGE` matched.
CANONICAL_ATTRIBUTE = re.compile(_ATTRIBUTE)


class KnownTexts:
    """The canonical text of the last few messages read from one, by identity.

    An entry holds its message, so the object cannot be freed and its id
    reused while the entry stands; a lookup checks identity, not equality (an
    equal message built elsewhere may be written another way)."""

    __slots__ = ("_entries", "size")

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._entries: dict[int, tuple[object, str, frozenset[str]]] = {}

    def note(self, message: object, text: str, forms: frozenset[str]) -> None:
        """``text`` is ``message`` as the codec writes it in each of ``forms``."""
        entries = self._entries
        if len(entries) >= self.size:
            _drop_oldest(entries)
        entries[id(message)] = (message, text, forms)

    def text_of(self, message: object, form: str) -> str | None:
        entry = self._entries.get(id(message))
        if entry is None or entry[0] is not message or form not in entry[2]:
            return None
        return entry[1]


#: The texts of the messages :func:`consultfsm.wire.cim.parse_message` read canonically.
KNOWN_TEXTS = KnownTexts()


def _drop_oldest(entries: dict[Any, Any]) -> None:
    """Forget a cache's oldest entry. Caches are shared by threads (a service's
    workers): one that races another here finds its entry gone, or the dict
    changed under it, and forgets nothing this time, which only costs a miss."""
    with contextlib.suppress(KeyError, RuntimeError, StopIteration):
        del entries[next(iter(entries))]


def uuid5_text(namespace: bytes, name: str) -> str:
    """``str(uuid.uuid5(UUID(bytes=namespace), name))``, without the UUID object."""
    digest = bytearray(hashlib.sha1(namespace + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class SecondCache:
    """RFC 3339 text of epoch ms, reusing the date and time of day of the
    last few whole seconds (``plain`` writes a whole second's text): a CCM
    writes each event's time and the time of the message inside it, which
    are seconds apart, so one remembered second would be missed every time."""

    __slots__ = ("_seconds", "plain", "size")

    def __init__(self, plain: Any, size: int = 8) -> None:
        self.plain = plain  # (epoch seconds) -> "YYYY-MM-DDTHH:MM:SS"
        self.size = size
        self._seconds: dict[int, str] = {}

    def format(self, ms: int) -> str:
        second, milli = divmod(ms, 1000)
        text = self._seconds.get(second)
        if text is None:
            seconds = self._seconds
            if len(seconds) >= self.size:
                _drop_oldest(seconds)
            text = seconds[second] = self.plain(second)
        return f"{text}.{milli:03d}Z"


def event_text(
    *, event_id: str, name: str, timestamp: str | int, conversation_id: str, emitter_id: str,
    emitter_type: str, session_id: str, customer: str, service: str, active: bool, data: str,
) -> str:  # fmt: skip
    """A conversation event's JSON, as :meth:`CimCodec.dumps_event
    <consultfsm.wire.cim.CimCodec.dumps_event>` writes one with no extra keys;
    ``data`` is the JSON of the message inside it."""
    e = encode_basestring
    stamp = e(timestamp) if isinstance(timestamp, str) else str(timestamp)
    conversation = e(conversation_id)
    return "".join((
        '{"id":', e(event_id), ',"name":', e(name), ',"type":"ACTIVITY","timestamp":', stamp,
        ',"conversationId":', conversation, ',"eventEmitter":{"id":', e(emitter_id),
        ',"type":', e(emitter_type), '},"channelSession":{"id":', e(session_id),
        ',"channelData":{"channelCustomerIdentifier":', e(customer), ',"serviceIdentifier":',
        e(service), '},"isActive":', "true" if active else "false", ',"conversationId":',
        conversation, ',"state":{"name":', '"STARTED"' if active else '"ENDED"', '}},"data":',
        data, "}",
    ))  # fmt: skip


__all__ = [
    "CANONICAL_ATTRIBUTE",
    "CANONICAL_MESSAGE",
    "KNOWN_TEXTS",
    "KnownTexts",
    "SecondCache",
    "event_text",
    "uuid5_text",
]
