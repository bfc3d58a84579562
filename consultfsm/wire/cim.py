"""The CIM wire format: the messages desks send to the CCM, and the events the
CCM publishes on the conversation topic.

Field names follow the upstream object model (``expertflow/object-model``,
schema v1), not the design note: the customer's address is
``header.channelData.channelCustomerIdentifier`` and ``serviceIdentifier`` is
required next to it. On input the note's spelling ``customerChannelIdentifier``
is accepted as an alias.

What the schema demands and deployed desks often do not do:

* ``header.timestamp`` is an RFC 3339 date-time string; desks send epoch
  milliseconds. We emit the schema's form by default
  (:attr:`TimestampForm.RFC3339`), accept both, and make it a setting.
* ``body.markdownText`` is a string or absent; desks send ``null``. We accept
  ``null`` on input and never emit it.
* ``serviceIdentifier`` must be a non-empty string; a leg may not know it, so
  :class:`CimCodec` requires a fallback and never emits an empty string.

A leg's messages are ``CALL_LEG_STARTED`` and ``CALL_LEG_ENDED`` (once each, with a
``reasonCode``) and ``CALL_HOLD`` / ``CALL_RESUME`` (as often as the consult is held,
without one). A message's id is an idempotency key (:func:`message_id`): the leg and
intent, and for a repeatable intent also its time.

Parsing is total: :func:`parse_message` returns a :class:`CimMessage` or raises
:class:`CimParseError` naming the field path; nothing else escapes it.
Sans-I/O: nothing here reads a clock or a file.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

import attrs

from consultfsm.core import events as ev
from consultfsm.core.errors import ConfigError, ConsultFsmError
from consultfsm.core.states import CimReason
from consultfsm.core.text import id_text, is_writable
from consultfsm.wire import _speed
from consultfsm.wire.strict_json import NotUnicode, check_text, loads_strict


class MessageIntent(StrEnum):
    """``header.intent``: every value of schema v1's ``message-intent.json``."""

    NONE = "NONE"
    REPLY_TO = "REPLY_TO"
    UPDATE = "UPDATE"
    START_CHAT = "START_CHAT"
    END_CHAT = "END_CHAT"
    CALL_LEG_STARTED = "CALL_LEG_STARTED"
    CALL_LEG_ENDED = "CALL_LEG_ENDED"
    AGENT_OUTBOUND = "AGENT_OUTBOUND"
    START_VOICE = "START_VOICE"
    END_VOICE = "END_VOICE"
    NETWORK_DISCONNECT = "NETWORK_DISCONNECT"
    ASSIGN_RESOURCE_REQUESTED = "ASSIGN_RESOURCE_REQUESTED"
    CANCEL_RESOURCE_REQUESTED = "CANCEL_RESOURCE_REQUESTED"
    IVR_AGGREGATED_ACTIVITY = "IVR_AGGREGATED_ACTIVITY"
    START_CONVERSATION = "START_CONVERSATION"
    CALL_HOLD = "CALL_HOLD"
    CALL_RESUME = "CALL_RESUME"
    VOICE_CALL_RECORDING = "VOICE_CALL_RECORDING"
    WRAPUP = "WRAPUP"
    MEDIA_RECORDING = "MEDIA_RECORDING"
    QM_ACTIVITY = "QM_ACTIVITY"
    CALL_ALERTING = "CALL_ALERTING"


class SenderType(StrEnum):
    """``header.sender.type`` values we emit. The schema leaves it an open
    string, so parsing keeps whatever arrives."""

    AGENT = "AGENT"  # a desk reported the leg
    SYSTEM = "SYSTEM"  # the CCM reported the leg on its own (B's desk was offline)


class TimestampForm(StrEnum):
    """How ``header.timestamp`` is written."""

    RFC3339 = "rfc3339"  # what the schema declares (a date-time string)
    EPOCH_MS = "epoch_ms"  # what deployed desks send (a number)


#: ``sender.id`` of messages the CCM synthesises itself.
CCM_SENDER_ID = "ccm"
#: The ``additionalAttributes`` key by which a desk says which agent of the
#: consult it is: ``CONSULTING`` (A) or ``CONSULTED`` (B, the default: the
#: design note's reporter, and what desks that do not send it are).
CONSULT_ROLE_KEY = "consultRole"


class ConsultRole(StrEnum):
    """The values of the :data:`CONSULT_ROLE_KEY` attribute."""

    CONSULTING = "CONSULTING"  # A's desk
    CONSULTED = "CONSULTED"  # B's desk


#: The channel type a Cisco voice session belongs to.
CISCO_CC = "CISCO_CC"
#: Where a CIM message id comes from: uuid5 over this namespace and the leg, so
#: the same leg's same intent always has the same id (an idempotency key).
ID_NAMESPACE = uuid.UUID("5f0c6a52-1f0e-4a8e-9d3b-6c1f1b0c5e11")
_NAMESPACE_BYTES = ID_NAMESPACE.bytes

# Datetime can only represent years 1..9999; reject other epochs on input so
# that re-emitting a parsed message as RFC 3339 can never overflow.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The earliest and latest epoch milliseconds a CIM timestamp can carry (years
#: 1..9999, in either wire form: the reader refuses anything outside).
MIN_TIMESTAMP_MS = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
MAX_TIMESTAMP_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - _EPOCH) // timedelta(
    milliseconds=1
)
_MIN_MS, _MAX_MS = MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS
_REPEATABLE_NAMES = frozenset(i.value for i in ev.REPEATABLE_INTENTS)
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII
)


# --- errors ---------------------------------------------------------------------------


class CimError(ConsultFsmError, ValueError):
    """A CIM message could not be read or written; ``path`` names the field
    (dotted, ``$`` for the whole message) and ``why`` says what is wrong."""

    def __init__(self, path: str, why: str) -> None:
        self.path = path
        self.why = why
        super().__init__(f"CIM field {path}: {why}")


