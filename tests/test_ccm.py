"""The CCM side: its table's rules, its machine, the engine's indexes,
tombstones, presence and snapshots, and the composition with the world and
both desks checked against the leg model."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from cim_schemas import cim_schemas
from hypothesis import given, settings
from hypothesis import strategies as st

from consultfsm.ccm import ChannelSession, ConsultEvidence, CorrelationError, SessionResolver
from consultfsm.ccm.correlation import normalise_ani
from consultfsm.ccm.engine import (
    CcmEngine,
    CcmRefused,
    Published,
    Report,
    _session_dict,
    read_report,
)
from consultfsm.ccm.machine import CcmConfig, CcmIllegalInput, CcmLeg, CcmSnapshot
from consultfsm.ccm.sessions import SessionIndex
from consultfsm.ccm.table import (
    CCM_TABLE,
    REPORTS,
    UNOBSERVED,
    CcmCall,
    CcmInput,
    Emit,
    Intent,
    Source,
    check_ccm_table,
)
from consultfsm.core.errors import ConsultFsmError, SnapshotError, TimeWentBackwards
from consultfsm.core.states import CimReason
from consultfsm.core.table import Disposition
from consultfsm.verify.ccm import (
    Action,
    CcmReport,
    action_lines,
    explore_ccm,
    replay_actions,
    run_case_through_ccm,
)
from consultfsm.verify.scenarios import CASES
from consultfsm.wire.cim import (
    ChannelSessionRef,
    CimCodec,
    CimParseError,
    MessageIntent,
    parse_conversation_event,
    parse_message,
)

I, C = CcmInput, CcmCall  # noqa: E741
CODEC = CimCodec("8000")
ANI = "+923001234567"
SESSION = ChannelSession("S1", "C1", ANI, "D0", "8000", agents=frozenset({"1001"}))
A, B = ("1001", "7001"), ("1002", "7002")  # (agent, extension)


def send(who: tuple[str, str], intent: MessageIntent, at: int, *, dialog: str = "D1",
         reason: CimReason | None = None, call_id: str | None = None,
         customer: str = ANI, uri: str | None = None) -> Any:  # fmt: skip
    """A desk's message as the JSON text it POSTs."""
    role = "CONSULTING" if who == A else "CONSULTED"
    message = CODEC.agent_message(
        leg=f"{who[1]}:{who[0]}:{dialog}", at=at, intent=intent, agent=who[0],
        customer=customer, call_id=call_id or dialog, reason=reason, consult_role=role,
        associated_dialog_uri=uri,
    )  # fmt: skip
    return CODEC.dumps(message)


STARTED, ENDED = MessageIntent.CALL_LEG_STARTED, MessageIntent.CALL_LEG_ENDED
HOLD, RESUME = MessageIntent.CALL_HOLD, MessageIntent.CALL_RESUME


def engine(**kw: Any) -> CcmEngine:
    ccm = CcmEngine(CODEC, **kw)
    ccm.start_session(ChannelSession("S2", "C2", "+923009999999", "D9"), 0)
    ccm.start_session(SESSION, 0)
    return ccm


def said(published: tuple[Published, ...] | list[Published]) -> list[str]:
    def one(p: Published) -> str:
        why = f",{p.reason}" if p.intent is Intent.ENDED and p.reason else ""
        return f"{p.intent.value}({p.source.value}{why})"

    return [one(p) for p in published]


# --- the table --------------------------------------------------------------------------


def test_the_ccm_table_keeps_its_rules() -> None:
    assert check_ccm_table() == []


def test_every_report_has_a_row_in_every_state() -> None:
    # Rule 2: a desk message is never refused for arriving late, twice or early.
    keys = {(r.source, r.input) for r in CCM_TABLE}
    assert {(s, k) for s in CcmCall for k in REPORTS} <= keys


def test_a_broken_ccm_table_is_caught() -> None:
    (row,) = [r for r in CCM_TABLE if r.key == "talking--b_started"]
    twice = attrs.evolve(row, emits=(Emit(Intent.STARTED, Source.B),),
                         disposition=Disposition.APPLIED)  # fmt: skip
    problems = check_ccm_table(tuple(twice if r is row else r for r in CCM_TABLE))
    assert problems == ["talking--b_started: the start is published once, first (rule 4)"]
    assert any("rows overlap" in p for p in check_ccm_table((*CCM_TABLE, row)))
    gone = tuple(r for r in CCM_TABLE if r.key != "ending--b_ended")
    assert "ending--b_ended: a report has no row (rule 2)" in check_ccm_table(gone)


# --- the machine --------------------------------------------------------------------------


def test_a_s_start_waits_for_b_s_and_the_ccm_stands_in_when_it_never_comes() -> None:
    leg = CcmLeg("D1", config=CcmConfig(start_wait_ms=2_000))
    assert leg.handle(I.A_STARTED, 100).emits == ()
    assert leg.get_timer() is not None and leg.get_timer()[1] == 2_100  # type: ignore[index]
    assert leg.handle_timer(2_099).disposition is Disposition.ABSORBED  # not yet due
    assert [str(p) for p in leg.handle_timer(5_000).emits] == ["CALL_LEG_STARTED(ccm)"]
    assert leg.now == 2_100  # fired at its own deadline
    assert leg.handle(I.B_STARTED, 5_001).disposition is Disposition.DUPLICATE


def test_b_s_end_reason_is_preferred_to_a_s() -> None:
    leg = CcmLeg("D1")
    leg.handle(I.B_STARTED, 100)
    assert leg.handle(I.A_ENDED, 200).emits == ()  # B's desk is up: its own end is coming
    assert leg.call is C.ENDING
    assert [str(p) for p in leg.handle(I.B_ENDED, 210).emits] == ["CALL_LEG_ENDED(b)"]


def test_a_s_end_is_published_at_once_when_b_s_desk_is_down() -> None:
    leg = CcmLeg("D1")
    leg.handle(I.B_STARTED, 100)
    leg.handle(I.B_DOWN, 150)
    assert [str(p) for p in leg.handle(I.A_ENDED, 200).emits] == ["CALL_LEG_ENDED(a)"]


