"""The table's rules, restated from the domain and checked in every state.

Each expectation below is written by hand from what the platform does (docs/
model.md, docs/cases.md): which report leads into which ending, that who
reports depends on B's desk and nothing else does, what a returning desk is
told. They are checked against legs put straight into each state, so they do
not depend on the paths the cases happen to take.
"""

from __future__ import annotations

import pytest

from consultfsm.core import events as ev
from consultfsm.core.errors import IllegalInput, InputRejected
from consultfsm.core.facts import LegConfig, LegFacts
from consultfsm.core.leg import Leg
from consultfsm.core.snapshot import LegSnapshot
from consultfsm.core.states import (
    INPUT_REGION,
    TIMER_OF_INPUT,
    CallState,
    CustomerState,
    DeskState,
    EndReason,
    InputKind,
    Region,
    Timer,
)
from consultfsm.core.step import Step
from consultfsm.core.table import Disposition, armed_in
from consultfsm.verify.scenarios import LEG_FACTS

I = InputKind  # noqa: E741
C = CallState
D = DeskState
DEADLINE = 1_000
CONFIG = LegConfig(queue_ttl_ms=DEADLINE)
VALUES = {I.OFFERED: "B", I.REKEYED: "D9"}


def leg_in(
    call: CallState, desk_a: DeskState = D.CONNECTED, desk_b: DeskState = D.CONNECTED,
    customer: CustomerState = CustomerState.PRESENT,
) -> Leg:  # fmt: skip
    """A leg put straight into a state (deadlines pending where the state arms them)."""

    def pending(timer: Timer, state: object) -> int | None:
        return DEADLINE if state in armed_in(timer) else None

    snap = LegSnapshot(
        LegFacts(**LEG_FACTS), call, desk_a, desk_b, customer,
        pending(Timer.RING, call), pending(Timer.QUEUE, call),
        pending(Timer.GRACE_A, desk_a), pending(Timer.GRACE_B, desk_b),
        0, None, (), CONFIG,
    )  # fmt: skip
    return Leg.restore(snap)


def outcome(leg: Leg, kind: InputKind, at: int = 500) -> Step | None:
    """The step, or None when the input is rejected (the leg then unchanged)."""
    before = leg.snapshot()
    try:
        return leg.handle(kind, at, VALUES.get(kind))
    except InputRejected:
        assert leg.snapshot() == before
        return None


CTI_REPORTS = [k for k in InputKind if INPUT_REGION[k] is Region.CALL and k not in TIMER_OF_INPUT]

#: Which CTI report leads into each ending (the same report again is a
#: duplicate there; every other report arrived late and is absorbed).
LEADS_INTO: dict[CallState, set[InputKind]] = {
    C.RONA: {I.RONA},
    C.CANCELLED_BY_A: {I.DROPPED_BY_A},
    C.DECLINED_BY_B: {I.DROPPED_BY_B},
    C.NO_AGENT: {I.NO_AGENT},
    C.FAILED: {I.FAILED},
    C.ENDED_BY_A: {I.DROPPED_BY_A},
    C.ENDED_BY_B: {I.DROPPED_BY_B},
    C.ENDED_FAILED: {I.FAILED},
    C.TRANSFERRED: {I.TRANSFERRED},
    C.CONFERENCED: {I.CONFERENCED},
}
NEVER_ANSWERED = {C.RONA, C.CANCELLED_BY_A, C.DECLINED_BY_B, C.NO_AGENT, C.FAILED}


@pytest.mark.parametrize("ending", list(LEADS_INTO), ids=str)
def test_in_an_ending_the_same_report_is_a_duplicate_and_any_other_is_late(
    ending: CallState,
) -> None:
    for kind in CTI_REPORTS:
        step = outcome(leg_in(ending), kind)
        if kind is I.ACCEPTED and ending in NEVER_ANSWERED:
            assert step is None, f"{ending}: B answering a call the CTI ended is rejected"
            continue
        assert step is not None and step.events == (), (ending, kind)
        want = Disposition.DUPLICATE if kind in LEADS_INTO[ending] else Disposition.ABSORBED
        assert step.disposition is want, (ending, kind)


#: Late CTI reports in live states: what came before the state the leg is in.
LATE_IN_LIVE = [
    (C.UNANSWERED, I.ALERTING), (C.ACCEPTED, I.ALERTING), (C.HELD, I.ALERTING),
    (C.HELD, I.ACCEPTED), (C.UNANSWERED, I.OFFERED), (C.ACCEPTED, I.OFFERED),
    (C.HELD, I.OFFERED),
]  # fmt: skip
AGAIN_IN_LIVE = [
    (C.RINGING, I.ALERTING), (C.RINGING, I.OFFERED), (C.ACCEPTED, I.ACCEPTED),
    (C.HELD, I.HELD), (C.ACCEPTED, I.RETRIEVED),
]  # fmt: skip


