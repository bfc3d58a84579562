"""The CIM wire format: what we emit validates, what we read is typed or a typed error."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from cim_schemas import cim_schemas
from helpers import feed, new_leg
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import json_values

from consultfsm.core import events as ev
from consultfsm.core.errors import ConfigError, ConsultFsmError
from consultfsm.core.leg import Leg
from consultfsm.core.states import InputKind
from consultfsm.wire import _speed
from consultfsm.wire.cim import (
    ID_NAMESPACE,
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    VALUE_TYPES,
    Attribute,
    ChannelData,
    ChannelSessionRef,
    CimCodec,
    CimEncodeError,
    CimMessage,
    CimParseError,
    ConversationEvent,
    MessageHeader,
    MessageIntent,
    Sender,
    SenderType,
    TimestampForm,
    VoiceBody,
    _parse_canonical,
    format_timestamp,
    message_id,
    parse_conversation_event,
    parse_message,
    parse_message_plain,
    parse_timestamp,
)

CODEC = CimCodec("8001")
SESSION = ChannelSessionRef("S1", "C1", "+923001234567", None)


def _leg(**kw: Any) -> Leg:
    """The design note's leg with no call id and no service identifier of its own
    (the codec's is used), unless ``kw`` gives them."""
    return new_leg(**({"call_id": None, "service_identifier": None} | kw))


def _accepted_and_ended(**kw: Any) -> list[ev.Event]:
    return feed(
        _leg(**kw),
        [(200, InputKind.ALERTING), (900, InputKind.ACCEPTED), (5000, InputKind.DROPPED_BY_A)],
    )


def _desk_events(**kw: Any) -> list[ev.CimCallLegStarted | ev.CimCallLegEnded]:
    return [
        e
        for e in _accepted_and_ended(**kw)
        if isinstance(e, ev.CimCallLegStarted | ev.CimCallLegEnded)
    ]


def _valid_raw() -> dict[str, Any]:
    """A CALL_LEG_STARTED as deployed desks send it (epoch ms, markdownText null)."""
    return {
        "id": "6b8f0f8e",
        "header": {
            "sender": {"id": "B", "type": "AGENT"},
            "channelData": {
                "channelCustomerIdentifier": "+923001234567",
                "serviceIdentifier": "8001",
                "additionalAttributes": [
                    {"key": "callVariable1", "type": "String2000", "value": "x"}
                ],
            },
            "intent": "CALL_LEG_STARTED",
            "timestamp": 1739455031000,
            "channelSessionId": "S1",
            "conversationId": "C1",
            "language": {},
        },
        "body": {
            "type": "VOICE",
            "markdownText": None,
            "callId": "D1",
            "leg": "1001:B:D1",
            "reasonCode": "CONSULT",
            "dialog": {"id": "D1", "state": "ACTIVE"},
        },
    }


# --- writing --------------------------------------------------------------------------


def test_desk_messages_use_upstream_field_names_and_validate() -> None:
    schemas = cim_schemas()
    started, ended = _desk_events()
    for event in (started, ended):
        out = CODEC.encode(CODEC.message_for(event))
        schemas.check_message(out)
        header = out["header"]
        assert header["channelData"]["channelCustomerIdentifier"] == "+923001234567"
        assert "customerChannelIdentifier" not in json.dumps(out)
        assert header["sender"] == {"id": "B", "type": "AGENT"}
        assert header["channelSessionId"] == "S1"
        assert header["conversationId"] == "C1"
        assert out["body"]["type"] == "VOICE"
        assert out["body"]["leg"] == "L1"
        assert "markdownText" not in out["body"]
    assert CODEC.encode(CODEC.message_for(started))["body"]["reasonCode"] == "CONSULT"
    ended_out = CODEC.encode(CODEC.message_for(ended))
    assert ended_out["header"]["intent"] == "CALL_LEG_ENDED"
    assert ended_out["body"]["reasonCode"] == "CONSULT_ENDED"
    assert ended_out["header"]["channelData"]["additionalAttributes"] == [
        {"key": "conversationId", "type": "String2000", "value": "C1"}
    ]


def test_service_identifier_comes_from_the_leg_else_the_codec() -> None:
    own, _ = _desk_events(service_identifier="9001")
    fallback, _ = _desk_events(service_identifier=None)
    blank, _ = _desk_events(service_identifier="  ")
    assert CODEC.message_for(own).header.channel_data.service_identifier == "9001"
    assert CODEC.message_for(fallback).header.channel_data.service_identifier == "8001"
    assert CODEC.message_for(blank).header.channel_data.service_identifier == "8001"


@pytest.mark.parametrize("service", ["", "   "])
def test_codec_refuses_an_empty_service_identifier(service: str) -> None:
    with pytest.raises(CimEncodeError, match="serviceIdentifier"):
        CimCodec(service)


def test_empty_customer_identifier_is_refused_not_emitted() -> None:
    started, _ = _desk_events()
    blank = ev.CimCallLegStarted(
        started.leg, started.at, started.agent, " ", started.call_id, None,
        started.channel_session_id, started.conversation_id, None, started.reason,
    )  # fmt: skip
    with pytest.raises(CimEncodeError, match="channelCustomerIdentifier"):
        CODEC.message_for(blank)


def test_ccm_reported_end_has_a_system_sender_and_validates() -> None:
    schemas = cim_schemas()
    leg = _leg()
    feed(
        leg,
        [
            (200, InputKind.ALERTING),
            (900, InputKind.ACCEPTED),
            (1000, InputKind.BROWSER_DISCONNECTED_B),
        ],
    )
    ended = [
        e for e in feed(leg, [(2000, InputKind.DROPPED_BY_A)]) if isinstance(e, ev.CallLegEnded)
    ]
    assert [e.reported_by for e in ended] == [ev.Reporter.CCM]
    message = CODEC.system_message_for(ended[0], SESSION, "D1")
    assert message.header.sender == Sender("ccm", SenderType.SYSTEM.value)
    event = CODEC.conversation_event(ended[0], SESSION, message)
    schemas.check_conversation_event(event)
    assert event["name"] == "CALL_LEG_ENDED"
    assert event["eventEmitter"] == {"id": "ccm", "type": "SYSTEM"}
    assert event["channelSession"]["id"] == "S1"
    assert event["data"]["header"]["channelData"]["serviceIdentifier"] == "8001"


def test_conversation_events_carry_the_channel_session_and_validate() -> None:
    schemas = cim_schemas()
    events = _accepted_and_ended()
    desk = {
        e.intent.value: e
        for e in events
        if isinstance(e, ev.CimCallLegStarted | ev.CimCallLegEnded)
    }
    for event in events:
        if isinstance(event, ev.CallLegStarted | ev.CallLegEnded):
            message = CODEC.message_for(desk[event.kind.value])
            out = CODEC.conversation_event(event, SESSION, message)
            schemas.check_conversation_event(out)
            assert out["channelSession"]["isActive"] is True
            assert out["conversationId"] == "C1"
            assert out["eventEmitter"] == {"id": "B", "type": "AGENT"}


def test_message_ids_are_stable_per_leg_and_intent() -> None:
    started, ended = _desk_events()
    assert CODEC.message_for(started).id == message_id(
        "L1", MessageIntent.CALL_LEG_STARTED, scope=started.conversation_id
    )
    assert CODEC.message_for(started).id == CODEC.message_for(started).id
    assert CODEC.message_for(started).id != CODEC.message_for(ended).id


def _held_twice(*, b_online: bool = True) -> list[ev.Event]:
    """An accepted leg held, resumed and held again (B's desk up or down)."""
    leg = _leg()
    steps = [(200, InputKind.ALERTING), (900, InputKind.ACCEPTED)]
    if not b_online:
        steps.append((950, InputKind.BROWSER_DISCONNECTED_B))
    steps += [(1000, InputKind.HELD), (2000, InputKind.RETRIEVED), (3000, InputKind.HELD)]
    return feed(leg, steps)


def test_hold_and_resume_messages_have_no_reason_code_and_validate() -> None:
    schemas = cim_schemas()
    sent = [e for e in _held_twice() if isinstance(e, ev.CimCallHold | ev.CimCallResume)]
    assert [e.intent.value for e in sent] == ["CALL_HOLD", "CALL_RESUME", "CALL_HOLD"]
    for event in sent:
        out = CODEC.encode(CODEC.message_for(event))
        schemas.check_message(out)
        assert out["header"]["intent"] == event.intent.value
        assert "reasonCode" not in out["body"]  # absent, never null
        assert "additionalAttributes" not in out["header"]["channelData"]
        assert out["header"]["sender"] == {"id": "B", "type": "AGENT"}
        assert parse_message(CODEC.dumps(CODEC.message_for(event))).body.reason_code is None


def test_two_holds_of_one_leg_have_two_ids_and_a_resent_hold_keeps_its_id() -> None:
    first, _, second = [
        e for e in _held_twice() if isinstance(e, ev.CimCallHold | ev.CimCallResume)
    ]
    assert CODEC.message_for(first).id != CODEC.message_for(second).id
    assert CODEC.message_for(first).id == CODEC.message_for(first).id
    assert CODEC.message_for(first).id == message_id(
        "L1", MessageIntent.CALL_HOLD, 1000, scope=first.conversation_id
    )
    # Another wire form of the same hold is the same message.
    other = CimCodec("9001", TimestampForm.EPOCH_MS, epoch_ms=1739455031000)
    assert other.message_for(first).id == CODEC.message_for(first).id


def test_ids_are_unique_across_conversations_and_collision_free() -> None:
    """Was a defect (issue 15, 2): ids depended on the leg alone, so two
    conversations (or tenants) with a leg L1 published the same ids, and a
    consumer dropping repeated ids would drop the second call; and the
    separator was not escaped (``x`` + ``/event`` was ``x/event``)."""
    one = message_id("L1", "CALL_LEG_STARTED", scope="C1")
    assert one != message_id("L1", "CALL_LEG_STARTED", scope="C2")
    assert one == message_id("L1", "CALL_LEG_STARTED", scope="C1")
    assert message_id("x", "event/CALL_LEG_STARTED") != message_id("x/event", "CALL_LEG_STARTED")
    assert message_id("a", "b", scope="c") != message_id("c", "b", scope="a")
    # What the codec writes: the same leg in two conversations, two ids.
    ref = {c: ChannelSessionRef(f"S{c}", c, "+923001234567") for c in ("C1", "C2")}
    msgs = {c: CODEC.agent_message(leg="7002:1002:D1", at=5, intent=MessageIntent.CALL_LEG_STARTED,
                                   agent="1002", customer="+923001234567", call_id="D1",
                                   reason=None, conversation_id=c) for c in ref}  # fmt: skip
    assert msgs["C1"].id != msgs["C2"].id
    events = {c: CODEC.leg_event(leg="D1", at=5, intent=MessageIntent.CALL_LEG_STARTED,
                                 session=ref[c], message=msgs[c]) for c in ref}  # fmt: skip
    assert events["C1"].id != events["C2"].id


def test_message_ids_know_which_intents_repeat() -> None:
    assert message_id("L1", "CALL_HOLD", 1) != message_id("L1", "CALL_HOLD", 2)
    assert message_id("L1", "CALL_HOLD", 1) != message_id("L2", "CALL_HOLD", 1)
    assert message_id("L1", "event/CALL_RESUME", 1) != message_id("L1", "CALL_RESUME", 1)
    # A once-per-leg id has no time in it: the same for every copy.
    assert message_id("L1", MessageIntent.CALL_LEG_STARTED) == message_id(
        "L1", "CALL_LEG_STARTED")  # fmt: skip
    with pytest.raises(ValueError, match="needs its time"):
        message_id("L1", MessageIntent.CALL_HOLD)
    with pytest.raises(ValueError, match="takes no time"):
        message_id("L1", MessageIntent.CALL_LEG_ENDED, 900)


@pytest.mark.parametrize("b_online", [True, False])
def test_hold_and_resume_conversation_events_validate_and_parse_back(b_online: bool) -> None:
    schemas = cim_schemas()
    events = _held_twice(b_online=b_online)
    desk = {
        (e.intent.value, e.at): CODEC.message_for(e)
        for e in events
        if isinstance(e, ev.CimCallHold | ev.CimCallResume)
    }
    published = [e for e in events if isinstance(e, ev.CallHeld | ev.CallResumed)]
    assert [e.kind.value for e in published] == ["CALL_HOLD", "CALL_RESUME", "CALL_HOLD"]
    ids = set()
    for event in published:
        if b_online:
            assert event.reported_by is ev.Reporter.AGENTDESK
            message = desk[(event.intent.value, event.at)]
        else:
            assert event.reported_by is ev.Reporter.CCM and not desk
            message = CODEC.system_message_for(event, SESSION, "D1")
            assert message.header.sender == Sender("ccm", SenderType.SYSTEM.value)
            assert message.body.reason_code is None
        out = CODEC.conversation_event(event, SESSION, message)
        schemas.check_conversation_event(out)
        assert out["name"] == event.kind.value
        assert "reasonCode" not in out["data"]["body"]
        parsed = parse_conversation_event(json.dumps(out))
        assert parsed == CODEC.make_conversation_event(event, SESSION, message)
        ids.add(out["id"])
    assert len(ids) == 3  # each hold and resume is its own event


def test_timestamp_form_is_a_setting() -> None:
    started, _ = _desk_events()
    rfc = CimCodec("8001", epoch_ms=1739455031000).encode(CODEC.message_for(started))
    epoch_codec = CimCodec("8001", TimestampForm.EPOCH_MS, 1739455031000)
    epoch = epoch_codec.encode(epoch_codec.message_for(started))
    assert CODEC.encode(CODEC.message_for(started))["header"]["timestamp"] == (
        "1970-01-01T00:00:00.900Z"
    )
    assert epoch["header"]["timestamp"] == 1739455031900
    with_origin = CimCodec("8001", epoch_ms=1739455031000)
    rfc = with_origin.encode(with_origin.message_for(started))
    assert rfc["header"]["timestamp"] == "2025-02-13T13:57:11.900Z"


def test_epoch_ms_timestamps_break_the_schema_only_on_the_timestamp() -> None:
    """What deployed desks send is not what the schema says: documented, not hidden."""
    schemas = cim_schemas()
    started, _ = _desk_events()
    codec = CimCodec("8001", TimestampForm.EPOCH_MS)
    errors = schemas.errors("cim-message.json", codec.encode(codec.message_for(started)))
    assert len(errors) == 1 and "timestamp" in errors[0]


def test_markdown_text_null_is_what_the_schema_rejects() -> None:
    schemas = cim_schemas()
    assert schemas.errors("voice-message-body.json", {"type": "VOICE", "markdownText": None})
    parsed = parse_message(_valid_raw())
    assert parsed.body.markdown_text is None
    assert "markdownText" not in CODEC.encode(parsed)["body"]


# --- reading --------------------------------------------------------------------------


def test_parse_reads_a_deployed_desk_message() -> None:
    msg = parse_message(json.dumps(_valid_raw()))
    assert msg.id == "6b8f0f8e"
    assert msg.header.intent is MessageIntent.CALL_LEG_STARTED
    assert msg.header.sender == Sender("B", "AGENT")
    assert msg.header.channel_data.channel_customer_identifier == "+923001234567"
    assert msg.header.channel_data.additional_attributes == (
        Attribute("callVariable1", "String2000", "x"),
    )
    assert msg.header.timestamp_ms == 1739455031000
    assert msg.body == VoiceBody(
        "D1", "1001:B:D1", "CONSULT", None, {"dialog": {"id": "D1", "state": "ACTIVE"}}
    )
    assert msg.header.extra == {"language": {}}


def test_alias_customer_channel_identifier_is_accepted_on_input() -> None:
    raw = _valid_raw()
    cd = raw["header"]["channelData"]
    cd["customerChannelIdentifier"] = cd.pop("channelCustomerIdentifier")
    msg = parse_message(raw)
    assert msg.header.channel_data.channel_customer_identifier == "+923001234567"
    out = CODEC.encode(msg)["header"]["channelData"]
    assert "customerChannelIdentifier" not in out
    assert out["channelCustomerIdentifier"] == "+923001234567"


def test_alias_that_disagrees_is_an_error() -> None:
    raw = _valid_raw()
    raw["header"]["channelData"]["customerChannelIdentifier"] = "+15550000000"
    with pytest.raises(CimParseError) as info:
        parse_message(raw)
    assert info.value.path == "header.channelData.customerChannelIdentifier"


def test_unknown_body_keys_survive_a_round_trip() -> None:
    schemas = cim_schemas()
    first = parse_message(_valid_raw())
    out = CODEC.encode(first)
    assert out["body"]["dialog"] == {"id": "D1", "state": "ACTIVE"}
    schemas.check_message(out)
    assert parse_message(json.dumps(out)) == first


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        (1739455031000, 1739455031000),
        (1739455031000.0, 1739455031000),
        ("2025-02-13T13:57:11Z", 1739455031000),
        ("2025-02-13T13:57:11.123Z", 1739455031123),
        ("2025-02-13T13:57:11.1239999Z", 1739455031123),
        ("2025-02-13T18:57:11+05:00", 1739455031000),
        ("2025-02-13t13:57:11z", 1739455031000),
        ("1970-01-01T00:00:00Z", 0),
    ],
)
def test_timestamps_are_read_in_both_forms(value: object, ms: int) -> None:
    assert parse_timestamp(value) == ms