def test_b_s_desk_going_down_while_a_s_end_waits_publishes_a_s() -> None:
    leg = CcmLeg("D1")
    leg.handle(I.B_STARTED, 100)
    leg.handle(I.A_ENDED, 200)
    assert [str(p) for p in leg.handle(I.B_DOWN, 300).emits] == ["CALL_LEG_ENDED(a)"]


def test_an_end_that_overtook_the_start_publishes_both_in_order() -> None:
    leg = CcmLeg("D1")
    assert [str(p) for p in leg.handle(I.B_ENDED, 100).emits] == [
        "CALL_LEG_STARTED(b)", "CALL_LEG_ENDED(b)"]  # fmt: skip
    assert leg.handle(I.B_STARTED, 101).disposition is Disposition.ABSORBED


def test_the_away_deadline_runs_only_while_no_desk_is_up() -> None:
    leg = CcmLeg("D1", config=CcmConfig(away_ms=60_000))
    leg.handle(I.B_STARTED, 100)
    leg.handle(I.A_UP, 100)
    leg.handle(I.B_DOWN, 200)
    assert leg.get_timer() is None  # A's desk is up: it will see the end
    leg.handle(I.A_DOWN, 300)
    assert leg.get_timer() is not None and leg.get_timer()[1] == 60_300  # type: ignore[index]
    leg.handle(I.B_UP, 400)  # B is back: its list tells
    assert leg.get_timer() is None
    leg.handle(I.B_DOWN, 500)
    step = leg.handle_timer(60_500)
    assert [str(p) for p in step.emits] == ["CALL_LEG_ENDED(ccm)"]


def test_a_stale_hold_never_flips_the_state_back() -> None:
    leg = CcmLeg("D1")
    leg.handle(I.B_STARTED, 100)
    assert [str(p) for p in leg.handle(I.B_HELD, 200, occurred=190).emits] == ["CALL_HOLD(b)"]
    assert [str(p) for p in leg.handle(I.B_RESUMED, 300, occurred=290).emits] == [
        "CALL_RESUME(b)"]  # fmt: skip
    late = leg.handle(I.B_HELD, 310, occurred=195)  # a re-send of the first hold, overtaken
    assert late.disposition is Disposition.ABSORBED and leg.call is C.TALKING


def test_either_desk_s_hold_counts_and_the_other_s_copy_is_a_repeat() -> None:
    # A page that was away may have missed a change the other desk saw.
    leg = CcmLeg("D1")
    leg.handle(I.B_STARTED, 100)
    assert [str(p) for p in leg.handle(I.A_HELD, 200, occurred=200).emits] == ["CALL_HOLD(a)"]
    assert leg.handle(I.B_HELD, 201, occurred=199).disposition is Disposition.DUPLICATE
    assert [str(p) for p in leg.handle(I.B_RESUMED, 300, occurred=300).emits] == [
        "CALL_RESUME(b)"]  # fmt: skip
    # A's copy of that first hold, overtaken by the resume: stale.
    assert leg.handle(I.A_HELD, 310, occurred=205).disposition is Disposition.ABSORBED


def test_a_refused_input_names_the_leg_state_and_input_and_changes_nothing() -> None:
    leg = CcmLeg("D1")
    leg.handle(I.B_STARTED, 100)
    before = leg.snapshot()
    with pytest.raises(TimeWentBackwards):
        leg.handle(I.B_ENDED, 99)
    with pytest.raises(CcmIllegalInput) as info:
        leg.handle("b_exploded", 200)  # type: ignore[arg-type]
    assert info.value.leg == "D1" and info.value.state == "talking/unknown/unknown"
    assert info.value.input == "b_exploded"
    assert leg.snapshot() == before
    assert leg.handle(I.END_WAIT_TIMEOUT, 300).disposition is Disposition.ABSORBED  # not armed
    assert leg.snapshot() == before


def test_ccm_snapshots_round_trip_and_refuse_what_cannot_be() -> None:
    leg = CcmLeg("D1")
    leg.handle(I.A_STARTED, 100)
    data = leg.snapshot().to_dict()
    assert CcmLeg.restore(CcmSnapshot.from_dict(json.loads(json.dumps(data)))).snapshot() == (
        leg.snapshot())  # fmt: skip
    for bad in ({**data, "timer": None, "deadline": None}, {**data, "call": "bogus"},
                {**data, "deadlne": 5}, {**data, "deadline": -1}):  # fmt: skip
        with pytest.raises(SnapshotError):
            CcmSnapshot.from_dict(bad)


def _engine_snapshot() -> dict[str, Any]:
    """An engine with a live leg both desks named, a finished one, an ended session, as JSON."""
    ccm = engine(ended_session_ms=10_000)
    ccm.start_session(ChannelSession("S3", "C3", "+923007777777", "D8"), 0)
    ccm.receive(send(B, STARTED, 100), 100)
    ccm.receive(send(A, STARTED, 110), 110)
    ccm.receive(send(B, STARTED, 120, dialog="D4", customer="+923009999999"), 120)
    ccm.receive(send(B, ENDED, 130, dialog="D4", customer="+923009999999",
                     reason=CimReason.CONSULT_ENDED), 130)  # fmt: skip
    ccm.end_session("S2", 140)
    ccm.end_session("S3", 150)
    data: dict[str, Any] = json.loads(json.dumps(ccm.snapshot()))
    assert CcmEngine.restore(data, CODEC).snapshot() == data
    return data


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        here: Any = data
        for part in parents:
            here = here[int(part)] if part.isdigit() else here[part]
        here[int(last) if last.isdigit() else last] = value

    return change


@pytest.mark.parametrize("change", [
    _set("legs.0.agents", {"a": "1001", "b": "1001"}),  # one agent as A and B
    _set("tombstones", [[0, "D4"]]),  # ids as a string, not a list
    _set("tombstones", [[0, [5]]]),
    _set("now", float("inf")), _set("published", float("inf")),
    _set("now", "400"), _set("now", 400.5), _set("now", -5), _set("now", 10**30),
    _set("published", True), _set("v", True), _set("v", 1.0),
    _set("legs.0.machine.now", 10**6),  # a leg ahead of its engine's clock
    _set("bogus", 1), _set("legs.0.bogus", 1),  # misspelt keys
    _set("sessions.0.agents", "1001"),
    _set("ended_sessions.0.0", "140"),
    lambda d: d["ended_sessions"].reverse(),  # out of the order they ended
    lambda d: d["tombstones"].insert(0, [10**5, ["D7"]]),  # out of time order
], ids=lambda change: getattr(change, "__qualname__", "change"))  # fmt: skip
def test_a_malformed_engine_snapshot_is_a_snapshot_error(
    change: Callable[[dict[str, Any]], None],
) -> None:
    data = _engine_snapshot()
    assert len(data["ended_sessions"]) == 2 and data["tombstones"] and data["legs"][0]["agents"]
    change(data)
    with pytest.raises(SnapshotError):
        CcmEngine.restore(data, CODEC)


