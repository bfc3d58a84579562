"""The Finesse wire module: real captures, quirks, hostile XML, and the desk's
first reading of a dialog (consult or not, which platform, whose number)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from finesse_captures import capture, capture_files, captures_dir, read_capture
from hypothesis import given
from hypothesis import strategies as st

from consultfsm.core.errors import ConfigError, ConsultFsmError
from consultfsm.desk import CustomerNumberSource, Platform, consult_platform
from consultfsm.wire.finesse import (
    MAX_DEPTH,
    Dialog,
    DialogState,
    FinesseParseError,
    MediaProperties,
    ParticipantState,
    Update,
    UpdateEvent,
    parse_dialog,
    parse_dialogs,
    parse_document,
    parse_update,
)
from consultfsm.wire.legref import LegRef, LegRefError, parse_leg_ref

P = ParticipantState

# --- every real capture ---------------------------------------------------------------


def test_every_capture_parses() -> None:
    files = capture_files()
    assert len(files) >= 60, "the captures folder is incomplete"
    for path in files:
        parsed = parse_document(read_capture(path))
        dialogs = parsed.dialogs if isinstance(parsed, Update) else (
            parsed if isinstance(parsed, tuple) else (parsed,))  # fmt: skip
        for dialog in dialogs:
            assert dialog.id.isdigit(), path  # Finesse dialog ids are numbers
            for p in dialog.participants:
                assert p.media_address, path


def test_an_alert_is_a_post_to_the_agent_s_collection() -> None:
    update = parse_update(capture("20200508/1/1_alert.xml"))
    assert (update.event, update.user_id) == (UpdateEvent.POST, "900140321")
    (dialog,) = update.dialogs
    assert (dialog.id, dialog.state, dialog.uri) == (
        "140953817", DialogState.ALERTING, "/finesse/api/Dialog/140953817")  # fmt: skip
    agent = dialog.participant("7053")
    assert agent is not None and agent.state is P.ALERTING
    assert agent.media_address_type == "AGENT_DEVICE" and agent.actions == ("ANSWER",)
    assert agent.state_change_time == 1588900962010  # 2020-05-08T01:22:42.010Z
    customer = dialog.participant("01042600114")
    assert customer is not None and customer.state is P.INITIATED
    assert customer.media_address_type is None  # sent empty
    media = dialog.media_properties
    assert (media.call_type, media.dnis, media.dialed_number) == (
        "PREROUTE_ACD_IN",
        "7053",
        "813636",
    )
    assert media.variable("callVariable2") == "153164000040990"
    assert media.variable("user.svc") == "1200"  # an ECC variable
    assert media.variable("user.pag") == ""  # sent, empty
    assert media.variable("callVariable11") is None  # not sent
    assert all(name.startswith("user.") for name, _ in media.ecc_variables)
    assert len(media.call_variables) == 10


def test_an_empty_associated_dialog_uri_is_absent() -> None:
    # Every non-consult UCCE dialog carries <associatedDialogUri></associatedDialogUri>.
    dialog = parse_update(capture("20200508/1/1_alert.xml")).dialogs[0]
    assert dialog.associated_dialog_uri is None and dialog.associated_dialog_id is None
    assert consult_platform(dialog) is None


def test_a_withdrawn_alert_is_deleted_while_it_still_says_alerting() -> None:
    update = parse_update(capture("scenario/ErrorCase1/4_ALERTING.xml"))
    (dialog,) = update.dialogs
    assert update.event is UpdateEvent.DELETE and dialog.state is DialogState.ALERTING
    agent = dialog.participant("7073")
    assert agent is not None and agent.state is P.DROPPED and agent.state_cause is None


def test_state_cause_is_other_on_transfer_drops_and_absent_otherwise() -> None:
    dropped = parse_update(capture("scenario/NormalTransferCall/DROPPED1.xml")).dialogs[0]
    assert {p.state_cause for p in dropped.participants} == {"OTHER"}
    active = parse_update(capture("scenario/NormalTransferCall/ACTIVE4.xml")).dialogs[0]
    assert {p.state_cause for p in active.participants} == {None}


def test_call_type_changes_on_one_dialog_id() -> None:
    first = parse_update(capture("20200508/1/1_alert.xml")).dialogs[0]
    later = parse_update(capture("20200508/1/2_active")).dialogs[0]
    assert first.id == later.id
    assert (first.media_properties.call_type, later.media_properties.call_type) == (
        "PREROUTE_ACD_IN", "TRANSFER")  # fmt: skip


def test_a_call_data_only_put_changes_no_state() -> None:
    a = parse_update(capture("scenario/NormalTransferCall/ACTIVE2.xml")).dialogs[0]
    b = parse_update(capture("scenario/NormalTransferCall/ACTIVE3.xml")).dialogs[0]
    assert a.id == b.id and a.state is b.state and a.participants == b.participants
    assert (a.media_properties.variable("user.end"), b.media_properties.variable("user.end")) == (
        "AGT", "CVP")  # fmt: skip


def test_an_api_error_update() -> None:
    update = parse_update(capture("scenario/ErrorCase1/3_ERROR.xml"))
    assert update.event is UpdateEvent.PUT  # sent as "put"
    assert (update.source, update.request_id, update.dialogs) == (
        "/finesse/api/Dialog/154963621", "145", ())  # fmt: skip
    (error,) = update.errors
    assert (error.error_type, error.error_data) == ("Generic Error", "7073")
    assert error.error_message is not None and "INVALID_ACTION" in error.error_message
    assert update.user_id is None  # the source is a dialog, not a collection


def test_the_json_form_reads_as_the_xml_form() -> None:
    # The simulator's JSON body of dialog 140124631 is ACTIVE4.xml's update.
    xml = parse_update(capture("scenario/NormalTransferCall/ACTIVE4.xml"))
    from_json = parse_update(capture("finesse/api/Dialog/140124631"))
    assert xml == from_json


def test_a_misspelt_element_is_reported_not_taken_for_a_participant() -> None:
    # The simulator's author hand-edited this body: <Pargicipant>.
    dialog = parse_dialog(capture("finesse/api/Dialog/156494658"))
    assert dialog.participants == ()
    assert dialog.unknown == (
        "Dialog/participants[0]/Pargicipant", "Dialog/participants[1]/Pargicipant")  # fmt: skip


def test_a_rest_dialog_body_is_a_dialog() -> None:
    dialog = parse_dialog(capture("scenario/DropedAgent/DROPPED2.xml"))
    assert (dialog.id, dialog.state) == ("2131326105", DialogState.DROPPED)


def test_a_dialog_list_as_finesse_returns_it_on_reconnect() -> None:
    # GET /finesse/api/User/{id}/Dialogs, built from two captured dialogs.
    one = _dialog_xml(capture("20200508/1/1_alert.xml"))
    two = _dialog_xml(capture("20200508/2/alerting"))
    assert [d.id for d in parse_dialogs(f"<Dialogs>{one}{two}</Dialogs>")] == [
        "140953817", "140954633"]  # fmt: skip
    assert parse_dialogs("<Dialogs/>") == ()


def _dialog_xml(update: bytes | dict[str, Any]) -> str:
    assert isinstance(update, bytes)
    text = update.decode()
    return text[text.index("<Dialog>") : text.index("</Dialog>") + len("</Dialog>")]


def test_a_namespaced_update_reads_the_same() -> None:
    raw = capture("20200508/1/1_alert.xml")
    assert isinstance(raw, bytes)
    namespaced = raw.replace(b"<Update>", b'<Update xmlns="http://jabber.org/protocol/pubsub">')
    assert parse_update(namespaced) == parse_update(raw)


def test_a_null_call_type_after_a_failover_is_unknown() -> None:
    raw = capture("20200508/1/1_alert.xml")
    assert isinstance(raw, bytes)
    failover = raw.replace(b"<callType>PREROUTE_ACD_IN</callType>", b"<callType>NULL</callType>")
    assert parse_update(failover).dialogs[0].media_properties.call_type is None


# --- hostile and malformed input --------------------------------------------------------

_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Update><data><dialog><id>1</id><state>&lol3;</state></dialog></data></Update>"""
_EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE u [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Update><data><dialog><id>&xxe;</id><state>ACTIVE</state></dialog></data>
<event>PUT</event><source>/x</source></Update>"""
_MINIMAL = (
    "<Update><data><dialog><id>1</id><state>ACTIVE</state>{extra}</dialog></data>"
    "<event>PUT</event><source>/finesse/api/Dialog/1</source></Update>"
)

HOSTILE: dict[str, tuple[str | bytes, str | None]] = {
    "entity expansion": (_LAUGHS, "$"),
    "external entity": (_EXTERNAL, "$"),
    "a DTD": ('<!DOCTYPE Update SYSTEM "http://example.com/u.dtd"><Update/>', "$"),
    "not XML": ("<Update><data>", "$"),
    "not UTF-8": (b"<Update>\xff\xfe</Update>", "$"),
    "another root": ("<html/>", "html"),
    "no data": ("<Update><event>PUT</event></Update>", "Update/data"),
    "empty data": ("<Update><data/><event>PUT</event><source>/x</source></Update>", "Update/data"),
    "no source": ("<Update><data><apiErrors/></data><event>PUT</event></Update>", "Update/source"),
    "unknown event": (
        "<Update><data><apiErrors/></data><event>PATCH</event><source>/x</source></Update>",
        "Update/event",
    ),
    "no dialog id": (_MINIMAL.replace("<id>1</id>", ""), "Update/data/dialog/id"),
    "unknown state": (
        _MINIMAL.replace("ACTIVE", "RINGING"),
        "Update/data/dialog/state",
    ),
    "two states": (
        _MINIMAL.format(extra="<state>DROPPED</state>"),
        "Update/data/dialog/state[1]",
    ),
    "a state made of elements": (
        _MINIMAL.replace("<state>ACTIVE</state>", "<state><b>ACTIVE</b></state>"),
        "Update/data/dialog/state",
    ),
    "a bad time": (
        _MINIMAL.format(
            extra=(
                "<participants><Participant><mediaAddress>7001</mediaAddress><state>ACTIVE</state>"
                "<startTime>yesterday</startTime></Participant></participants>"
            )
        ),
        "Update/data/dialog/participants/Participant/startTime",
    ),
    "a time without zone": (
        _MINIMAL.format(
            extra=(
                "<participants><Participant><mediaAddress>7001</mediaAddress><state>ACTIVE</state>"
                "<startTime>2020-05-08T01:22:42</startTime></Participant></participants>"
            )
        ),
        "Update/data/dialog/participants/Participant/startTime",
    ),
    "a nameless call variable": (
        _MINIMAL.format(
            extra=(
                "<mediaProperties><callvariables><CallVariable><value>x</value></CallVariable>"
                "</callvariables></mediaProperties>"
            )
        ),
        "Update/data/dialog/mediaProperties/callvariables/CallVariable/name",
    ),
    "deep nesting": ("<a>" * 5000 + "</a>" * 5000, None),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=str)
def test_hostile_or_malformed_xml_is_a_typed_error_naming_the_element(case: str) -> None:
    document, element = HOSTILE[case]
    with pytest.raises(FinesseParseError) as caught:
        parse_document(document.format(extra="") if isinstance(document, str) else document)
    if element is not None:
        assert caught.value.element == element, caught.value
    assert isinstance(caught.value, ConsultFsmError) and isinstance(caught.value, ValueError)


def test_deep_nesting_is_refused_before_the_stack_runs_out() -> None:
    deep = "<Update>" + "<data>" * (MAX_DEPTH + 5) + "</data>" * (MAX_DEPTH + 5) + "</Update>"
    with pytest.raises(FinesseParseError, match="nested deeper"):
        parse_update(deep)
    nested: dict[str, Any] = {}
    for _ in range(10_000):
        nested = {"x": nested}
    with pytest.raises(FinesseParseError, match="nested deeper"):
        parse_update({"Update": nested})


@pytest.mark.parametrize(
    "document",
    [
        {"Update": {"data": {"dialog": {"id": "1", "state": "ACTIVE"}}, "source": "\udfff",
                    "event": "PUT"}},
        {"Update": {"data": {"dialog": {"id": "1", "state": True}}}},
        {"Update": 5, "Other": 6},
        ["Update"],
        None,
        {"Update": {"data": {"dialog": {"id": 10**5000, "state": "ACTIVE"}}}},
    ],
    ids=["lone surrogate", "a boolean", "two roots", "a list", "nothing", "a 5001-digit id"],
)  # fmt: skip
def test_a_bad_json_form_is_a_typed_error(document: Any) -> None:
    with pytest.raises(FinesseParseError):
        parse_document(document)


@given(st.data())
def test_a_damaged_capture_parses_or_is_refused_by_name(data: st.DataObject) -> None:
    # Truncate a real capture anywhere and flip a few of its bytes: the parser
    # returns a value or a FinesseParseError, never anything else.
    raw = capture("scenario/ErrorCase1/2_ALERTING.xml")
    assert isinstance(raw, bytes)
    cut = data.draw(st.integers(0, len(raw)))
    damaged = bytearray(raw[:cut] if data.draw(st.booleans()) else raw)
    for _ in range(data.draw(st.integers(0, 3))):
        if damaged:
            damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    try:
        parse_document(bytes(damaged))
    except FinesseParseError as e:
        assert e.element and e.why


@given(st.recursive(
    st.none() | st.text(max_size=5) | st.integers(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["data", "dialog", "dialogs", "Dialog", "id", "state", "event", "source",
                         "participants", "Participant", "mediaProperties", "x"]),
        inner, max_size=4),
    max_leaves=20,
))  # fmt: skip
def test_any_json_form_parses_or_is_refused_by_name(body: Any) -> None:
    try:
        parse_document({"Update": body})
    except FinesseParseError as e:
        assert e.element and e.why


# --- the desk's first reading of a dialog ------------------------------------------------


def _consult(**changes: Any) -> Dialog:
    """A consult dialog as B's desk gets it: the shape of a captured alert."""
    base = parse_update(capture("20200508/1/1_alert.xml")).dialogs[0]
    import attrs

    return attrs.evolve(base, **changes)


def test_a_ucce_consult_is_recognised_by_its_associated_dialog() -> None:
    consult = _consult(associated_dialog_uri="/finesse/api/Dialog/140953800",
                       media_properties=MediaProperties(call_type="AGENT_INSIDE"))  # fmt: skip
    assert consult_platform(consult) is Platform.UCCE
    assert consult.associated_dialog_id == "140953800"
    # The same call type with no associated dialog is an ordinary internal call.
    assert (
        consult_platform(_consult(media_properties=MediaProperties(call_type="AGENT_INSIDE")))
        is None
    )


def test_a_uccx_consult_is_recognised_by_its_call_type() -> None:
    assert consult_platform(_consult(media_properties=MediaProperties(call_type="CONSULT"))) is (
        Platform.UCCX)  # fmt: skip


def test_no_captured_dialog_is_a_consult() -> None:
    # SOURCE.md: none of the captures is a consult.
    for path in capture_files():
        parsed = parse_document(read_capture(path))
        for dialog in parsed.dialogs if isinstance(parsed, Update) else ():
            assert consult_platform(dialog) is None, path


def test_the_customer_number_comes_from_call_data_not_from_address() -> None:
    media = MediaProperties(call_variables=(("callVariable1", "+923001234567:7001"),))
    consult = _consult(from_address="7053", media_properties=media)
    assert CustomerNumberSource().read(consult) == "+923001234567"
    assert CustomerNumberSource(separator=None).read(consult) == "+923001234567:7001"
    assert CustomerNumberSource(part=1).read(consult) == "7001"
    assert CustomerNumberSource(part=2).read(consult) is None
    assert CustomerNumberSource(variable="callVariable9").read(consult) is None
    empty = _consult(media_properties=MediaProperties(call_variables=(("callVariable1", ""),)))
    assert CustomerNumberSource().read(empty) is None


def test_the_customer_number_source_is_checked() -> None:
    for bad in ({"variable": ""}, {"separator": ""}, {"part": -1}, {"part": True}):
        with pytest.raises(ConfigError):
            CustomerNumberSource(**bad)


def test_a_captured_ani_in_call_variable_4() -> None:
    # This deployment copies the caller's number into callVariable4 (padded with _).
    dialog = parse_update(capture("20200508/1/1_alert.xml")).dialogs[0]
    source = CustomerNumberSource(variable="callVariable4", separator="_")
    assert source.read(dialog) == dialog.from_address == "01042600114"


# --- the wire leg string --------------------------------------------------------------------


def test_the_leg_string_round_trips() -> None:
    ref = LegRef("7073", "901810001", "140124631")
    assert str(ref) == "7073:901810001:140124631"
    assert parse_leg_ref(str(ref)) == ref


@pytest.mark.parametrize(
    "text", ["", "7073", "7073:901810001", "7073:901810001:1:2", "7073::1", " 7073:a:1", 5]
)
def test_a_bad_leg_string_is_a_typed_error(text: Any) -> None:
    with pytest.raises(LegRefError):
        parse_leg_ref(text)


def test_a_leg_ref_cannot_hold_a_part_that_would_not_read_back() -> None:
    for bad in ("70:73", "", "\udfff", " 7073"):
        with pytest.raises(LegRefError):
            LegRef(bad, "901810001", "140124631")


@given(st.text(st.characters(codec="utf-8"), min_size=1), st.text(min_size=1))
def test_any_leg_ref_that_exists_reads_back(extension: str, agent: str) -> None:
    try:
        ref = LegRef(extension, agent, "1")
    except LegRefError:
        return
    assert parse_leg_ref(str(ref)) == ref


def test_captures_are_beside_the_repository_in_ci() -> None:
    # CI runs with ../shared beside the clone; this fails there if it went missing.
    assert (captures_dir() / "SOURCE.md").read_text(encoding="utf-8").startswith("# Real")
    assert json.loads((captures_dir() / "finesse/api/Dialog/156494657").read_text())["Dialog"]


@pytest.mark.parametrize(
    ("inner", "path"),
    [
        ("<dialogs><Dialog><id>1</id><state>ACTIVE</state></Dialog></dialogs><dialog/>",
         "Update/data"),  # two kinds of content at once: which one is meant?
        ("<dialog><id>1</id><state>ACTIVE</state><participants><Participant><mediaAddress>1"
         "</mediaAddress><state>ACTIVE</state><actions><action><x/>HOLD</action></actions>"
         "</Participant></participants></dialog>",
         "Update/data/dialog/participants/Participant/actions/action"),
    ],
)  # fmt: skip
def test_ambiguous_or_nested_content_is_refused_by_name(inner: str, path: str) -> None:
    with pytest.raises(FinesseParseError) as caught:
        parse_update(f"<Update><data>{inner}</data><event>PUT</event><source>/x</source></Update>")
    assert caught.value.element == path


def test_a_structured_media_property_is_kept_as_unknown_not_dropped() -> None:
    update = parse_update(
        "<Update><data><dialog><id>1</id><state>ACTIVE</state><mediaProperties>"
        "<wrapUpReason><a>1</a></wrapUpReason></mediaProperties></dialog></data>"
        "<event>PUT</event><source>/x</source></Update>"
    )
    assert update.dialogs[0].unknown == ("Update/data/dialog/mediaProperties/wrapUpReason",)