@pytest.mark.parametrize(
    "value",
    [True, None, [], {}, 1.5, float("inf"), "2025-02-13", "2025-02-13T13:57:11", "yesterday",
     "2025-02-30T00:00:00Z", "2025-02-13T25:00:00Z", 10**20, "+2025-02-13T13:57:11Z"],
)  # fmt: skip
def test_bad_timestamps_are_typed_errors(value: object) -> None:
    with pytest.raises(CimParseError) as info:
        parse_timestamp(value)
    assert info.value.path == "header.timestamp"


@given(st.integers(min_value=-62135596800000, max_value=253402300799999))
def test_rfc3339_timestamps_round_trip(ms: int) -> None:
    text = format_timestamp(ms, TimestampForm.RFC3339)
    assert isinstance(text, str)
    assert parse_timestamp(text) == ms


def _without(raw: dict[str, Any], path: str) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    del node[last]
    return out


def _with(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    node[last] = value
    return out


@pytest.mark.parametrize(
    "path",
    [
        "id",
        "header",
        "body",
        "header.sender",
        "header.sender.id",
        "header.sender.type",
        "header.channelData",
        "header.channelData.channelCustomerIdentifier",
        "header.channelData.serviceIdentifier",
        "header.intent",
        "body.type",
    ],
)
def test_missing_required_fields_are_named(path: str) -> None:
    with pytest.raises(CimParseError) as info:
        parse_message(_without(_valid_raw(), path))
    assert info.value.path == path
    assert "missing" in info.value.why


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("id", 7),
        ("id", ""),
        ("header", []),
        ("header.sender", "B"),
        ("header.sender.id", None),
        ("header.channelData.serviceIdentifier", ""),
        ("header.channelData.serviceIdentifier", 8001),
        ("header.channelData.channelCustomerIdentifier", " "),
        ("header.channelData.additionalAttributes", {}),
        ("header.intent", "CALL_LEG_PAUSED"),
        ("header.intent", 5),
        ("header.timestamp", "13 Feb 2025"),
        ("header.channelSessionId", 1),
        ("body", "VOICE"),
        ("body.type", "PLAIN"),
        ("body.callId", 1001),
        ("body.markdownText", 3),
    ],
)
def test_wrong_values_are_named(path: str, value: Any) -> None:
    with pytest.raises(CimParseError) as info:
        parse_message(_with(_valid_raw(), path, value))
    assert info.value.path == path