def test_a_snapshot_with_an_overdue_deadline_restores_and_fires_at_its_own_time() -> None:
    # A browser input later than the deadline, taken before the host fired the
    # timer, leaves it overdue: a real state, which must restore.
    leg = CcmLeg("D1")
    leg.handle(I.A_STARTED, 100)
    due = leg.deadline
    assert due is not None
    leg.handle(I.A_STARTED, due + 10)  # A's desk repeats itself, late
    data = json.loads(json.dumps(leg.snapshot().to_dict()))
    assert data["deadline"] < data["now"]
    again = CcmLeg.restore(CcmSnapshot.from_dict(data))
    step = again.handle_timer(due + 20)
    assert step.applied and [p.emit.intent for p in step.emits] == [Intent.STARTED]


@given(st.lists(st.sampled_from(sorted(CcmInput)), max_size=30))
def test_any_sequence_publishes_the_start_first_and_each_once(kinds: list[CcmInput]) -> None:
    leg = CcmLeg("D1")
    out: list[Intent] = []
    for t, kind in enumerate(kinds, 1):
        at = max(t * 10, (leg.deadline or 0)) if kind.endswith("_timeout") else t * 10
        at = max(at, leg.now)
        out += [p.emit.intent for p in leg.handle(kind, at).emits]
    assert out.count(Intent.STARTED) <= 1 and out.count(Intent.ENDED) <= 1
    if out:
        assert out[0] is Intent.STARTED
    if Intent.ENDED in out:
        assert out[-1] is Intent.ENDED


# --- the engine -----------------------------------------------------------------------------


def test_both_desks_report_and_the_topic_hears_once_in_b_s_name() -> None:
    schemas = cim_schemas()
    ccm = engine()
    out = [*ccm.receive(send(A, STARTED, 2_000), 2_001).published]
    out += ccm.receive(send(B, STARTED, 2_000), 2_002).published
    out += ccm.receive(send(B, STARTED, 2_000), 2_003).published  # a re-send
    out += ccm.receive(send(A, ENDED, 9_000, reason=CimReason.CONSULT_ENDED), 9_001).published
    out += ccm.receive(send(B, ENDED, 9_000, reason=CimReason.CONSULT_ENDED), 9_002).published
    assert said(out) == ["CALL_LEG_STARTED(b)", "CALL_LEG_ENDED(b,CONSULT_ENDED)"]
    for p in out:
        event = json.loads(p.json)
        schemas.check_conversation_event(event)
        assert event["channelSession"]["id"] == "S1" and event["conversationId"] == "C1"
        assert event["eventEmitter"]["id"] == "1002"  # B's own message
        assert parse_conversation_event(p.json) == p.event
    assert len(ccm) == 0 and ccm.tombstones == 1  # evicted, remembered


def test_a_late_report_after_eviction_is_recognised_and_never_republished() -> None:
    ccm = engine()
    ccm.receive(send(B, STARTED, 100), 100)
    ccm.receive(send(B, ENDED, 200, reason=CimReason.CONSULT_ENDED), 200)
    late = ccm.receive(send(A, ENDED, 300, reason=CimReason.CONSULT_ENDED), 300)
    assert late.late and late.published == () and len(ccm) == 0
    again = ccm.receive(send(B, STARTED, 100), 400)  # a desk's retry of its first message
    assert again.late and again.published == () and len(ccm) == 0


def test_tombstones_expire_after_their_horizon() -> None:
    ccm = engine(tombstone_ms=80_000)
    ccm.receive(send(B, ENDED, 100, reason=CimReason.CONSULT_ENDED), 100)
    assert ccm.is_finished("D1")
    ccm.handle_timers(100 + 80_000 + 10_000)
    assert not ccm.is_finished("D1") and ccm.tombstones == 0


def test_a_rekeyed_consult_stays_one_leg() -> None:
    # A's desk saw the consult under D1 and now reports it as D5; B's page
    # came back after the re-key and only knows D5.
    ccm = engine()
    out = [*ccm.receive(send(A, STARTED, 100), 100).published]
    out += ccm.receive(send(A, HOLD, 200, call_id="D5"), 200).published
    out += ccm.receive(send(B, STARTED, 250, dialog="D5"), 250).published
    assert len(ccm) == 1 and ccm.leg("D5") is ccm.leg("D1")
    out += ccm.receive(send(B, ENDED, 300, dialog="D5", reason=CimReason.CONSULT_ENDED),
                       300).published  # fmt: skip
    # A's hold, reported before B's start arrived, is the CCM's to carry.
    assert said(out) == ["CALL_LEG_STARTED(b)", "CALL_HOLD(ccm)",
                         "CALL_LEG_ENDED(b,CONSULT_ENDED)"]  # fmt: skip
    assert ccm.is_finished("D1") and ccm.is_finished("D5")


def test_a_report_read_before_is_taken_as_its_message_is() -> None:
    # A store reads a message's report to find its rows, then hands the report
    # to the engine: the same outcome, byte for byte, as the message itself.
    texts = [send(A, STARTED, 100), send(A, HOLD, 200, call_id="D5"),
             send(B, STARTED, 250, dialog="D5"), send(B, HOLD, 260, dialog="D5")]  # fmt: skip
    other = CimCodec("8000")  # (an equal codec, another object: its report is read again)
    plain, by_report, by_other = engine(), engine(), engine()
    for at, text in zip((100, 200, 250, 260), texts, strict=True):
        message = parse_message(text)
        report = read_report(CODEC, message)
        assert isinstance(report, Report) and report.message is message
        assert report.dialogs == (("D1",) if at == 100 else ("D1", "D5") if at == 200 else ("D5",))
        want = plain.receive(text, at)
        for ccm, read in ((by_report, report), (by_other, read_report(other, message))):
            got = ccm.receive(read, at)
            assert (got.leg, got.disposition, got.late) == (want.leg, want.disposition, want.late)
            assert [p.json for p in got.published] == [p.json for p in want.published]
    assert by_report.snapshot() == plain.snapshot() == by_other.snapshot()
    # A report that cannot be read is refused before anything moves, as its message is.
    with pytest.raises(CcmRefused):
        read_report(
            CODEC, parse_message(send(B, STARTED, 300, dialog="D7").replace("CONSULTED", "X"))
        )