@pytest.mark.parametrize(("call", "kind"), LATE_IN_LIVE, ids=str)
def test_a_report_of_something_already_passed_is_late(call: CallState, kind: InputKind) -> None:
    step = outcome(leg_in(call), kind)
    assert step is not None and step.disposition is Disposition.ABSORBED and not step.events


@pytest.mark.parametrize(("call", "kind"), AGAIN_IN_LIVE, ids=str)
def test_the_report_that_led_here_again_is_a_duplicate(call: CallState, kind: InputKind) -> None:
    step = outcome(leg_in(call), kind)
    assert step is not None and step.disposition is Disposition.DUPLICATE and not step.events


#: Where each CTI report takes a live call (None: rejected there). Written from
#: the platform: nothing is answered, held or handed over before B answers; the
#: queue's own inputs only mean something while queued.
MOVES: dict[CallState, dict[InputKind, CallState | None]] = {
    C.INITIATED: {I.ALERTING: C.RINGING, I.ACCEPTED: C.ACCEPTED, I.RONA: C.RONA,
                  I.DROPPED_BY_A: C.CANCELLED_BY_A, I.DROPPED_BY_B: C.DECLINED_BY_B,
                  I.FAILED: C.FAILED, I.OFFERED: None, I.NO_AGENT: None, I.HELD: None,
                  I.RETRIEVED: None, I.TRANSFERRED: None, I.CONFERENCED: None},
    C.QUEUED: {I.OFFERED: C.RINGING, I.NO_AGENT: C.NO_AGENT, I.DROPPED_BY_A: C.CANCELLED_BY_A,
               I.FAILED: C.FAILED, I.ALERTING: None, I.ACCEPTED: None, I.RONA: None,
               I.DROPPED_BY_B: None, I.HELD: None, I.RETRIEVED: None, I.TRANSFERRED: None,
               I.CONFERENCED: None},
    C.RINGING: {I.ACCEPTED: C.ACCEPTED, I.RONA: C.RONA, I.DROPPED_BY_A: C.CANCELLED_BY_A,
                I.DROPPED_BY_B: C.DECLINED_BY_B, I.FAILED: C.FAILED, I.NO_AGENT: None,
                I.HELD: None, I.RETRIEVED: None, I.TRANSFERRED: None, I.CONFERENCED: None},
    C.UNANSWERED: {I.ACCEPTED: C.ACCEPTED, I.RONA: C.RONA, I.DROPPED_BY_A: C.CANCELLED_BY_A,
                   I.DROPPED_BY_B: C.DECLINED_BY_B, I.FAILED: C.FAILED, I.NO_AGENT: None,
                   I.HELD: None, I.RETRIEVED: None, I.TRANSFERRED: None, I.CONFERENCED: None},
    C.ACCEPTED: {I.HELD: C.HELD, I.DROPPED_BY_A: C.ENDED_BY_A, I.DROPPED_BY_B: C.ENDED_BY_B,
                 I.FAILED: C.ENDED_FAILED, I.TRANSFERRED: C.TRANSFERRED,
                 I.CONFERENCED: C.CONFERENCED, I.RONA: None, I.NO_AGENT: None},
    C.HELD: {I.RETRIEVED: C.ACCEPTED, I.DROPPED_BY_A: C.ENDED_BY_A, I.DROPPED_BY_B: C.ENDED_BY_B,
             I.FAILED: C.ENDED_FAILED, I.TRANSFERRED: C.TRANSFERRED,
             I.CONFERENCED: C.CONFERENCED, I.RONA: None, I.NO_AGENT: None},
}  # fmt: skip
PUBLICATIONS = (ev.CallLegStarted, ev.CallLegEnded, ev.CallHeld, ev.CallResumed)


@pytest.mark.parametrize("call", list(MOVES), ids=str)
def test_a_live_consult_goes_on_under_a_new_dialog_id_in_every_state(call: CallState) -> None:
    # CVP replaces a temporary dialog at any stage, and a transfer or
    # conference keeps the consult's id for good: nothing else changes.
    leg = leg_in(call)
    old = leg.facts.call_id
    step = outcome(leg, I.REKEYED)
    assert step is not None and step.applied and step.events == (), call
    assert leg.call is call and leg.facts.call_id == VALUES[I.REKEYED], call
    assert leg.call_ids == (old, VALUES[I.REKEYED]), call
    late = outcome(leg, I.REKEYED, 600)
    assert late is not None and late.disposition is Disposition.DUPLICATE