def test_additional_attribute_errors_name_the_index() -> None:
    raw = _valid_raw()
    raw["header"]["channelData"]["additionalAttributes"].append({"key": 1, "type": "String2000"})
    with pytest.raises(CimParseError) as info:
        parse_message(raw)
    assert info.value.path == "header.channelData.additionalAttributes[1].key"


@pytest.mark.parametrize("text", ["", "not json", "{", "[1, 2]", "null", '{"id": NaN}', b"\xff"])
def test_non_json_and_non_objects_are_typed_errors(text: str | bytes) -> None:
    with pytest.raises(CimParseError) as info:
        parse_message(text)
    assert info.value.path in ("$", "id")
    assert isinstance(info.value, ConsultFsmError)


@pytest.mark.parametrize(
    ("path", "where"),
    [(("header", "sender", "id"), "header.sender.id"), (("body", "callId"), "body.callId"),
     (("body", "dialog", "id"), "body.dialog.id"), (("id",), "id"),
     (("header", "channelData", "additionalAttributes", 0, "value"),
      "header.channelData.additionalAttributes[0].value")],
)  # fmt: skip
@pytest.mark.parametrize("form", ["escaped", "raw str", "bytes", "object"])
def test_a_lone_surrogate_is_refused_wherever_it_is(
    path: tuple[str | int, ...], where: str, form: str
) -> None:
    """JSON may spell a lone surrogate (``\\ud800``); no topic, file or
    database can carry it as UTF-8. It is refused at the parser, by path
    (issue 15, defect 1), however the message arrives."""
    raw: Any = _valid_raw()
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = f"{node[path[-1]]}\ud800"
    data: Any = {
        "escaped": json.dumps(raw),  # ASCII: the escape spelled out
        "raw str": json.dumps(raw, ensure_ascii=False),
        "bytes": json.dumps(raw, ensure_ascii=False).encode("utf-8", "surrogatepass"),
        "object": raw,
    }[form]
    with pytest.raises(CimParseError, match="not valid Unicode") as caught:
        parse_message(data)
    assert caught.value.path == where