def test_the_session_is_found_by_dialog_uri_first_then_by_the_customer_s_ani() -> None:
    ccm = engine()
    other = ChannelSession("S3", "C3", "+923005555555", "D7")
    ccm.start_session(other, 0)
    # UCCE: the associatedDialogUri names S3's dialog, whatever number is sent.
    found = ccm.receive(send(B, STARTED, 100, uri="/finesse/api/Dialog/D7"), 100)
    assert found.published[0].event.channel_session.id == "S3"
    # UCCX: no URI; the customer's number, written nationally, finds S1.
    uccx = ccm.receive(send(B, STARTED, 100, dialog="D2", customer="+92 300 1234567"), 110)
    assert uccx.published[0].event.channel_session.id == "S1"


def test_a_consult_no_session_matches_is_refused_and_nothing_changes() -> None:
    ccm = engine()
    before = ccm.snapshot()
    with pytest.raises(CorrelationError):
        ccm.receive(send(B, STARTED, 100, customer="+923001111111"), 100)
    assert ccm.snapshot() == before


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda m: "{", CimParseError),
        (lambda m: {**m, "header": {**m["header"], "intent": "START_CHAT"}}, CcmRefused),
        (lambda m: {**m, "body": {"type": "VOICE"}}, CcmRefused),
        (lambda m: {**m, "body": {**m["body"], "leg": "x:y"}}, CcmRefused),
        (lambda m: {**m, "header": {**m["header"], "channelData": {
            **m["header"]["channelData"], "additionalAttributes": [
                {"key": "consultRole", "type": "String2000", "value": "BOSS"}]}}}, CcmRefused),
    ],
)  # fmt: skip
def test_a_message_the_ccm_cannot_take_is_a_typed_error_and_changes_nothing(
    mutate: Any, error: type[Exception]
) -> None:
    ccm = engine()
    ccm.receive(send(A, STARTED, 100), 100)
    before = ccm.snapshot()
    bad = mutate(json.loads(send(B, STARTED, 100)))
    with pytest.raises(error):
        ccm.receive(bad if isinstance(bad, str) else json.dumps(bad), 200)
    assert ccm.snapshot() == before
    with pytest.raises(TimeWentBackwards):
        ccm.receive(send(B, STARTED, 100), 50)
    assert ccm.snapshot() == before


def test_presence_first_connect_restart_and_repeats_are_normal() -> None:
    ccm = engine()
    assert ccm.desk_up("1002", 10) == () and ccm.desk_up("1002", 20) == ()  # no prior down
    ccm.receive(send(B, STARTED, 100), 100)
    ccm.desk_down("1002", 200)
    ccm.desk_down("1002", 210)  # a repeat
    out = ccm.receive(send(A, ENDED, 300, reason=CimReason.CONSULT_TRANSFER), 300).published
    assert said(out) == ["CALL_LEG_ENDED(a,CONSULT_TRANSFER)"]  # B is down: A's, at once


def test_a_report_on_a_leg_its_overdue_deadline_ended_past_the_tombstone_horizon_is_late() -> None:
    # Found in review of the durable engine: the host (or every sweeper) was
    # down for longer than the tombstone horizon. The report fires the leg's
    # deadline first, at its own time; that ends the leg, and its tombstone is
    # already past the horizon. The report is about a leg the CCM had, so it
    # is absorbed as late (it used to fail an assert), never taken as a new consult.
    ccm = engine(config=CcmConfig(away_ms=60_000), tombstone_ms=8_000)
    ccm.desk_up("1001", 0)
    ccm.receive(send(A, STARTED, 100), 100)
    ccm.receive(send(B, STARTED, 100), 101)
    ccm.desk_down("1002", 200)
    ccm.desk_down("1001", 300)
    late = 60_300 + 2 * 8_000 + 1  # past every generation of the tombstones
    outcome = ccm.receive(send(B, HOLD, late), late)
    assert (outcome.disposition, outcome.late) == (Disposition.ABSORBED, True)
    (end,) = outcome.published
    assert (end.intent, end.source, end.reason, end.at) == (
        Intent.ENDED, Source.CCM, UNOBSERVED, 60_300)  # fmt: skip
    assert ccm.snapshot()["legs"] == [] and not ccm.is_finished("D1")
    snap = json.loads(json.dumps(ccm.snapshot()))
    assert CcmEngine.restore(snap, CODEC).snapshot() == ccm.snapshot()


def test_the_last_resort_ends_a_consult_nobody_can_see() -> None:
    ccm = engine(config=CcmConfig(away_ms=60_000))
    ccm.desk_up("1001", 0)
    ccm.receive(send(A, STARTED, 100), 100)
    ccm.receive(send(B, STARTED, 100), 101)
    ccm.desk_down("1002", 200)
    assert ccm.next_deadline() is None  # A's desk is up
    ccm.desk_down("1001", 300)
    assert ccm.next_deadline() == 60_300
    assert ccm.handle_timers(60_299) == ()
    (end,) = ccm.handle_timers(70_000)
    assert (end.intent, end.source, end.reason, end.at) == (
        Intent.ENDED, Source.CCM, UNOBSERVED, 60_300)  # fmt: skip
    assert json.loads(end.json)["eventEmitter"]["type"] == "SYSTEM"


def test_a_consult_goes_on_after_the_customer_left_and_publishes_in_the_ended_session() -> None:
    ccm = engine(ended_session_ms=0)  # no grace for consults heard of late
    ccm.receive(send(B, STARTED, 100), 100)
    ccm.end_session("S1", 200)
    (end,) = ccm.receive(send(B, ENDED, 300, reason=CimReason.CONSULT_ENDED), 300).published
    assert json.loads(end.json)["channelSession"]["isActive"] is False
    with pytest.raises(CorrelationError):  # no new consult can find it
        ccm.receive(send(B, STARTED, 400, dialog="D3"), 400)