@pytest.mark.parametrize("call", list(MOVES), ids=str)
@pytest.mark.parametrize("desk_b", [D.CONNECTED, D.RESTORED, D.DISCONNECTED, D.LOST], ids=str)
def test_b_s_desk_decides_who_reports_and_nothing_else(call: CallState, desk_b: DeskState) -> None:
    online = desk_b in (D.CONNECTED, D.RESTORED)
    for kind, target in MOVES[call].items():
        leg = leg_in(call, desk_b=desk_b)
        step = outcome(leg, kind)
        if target is None:
            assert step is None, (call, kind, desk_b)
            continue
        assert step is not None and step.applied, (call, kind, desk_b)
        assert leg.call is target and leg.desk_b is desk_b, (call, kind, desk_b)
        for e in step.events:
            if isinstance(e, PUBLICATIONS):
                want = ev.Reporter.AGENTDESK if online else ev.Reporter.CCM
                assert e.reported_by is want, (call, kind, desk_b)
        cim = [e for e in step.events if e.to is ev.Consumer.CCM]
        desk = [e for e in step.events if e.to is ev.Consumer.AGENTDESK_B]
        if not online:  # an offline desk sends nothing and is shown nothing
            assert cim == [] and desk == [], (call, kind, desk_b)
        else:
            published = [e for e in step.events if isinstance(e, PUBLICATIONS)]
            assert len(cim) == len(published), (call, kind)


#: What B's desk is told on coming back, by call state (the desk shows what it
#: showed before it went away, or nothing after a page load).
B_TOLD: dict[CallState, list[str]] = {
    C.INITIATED: [], C.QUEUED: [], C.RINGING: ["alert_restored"],
    C.UNANSWERED: ["alert_removed(rona)"], C.ACCEPTED: ["consult_restored"],
    C.HELD: ["consult_restored"], C.RONA: ["alert_removed(rona)"],
    C.CANCELLED_BY_A: ["alert_removed(dropped_by_a)"],
    C.DECLINED_BY_B: ["alert_removed(dropped_by_b)"], C.NO_AGENT: ["alert_removed(no_agent)"],
    C.FAILED: ["alert_removed(failed)"], C.ENDED_BY_A: ["consult_ended(dropped_by_a)"],
    C.ENDED_BY_B: ["consult_ended(dropped_by_b)"], C.ENDED_FAILED: ["consult_ended(failed)"],
    C.TRANSFERRED: ["consult_ended(transferred)"], C.CONFERENCED: ["consult_ended(conferenced)"],
}  # fmt: skip
#: The same for A's desk: the consult still rings until the CTI says otherwise.
A_TOLD: dict[CallState, list[str]] = {
    **{s: ["consult_still_ringing"] for s in (C.INITIATED, C.QUEUED, C.RINGING, C.UNANSWERED)},
    C.ACCEPTED: ["rejoin_conversation"], C.HELD: ["rejoin_conversation"],
    **{s: [f"consult_ended({r})"] for s, r in (
        (C.RONA, "rona"), (C.CANCELLED_BY_A, "dropped_by_a"), (C.DECLINED_BY_B, "dropped_by_b"),
        (C.NO_AGENT, "no_agent"), (C.FAILED, "failed"), (C.ENDED_BY_A, "dropped_by_a"),
        (C.ENDED_BY_B, "dropped_by_b"), (C.ENDED_FAILED, "failed"),
        (C.TRANSFERRED, "transferred"), (C.CONFERENCED, "conferenced"))},
}  # fmt: skip


def _told(step: Step | None, to: ev.Consumer) -> list[str]:
    assert step is not None and step.applied
    return [ev.label(e) for e in step.events if e.to is to]