def test_a_lone_surrogate_in_a_key_is_refused() -> None:
    raw = _valid_raw()
    raw["body"]["\udfff"] = 1
    with pytest.raises(CimParseError, match="not valid Unicode"):
        parse_message(json.dumps(raw))


def test_non_ascii_text_is_still_read() -> None:
    raw = _valid_raw()
    raw["header"]["sender"]["id"] = "Zoë 中"
    assert parse_message(json.dumps(raw)).header.sender.id == "Zoë 中"
    assert parse_message(json.dumps(raw, ensure_ascii=False).encode()).header.sender.id == "Zoë 中"


@pytest.mark.parametrize("offset", ["+00:99", "-00:60", "+24:00", "+99:00", "-23:60"])
def test_an_rfc3339_offset_out_of_range_is_refused_not_reinterpreted(offset: str) -> None:
    """Was a defect (issue 15, 7): ``+00:99`` was read as 99 minutes."""
    with pytest.raises(CimParseError, match="offset"):
        parse_timestamp(f"2025-02-13T13:57:11{offset}", "header.timestamp")


def test_the_widest_rfc3339_offsets_are_read() -> None:
    base = parse_timestamp("2025-02-13T13:57:11Z", "t")
    assert parse_timestamp("2025-02-13T13:57:11+23:59", "t") == base - (23 * 60 + 59) * 60_000
    assert parse_timestamp("2025-02-13T13:57:11-23:59", "t") == base + (23 * 60 + 59) * 60_000


def test_deep_nesting_is_a_typed_error() -> None:
    with pytest.raises(CimParseError):
        parse_message("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize("where", ["body", "header"])
def test_a_passed_through_value_nested_too_deep_is_refused_so_writing_cannot_fail(
    where: str,
) -> None:
    # Issue 15, defect 4: a decoded message with a 5,000-deep list under an
    # unknown key was accepted, and writing it back raised RecursionError.
    codec = CimCodec("8000")
    message = codec.encode(codec.agent_message(
        leg="7002:1002:D1", at=1, intent=MessageIntent.CALL_LEG_STARTED, agent="1002",
        customer="+923001234567", call_id="D1", reason=None,
    ))  # fmt: skip
    deep: list[object] = []
    for _ in range(5_000):
        deep = [deep]
    message[where]["deep"] = deep
    with pytest.raises(CimParseError) as info:
        parse_message(message)
    assert info.value.path == where
    message[where]["deep"] = [[[["fine"]]]]
    assert codec.dumps(parse_message(message))  # a few levels are fine, and write back


# --- fuzzing: parsing never raises anything but CimParseError -------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_json = json_values(
    _scalars | st.floats(allow_nan=False, allow_infinity=False), size=4, key_size=8, max_leaves=20
)

_PATHS = [
    "id", "header", "body", "header.sender", "header.sender.id", "header.sender.type",
    "header.channelData", "header.channelData.channelCustomerIdentifier",
    "header.channelData.serviceIdentifier", "header.channelData.additionalAttributes",
    "header.intent", "header.timestamp", "header.channelSessionId", "header.conversationId",
    "body.type", "body.callId", "body.leg", "body.reasonCode", "body.markdownText",
]  # fmt: skip


def _parse_total(data: Any) -> CimMessage | None:
    try:
        return parse_message(data)
    except CimParseError:
        return None


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_fuzz_text_never_escapes(text: str) -> None:
    _parse_total(text)


@settings(max_examples=300)
@given(st.binary(max_size=100))
def test_fuzz_bytes_never_escape(data: bytes) -> None:
    _parse_total(data)


@settings(max_examples=300)
@given(_json)
def test_fuzz_json_values_never_escape(value: Any) -> None:
    _parse_total(value)
    _parse_total(json.dumps(value))


@settings(max_examples=500)
@given(st.lists(st.tuples(st.sampled_from(_PATHS), _json, st.booleans()), max_size=4))
def test_fuzz_mutated_messages_never_escape(mutations: list[tuple[str, Any, bool]]) -> None:
    raw: Any = _valid_raw()
    for path, value, delete in mutations:
        try:
            raw = _without(raw, path) if delete else _with(raw, path, value)
        except (KeyError, TypeError, IndexError):
            continue  # the parent was already replaced by a non-object
    msg = _parse_total(json.dumps(raw))
    if msg is not None:  # what parses re-encodes and parses back to the same value
        assert parse_message(CODEC.dumps(msg)) == msg


# --- round trip of typed messages -----------------------------------------------------

_word = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=10)
_nonblank = _word.filter(lambda s: bool(s.strip()))
_extra_body = st.dictionaries(
    _word.filter(lambda k: k not in {"type", "callId", "leg", "reasonCode", "markdownText"}),
    _json,
    max_size=3,
)
_HEADER_MODELLED = {"sender", "channelData", "intent", "timestamp", "channelSessionId",
                    "conversationId"}  # fmt: skip
_SCHEMA_NAMED = {"language", "securityInfo", "stamps", "entities", "customer",
                 "originalMessageId", "providerMessageId", "schedulingMetaData", "roomId",
                 "additionalData", "senderName", "additionalDetail", "requestPriority",
                 "customerFirstName", "customerLastName"}  # fmt: skip
#: Keys the schema does not name: any JSON passes through.
_unnamed = _word.filter(lambda k: k not in _HEADER_MODELLED | _SCHEMA_NAMED)
_object_value = st.dictionaries(_word, _json, max_size=2)