def test_a_consult_on_when_the_customer_left_is_still_published_in_their_session() -> None:
    # B answered as the customer hung up; B's message reached the CCM just
    # after the CCM ended the customer's session. The consult goes on there.
    ccm = engine(ended_session_ms=60_000)
    ccm.end_session("S1", 2_000)
    (start,) = ccm.receive(send(B, STARTED, 1_990), 2_010).published
    assert json.loads(start.json)["channelSession"] == {
        **json.loads(start.json)["channelSession"], "id": "S1", "isActive": False}  # fmt: skip
    snap = json.loads(json.dumps(ccm.snapshot()))
    assert CcmEngine.restore(snap, CODEC).snapshot() == ccm.snapshot()
    # Past the horizon the ended session takes no consult any more.
    ccm.handle_timers(2_000 + 60_001)
    with pytest.raises(CorrelationError):
        ccm.receive(send(B, STARTED, 70_000, dialog="D4"), 70_000)


def test_an_ended_session_past_its_horizon_takes_no_consult_even_before_the_timers_ran() -> None:
    # Found by the durable engine's comparison: the engine looked a new
    # consult's session up before moving its clock, so whether an expired
    # session was still found depended on the host calling handle_timers first.
    ccm = engine(ended_session_ms=60_000)
    ccm.end_session("S1", 2_000)
    before = ccm.snapshot()
    with pytest.raises(CorrelationError):
        ccm.receive(send(B, STARTED, 62_001), 62_001)
    assert ccm.snapshot() == before


def test_a_tombstone_past_its_horizon_absorbs_nothing_even_before_the_timers_ran() -> None:
    # Found in review of the durable engine: receive checked the tombstones
    # before moving its clock, so an expired one still absorbed a new consult.
    ccm = engine(tombstone_ms=8_000)
    ccm.receive(send(B, STARTED, 10), 10)
    ccm.receive(send(B, ENDED, 20, reason=CimReason.CONSULT_ENDED), 20)
    assert ccm.is_finished("D1")
    assert said(ccm.receive(send(B, STARTED, 30_000), 30_000).published) == ["CALL_LEG_STARTED(b)"]


def test_an_ended_session_past_its_horizon_makes_no_consult_ambiguous() -> None:
    ccm = CcmEngine(CODEC, ended_session_ms=600_000)
    for sid in ("S1", "S2"):
        ccm.start_session(ChannelSession(sid, f"C{sid}", ANI, f"X{sid}"), 0)
    ccm.end_session("S1", 1_000)
    ccm.end_session("S2", 500_000)
    (start,) = ccm.receive(send(B, STARTED, 700_010), 700_010).published
    assert json.loads(start.json)["channelSession"]["id"] == "S2"


def _script(ccm: CcmEngine, part: int) -> list[str]:
    steps: list[list[Callable[[], tuple[Published, ...]]]] = [
        [lambda: ccm.receive(send(A, STARTED, 100), 100).published,
         lambda: ccm.desk_down("1002", 150),
         lambda: ccm.receive(send(A, HOLD, 200), 200).published],
        [lambda: ccm.receive(send(B, STARTED, 100, dialog="D2"), 300).published,
         lambda: ccm.handle_timers(5_000),
         lambda: ccm.receive(send(A, ENDED, 6_000, reason=CimReason.CONSULT_ENDED), 6_000)
         .published,
         lambda: ccm.receive(send(B, ENDED, 7_000, dialog="D2",
                                  reason=CimReason.CONSULT_CONFERENCE), 7_000).published],
    ]  # fmt: skip
    return [p.json for step in steps[part] for p in step()]


def test_a_whole_engine_snapshot_continues_byte_for_byte() -> None:
    ccm = engine()
    _script(ccm, 0)
    data = json.loads(json.dumps(ccm.snapshot()))
    again = CcmEngine.restore(data, CODEC)
    assert again.snapshot() == ccm.snapshot()
    assert _script(again, 1) == _script(ccm, 1) != []
    with pytest.raises(SnapshotError):
        CcmEngine.restore({**data, "v": 2}, CODEC)
    with pytest.raises(SnapshotError):
        CcmEngine.restore({**data, "legs": [{"machine": {}}]}, CODEC)


# --- the session index against the resolver, its plain reference path ------------------------

_NUMBERS = ["+923001234567", "0300 1234567", "+923001234568", "anonymous", "7001", "null"]
_sessions = st.lists(
    st.builds(
        ChannelSession, id=st.sampled_from(["S1", "S2", "S3", "S4", "S5"]),
        conversation_id=st.sampled_from(["C1", "C2"]), customer_ani=st.sampled_from(_NUMBERS),
        dialog_id=st.sampled_from([None, "D0", "D1"]),
        channel_type=st.sampled_from(["CISCO_CC", "WEB"]),
        agents=st.frozensets(st.sampled_from(["A", "B"])),
    ),
    max_size=6, unique_by=lambda s: s.id,
)  # fmt: skip
_evidence = st.builds(
    ConsultEvidence, associated_dialog_uri=st.sampled_from([None, "", "/api/Dialog/D0", "D1",
                                                            "D9"]),
    channel_session_id=st.sampled_from([None, "S1", "S9", "null"]),
    customer_ani=st.sampled_from([None, *_NUMBERS]), agent_a=st.sampled_from([None, "A", "B"]),
)  # fmt: skip


@settings(max_examples=300)
@given(_sessions, _evidence, st.sampled_from([None, "PK"]))
def test_the_session_index_decides_exactly_as_the_resolver(
    sessions: list[ChannelSession], evidence: ConsultEvidence, region: str | None
) -> None:
    resolver = SessionResolver(default_region=region)
    index = SessionIndex(resolver)
    for s in sessions:
        index.add(s)

    def outcome(resolve: Any) -> Any:
        try:
            return resolve()
        except ConsultFsmError as exc:
            return type(exc), str(exc)

    assert outcome(lambda: index.resolve(evidence)) == outcome(
        lambda: resolver.resolve(evidence, sessions))  # fmt: skip
    for s in sessions[::2]:  # and after some sessions ended
        index.end(s.id)
    left = [s for s in sessions if s not in sessions[::2]]
    assert outcome(lambda: index.resolve(evidence)) == outcome(
        lambda: resolver.resolve(evidence, left))  # fmt: skip