class CimParseError(CimError):
    """Malformed input: not JSON, a wrong type, a missing field, an unknown intent."""


class CimEncodeError(CimError):
    """A message cannot be written without breaking the schema (e.g. an empty
    customer identifier)."""


# --- the typed message --------------------------------------------------------------


@attrs.frozen(slots=True)
class Sender:
    """``header.sender``: who sent the message; the schema's other keys
    (``senderName``, ``additionalDetail``) and any unknown ones in ``extra``."""

    id: str
    type: str  # open string upstream; SenderType for what we emit
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(slots=True)
class Attribute:
    """One ``channelData.additionalAttributes`` entry (call variables, conversationId)."""

    key: str
    type: str
    value: Any


@attrs.frozen(slots=True)
class ChannelData:
    """``header.channelData``: the customer's address on the channel, and the
    service; the schema's other keys (``requestPriority``, the customer's
    names) and any unknown ones in ``extra``."""

    channel_customer_identifier: str
    service_identifier: str
    additional_attributes: tuple[Attribute, ...] = ()
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(slots=True)
class VoiceBody:
    """A ``VOICE`` body. Keys we do not model (``dialog``, ...) live in
    ``extra`` and are written back out flat, as the upstream ``@JsonAnySetter`` does."""

    call_id: str | None = None
    leg: str | None = None
    reason_code: str | None = None
    markdown_text: str | None = None  # null on input is read as absent
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    type: ClassVar[str] = "VOICE"


@attrs.frozen(slots=True)
class MessageHeader:
    """``header``. ``timestamp_ms`` is epoch milliseconds whatever the wire form;
    header keys we do not model are kept in ``extra``."""

    sender: Sender
    channel_data: ChannelData
    intent: MessageIntent
    timestamp_ms: int | None = None
    channel_session_id: str | None = None
    conversation_id: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(slots=True)
class CimMessage:
    """A CIM message ``{id, header, body}`` with a voice body."""

    id: str
    header: MessageHeader
    body: VoiceBody


# --- timestamps -----------------------------------------------------------------------


def format_timestamp(ms: int, form: TimestampForm) -> str | int:
    """Write epoch milliseconds in the chosen wire form (RFC 3339 in UTC with
    millisecond precision, or the number itself)."""
    if form is TimestampForm.EPOCH_MS:
        return ms
    if not _MIN_MS <= ms <= _MAX_MS:
        raise CimEncodeError("header.timestamp", f"{ms} ms is outside years 1..9999")
    return _SECONDS.format(ms)