def _with_unnamed(named: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(named, st.dictionaries(_unnamed, _json, max_size=2)).map(
        lambda pair: {**pair[1], **pair[0]}
    )


# The keys the schema names, each of its own type (what is written back must validate).
_extra_header = _with_unnamed(st.fixed_dictionaries({}, optional={
    "language": _object_value, "securityInfo": _object_value, "stamps": st.lists(_word, max_size=2),
    "entities": _object_value, "customer": _object_value, "originalMessageId": _word,
    "providerMessageId": _word, "schedulingMetaData": _object_value, "roomId": _word,
    "additionalData": _object_value,
}))  # fmt: skip
_extra_sender = _with_unnamed(st.fixed_dictionaries({}, optional={
    "senderName": _word, "additionalDetail": _object_value,
}))  # fmt: skip
_extra_channel_data = _with_unnamed(st.fixed_dictionaries({}, optional={
    "requestPriority": st.integers(-5, 5), "customerFirstName": _word, "customerLastName": _word,
}))  # fmt: skip
_messages = st.builds(
    CimMessage,
    _nonblank,
    st.builds(
        MessageHeader,
        st.builds(Sender, _nonblank, _word, _extra_sender),
        st.builds(
            ChannelData,
            _nonblank,
            _nonblank,
            st.lists(
                st.builds(Attribute, _word, st.sampled_from(sorted(VALUE_TYPES)), _json), max_size=2
            ).map(tuple),
            _extra_channel_data,
        ),
        st.sampled_from(MessageIntent),
        st.none() | st.integers(min_value=0, max_value=253402300799999),
        st.none() | _word,
        st.none() | _word,
        _extra_header,
    ),
    st.builds(
        VoiceBody,
        st.none() | _word,
        st.none() | _word,
        st.none() | _word,
        st.none() | _word,
        _extra_body,
    ),
)


def test_values_json_cannot_carry_are_refused() -> None:
    message = parse_message(_valid_raw())
    bad = CimMessage(message.id, message.header, VoiceBody(extra={"x": float("inf")}))
    with pytest.raises(CimEncodeError):
        CODEC.dumps(bad)


@settings(max_examples=200)
@given(_messages, st.sampled_from(TimestampForm))
def test_typed_messages_round_trip(message: CimMessage, form: TimestampForm) -> None:
    codec = CimCodec("8001", form)
    assert parse_message(codec.dumps(message)) == message


@settings(max_examples=100)
@given(_messages)
def test_every_typed_message_writes_schema_valid_cim(message: CimMessage) -> None:
    """What the parser takes, the codec writes back valid (RFC 3339 timestamps)."""
    schemas = cim_schemas()
    schemas.check_message(CODEC.encode(message))


def test_a_message_keeps_every_field_the_schema_names_through_parse_and_encode() -> None:
    """Was a defect (issue 15, 3): senderName, additionalDetail, requestPriority
    and the customer's names were dropped on the way through."""
    raw = _valid_raw()
    raw["header"]["sender"].update(senderName="Bea", additionalDetail={"team": "sales"})
    raw["header"]["channelData"].update(
        requestPriority=3, customerFirstName="Ali", customerLastName="Khan"
    )
    raw["header"].update(stamps=["s1"], roomId="R1")
    out = CODEC.encode(parse_message(json.dumps(raw)))
    assert out["header"]["sender"]["senderName"] == "Bea"
    assert out["header"]["sender"]["additionalDetail"] == {"team": "sales"}
    cd = out["header"]["channelData"]
    assert (cd["requestPriority"], cd["customerFirstName"], cd["customerLastName"]) == (
        3, "Ali", "Khan")  # fmt: skip
    assert (out["header"]["stamps"], out["header"]["roomId"]) == (["s1"], "R1")
    cim_schemas().check_message(out)


@pytest.mark.parametrize(
    ("path", "value"),
    [("header.stamps", 5), ("header.language", 7), ("header.stamps", ["ok", 1]),
     ("header.roomId", {}), ("header.sender.senderName", 1),
     ("header.sender.additionalDetail", "x"), ("header.channelData.requestPriority", "1"),
     ("header.channelData.requestPriority", True), ("header.channelData.customerFirstName", 2),
     ("header.customer", []), ("header.customer.__v", "1"), ("header.customer.isAnonymous", 0),
     ("header.customer.phoneNumber", ["+92", 3])],
)  # fmt: skip
def test_a_field_the_schema_names_must_have_its_type(path: str, value: Any) -> None:
    """Was a defect (issue 15, 3): ``stamps: 5`` came back out, invalid."""
    raw: Any = _valid_raw()
    *parents, key = path.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    node[key] = value
    with pytest.raises(CimParseError) as caught:
        parse_message(json.dumps(raw))
    assert caught.value.path == path


def test_an_additional_attribute_type_must_be_a_value_type() -> None:
    raw = _valid_raw()
    raw["header"]["channelData"]["additionalAttributes"][0]["type"] = "Bogus"
    with pytest.raises(CimParseError, match="value-type") as caught:
        parse_message(json.dumps(raw))
    assert caught.value.path == "header.channelData.additionalAttributes[0].type"


# --- encoding errors are named once -----------------------------------------------------


def test_dumps_names_an_encoding_error_once() -> None:
    message = parse_message(_valid_raw())
    late = attrs.evolve(message, header=attrs.evolve(message.header, timestamp_ms=MAX_TIMESTAMP_MS))
    too_late = attrs.evolve(
        message, header=attrs.evolve(message.header, timestamp_ms=MAX_TIMESTAMP_MS + 1)
    )
    assert parse_message(CODEC.dumps(late)) == late
    with pytest.raises(CimEncodeError) as info:
        CODEC.dumps(too_late)
    assert info.value.path == "header.timestamp"
    assert str(info.value) == (
        f"CIM field header.timestamp: {MAX_TIMESTAMP_MS + 1} ms is outside years 1..9999"
    )


@pytest.mark.parametrize("form", list(TimestampForm))
def test_the_codec_refuses_a_time_it_could_not_read_back(form: TimestampForm) -> None:
    """Epoch ms past year 9999 would encode as a number but never parse: refused
    up front, in either form, by the check a host runs before applying an input."""
    started, _ = _desk_events()
    codec = CimCodec("8001", form, epoch_ms=MAX_TIMESTAMP_MS - 900)
    assert codec.wall_time(900) == MAX_TIMESTAMP_MS
    with pytest.raises(CimEncodeError) as info:
        codec.wall_time(901)
    assert info.value.path == "header.timestamp"
    late = CimCodec("8001", form, epoch_ms=MAX_TIMESTAMP_MS - 899)
    with pytest.raises(CimEncodeError):
        late.message_for(started)


# --- conversation events: typed, parsed, round-tripped ----------------------------------


def _published() -> list[tuple[ev.CallLegStarted | ev.CallLegEnded, CimMessage]]:
    """Each conversation event of an accepted and ended leg, with its message."""
    events = _accepted_and_ended()
    desk = {
        e.intent.value: CODEC.message_for(e)
        for e in events
        if isinstance(e, ev.CimCallLegStarted | ev.CimCallLegEnded)
    }
    return [
        (e, desk[e.kind.value])
        for e in events
        if isinstance(e, ev.CallLegStarted | ev.CallLegEnded)
    ]


def _event_raw() -> dict[str, Any]:
    event, message = _published()[0]
    return CODEC.conversation_event(event, SESSION, message)


@pytest.mark.parametrize("form", list(TimestampForm))
def test_conversation_events_parse_back_to_what_was_published(form: TimestampForm) -> None:
    codec = CimCodec("8001", form, epoch_ms=1739455031000)
    ended = ChannelSessionRef("S1", "C1", "+923001234567", "9001", active=False)
    for session in (SESSION, ended):
        for event, message in _published():
            raw = codec.conversation_event(event, session, message)
            parsed = parse_conversation_event(json.dumps(raw))
            assert parsed == codec.make_conversation_event(event, session, message)
            assert parsed.name is MessageIntent(event.kind.value)
            assert parsed.type == "ACTIVITY"
            assert parsed.timestamp_ms == 1739455031000 + event.at
            assert parsed.conversation_id == "C1"
            assert parsed.event_emitter == Sender("B", "AGENT")
            assert parsed.channel_session.id == "S1"
            assert parsed.channel_session.active is session.active
            assert parsed.data == message
            assert codec.encode_event(parsed) == raw
            assert parse_conversation_event(codec.dumps_event(parsed)) == parsed


def test_unknown_event_keys_survive_a_round_trip() -> None:
    raw = dict(_event_raw(), tenant={"id": "t1"})
    parsed = parse_conversation_event(raw)
    assert parsed.extra == {"tenant": {"id": "t1"}}
    assert CODEC.encode_event(parsed) == raw


@pytest.mark.parametrize(
    "path",
    ["id", "name", "type", "timestamp", "conversationId", "eventEmitter", "eventEmitter.id",
     "eventEmitter.type", "channelSession", "channelSession.id", "channelSession.isActive",
     "channelSession.conversationId", "channelSession.channelData",
     "channelSession.channelData.serviceIdentifier", "channelSession.state.name", "data",
     "data.id", "data.header.intent", "data.header.channelData.channelCustomerIdentifier"],
)  # fmt: skip
def test_missing_event_fields_are_named(path: str) -> None:
    with pytest.raises(CimParseError) as info:
        parse_conversation_event(_without(_event_raw(), path))
    assert info.value.path == path
    assert "missing" in info.value.why


@pytest.mark.parametrize(
    ("path", "value"),
    [("id", 3), ("name", "CALL_LEG_PAUSED"), ("type", None), ("timestamp", "yesterday"),
     ("timestamp", 10**20), ("conversationId", ""), ("eventEmitter", "B"),
     ("channelSession", []), ("channelSession.isActive", "true"),
     ("channelSession.state.name", "ENDED"), ("channelSession.state", "STARTED"),
     ("channelSession.channelData.serviceIdentifier", " "), ("data", "{}"),
     ("data.header.intent", "CALL_LEG_PAUSED"), ("data.body.type", "PLAIN")],
)  # fmt: skip
def test_wrong_event_values_are_named(path: str, value: Any) -> None:
    with pytest.raises(CimParseError) as info:
        parse_conversation_event(_with(_event_raw(), path, value))
    assert info.value.path == path


@pytest.mark.parametrize("text", ["", "not json", "[1]", "null", '{"id": Infinity}', b"\xff"])
def test_event_non_json_and_non_objects_are_typed_errors(text: str | bytes) -> None:
    with pytest.raises(CimParseError) as info:
        parse_conversation_event(text)
    assert info.value.path in ("$", "id")


def _parse_event_total(data: Any) -> ConversationEvent | None:
    try:
        return parse_conversation_event(data)
    except CimParseError:
        return None


_EVENT_PATHS = [
    "id", "name", "type", "timestamp", "conversationId", "eventEmitter", "eventEmitter.id",
    "eventEmitter.type", "channelSession", "channelSession.id", "channelSession.isActive",
    "channelSession.conversationId", "channelSession.channelData", "channelSession.state",
    "channelSession.state.name", "channelSession.channelData.channelCustomerIdentifier",
    "channelSession.channelData.serviceIdentifier", "data", "data.header", "data.body",
    *(f"data.{p}" for p in _PATHS),
]  # fmt: skip


@settings(max_examples=200)
@given(st.text(max_size=200) | st.binary(max_size=100))
def test_fuzz_event_text_never_escapes(data: str | bytes) -> None:
    _parse_event_total(data)


@settings(max_examples=200)
@given(_json)
def test_fuzz_event_json_values_never_escape(value: Any) -> None:
    _parse_event_total(value)
    _parse_event_total(json.dumps(value))


@settings(max_examples=500)
@given(st.lists(st.tuples(st.sampled_from(_EVENT_PATHS), _json, st.booleans()), max_size=4))
def test_fuzz_mutated_events_never_escape(mutations: list[tuple[str, Any, bool]]) -> None:
    raw: Any = _event_raw()
    for path, value, delete in mutations:
        try:
            raw = _without(raw, path) if delete else _with(raw, path, value)
        except (KeyError, TypeError, IndexError):
            continue  # the parent was already replaced by a non-object
    event = _parse_event_total(json.dumps(raw))
    if event is not None:  # what parses re-encodes and parses back to the same value
        assert parse_conversation_event(CODEC.dumps_event(event)) == event


_events_typed = st.builds(
    ConversationEvent,
    _nonblank,
    st.sampled_from(MessageIntent),
    _nonblank,
    st.integers(min_value=0, max_value=MAX_TIMESTAMP_MS),
    _nonblank,
    st.builds(Sender, _nonblank, _word),
    st.builds(ChannelSessionRef, _nonblank, _nonblank, _nonblank, _nonblank, st.booleans()),
    _messages,
    st.dictionaries(
        _word.filter(
            lambda k: k not in {"id", "name", "type", "timestamp", "conversationId",
                                "eventEmitter", "channelSession", "data"}
        ),
        _json,
        max_size=2,
    ),
)  # fmt: skip


@settings(max_examples=200)
@given(_events_typed, st.sampled_from(TimestampForm))
def test_typed_conversation_events_round_trip(
    event: ConversationEvent, form: TimestampForm
) -> None:
    codec = CimCodec("8001", form)
    assert parse_conversation_event(codec.dumps_event(event)) == event


# --- the canonical fast path (consultfsm.wire._speed) against the plain path ----------

_plain = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"], exclude_characters='"\\'),
    max_size=10,
)
_plain_nonblank = _plain.filter(lambda s: bool(s.strip()))
_optional_plain = st.none() | _plain
#: Messages the codec writes canonically: no pass-through keys, plain strings.
_plain_messages = st.builds(
    CimMessage,
    _plain_nonblank,
    st.builds(
        MessageHeader,
        st.builds(Sender, _plain_nonblank, _plain),
        st.builds(
            ChannelData, _plain_nonblank, _plain_nonblank,
            st.lists(st.builds(Attribute, _plain, st.sampled_from(sorted(VALUE_TYPES)), _plain),
                     max_size=3).map(tuple),
        ),
        st.sampled_from(MessageIntent),
        st.none() | st.integers(MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS),
        _optional_plain,
        _optional_plain,
    ),
    st.builds(VoiceBody, _optional_plain, _optional_plain, _optional_plain, _optional_plain),
)  # fmt: skip