# --- the composition, against the leg model ---------------------------------------------------


def test_the_composition_holds_every_promise_to_depth_5() -> None:
    report = explore_ccm(5)
    assert report.ok, report.violations[:3]
    assert report.states > 2_000
    # Every way into and out of the answering and ending waits is reached.
    assert {r for r in report.rows_covered if r.startswith(("answering--", "ending"))} >= {
        "answering--b_started", "answering--b_down", "answering--start_wait_timeout",
        "ending--b_ended", "ending--end_wait_timeout", "ending_unstarted--b_ended",
    }  # fmt: skip


def _walk(*actions: tuple[str, str | int | None], flow: str = "routed") -> Any:
    lines = [json.dumps({"action": "flow", "arg": flow})] if flow != "routed" else []
    lines += [json.dumps({"action": k, "arg": a}) for k, a in actions]
    return replay_actions(lines)


def test_the_composition_follows_a_consult_re_keyed_while_it_rings() -> None:
    """CVP re-keys B's alert: B's page, away while it rang on the temporary
    dialog, comes back to the surviving one; A's desk still names the first.
    Both desks' starts are one leg to the CCM: one start, then one end."""
    world = _walk(("away", "b"), ("cti", "alerting"), ("cti", "rekeyed"), ("back", "b"),
                  ("cti", "accepted"))  # fmt: skip
    legs = {m.leg for m in world.in_flight}
    assert legs == {"7001:1001:D1", "7002:1002:D2"}  # each desk's own leg string
    assert {m.call_id for m in world.in_flight} == {"D2"}
    done = world.settle()
    assert not done.problems() and not done.eventual_problems()
    assert [p.intent.value for p in done.published] == ["CALL_LEG_STARTED"]
    for kind, arg in (("cti", "dropped_by_b"),):
        done.apply(Action(kind, arg))
    done = done.settle()
    assert [p.intent.value for p in done.published] == ["CALL_LEG_STARTED", "CALL_LEG_ENDED"]
    assert not done.problems()


def test_the_composition_follows_a_queue_consult_offered_to_b() -> None:
    world = _walk(("cti", "offered"), ("cti", "accepted"), flow="queue")
    assert world.leg.facts.agent_b == "1002"
    done = world.settle()
    assert [(p.intent.value, p.source.value) for p in done.published] == [
        ("CALL_LEG_STARTED", "b")]  # fmt: skip
    assert not done.problems() and not done.eventual_problems()
    # The queue gives up before anyone answers: nothing is ever published.
    gave_up = _walk(("cti", "no_agent"), flow="queue").settle()
    assert gave_up.published == [] and not gave_up.eventual_problems()


@pytest.mark.slow
def test_the_composition_holds_at_the_default_depth() -> None:
    report: CcmReport = explore_ccm()
    assert report.ok, report.violations[:3]


def _broken(key: str, **changes: Any) -> tuple[Any, ...]:
    rows = tuple(attrs.evolve(r, **changes) if r.key == key else r for r in CCM_TABLE)
    assert rows != CCM_TABLE
    return rows


@pytest.mark.parametrize(
    ("rows", "finds"),
    [
        (_broken("talking--b_started", emits=(Emit(Intent.STARTED, Source.B),),
                 disposition=Disposition.APPLIED), "starts"),
        (_broken("ending--end_wait_timeout", emits=()), "publish"),
        (_broken("talking--b_ended", emits=(Emit(Intent.ENDED, Source.CCM),)), "on its own"),
        (_broken("answering--b_down", emits=()), "before the start"),
    ],
)  # fmt: skip
def test_a_broken_ccm_table_is_caught_with_a_replayable_counterexample(
    rows: tuple[Any, ...], finds: str
) -> None:
    report = explore_ccm(5, rows)
    assert not report.ok
    first = report.violations[0]
    assert finds in first.detail
    world = replay_actions(action_lines(first.path), rows)
    assert world.problems() or world.eventual_problems()
    assert not (replay_actions(action_lines(first.path)).problems())  # the real table is fine


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_case_publishes_what_its_ccm_column_says(case: Any) -> None:
    got, want = run_case_through_ccm(case)
    assert got == want


def test_the_ccm_page_s_example_runs() -> None:
    import doctest
    from pathlib import Path

    page = Path(__file__).resolve().parent.parent / "docs" / "ccm.md"
    failures, tried = doctest.testfile(str(page), module_relative=False)
    assert tried > 10 and failures == 0


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_long_random_walks_of_the_composition_keep_every_promise(data: st.DataObject) -> None:
    # Deeper than the exhaustive search, on the wire: every message goes to
    # the CCM as the JSON text a desk posts.
    from consultfsm.verify.ccm import World

    class OnTheWire(World):
        def _deliver(self, m: Any) -> None:
            self._publish(self.ccm.receive(self.codec.dumps(self.message(m)), self.now).published)

    world = OnTheWire()
    for _ in range(data.draw(st.integers(5, 40), label="steps")):
        actions = list(world.actions())
        action = data.draw(st.sampled_from(actions))
        world.apply(action)
        assert world.problems() == [], action
    assert world.eventual_problems() == []


@pytest.mark.slow  # about 30 s: one exploration per row
def test_every_publication_of_every_reachable_row_is_needed() -> None:
    # A mutation pass over the table: drop what one row publishes, and the
    # composition must notice. Rows no engine input reaches are listed apart.
    covered = explore_ccm(5).rows_covered
    survivors = []
    for row in CCM_TABLE:
        if not row.emits or row.key not in covered:
            continue
        rows = tuple(attrs.evolve(r, emits=()) if r is row else r for r in CCM_TABLE)
        if explore_ccm(5, rows).ok:
            survivors.append(row.key)
    assert survivors == []


@given(st.builds(ChannelSessionRef, st.text(max_size=4), st.text(max_size=4),
                 st.text(max_size=4), st.none() | st.text(max_size=4), st.booleans()))  # fmt: skip