@pytest.mark.parametrize("call", list(B_TOLD), ids=str)
def test_a_desk_that_comes_back_is_told_where_the_consult_stands(call: CallState) -> None:
    b = leg_in(call, desk_b=D.DISCONNECTED)
    assert _told(outcome(b, I.BROWSER_RESTORED_B), ev.Consumer.AGENTDESK_B) == B_TOLD[call]
    assert b.desk_b is D.RESTORED and b.call is call
    a = leg_in(call, desk_a=D.DISCONNECTED)
    assert _told(outcome(a, I.BROWSER_RESTORED_A), ev.Consumer.AGENTDESK_A) == A_TOLD[call]
    assert a.desk_a is D.RESTORED
    live = call in MOVES
    for region, kind in ((D.LOST, I.BROWSER_RESTORED_B), (D.LOST, I.BROWSER_RESTORED_A)):
        lost = (
            leg_in(call, desk_b=region)
            if kind is I.BROWSER_RESTORED_B
            else leg_in(call, desk_a=region)
        )
        step = outcome(lost, kind)
        # A desk past its grace window is still welcome while the call lives;
        # after the end the leg has stopped waiting for it.
        assert step is not None
        assert step.disposition is (Disposition.APPLIED if live else Disposition.ABSORBED)
        if live:  # and it is told the same as a desk back within the window
            to = (
                ev.Consumer.AGENTDESK_B if kind is I.BROWSER_RESTORED_B else ev.Consumer.AGENTDESK_A
            )
            told = B_TOLD if kind is I.BROWSER_RESTORED_B else A_TOLD
            assert _told(step, to) == told[call], (call, kind)


@pytest.mark.parametrize("call", [C.ACCEPTED, C.ENDED_BY_A, C.RONA], ids=str)
@pytest.mark.parametrize("side", ["a", "b"])
def test_presence_after_the_end_is_late_and_before_it_moves_the_desk(
    call: CallState, side: str
) -> None:
    live = call is C.ACCEPTED
    gone = {"a": (I.BROWSER_DISCONNECTED_A, I.LOGGED_OUT_A),
            "b": (I.BROWSER_DISCONNECTED_B, I.LOGGED_OUT_B)}[side]  # fmt: skip
    grace = Timer.GRACE_A if side == "a" else Timer.GRACE_B
    # A browser that goes away is waited for (its grace window); one that
    # Finesse logged out is not: it is lost, whichever way it was up before.
    after = dict(zip(gone, (D.DISCONNECTED, D.LOST), strict=True))
    for up in (D.CONNECTED, D.RESTORED):
        for kind in gone:
            leg = leg_in(call, **{f"desk_{side}": up})  # type: ignore[arg-type]
            step = outcome(leg, kind)
            assert step is not None, (call, up, kind)
            assert step.disposition is (Disposition.APPLIED if live else Disposition.ABSORBED)
            desk = getattr(leg, f"desk_{side}")
            assert desk is (after[kind] if live else up), (call, up, kind)
            waits = live and after[kind] is D.DISCONNECTED
            assert (leg.deadline(grace) is not None) == waits, (call, up, kind)
            assert [type(e) for e in step.events] == ([ev.TimerStarted] if waits else [])
    if live:  # away, then logged out: no longer waited for
        leg = leg_in(call, **{f"desk_{side}": D.DISCONNECTED})  # type: ignore[arg-type]
        step = outcome(leg, gone[1])
        assert step is not None and getattr(leg, f"desk_{side}") is D.LOST
        assert leg.deadline(grace) is None
        assert [type(e) for e in step.events] == [ev.TimerCancelled]
    for kind in gone:  # a desk already lost: the same news again
        step = outcome(leg_in(call, **{f"desk_{side}": D.LOST}), kind)  # type: ignore[arg-type]
        assert step is not None and step.disposition is Disposition.DUPLICATE


#: A desk's presence during a live consult, per (desk state, what happened):
#: where the desk goes and how the news counts. From the platform: a browser
#: that goes away is waited for; Finesse logging the agent out ends the wait;
#: a page that comes back is back, from either; the same news again is a
#: duplicate; a return that nothing preceded is a contradiction (None).
PRESENCE: dict[tuple[DeskState, str], tuple[DeskState, Disposition] | None] = {
    (D.CONNECTED, "away"): (D.DISCONNECTED, Disposition.APPLIED),
    (D.CONNECTED, "logout"): (D.LOST, Disposition.APPLIED),
    (D.CONNECTED, "back"): None,
    (D.RESTORED, "away"): (D.DISCONNECTED, Disposition.APPLIED),
    (D.RESTORED, "logout"): (D.LOST, Disposition.APPLIED),
    (D.RESTORED, "back"): (D.RESTORED, Disposition.DUPLICATE),
    (D.DISCONNECTED, "away"): (D.DISCONNECTED, Disposition.DUPLICATE),
    (D.DISCONNECTED, "logout"): (D.LOST, Disposition.APPLIED),
    (D.DISCONNECTED, "back"): (D.RESTORED, Disposition.APPLIED),
    (D.LOST, "away"): (D.LOST, Disposition.DUPLICATE),
    (D.LOST, "logout"): (D.LOST, Disposition.DUPLICATE),
    (D.LOST, "back"): (D.RESTORED, Disposition.APPLIED),
}  # fmt: skip
_PRESENCE_INPUT = {
    "a": {"away": I.BROWSER_DISCONNECTED_A, "logout": I.LOGGED_OUT_A, "back": I.BROWSER_RESTORED_A},
    "b": {"away": I.BROWSER_DISCONNECTED_B, "logout": I.LOGGED_OUT_B, "back": I.BROWSER_RESTORED_B},
}