@settings(max_examples=300)
@given(_plain_messages, st.sampled_from(TimestampForm))
def test_the_canonical_path_takes_every_message_the_codec_writes_plainly(
    message: CimMessage, form: TimestampForm
) -> None:
    text = CimCodec("8001", form).dumps(message)
    read = _parse_canonical(text)
    assert read == message == parse_message_plain(text)
    assert _speed.KNOWN_TEXTS.text_of(read, form) == text
    other = next(f for f in TimestampForm if f is not form)
    # The same text stands for the other form only when it has no timestamp.
    expected = text if message.header.timestamp_ms is None else None
    assert _speed.KNOWN_TEXTS.text_of(read, other) == expected


@settings(max_examples=300)
@given(_messages, st.sampled_from(TimestampForm))
def test_the_canonical_path_reads_what_the_plain_path_reads_or_leaves_it(
    message: CimMessage, form: TimestampForm
) -> None:
    text = CimCodec("8001", form).dumps(message)
    read = _parse_canonical(text)
    assert read is None or read == parse_message_plain(text)
    plain_form = not (message.header.extra or message.header.sender.extra
                      or message.header.channel_data.extra or message.body.extra)  # fmt: skip
    if read is not None:
        assert plain_form  # what has pass-through keys is the plain path's


@settings(max_examples=500)
@given(_plain_messages, st.integers(0, 2_000), st.text(max_size=3), st.integers(0, 3))
def test_a_mangled_canonical_text_is_read_alike_or_left_to_the_plain_path(
    message: CimMessage, at: int, insert: str, drop: int
) -> None:
    text = CODEC.dumps(message)
    cut = at % (len(text) + 1)
    mangled = text[:cut] + insert + text[cut + drop :]
    read = _parse_canonical(mangled)
    if read is not None:  # never taken where the plain path refuses, or reads otherwise
        assert read == parse_message_plain(mangled)