def test_a_legs_session_is_written_as_attrs_writes_it(ref: ChannelSessionRef) -> None:
    # (written out by hand for speed: the same keys, in the same order)
    assert list(_session_dict(ref).items()) == list(attrs.asdict(ref).items())


# --- a region changed while sessions are on (reconfigure) --------------------------------


def _consult_session(engine: CcmEngine, dialog: str, ani: str, at: int) -> str:
    """The session a consult whose desk sends ``ani`` is published in."""
    codec = engine.codec
    text = codec.dumps(codec.agent_message(
        leg=f"7002:B:{dialog}", at=at, intent=MessageIntent.CALL_LEG_STARTED, agent="B",
        customer=ani, call_id=dialog, reason=None, consult_role="CONSULTED"))  # fmt: skip
    (published,) = engine.receive(text, at).published
    return published.event.channel_session.id


def test_a_consult_s_ani_is_read_in_the_region_of_now_whatever_a_session_read_before() -> None:
    """Was a defect (an adversarial review): the index answered an ANI's text
    from the reading of a session that spelt it the same way, in whatever
    region that session was read: after PK, GB, PK, a consult's
    ``03001234567`` meant GB's +44 number (an ended session of another
    customer), where ``0300 1234567`` meant PK's."""
    codec = CimCodec("8000")
    engine = CcmEngine(codec, resolver=SessionResolver("PK"))
    engine.start_session(ChannelSession("S1", "C1", "03001234567"), 0)
    engine.reconfigure(codec, SessionResolver("GB"))
    engine.start_session(ChannelSession("S2", "C2", "03001234567"), 1)
    engine.end_session("S2", 2)
    engine.reconfigure(codec, SessionResolver("PK"))
    assert _consult_session(engine, "D8", "0300 1234567", 3) == "S1"
    assert _consult_session(engine, "D9", "03001234567", 4) == "S1"


def test_an_ended_session_keeps_the_number_it_was_read_as() -> None:
    """Was a defect: a session's end read its ANI again, in the region of the
    moment: a session started in GB and ended after a change to PK was no
    longer found by its own number."""
    codec = CimCodec("8000")
    engine = CcmEngine(codec, resolver=SessionResolver("GB"))
    engine.start_session(ChannelSession("S2", "C2", "03001234567"), 0)
    engine.reconfigure(codec, SessionResolver("PK"))
    engine.end_session("S2", 1)
    assert _consult_session(engine, "D1", "+443001234567", 2) == "S2"
    with pytest.raises(CorrelationError):  # PK's reading of the text is another number
        _consult_session(engine, "D2", "03001234567", 3)


def test_a_snapshot_keeps_the_region_each_session_was_read_in() -> None:
    """Was a defect (an adversarial review's finding left open): a snapshot
    held no reading, so an engine restored after a change of region read
    every session's number again in the new one: a session started in PK as
    ``03001234567`` was no longer found by its own +92 number."""
    codec = CimCodec("8000")
    engine = CcmEngine(codec, resolver=SessionResolver("PK"))
    engine.start_session(ChannelSession("S1", "C1", "03001234567"), 0)
    engine.start_session(ChannelSession("S2", "C2", "03007654321"), 1)
    engine.end_session("S2", 2)
    engine.reconfigure(codec, SessionResolver("GB"))
    engine.start_session(ChannelSession("S3", "C3", "+923331112223"), 3)  # read in GB
    data = engine.snapshot()
    assert data["readings"] == {"S1": ["+923001234567", "PK"], "S2": ["+923007654321", "PK"]}
    again = CcmEngine.restore(data, codec, resolver=SessionResolver("GB"))
    assert again.snapshot() == data
    assert _consult_session(again, "D1", "+923001234567", 4) == "S1"
    assert _consult_session(again, "D2", "+923007654321", 5) == "S2"  # ended, as it was read
    with pytest.raises(CorrelationError):  # GB's reading of the text is another number
        _consult_session(again, "D3", "03001234567", 6)
    # Never reconfigured: nothing to say, the snapshot as it always was.
    plain = CcmEngine(codec, resolver=SessionResolver("PK"))
    plain.start_session(ChannelSession("S1", "C1", "03001234567"), 0)
    assert "readings" not in plain.snapshot()


@pytest.mark.parametrize(
    ("readings", "where"),
    [
        ({"S9": ["+923001234567", "PK"]}, "readings"),  # no such session
        ({"S1": ["03001234567", "PK"]}, "readings.S1"),  # not E.164
        ({"S1": ["+03001234567", "PK"]}, "readings.S1"),  # no country code starts with 0
        ({"S1": ["+92 300 1234567", "PK"]}, "readings.S1"),  # not as normalise_ani writes
        ({"S1": ["+923001234567"]}, "readings.S1"),
        ([], "readings"),
    ],
)
def test_a_snapshot_s_readings_are_checked(readings: Any, where: str) -> None:
    codec = CimCodec("8000")
    engine = CcmEngine(codec, resolver=SessionResolver("PK"))
    engine.start_session(ChannelSession("S1", "C1", "03001234567"), 0)
    data = {**engine.snapshot(), "readings": readings}
    with pytest.raises(SnapshotError) as caught:
        CcmEngine.restore(data, codec)
    assert caught.value.field == where


def test_a_snapshot_holding_a_number_that_normalises_to_another_restores() -> None:
    """Was a defect (an adversarial review): a reading was checked by
    normalising it again, and phonenumbers does not always give a number
    back: ``+43 00664 123456`` reads as ``+430664123456``, which reads as
    ``+43664123456``. The engine's own snapshot of such a session (after a
    change of region) could not be restored, nor could a durable CCM's rows
    of it (an UnreadableRows, for good)."""
    codec = CimCodec("8000")
    assert normalise_ani("+4300664123456") == "+430664123456"
    assert normalise_ani("+430664123456") != "+430664123456"  # (the premise)
    engine = CcmEngine(codec, resolver=SessionResolver("PK"))
    engine.start_session(ChannelSession("S1", "C1", "+4300664123456"), 0)
    engine.reconfigure(codec, SessionResolver("GB"))
    data = engine.snapshot()
    assert data["readings"] == {"S1": ["+430664123456", "PK"]}
    again = CcmEngine.restore(data, codec, resolver=SessionResolver("GB"))
    assert again.snapshot() == data
    assert _consult_session(again, "D1", "+4300664123456", 1) == "S1"