@pytest.mark.parametrize("call", list(MOVES), ids=str)
@pytest.mark.parametrize("side", ["a", "b"])
def test_a_desk_s_presence_moves_it_where_the_platform_says(call: CallState, side: str) -> None:
    grace = Timer.GRACE_A if side == "a" else Timer.GRACE_B
    for (desk, news), expected in PRESENCE.items():
        leg = leg_in(call, **{f"desk_{side}": desk})  # type: ignore[arg-type]
        step = outcome(leg, _PRESENCE_INPUT[side][news])
        if expected is None:
            assert step is None, (call, desk, news)
            continue
        target, disposition = expected
        assert step is not None and step.disposition is disposition, (call, desk, news)
        assert getattr(leg, f"desk_{side}") is target, (call, desk, news)
        # Only a desk that is away (not lost) is waited for.
        assert (leg.deadline(grace) is not None) == (target is D.DISCONNECTED), (call, desk, news)


@pytest.mark.parametrize("call", list(LEADS_INTO), ids=str)
@pytest.mark.parametrize("side", ["a", "b"])
def test_a_desk_that_never_left_coming_back_after_the_end_is_late_news(
    call: CallState, side: str
) -> None:
    # After the end, a "back" from a desk that was never away (a re-delivered
    # event) is no contradiction worth refusing: nothing is left to decide.
    leg = leg_in(call)
    step = outcome(leg, _PRESENCE_INPUT[side]["back"])
    assert step is not None and step.disposition is Disposition.ABSORBED, call
    assert getattr(leg, f"desk_{side}") is D.CONNECTED and step.events == ()


@pytest.mark.parametrize("call", [*MOVES, *LEADS_INTO], ids=str)
def test_the_customer_leaves_in_every_call_state_and_the_call_stays(call: CallState) -> None:
    leg = leg_in(call)
    step = outcome(leg, I.CUSTOMER_LEFT)
    assert step is not None and step.applied
    assert leg.customer is CustomerState.LEFT and leg.call is call
    told = [ev.label(e) for e in step.events]
    shown = call in (C.RINGING, C.ACCEPTED, C.HELD)  # B's desk shows the consult
    assert told == (["customer_left"] if shown else [])
    again = outcome(leg, I.CUSTOMER_LEFT, 600)
    assert again is not None and again.disposition is Disposition.DUPLICATE


def test_an_answered_leg_reported_as_unanswered_is_a_contradiction() -> None:
    for call in (C.ACCEPTED, C.HELD):
        leg = leg_in(call)
        with pytest.raises(IllegalInput):
            leg.handle(I.RONA, 500)


def _reason(label: str) -> EndReason:
    return EndReason(label[label.index("(") + 1 : -1])


@pytest.mark.parametrize("call", list(LEADS_INTO), ids=str)
def test_both_returning_desks_are_told_the_same_reason(call: CallState) -> None:
    # Whichever desk was away when the consult ended learns the same why.
    (b_told,) = _told(outcome(leg_in(call, desk_b=D.DISCONNECTED), I.BROWSER_RESTORED_B),
                      ev.Consumer.AGENTDESK_B)  # fmt: skip
    (a_told,) = _told(outcome(leg_in(call, desk_a=D.DISCONNECTED), I.BROWSER_RESTORED_A),
                      ev.Consumer.AGENTDESK_A)  # fmt: skip
    assert _reason(b_told) is _reason(a_told)


@pytest.mark.parametrize("call", sorted(NEVER_ANSWERED - {C.NO_AGENT}), ids=str)
def test_a_returning_desk_is_told_what_it_would_have_seen_live(call: CallState) -> None:
    # B's desk, up when the ringing consult ended, has its alert removed with
    # a reason; away then and back later, it is told the same thing.
    there = leg_in(C.RINGING)
    (report,) = LEADS_INTO[call]
    live = _told(outcome(there, report), ev.Consumer.AGENTDESK_B)
    assert there.state.call is call and len(live) == 1
    away = leg_in(call, desk_b=D.DISCONNECTED)
    assert _told(outcome(away, I.BROWSER_RESTORED_B), ev.Consumer.AGENTDESK_B) == live