@pytest.mark.parametrize(
    "text",
    [
        # Each is canonical but for one thing the plain path refuses or reads otherwise.
        '{"id":" ","header":{"sender":{"id":"a","type":"AGENT"},"channelData":'
        '{"channelCustomerIdentifier":"1","serviceIdentifier":"8"},"intent":"CALL_HOLD"},'
        '"body":{"type":"VOICE"}}',
        '{"id":"m","header":{"sender":{"id":"a","type":"AGENT"},"channelData":'
        '{"channelCustomerIdentifier":"1","serviceIdentifier":"8"},"intent":"CALL_HELD"},'
        '"body":{"type":"VOICE"}}',
        '{"id":"m","header":{"sender":{"id":"a","type":"AGENT"},"channelData":'
        '{"channelCustomerIdentifier":"1","serviceIdentifier":"8","additionalAttributes":'
        '[{"key":"k","type":"Nope","value":"v"}]},"intent":"CALL_HOLD"},"body":{"type":"VOICE"}}',
        '{"id":"m","header":{"sender":{"id":"a","type":"AGENT"},"channelData":'
        '{"channelCustomerIdentifier":"1","serviceIdentifier":"8"},"intent":"CALL_HOLD",'
        '"timestamp":"2026-02-30T00:00:00.000Z"},"body":{"type":"VOICE"}}',
        '{"id":"m","header":{"sender":{"id":"a","type":"AGENT"},"channelData":'
        '{"channelCustomerIdentifier":"1","serviceIdentifier":"8"},"intent":"CALL_HOLD",'
        '"timestamp":999999999999999999},"body":{"type":"VOICE"}}',
        '{"id":"m\udc80","header":{"sender":{"id":"a","type":"AGENT"},"channelData":'
        '{"channelCustomerIdentifier":"1","serviceIdentifier":"8"},"intent":"CALL_HOLD"},'
        '"body":{"type":"VOICE"}}',
    ],
)
def test_what_the_canonical_path_cannot_vouch_for_goes_to_the_plain_path(text: str) -> None:
    assert _parse_canonical(text) is None
    with pytest.raises(CimParseError):
        parse_message(text)


def test_a_codec_holds_its_timestamp_form_as_the_member_and_refuses_a_bad_setting() -> None:
    # The wire name is taken for the member; written alike on every path.
    named = CimCodec("8", "epoch_ms")
    assert named.timestamp_form is TimestampForm.EPOCH_MS and named == CimCodec(
        "8", TimestampForm.EPOCH_MS
    )
    message = parse_message(CODEC.dumps(CODEC.message_for(_desk_events()[0])))
    session = ChannelSessionRef("S1", "C1", "1", None, True)
    kw: dict[str, Any] = {"leg": "D1", "at": 5, "intent": MessageIntent.CALL_HOLD,
                          "session": session}  # fmt: skip
    _, written = named.leg_event_json(message=message, **kw)
    assert written == named.dumps_event(named.leg_event(message=message, **kw))
    assert isinstance(json.loads(written)["data"]["header"]["timestamp"], int)
    for bad in ({"timestamp_form": "iso"}, {"epoch_ms": 1.5}, {"epoch_ms": True}):
        with pytest.raises(ConfigError) as caught:
            CimCodec("8", **bad)
        assert caught.value.field == next(iter(bad))


@pytest.mark.parametrize("stamp", ['"timestamp":-0', '"timestamp":"2026-01-01T00:00:00.000+00:00"'])
def test_a_timestamp_written_as_the_codec_never_writes_it_is_not_its_text(stamp: str) -> None:
    # Read alike, but the event carries the message as the codec writes it.
    text = ('{"id":"m","header":{"sender":{"id":"a","type":"AGENT"},"channelData":'
            '{"channelCustomerIdentifier":"1","serviceIdentifier":"8"},"intent":"CALL_HOLD",'
            + stamp + '},"body":{"type":"VOICE","leg":"1:a:D1"}}')  # fmt: skip
    read = parse_message(text)
    assert read == parse_message_plain(text)
    session = ChannelSessionRef("S1", "C1", "1", None, True)
    for form in TimestampForm:
        codec = CimCodec("8", form)
        assert _speed.KNOWN_TEXTS.text_of(read, form) is None
        kw: dict[str, Any] = {
            "leg": "D1",
            "at": 5,
            "intent": MessageIntent.CALL_HOLD,
            "session": session,
        }
        _, written = codec.leg_event_json(message=read, **kw)
        assert written == codec.dumps_event(codec.leg_event(message=read, **kw))
        assert json.loads(written)["data"] == codec.encode(read)