def _whole_second(second: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` of epoch seconds (the plain path of the cache)."""
    m = _EPOCH + timedelta(seconds=second)
    # Not strftime: its %Y does not zero-pad years below 1000 on every platform.
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"


_SECONDS = _speed.SecondCache(_whole_second)


def parse_timestamp(value: Any, path: str = "header.timestamp") -> int:
    """Read a timestamp as epoch ms: an RFC 3339 string or an epoch-ms number.
    Fractions below a millisecond are truncated."""
    if isinstance(value, bool):
        raise CimParseError(path, "expected an RFC 3339 string or epoch milliseconds, got bool")
    if isinstance(value, int):
        ms = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise CimParseError(path, f"epoch milliseconds must be a whole number, got {value!r}")
        ms = int(value)
    elif isinstance(value, str):
        ms = _parse_rfc3339(value, path)
    else:
        raise CimParseError(
            path, f"expected an RFC 3339 string or epoch milliseconds, got {_kind(value)}"
        )
    if not _MIN_MS <= ms <= _MAX_MS:
        raise CimParseError(path, f"{ms} ms is outside years 1..9999")
    return ms


def _parse_rfc3339(text: str, path: str) -> int:
    match = _RFC3339.match(text)
    if match is None:
        raise CimParseError(path, f"not an RFC 3339 date-time: {text[:40]!r}")
    date, time, fraction, offset = match.groups()
    micros = (fraction or "0")[:6].ljust(6, "0")
    offset = "+00:00" if offset in ("Z", "z") else offset
    if int(offset[1:3]) > 23 or int(offset[4:6]) > 59:  # RFC 3339: time-hour, time-minute
        raise CimParseError(
            path, f"not a valid UTC offset: {offset!r} (hours 00-23, minutes 00-59)"
        )
    try:
        moment = datetime.fromisoformat(f"{date}T{time}.{micros}{offset}")
        return (moment - _EPOCH) // timedelta(milliseconds=1)
    except (ValueError, OverflowError) as exc:
        raise CimParseError(path, f"not a valid date-time: {exc}") from None


# --- parsing --------------------------------------------------------------------------


def _kind(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    return "number" if isinstance(value, int | float) else type(value).__name__


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CimParseError(path, f"expected an object, got {_kind(value)}")
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _req_str(obj: Mapping[str, Any], key: str, path: str, *, non_empty: bool = True) -> str:
    where = _join(path, key)
    if key not in obj:
        raise CimParseError(where, "missing")
    value = obj[key]
    if not isinstance(value, str):
        raise CimParseError(where, f"expected a string, got {_kind(value)}")
    if non_empty and not value.strip():
        raise CimParseError(where, "must not be empty")
    return value


def _opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise CimParseError(f"{path}.{key}", f"expected a string or absent, got {_kind(value)}")


_HEADER_KEYS = frozenset(
    {"sender", "channelData", "intent", "timestamp", "channelSessionId", "conversationId"}
)
_SENDER_KEYS = frozenset({"id", "type"})
_CHANNEL_DATA_KEYS = frozenset({
    "channelCustomerIdentifier", "customerChannelIdentifier", "serviceIdentifier",
    "additionalAttributes",
})  # fmt: skip
#: The JSON type the schema (v1) gives each key we pass through unread
#: (``message-header.json``, ``sender.json``, ``channel-data.json``): what is
#: written back must still validate. Keys the schema does not name pass as they are.
_PASSED_TYPES: dict[str, dict[str, str]] = {
    "header": {
        "language": "object", "securityInfo": "object", "stamps": "array of strings",
        "entities": "object", "customer": "customer", "originalMessageId": "string",
        "providerMessageId": "string", "schedulingMetaData": "object", "roomId": "string",
        "additionalData": "object",
    },
    "sender": {"senderName": "string", "additionalDetail": "object"},
    "channelData": {
        "requestPriority": "integer", "customerFirstName": "string",
        "customerLastName": "string",
    },
    "customer": {  # customer.json, the one nested object whose keys the schema types
        "_id": "string", "firstName": "string", "phoneNumber": "array of strings",
        "isAnonymous": "boolean", "__v": "integer",
    },
}  # fmt: skip
#: ``attribute.json``'s ``type`` (``enums/value-type.json``).
VALUE_TYPES = frozenset({
    "Alphanum100", "AlphanumSpecial200", "String2000", "String50", "String100",
    "PositiveNumber", "IP", "Number", "PhoneNumber", "URL", "Boolean", "Email", "Password",
    "StringList", "WebChannelData",
})  # fmt: skip
_IS_TYPE: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: v.__class__ is int,
    "boolean": lambda v: v.__class__ is bool,
    "customer": lambda v: isinstance(v, dict),
    "array of strings": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
}


def _passed(
    obj: Mapping[str, Any], known: frozenset[str], path: str, schema: str
) -> dict[str, Any]:
    """The keys of ``obj`` we do not model, each of the type the schema
    (``schema``: which object it is) gives it."""
    out = {k: v for k, v in obj.items() if k not in known}
    types = _PASSED_TYPES[schema]
    for key, value in out.items():
        want = types.get(key)
        if want is not None and not _IS_TYPE[want](value):
            kind = "an object" if want in _PASSED_TYPES else want
            raise CimParseError(f"{path}.{key}", f"expected {kind}, got {_kind(value)}")
        if want in _PASSED_TYPES:  # a nested object the schema types: its keys too
            _passed(value, frozenset(), f"{path}.{key}", want)
    return out


_BODY_KEYS = frozenset({"type", "callId", "leg", "reasonCode", "markdownText"})


def _parse_channel_data(raw: Any, path: str = "header.channelData") -> ChannelData:
    obj = _object(raw, path)
    canonical, alias = "channelCustomerIdentifier", "customerChannelIdentifier"
    if canonical in obj:
        customer = _req_str(obj, canonical, path)
        if alias in obj and obj[alias] != customer:
            raise CimParseError(f"{path}.{alias}", f"disagrees with {canonical}")
    elif alias in obj:  # the design note's spelling, accepted on input only
        customer = _req_str(obj, alias, path)
    else:
        raise CimParseError(f"{path}.{canonical}", "missing")
    service = _req_str(obj, "serviceIdentifier", path)
    attributes: list[Attribute] = []
    raw_attrs = obj.get("additionalAttributes")
    if raw_attrs is not None:
        if not isinstance(raw_attrs, list):
            raise CimParseError(
                f"{path}.additionalAttributes", f"expected an array, got {_kind(raw_attrs)}"
            )
        for i, item in enumerate(raw_attrs):
            ipath = f"{path}.additionalAttributes[{i}]"
            entry = _object(item, ipath)
            kind = _req_str(entry, "type", ipath, non_empty=False)
            if kind not in VALUE_TYPES:
                raise CimParseError(f"{ipath}.type", f"{kind[:40]!r} is not one of "
                                    f"{sorted(VALUE_TYPES)} (value-type.json)")  # fmt: skip
            attributes.append(
                Attribute(_req_str(entry, "key", ipath, non_empty=False), kind, entry.get("value"))
            )
    extra = _passed(obj, _CHANNEL_DATA_KEYS, path, "channelData")
    return ChannelData(customer, service, tuple(attributes), extra)


def _parse_header(raw: Any) -> MessageHeader:
    obj = _object(raw, "header")
    if "sender" not in obj:
        raise CimParseError("header.sender", "missing")
    sender_obj = _object(obj["sender"], "header.sender")
    sender = Sender(
        _req_str(sender_obj, "id", "header.sender"),
        _req_str(sender_obj, "type", "header.sender", non_empty=False),
        _passed(sender_obj, _SENDER_KEYS, "header.sender", "sender"),
    )
    if "channelData" not in obj:
        raise CimParseError("header.channelData", "missing")
    channel_data = _parse_channel_data(obj["channelData"])
    intent_raw = _req_str(obj, "intent", "header")
    try:
        intent = MessageIntent(intent_raw)
    except ValueError:
        raise CimParseError("header.intent", f"unknown intent {intent_raw[:40]!r}") from None
    raw_ts = obj.get("timestamp")
    timestamp = None if raw_ts is None else parse_timestamp(raw_ts)
    return MessageHeader(
        sender,
        channel_data,
        intent,
        timestamp,
        _opt_str(obj, "channelSessionId", "header"),
        _opt_str(obj, "conversationId", "header"),
        _passed(obj, _HEADER_KEYS, "header", "header"),
    )


def _parse_body(raw: Any) -> VoiceBody:
    obj = _object(raw, "body")
    kind = _req_str(obj, "type", "body")
    if kind != VoiceBody.type:
        raise CimParseError("body.type", f"only VOICE bodies are call-leg messages, got {kind!r}")
    return VoiceBody(
        _opt_str(obj, "callId", "body"),
        _opt_str(obj, "leg", "body"),
        _opt_str(obj, "reasonCode", "body"),
        _opt_str(obj, "markdownText", "body"),
        {k: v for k, v in obj.items() if k not in _BODY_KEYS},
    )


def loads_json(text: str | bytes) -> Any:
    """Decode JSON strictly (no NaN/Infinity, no repeated key); any failure is
    a :class:`CimParseError`."""
    try:
        return loads_strict(text)
    except NotUnicode as exc:
        raise CimParseError(exc.path, exc.why) from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise CimParseError("$", f"not JSON: {exc}") from None


def _decoded(data: str | bytes | Mapping[str, Any]) -> Any:
    """JSON text read strictly, or an object decoded elsewhere, whose text was
    not checked: its strings must be writable all the same."""
    if isinstance(data, str | bytes):
        return loads_json(data)
    try:
        check_text(data)
    except NotUnicode as exc:
        raise CimParseError(exc.path, exc.why) from None
    return data


def parse_message(data: str | bytes | Mapping[str, Any]) -> CimMessage:
    """Read a CIM call-leg message from JSON text or an already decoded object.

    Raises :class:`CimParseError` (naming the field path) on anything malformed,
    and nothing else.
    """
    text = data
    if isinstance(data, bytes):  # (what an HTTP body is)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:  # the plain path reads it, or names what is wrong
            return parse_message_plain(data)
    if isinstance(text, str) and (message := _parse_canonical(text)) is not None:
        return message
    return parse_message_plain(data)


def _parse_canonical(text: str) -> CimMessage | None:
    """The message of a text in the codec's canonical form (see
    :mod:`consultfsm.wire._speed`), remembered as its own text; None for any
    other text, or one a check refuses (the plain path then names why)."""
    match = _speed.CANONICAL_MESSAGE.fullmatch(text)
    if match is None or not is_writable(text):
        return None
    (msg_id, sender_id, sender_type, customer, service, attributes_text, intent_raw, stamp,
     number, session_id, conversation_id, call_id, leg, reason,
     markdown) = match.groups()  # fmt: skip
    intent = _INTENTS.get(intent_raw)
    if intent is None or not (msg_id.strip() and sender_id.strip() and customer.strip()
                              and service.strip()):  # fmt: skip
        return None
    attributes: tuple[Attribute, ...] = ()
    if attributes_text is not None:
        attributes = tuple(
            Attribute(key, kind, value)
            for key, kind, value in _speed.CANONICAL_ATTRIBUTE.findall(attributes_text)
        )
        if not all(a.type in VALUE_TYPES for a in attributes):
            return None
    forms = _BOTH_FORMS
    timestamp = None
    try:
        if stamp is not None:
            timestamp = parse_timestamp(stamp)
            written = format_timestamp(timestamp, TimestampForm.RFC3339)
            forms = _RFC3339_FORM if written == stamp else _NO_FORM
        elif number is not None:
            timestamp = parse_timestamp(int(number))
            # (as the codec writes it: "-0" is read as 0, and written "0")
            forms = _EPOCH_MS_FORM if str(timestamp) == number else _NO_FORM
    except CimParseError:
        return None
    message = CimMessage(
        msg_id,
        MessageHeader(
            Sender(sender_id, sender_type),
            ChannelData(customer, service, attributes),
            intent, timestamp, session_id, conversation_id,
        ),
        VoiceBody(call_id, leg, reason, markdown),
    )  # fmt: skip
    if forms:
        _speed.KNOWN_TEXTS.note(message, text, forms)
    return message


_INTENTS: dict[str, MessageIntent] = {i.value: i for i in MessageIntent}
_BOTH_FORMS = frozenset(TimestampForm)
_RFC3339_FORM = frozenset({TimestampForm.RFC3339})
_EPOCH_MS_FORM = frozenset({TimestampForm.EPOCH_MS})
_NO_FORM: frozenset[TimestampForm] = frozenset()


def parse_message_plain(data: str | bytes | Mapping[str, Any]) -> CimMessage:
    """:func:`parse_message` by the plain path alone: decode strictly, then
    read the object (what the canonical fast path is checked against)."""
    raw = _decoded(data)
    try:
        obj = _object(raw, "$")
        msg_id = _req_str(obj, "id", "")
        if "header" not in obj:
            raise CimParseError("header", "missing")
        header = _parse_header(obj["header"])
        if "body" not in obj:
            raise CimParseError("body", "missing")
        message = CimMessage(msg_id, header, _parse_body(obj["body"]))
    except RecursionError:  # a pathologically deep decoded object
        raise CimParseError("$", "nested too deeply") from None
    # What is passed through unread is written back into events, inside more
    # levels: bound it here, so writing can never run out of stack.
    attributes = [a.value for a in header.channel_data.additional_attributes]
    passed = (("header", header.extra), ("body", message.body.extra),
              ("header.sender", header.sender.extra),
              ("header.channelData", header.channel_data.extra),
              ("header.channelData.additionalAttributes", attributes))  # fmt: skip
    for where, value in passed:
        if value:
            _check_depth(value, where)
    return message


#: How deep a passed-through value may nest (CIM's own objects nest a few levels).
MAX_PASS_THROUGH_DEPTH = 64


def _check_depth(value: Any, path: str) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_PASS_THROUGH_DEPTH:
            raise CimParseError(path, f"nested deeper than {MAX_PASS_THROUGH_DEPTH} levels")
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((v, depth + 1) for v in item)


# --- writing --------------------------------------------------------------------------


@attrs.frozen(slots=True)
class ChannelSessionRef:
    """What the CCM knows of the customer's channel session when it publishes:
    enough to write the ``channelSession`` object of a conversation event."""

    id: str
    conversation_id: str
    customer_identifier: str
    service_identifier: str | None = None
    active: bool = True


#: Intents a leg may send more than once (``core.events.REPEATABLE_INTENTS``).
REPEATABLE: frozenset[MessageIntent] = frozenset(
    MessageIntent(i.value) for i in ev.REPEATABLE_INTENTS
)


def message_id(
    leg: str, intent: MessageIntent | str, occurrence: int | str | None = None, *,
    scope: str | None = None,
) -> str:  # fmt: skip
    """The id of a leg's message for an intent: stable, so a re-sent or
    duplicated report carries the same id and the CCM can drop it.

    A leg reports most intents once, so the leg and the intent name the
    message. A repeatable intent (``CALL_HOLD``, ``CALL_RESUME``: a consult can
    be held again) also needs ``occurrence``, the leg-clock ms it happened at:
    two holds of one leg get different ids, a re-sent copy of one hold keeps
    its id. ``intent`` may also be a derived name (``event/CALL_HOLD``, the
    id of a conversation event), which follows the same rule, its occurrence
    the id of the report it publishes (:func:`event_occurrence`). ``scope`` is
    what makes the leg unique beyond itself (the conversation): two
    conversations, or tenants, with a leg ``L1`` get different ids. The parts
    are written as a JSON array, so no two sets of parts share a name
    (``"x"`` + ``"/event"`` is not ``"x/event"``).

    >>> message_id("L1", MessageIntent.CALL_HOLD, 1000) != message_id("L1", "CALL_HOLD", 3000)
    True
    >>> message_id("L1", MessageIntent.CALL_LEG_STARTED) == message_id("L1", "CALL_LEG_STARTED")
    True
    >>> message_id("L1", "CALL_LEG_STARTED", scope="C1") != message_id("L1", "CALL_LEG_STARTED",
    ...                                                                scope="C2")
    True
    """
    name = str(intent)
    repeatable = name.rpartition("/")[2] in _REPEATABLE_NAMES
    if repeatable and occurrence is None:
        raise ValueError(f"{name} can happen more than once per leg: its id needs its time")
    if not repeatable and occurrence is not None:
        raise ValueError(f"{name} happens once per leg: its id takes no time")
    key = id_text([scope, leg, name, occurrence])
    return _speed.uuid5_text(_NAMESPACE_BYTES, key)  # uuid.uuid5(ID_NAMESPACE, key)


def occurrence_of(intent: MessageIntent, at: int, repeat: int = 0) -> int | str | None:
    """What :func:`message_id` takes for a desk's message of ``intent``
    happening at ``at``: the time for a repeatable intent, None for the others.
    ``repeat`` counts the leg's earlier messages of ``intent`` within the same
    ms (a hold, a resume and a hold again, read in one ms): the time alone
    gave the two holds one id, and the CCM took the second as the first's
    retry. The first keeps the time alone, so ids of one per ms are as ever.

    >>> hold = MessageIntent.CALL_HOLD
    >>> occurrence_of(hold, 1000), occurrence_of(hold, 1000, 1)
    (1000, '1000+1')
    """
    if intent not in REPEATABLE:
        if repeat:
            raise ValueError(f"{intent.value} happens once per leg: it has no repeats")
        return None
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 0:
        raise ValueError(f"repeat must be a non-negative integer, got {repeat!r:.40}")
    return f"{at}+{repeat}" if repeat else at


def event_occurrence(intent: MessageIntent, message: CimMessage, at: int) -> str | None:
    """What :func:`message_id` takes for the conversation event of ``intent``
    published from ``message`` at ``at``: for a repeatable intent the time
    and the report's own id, None for the others. The time alone was not
    enough: a desk's hold, resume, hold reaching the CCM within one ms had one
    id for two holds (a consumer dropping repeated ids lost one); nor is the
    report's id alone: a desk that keys its reports by its own ms gives two
    holds within one of its ms one id. Both alike only for the same report
    applied at the same time, which publishes once."""
    return f"{at}:{message.id}" if intent in REPEATABLE else None


#: The leg events B's desk sends as CIM messages.
DeskEvent = ev.CimCallLegStarted | ev.CimCallLegEnded | ev.CimCallHold | ev.CimCallResume
#: The leg events the CCM publishes on the conversation topic.
Publication = ev.CallLegStarted | ev.CallLegEnded | ev.CallHeld | ev.CallResumed


def _reason(reason: CimReason | None) -> str | None:
    # CALL_HOLD / CALL_RESUME carry no reasonCode: absent from the body, never null.
    return None if reason is None else reason.value


def _timestamp_form(form: Any) -> TimestampForm:
    # A plain string compares equal to its member, but is not one: the codec
    # tests its form by identity, so it holds the member.
    try:
        return TimestampForm(form)
    except ValueError:
        forms = ", ".join(repr(f.value) for f in TimestampForm)
        raise ConfigError("timestamp_form", f"{form!r} is none of {forms}") from None


def _non_empty(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


@attrs.frozen(slots=True)
class CimCodec:
    """Writes and reads CIM JSON with one set of wire settings.

    ``service_identifier`` is required: it is the channel's service (the
    Cisco DN / ``primaryDN``) used when a leg does not carry its own, so a
    message never goes out with the schema-required field empty.
    ``timestamp_form`` picks the ``header.timestamp`` form; ``epoch_ms`` is
    added to the leg's millisecond clock to get wall time.
    """

    service_identifier: str = attrs.field()
    #: (its wire name, ``"epoch_ms"``, is taken too: the codec holds the member)
    timestamp_form: TimestampForm = attrs.field(
        default=TimestampForm.RFC3339, converter=_timestamp_form
    )
    epoch_ms: int = attrs.field(default=0)

    @service_identifier.validator
    def _check(self, _: Any, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise CimEncodeError("header.channelData.serviceIdentifier", "must not be empty")
        if not is_writable(value):  # (every message would carry it: none could be written)
            raise CimEncodeError("header.channelData.serviceIdentifier",
                                 "UTF-8 cannot encode it (a lone surrogate)")  # fmt: skip

    @epoch_ms.validator
    def _check_epoch(self, _: Any, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError("epoch_ms", f"must be an int (ms), got {type(value).__name__}")

    def service_for(self, own: str | None) -> str:
        """The leg's own service identifier if it has a usable one, else the codec's."""
        return _non_empty(own) or self.service_identifier

    def wall_time(self, at: int) -> int:
        """Epoch milliseconds of the leg clock's ``at``, or :class:`CimEncodeError`
        when no CIM timestamp can carry it (outside years 1..9999). A host checks
        an input's time with this *before* applying it, so the codec can never
        fail half-way through a step."""
        ms = self.epoch_ms + at
        if not MIN_TIMESTAMP_MS <= ms <= MAX_TIMESTAMP_MS:
            raise CimEncodeError(
                "header.timestamp",
                f"{at} ms after epoch_ms {self.epoch_ms} is outside years 1..9999",
            )
        return ms

    # -- desk messages ------------------------------------------------------------

    def message_for(self, event: DeskEvent) -> CimMessage:
        """The CIM message B's desk sends for a leg event (sender ``AGENT``):
        ``CALL_LEG_STARTED`` / ``CALL_LEG_ENDED`` with their ``reasonCode``,
        ``CALL_HOLD`` / ``CALL_RESUME`` without one."""
        return self._message(
            leg=event.leg,
            at=event.at,
            intent=MessageIntent(event.intent.value),
            sender=Sender(event.agent, SenderType.AGENT.value),
            customer=event.customer_ani,
            service=event.service_identifier,
            channel_session_id=event.channel_session_id,
            conversation_id=event.conversation_id,
            call_id=event.call_id,
            reason=_reason(event.reason),
        )

    def agent_message(
        self, *, leg: str, at: int, intent: MessageIntent, agent: str, customer: str,
        call_id: str | None, reason: CimReason | None, service: str | None = None,
        channel_session_id: str | None = None, conversation_id: str | None = None,
        associated_dialog_uri: str | None = None, consult_role: str | None = None,
        repeat: int = 0,
    ) -> CimMessage:  # fmt: skip
        """A CIM message an agent's desk sends (sender ``AGENT``), from plain
        values: what an AgentDesk that reads Finesse itself knows
        (:meth:`consultfsm.desk.AgentDesk.cim_message`). ``customer`` is the
        ``channelCustomerIdentifier``: the customer's number, which lets the
        CCM find the session without an ``associatedDialogUri`` (UCCX, queue
        consults); where the consult has one (UCCE), it travels as the
        ``associatedDialogUri`` additional attribute. ``repeat``: the leg's
        earlier messages of this intent at the same ms (:func:`occurrence_of`)."""
        extra = () if associated_dialog_uri is None else (
            Attribute("associatedDialogUri", "String2000", associated_dialog_uri),)  # fmt: skip
        if consult_role is not None:  # which desk: the CCM keeps one report of the two
            extra = (*extra, Attribute(CONSULT_ROLE_KEY, "String2000", consult_role))
        return self._message(
            leg=leg, at=at, intent=intent, sender=Sender(agent, SenderType.AGENT.value),
            customer=customer, service=service, channel_session_id=channel_session_id,
            conversation_id=conversation_id, call_id=call_id, reason=_reason(reason),
            attributes=extra, repeat=repeat,
        )  # fmt: skip

    def system_message_for(
        self, event: Publication, session: ChannelSessionRef, call_id: str | None = None
    ) -> CimMessage:
        """The CIM message the CCM stands in for when it reports a leg itself
        (``reported_by=ccm``): sender ``SYSTEM``."""
        return self.system_message(
            leg=event.leg, at=event.at, intent=MessageIntent(event.kind.value), session=session,
            call_id=call_id, reason=_reason(event.reason),
        )  # fmt: skip

    def system_message(
        self, *, leg: str, at: int, intent: MessageIntent, session: ChannelSessionRef,
        call_id: str | None, reason: str | None,
    ) -> CimMessage:  # fmt: skip
        """:meth:`system_message_for` from plain values (the CCM engine's form)."""
        return self._message(
            leg=leg,
            at=at,
            intent=intent,
            sender=Sender(CCM_SENDER_ID, SenderType.SYSTEM.value),
            customer=session.customer_identifier,
            service=session.service_identifier,
            channel_session_id=session.id,
            conversation_id=session.conversation_id,
            call_id=call_id,
            reason=reason,
        )

    def _message(
        self, *, leg: str, at: int, intent: MessageIntent, sender: Sender, customer: str,
        service: str | None, channel_session_id: str | None, conversation_id: str | None,
        call_id: str | None, reason: str | None, attributes: tuple[Attribute, ...] = (),
        repeat: int = 0,
    ) -> CimMessage:  # fmt: skip
        if not customer.strip():
            raise CimEncodeError(
                "header.channelData.channelCustomerIdentifier", "the leg has no customer identifier"
            )
        # Deployed desks mirror conversationId into additionalAttributes on
        # CALL_LEG_ENDED; the CCM reads it from there after a desk refresh.
        if intent is MessageIntent.CALL_LEG_ENDED and conversation_id is not None:
            attributes = (Attribute("conversationId", "String2000", conversation_id), *attributes)
        scope = conversation_id or channel_session_id  # what makes the leg unique beyond itself
        return CimMessage(
            message_id(leg, intent, occurrence_of(intent, at, repeat), scope=scope),
            MessageHeader(
                sender,
                ChannelData(customer, self.service_for(service), attributes),
                intent,
                self.wall_time(at),
                channel_session_id,
                conversation_id,
            ),
            VoiceBody(call_id, leg, reason),
        )

    def encode(self, message: CimMessage) -> dict[str, Any]:
        """The message as a JSON-ready dict, in upstream field names."""
        header = message.header
        cd = header.channel_data
        channel_data: dict[str, Any] = {
            "channelCustomerIdentifier": cd.channel_customer_identifier,
            "serviceIdentifier": cd.service_identifier,
        }
        if cd.additional_attributes:
            channel_data["additionalAttributes"] = [
                {"key": a.key, "type": a.type, "value": a.value} for a in cd.additional_attributes
            ]
        channel_data.update(cd.extra)
        sender: dict[str, Any] = {"id": header.sender.id, "type": header.sender.type}
        sender.update(header.sender.extra)
        out_header: dict[str, Any] = {
            "sender": sender,
            "channelData": channel_data,
            "intent": header.intent.value,
        }
        if header.timestamp_ms is not None:
            out_header["timestamp"] = format_timestamp(header.timestamp_ms, self.timestamp_form)
        if header.channel_session_id is not None:
            out_header["channelSessionId"] = header.channel_session_id
        if header.conversation_id is not None:
            out_header["conversationId"] = header.conversation_id
        out_header.update(header.extra)
        body = message.body
        out_body: dict[str, Any] = {"type": body.type}
        for key, value in (
            ("callId", body.call_id),
            ("leg", body.leg),
            ("reasonCode", body.reason_code),
            ("markdownText", body.markdown_text),  # never null on the wire
        ):
            if value is not None:
                out_body[key] = value
        out_body.update(body.extra)
        return {"id": message.id, "header": out_header, "body": out_body}

    def dumps(self, message: CimMessage) -> str:
        """The message as compact JSON text (keys in a fixed order). Pass-through
        values that JSON cannot carry (NaN, infinities) raise :class:`CimEncodeError`."""
        return _dumps(self.encode(message))

    # -- conversation events ------------------------------------------------------

    def channel_session(self, session: ChannelSessionRef) -> dict[str, Any]:
        """The ``channelSession`` object (``channel-session.json``) of a session."""
        return {
            "id": session.id,
            "channelData": {
                "channelCustomerIdentifier": session.customer_identifier,
                "serviceIdentifier": self.service_for(session.service_identifier),
            },
            "isActive": session.active,
            "conversationId": session.conversation_id,
            "state": {"name": "STARTED" if session.active else "ENDED"},
        }

    def make_conversation_event(
        self, event: Publication, session: ChannelSessionRef, message: CimMessage
    ) -> ConversationEvent:
        """The typed ``CimEvent`` the CCM publishes for a leg event (see
        :meth:`conversation_event` for its JSON)."""
        return self.leg_event(
            leg=event.leg, at=event.at, intent=MessageIntent(event.kind.value), session=session,
            message=message,
        )  # fmt: skip

    def leg_event(
        self, *, leg: str, at: int, intent: MessageIntent, session: ChannelSessionRef,
        message: CimMessage,
    ) -> ConversationEvent:  # fmt: skip
        """:meth:`make_conversation_event` from plain values (the CCM engine's form)."""
        return ConversationEvent(
            id=message_id(
                leg,
                f"event/{intent.value}",
                event_occurrence(intent, message, at),
                scope=session.conversation_id,
            ),
            name=intent,
            type=ACTIVITY,
            timestamp_ms=self.wall_time(at),
            conversation_id=session.conversation_id,
            event_emitter=message.header.sender,
            # as written: the codec's fallback stands in for a missing service
            channel_session=attrs.evolve(
                session, service_identifier=self.service_for(session.service_identifier)
            ),
            data=message,
        )

    def encode_event(self, event: ConversationEvent) -> dict[str, Any]:
        """A conversation event as a JSON-ready dict, in upstream field names."""
        out: dict[str, Any] = {
            "id": event.id,
            "name": event.name.value,
            "type": event.type,
            "timestamp": format_timestamp(event.timestamp_ms, self.timestamp_form),
            "conversationId": event.conversation_id,
            "eventEmitter": {"id": event.event_emitter.id, "type": event.event_emitter.type},
            "channelSession": self.channel_session(event.channel_session),
            "data": self.encode(event.data),
        }
        out.update(event.extra)
        return out

    def dumps_event(self, event: ConversationEvent) -> str:
        """A conversation event as compact JSON text (see :meth:`dumps`)."""
        return _dumps(self.encode_event(event))

    def leg_event_json(
        self, *, leg: str, at: int, intent: MessageIntent, session: ChannelSessionRef,
        message: CimMessage,
    ) -> tuple[ConversationEvent, str]:  # fmt: skip
        """:meth:`leg_event` and its :meth:`dumps_event`, the short way (the
        message's own text when it was read canonically; see
        :mod:`consultfsm.wire._speed`)."""
        service = self.service_for(session.service_identifier)
        ms = self.wall_time(at)
        event = ConversationEvent(
            message_id(leg, f"event/{intent.value}", event_occurrence(intent, message, at),
                       scope=session.conversation_id),
            intent, ACTIVITY, ms, session.conversation_id, message.header.sender,
            session if service == session.service_identifier else ChannelSessionRef(
                session.id, session.conversation_id, session.customer_identifier, service,
                session.active),
        message, {})  # fmt: skip
        data = _speed.KNOWN_TEXTS.text_of(message, self.timestamp_form)
        sender = message.header.sender
        text = _speed.event_text(
            event_id=event.id, name=intent.value,
            timestamp=format_timestamp(ms, self.timestamp_form),
            conversation_id=session.conversation_id, emitter_id=sender.id,
            emitter_type=sender.type, session_id=session.id,
            customer=session.customer_identifier, service=service, active=session.active,
            data=self.dumps(message) if data is None else data,
        )  # fmt: skip
        return event, text

    def conversation_event(
        self, event: Publication, session: ChannelSessionRef, message: CimMessage
    ) -> dict[str, Any]:
        """The ``CimEvent`` the CCM publishes on the conversation topic:
        ``{id, name, type: ACTIVITY, timestamp, conversationId, eventEmitter,
        channelSession, data}``, where ``data`` is the CIM message behind it
        (B's, or the CCM's own with sender ``SYSTEM``).
        :func:`parse_conversation_event` reads it back."""
        return self.encode_event(self.make_conversation_event(event, session, message))


# One encoder, made once (``json.dumps`` with options builds an encoder per call).
_WIRE_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _dumps(value: Any) -> str:
    # Encoding errors (CimEncodeError, itself a ValueError) pass through as they
    # are; only json's own ValueError (NaN, infinities) is wrapped, once.
    try:
        return _WIRE_JSON(value)
    except ValueError as exc:
        raise CimEncodeError("$", str(exc)) from None


# --- conversation events --------------------------------------------------------------

#: ``type`` of the conversation events the CCM publishes for call legs.
ACTIVITY = "ACTIVITY"


@attrs.frozen(slots=True)
class ConversationEvent:
    """A ``CimEvent`` on the conversation topic. ``timestamp_ms`` is epoch
    milliseconds whatever the wire form; ``data`` is the CIM message behind the
    event; top-level keys we do not model are kept in ``extra``. Of the
    ``channelSession`` object, what :class:`ChannelSessionRef` holds is kept
    (its ``state.name`` must agree with ``isActive``)."""

    id: str
    name: MessageIntent
    type: str
    timestamp_ms: int
    conversation_id: str
    event_emitter: Sender
    channel_session: ChannelSessionRef
    data: CimMessage
    extra: Mapping[str, Any] = attrs.field(factory=dict)


_EVENT_KEYS = frozenset(
    {"id", "name", "type", "timestamp", "conversationId", "eventEmitter", "channelSession", "data"}
)


def _required(obj: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise CimParseError(_join(path, key), "missing")
    return obj[key]


def _parse_channel_session(raw: Any, path: str = "channelSession") -> ChannelSessionRef:
    obj = _object(raw, path)
    session_id = _req_str(obj, "id", path)
    active = _required(obj, "isActive", path)
    if not isinstance(active, bool):
        raise CimParseError(f"{path}.isActive", f"expected a boolean, got {_kind(active)}")
    conversation = _req_str(obj, "conversationId", path)
    data = _parse_channel_data(_required(obj, "channelData", path), f"{path}.channelData")
    state = obj.get("state")
    if state is not None:
        name = _req_str(_object(state, f"{path}.state"), "name", f"{path}.state")
        if name != ("STARTED" if active else "ENDED"):
            why = f"{name[:40]!r} disagrees with isActive {json.dumps(active)}"
            raise CimParseError(f"{path}.state.name", why)
    return ChannelSessionRef(
        session_id, conversation, data.channel_customer_identifier, data.service_identifier, active
    )


def parse_conversation_event(data: str | bytes | Mapping[str, Any]) -> ConversationEvent:
    """Read a conversation event (a ``CimEvent``, as
    :meth:`CimCodec.conversation_event` writes it) from JSON text or a decoded
    object. Raises :class:`CimParseError` naming the field path (the message
    under ``data`` as ``data.header.intent``, ...), and nothing else."""
    raw = _decoded(data)
    try:
        obj = _object(raw, "$")
        event_id = _req_str(obj, "id", "")
        name_raw = _req_str(obj, "name", "")
        try:
            name = MessageIntent(name_raw)
        except ValueError:
            raise CimParseError("name", f"unknown event name {name_raw[:40]!r}") from None
        kind = _req_str(obj, "type", "")
        timestamp = parse_timestamp(_required(obj, "timestamp", ""), "timestamp")
        conversation = _req_str(obj, "conversationId", "")
        emitter_obj = _object(_required(obj, "eventEmitter", ""), "eventEmitter")
        emitter = Sender(
            _req_str(emitter_obj, "id", "eventEmitter"),
            _req_str(emitter_obj, "type", "eventEmitter", non_empty=False),
        )
        session = _parse_channel_session(_required(obj, "channelSession", ""))
        message_raw = _object(_required(obj, "data", ""), "data")
        try:
            message = parse_message(message_raw)
        except CimParseError as exc:  # the same field, named from the event's root
            raise CimParseError(
                "data" if exc.path == "$" else f"data.{exc.path}", exc.why
            ) from None
        extra = {k: v for k, v in obj.items() if k not in _EVENT_KEYS}
        return ConversationEvent(
            event_id, name, kind, timestamp, conversation, emitter, session, message, extra
        )
    except RecursionError:  # a pathologically deep decoded object
        raise CimParseError("$", "nested too deeply") from None


__all__ = [
    "ACTIVITY",
    "CCM_SENDER_ID",
    "CISCO_CC",
    "MAX_TIMESTAMP_MS",
    "MIN_TIMESTAMP_MS",
    "REPEATABLE",
    "Attribute",
    "ChannelData",
    "ChannelSessionRef",
    "CimCodec",
    "CimEncodeError",
    "CimError",
    "CimMessage",
    "CimParseError",
    "ConversationEvent",
    "DeskEvent",
    "MessageHeader",
    "MessageIntent",
    "Publication",
    "Sender",
    "SenderType",
    "TimestampForm",
    "VoiceBody",
    "event_occurrence",
    "format_timestamp",
    "loads_json",
    "message_id",
    "occurrence_of",
    "parse_conversation_event",
    "parse_message",
    "parse_message_plain",
    "parse_timestamp",
]