def test_a_consult_naming_an_ended_call_is_that_call_s_though_the_customer_called_back() -> None:
    """Was a defect (an adversarial review): the customer left while the
    consult rang and called back from the same number; B's start, naming the
    first call's dialog, was matched by ANI alone to the live callback and
    published in the other conversation. Stronger evidence comes first, live
    or ended; the same kind of evidence still prefers the live session."""
    codec = CimCodec("8000")
    engine = CcmEngine(codec)
    engine.start_session(ChannelSession("S1", "C1", "+923001234567", "D0"), 0)
    engine.end_session("S1", 1_000)
    engine.start_session(ChannelSession("S2", "C2", "+923001234567", "D5"), 1_500)

    def start(dialog: str, uri: str | None) -> Any:
        text = codec.dumps(codec.agent_message(
            leg=f"7002:B:{dialog}", at=2_000, intent=MessageIntent.CALL_LEG_STARTED, agent="B",
            customer="+923001234567", call_id=dialog, reason=None,
            associated_dialog_uri=uri))  # fmt: skip
        (published,) = engine.receive(text, 2_000).published
        return published.event.channel_session

    first = start("D1", "/finesse/api/Dialog/D0")
    assert (first.id, first.conversation_id, first.active) == ("S1", "C1", False)
    by_number = start("D2", None)  # the ANI alone: the live call
    assert (by_number.id, by_number.active) == ("S2", True)
    callback = start("D3", "/finesse/api/Dialog/D5")
    assert (callback.id, callback.active) == ("S2", True)


def test_a_session_id_is_used_once_while_its_end_is_remembered() -> None:
    """Was a defect (an adversarial review): S1 started, ended, started again
    for another customer and ended; the engine kept the first S1 as the ended
    one, and a late consult of the second call, naming S1, was published in
    the first customer's conversation. As on a durable store, the id is used
    once: its second start is refused, changing nothing."""
    codec = CimCodec("8000")
    engine = CcmEngine(codec, ended_session_ms=10_000)
    engine.start_session(ChannelSession("S1", "C1", "+923001234567"), 0)
    engine.end_session("S1", 100)
    before = engine.snapshot()
    with pytest.raises(CcmRefused) as caught:
        engine.start_session(ChannelSession("S1", "C2", "+923009999999"), 200)
    assert caught.value.field == "session" and "100 ms" in str(caught.value)
    assert engine.snapshot() == before
    # Once its end is forgotten (no consult can find it), the id is free.
    engine.start_session(ChannelSession("S1", "C2", "+923009999999"), 10_101)
    assert engine.sessions.get("S1") is not None


def test_stronger_evidence_naming_two_ended_calls_is_ambiguous_not_the_live_one() -> None:
    """Ambiguity never falls through to weaker evidence (a review of the
    change that put ended sessions named more strongly first)."""
    from consultfsm.ccm.correlation import AmbiguousSession

    codec = CimCodec("8000")
    engine = CcmEngine(codec)
    for n, at in ((1, 0), (2, 10)):
        engine.start_session(ChannelSession(f"S{n}", f"C{n}", f"+92300000000{n}", "D0"), at)
        engine.end_session(f"S{n}", at + 5)
    engine.start_session(ChannelSession("S3", "C3", "+923001234567", "D5"), 100)
    text = codec.dumps(codec.agent_message(
        leg="7002:B:D1", at=200, intent=MessageIntent.CALL_LEG_STARTED, agent="B",
        customer="+923001234567", call_id="D1", reason=None,
        associated_dialog_uri="/finesse/api/Dialog/D0"))  # fmt: skip
    before = engine.snapshot()
    with pytest.raises(AmbiguousSession):
        engine.receive(text, 200)
    assert engine.snapshot() == before


def test_a_hold_s_event_id_is_its_own_whether_reports_share_a_ms_or_an_id() -> None:
    """Two holds of one leg are two events with two ids: reports applied
    within one ms (a burst after a reconnect), and a desk's two hold reports
    under one id (keyed by the desk's own ms) applied at two times. (Each of
    the two rules alone, the time or the report's id, lost one.)"""
    codec = CimCodec("8000")
    engine = CcmEngine(codec)
    engine.start_session(ChannelSession("S1", "C1", "+923001234567"), 0)

    def report(intent: MessageIntent, desk_at: int, at: int) -> list[str]:
        text = codec.dumps(codec.agent_message(
            leg="7002:B:D1", at=desk_at, intent=intent, agent="B", customer="+923001234567",
            call_id="D1", reason=None))  # fmt: skip
        return [p.event.id for p in engine.receive(text, at).published]

    hold, resume = MessageIntent.CALL_HOLD, MessageIntent.CALL_RESUME
    ids = report(MessageIntent.CALL_LEG_STARTED, 10, 100)
    ids += report(hold, 20, 200) + report(resume, 30, 200) + report(hold, 40, 200)  # one CCM ms
    ids += report(resume, 45, 300)
    ids += report(hold, 50, 400) + report(resume, 50, 500) + report(hold, 50, 600)  # one id
    assert len(ids) == 8 and len(set(ids)) == 8


def test_a_message_built_in_code_with_an_id_utf8_cannot_encode_is_refused_changing_nothing() -> (
    None
):
    """A hold's event id now hashes its report's id: a message built in code
    with a lone surrogate there broke the engine after the leg had moved (a
    UnicodeEncodeError). Refused first (the text parser refuses it already)."""
    codec = CimCodec("8000")
    engine = CcmEngine(codec)
    engine.start_session(ChannelSession("S1", "C1", "+923001234567"), 0)

    def report(intent: MessageIntent, at: int) -> Any:
        return codec.agent_message(leg="7002:B:D1", at=at, intent=intent, agent="B",
                                   customer="+923001234567", call_id="D1", reason=None)  # fmt: skip

    engine.receive(report(MessageIntent.CALL_LEG_STARTED, 10), 100)
    hold = report(MessageIntent.CALL_HOLD, 20)
    before = engine.snapshot()
    with pytest.raises(CcmRefused) as caught:
        engine.receive(attrs.evolve(hold, id="h\udfff"), 200)
    assert caught.value.field == "id" and engine.snapshot() == before