def test_a_known_text_belongs_to_the_object_read_from_it_alone() -> None:
    message = CODEC.message_for(_desk_events()[0])
    text = CODEC.dumps(message)
    read = parse_message(text)
    assert _speed.KNOWN_TEXTS.text_of(read, CODEC.timestamp_form) == text
    equal = parse_message_plain(text)
    assert equal == read and _speed.KNOWN_TEXTS.text_of(equal, CODEC.timestamp_form) is None
    changed = attrs.evolve(read, id="another")
    assert _speed.KNOWN_TEXTS.text_of(changed, CODEC.timestamp_form) is None
    # The same moment written with microseconds reads alike, but is no codec's text.
    loose = parse_message(_loosened(text))
    assert loose == read and _speed.KNOWN_TEXTS.text_of(loose, CODEC.timestamp_form) is None
    known = _speed.KnownTexts(size=2)
    a, b, c = object(), object(), object()
    for each in (a, b, c):
        known.note(each, "x", frozenset({"rfc3339"}))
    assert [known.text_of(each, "rfc3339") for each in (a, b, c)] == [None, "x", "x"]


def _loosened(text: str) -> str:
    """``text`` with its RFC 3339 timestamp (if any) written to the microsecond."""
    stamp = json.loads(text)["header"].get("timestamp")
    if not isinstance(stamp, str):
        return text
    return text.replace(f'"timestamp":"{stamp}"', f'"timestamp":"{stamp[:-1]}000Z"')


_sessions = st.builds(
    ChannelSessionRef, _nonblank, _nonblank, _nonblank, st.none() | _word, st.booleans()
)


@settings(max_examples=300)
@given(
    message=_messages | _plain_messages, session=_sessions, leg=_nonblank,
    at=st.integers(0, 10**9), intent=st.sampled_from(MessageIntent),
    form=st.sampled_from(TimestampForm),
    how=st.sampled_from(["built", "read", "read loosely", "read in the other form"]),
)  # fmt: skip
def test_the_short_event_writer_writes_what_the_plain_one_does(
    *, message: CimMessage, session: ChannelSessionRef, leg: str, at: int,
    intent: MessageIntent, form: TimestampForm, how: str,
) -> None:  # fmt: skip
    codec = CimCodec("8001", form, epoch_ms=1_739_455_031_000)
    other = CimCodec("8001", next(f for f in TimestampForm if f is not form))
    if how != "built":  # as the CCM meets it: read from the desk's text (canonical or not)
        text = (other if how == "read in the other form" else codec).dumps(message)
        message = parse_message(_loosened(text) if how == "read loosely" else text)
    kw: dict[str, Any] = {"leg": leg, "at": at, "intent": intent, "session": session,
                          "message": message}  # fmt: skip
    event, text = codec.leg_event_json(**kw)
    assert event == codec.leg_event(**kw)
    assert text == codec.dumps_event(event)


def test_the_short_event_writer_refuses_what_json_cannot_carry_as_the_plain_one_does() -> None:
    message = CODEC.message_for(_desk_events()[0])
    bad = attrs.evolve(message, body=attrs.evolve(message.body, extra={"x": float("nan")}))
    kw: dict[str, Any] = {"leg": "L1", "at": 5, "intent": MessageIntent.CALL_LEG_STARTED,
                          "session": SESSION, "message": bad}  # fmt: skip
    with pytest.raises(CimEncodeError):
        CODEC.leg_event_json(**kw)
    with pytest.raises(CimEncodeError):
        CODEC.dumps_event(CODEC.leg_event(**kw))


@given(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40))
def test_uuid5_text_is_uuid5(name: str) -> None:
    assert _speed.uuid5_text(ID_NAMESPACE.bytes, name) == str(uuid.uuid5(ID_NAMESPACE, name))


@given(
    st.lists(
        st.tuples(st.integers(MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS - 10_000), st.integers(0, 3_000)),
        min_size=1, max_size=6,
    )
)  # fmt: skip
def test_rfc3339_text_is_the_iso_form_whatever_came_before(moments: list[tuple[int, int]]) -> None:
    # Pairs within a few seconds of each other: the cache of the last second
    # is reused, left, and met again.
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for base, step in moments:
        for ms in (base, base + step, base):
            iso = (epoch + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")
            assert format_timestamp(ms, TimestampForm.RFC3339) == iso.replace("+00:00", "Z")


def test_the_shared_caches_stay_right_under_threads() -> None:
    # A service reads and writes on several threads at once: the caches of the
    # fast path are shared, and a race may cost a miss, never a wrong text.
    import sys
    import threading

    events = _desk_events()
    texts = [CODEC.dumps(attrs.evolve(CODEC.message_for(e), id=f"m{n}-{i}"))
             for n, e in enumerate(events) for i in range(40)]  # fmt: skip
    wrong: list[str] = []

    def work(offset: int) -> None:
        try:
            steps(offset)
        except Exception as exc:  # (a thread's error would not fail the test)
            wrong.append(repr(exc))

    def steps(offset: int) -> None:
        for k in range(600):
            text = texts[(offset * 7 + k) % len(texts)]
            message = parse_message(text)
            kw: dict[str, Any] = {"leg": "L1", "at": 1_000 * (k % 90), "session": SESSION,
                                  "intent": message.header.intent, "message": message}  # fmt: skip
            _, written = CODEC.leg_event_json(**kw)
            if message != parse_message_plain(text) or written != CODEC.dumps_event(
                CODEC.leg_event(**kw)
            ):
                wrong.append(text)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == []


@pytest.mark.parametrize("how", ["utf-8", "with a BOM", "as UTF-16", "with an encoded surrogate"])
def test_an_http_body_takes_the_fast_path_when_it_is_canonical_utf8(how: str) -> None:
    message = attrs.evolve(CODEC.message_for(_desk_events()[0]), id="mé")
    text = CODEC.dumps(message)
    body = {
        "utf-8": text.encode(),
        "with a BOM": b"\xef\xbb\xbf" + text.encode(),
        "as UTF-16": text.encode("utf-16"),
        "with an encoded surrogate": text.replace("mé", "m\udc80").encode("utf-8", "surrogatepass"),
    }[how]
    try:
        plain: CimMessage | str = parse_message_plain(body)
    except CimParseError as exc:
        plain = repr(exc)
    try:
        read: CimMessage | str = parse_message(body)
    except CimParseError as exc:
        read = repr(exc)
    assert read == plain  # whichever path: what the plain path says
    known = isinstance(read, CimMessage) and _speed.KNOWN_TEXTS.text_of(read, CODEC.timestamp_form)
    assert bool(known) is (how == "utf-8")
