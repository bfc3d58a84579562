"""The real platform's flows (issue 11, items 1-10), pinned by hand.

Every expectation here is written from the domain (docs/cases.md, "The real
platform's flows"), not read back from the table: which events each consumer
gets, in which state the leg ends up, and whether an input was applied, a
duplicate, absorbed or rejected. Items 1-3 are the rules the design note's
model got wrong; each has a test that fails on the old table.
"""

from __future__ import annotations

import pytest
from helpers import new_leg, unchanged
from hypothesis import given
from hypothesis import strategies as st

from consultfsm.core import events as ev
from consultfsm.core.errors import ConfigError, IllegalInput, InputRejected, InvalidLeg
from consultfsm.core.facts import DIRECT_CONFIG, LegConfig
from consultfsm.core.leg import Leg
from consultfsm.core.snapshot import LegSnapshot
from consultfsm.core.states import (
    CallState,
    CimReason,
    CustomerState,
    DeskState,
    EndReason,
    InputKind,
    TaskDirection,
    Timer,
)
from consultfsm.core.step import STALE, Step
from consultfsm.core.table import Disposition
from consultfsm.verify.scenarios import LEG_FACTS

I = InputKind  # noqa: E741
C = CallState
APPLIED, DUPLICATE, ABSORBED = Disposition.APPLIED, Disposition.DUPLICATE, Disposition.ABSORBED
RING = 15_000  # the default ring window; the alert at 200 makes it due at 15,200


def call(leg: Leg) -> CallState:
    """The call state now (a call, so that no earlier assertion narrows it)."""
    return leg.call


def kinds(step: Step) -> list[type[ev.Event]]:
    """The event classes of a step, timers left out (they are the host's)."""
    return [type(e) for e in step.events if e.to is not ev.Consumer.HOST]


def of(step: Step, cls: type[ev.Event]) -> ev.Event:
    (event,) = (e for e in step.events if isinstance(e, cls))
    return event


def ringing(**changes: object) -> Leg:
    leg = new_leg(**changes)
    leg.handle(I.ALERTING, 200)
    return leg


def answered(**changes: object) -> Leg:
    leg = ringing(**changes)
    leg.handle(I.ACCEPTED, 2_000)
    return leg


def queued(ttl: int | None = 60_000) -> Leg:
    facts = {k: v for k, v in LEG_FACTS.items() if k != "agent_b"}
    return Leg.queue_consult(**facts, config=LegConfig(queue_ttl_ms=ttl), created_at=100)


STARTED_BY_DESK = [ev.CimCallLegStarted, ev.CallLegStarted, ev.TaskCreated, ev.TaskAssigned]
STARTED_BY_CCM = [ev.CallLegStarted, ev.TaskCreated, ev.TaskAssigned]


# --- 1. a real answer is never lost -------------------------------------------------------


def test_an_answer_150_ms_after_the_ring_deadline_starts_the_leg() -> None:
    leg = ringing()
    (fired,) = leg.handle_timers(200 + RING)
    assert kinds(fired) == [ev.AlertRemoved]
    assert of(fired, ev.AlertRemoved).reason is EndReason.RONA  # type: ignore[attr-defined]
    assert call(leg) is C.UNANSWERED and not leg.is_finished
    step = leg.handle(I.ACCEPTED, 200 + RING + 150)
    assert step.disposition is APPLIED
    # B's desk shows the call again and reports it, as on any answer.
    assert kinds(step) == [ev.ConsultAnswered, *STARTED_BY_DESK]
    assert call(leg) is C.ACCEPTED
    again = leg.handle(I.ACCEPTED, 200 + RING + 151)  # the second desk's copy
    assert again.disposition is DUPLICATE and again.events == ()


def test_a_busy_host_that_fires_the_deadline_late_still_starts_the_leg() -> None:
    # The answer came in at 15,300; the host only gets to its timers then.
    leg = ringing()
    fired = leg.handle_timers(15_300)
    assert [s.row.input for s in fired if s.row] == [I.RING_TIMEOUT]
    step = leg.handle(I.ACCEPTED, 15_300)
    assert step.applied and sum(isinstance(e, ev.CallLegStarted) for e in step.events) == 1


def test_a_late_answer_while_b_s_desk_is_away_is_published_by_the_ccm() -> None:
    leg = ringing()
    leg.handle(I.BROWSER_DISCONNECTED_B, 1_000)
    leg.handle(I.RING_TIMEOUT, 200 + RING)
    step = leg.handle(I.ACCEPTED, 200 + RING + 10)
    assert kinds(step) == STARTED_BY_CCM
    assert of(step, ev.CallLegStarted).reported_by is ev.Reporter.CCM  # type: ignore[attr-defined]


def test_the_ctis_rona_after_the_deadline_ends_the_leg_and_an_answer_then_is_rejected() -> None:
    leg = ringing()
    leg.handle(I.RING_TIMEOUT, 200 + RING)
    rona = leg.handle(I.RONA, 200 + RING + 40)
    assert rona.disposition is APPLIED and rona.events == ()  # the alert is gone already
    assert call(leg) is C.RONA and leg.is_finished
    with unchanged(leg), pytest.raises(IllegalInput):
        leg.handle(I.ACCEPTED, 200 + RING + 100)  # the CTI contradicting itself


@given(
    ring=st.integers(1, 30_000),
    gap=st.integers(0, 120_000),
    desk_b_away=st.booleans(),
)
def test_whatever_the_timers_an_answer_starts_the_leg_exactly_once(
    ring: int, gap: int, desk_b_away: bool
) -> None:
    leg = new_leg(config=LegConfig(ring_ms=ring, grace_ms=10_000))
    events = list(leg.handle(I.ALERTING, 0).events)
    if desk_b_away:
        events += leg.handle(I.BROWSER_DISCONNECTED_B, 0).events
    for step in leg.handle_timers(gap):  # any deadlines, fired on time
        events += step.events
    events += leg.handle(I.ACCEPTED, gap).events
    assert call(leg) is C.ACCEPTED
    assert sum(isinstance(e, ev.CallLegStarted) for e in events) == 1
    assert sum(isinstance(e, ev.TaskCreated) for e in events) == 1


# --- 2. direct consults have no RONA -------------------------------------------------------


def test_a_direct_consult_rings_until_someone_acts() -> None:
    leg = new_leg(config=DIRECT_CONFIG)
    alert = leg.handle(I.ALERTING, 200)
    assert [type(e) for e in alert.events] == [ev.AlertShown]  # no timer at all
    assert leg.next_deadline is None and leg.handle_timers(10**9) == ()
    assert call(leg) is C.RINGING
    cancelled = leg.handle(I.DROPPED_BY_A, 50_000)
    assert [type(e) for e in cancelled.events] == [ev.AlertRemoved]  # nothing to disarm
    assert call(leg) is C.CANCELLED_BY_A


def test_a_direct_consult_answered_after_a_minute_starts_normally() -> None:
    leg = new_leg(config=DIRECT_CONFIG)
    leg.handle(I.ALERTING, 200)
    step = leg.handle(I.ACCEPTED, 60_200)
    assert [type(e) for e in step.events] == [ev.AlertRemoved, *STARTED_BY_DESK]
    assert Leg.restore(LegSnapshot.from_dict(leg.snapshot().to_dict())).snapshot() == (
        leg.snapshot()
    )


@pytest.mark.parametrize("bad", [0, -1, 1.5, "15000", True])
def test_a_ring_window_is_positive_ms_or_none(bad: object) -> None:
    with pytest.raises(ConfigError) as info:
        LegConfig(ring_ms=bad)  # type: ignore[arg-type]
    assert info.value.field == "ring_ms"


# --- 3. the customer hanging up does not end the consult -----------------------------------


def test_the_customer_leaving_mid_consult_leaves_the_consult_on() -> None:
    leg = answered()
    step = leg.handle(I.CUSTOMER_LEFT, 9_000)
    assert step.disposition is APPLIED
    assert kinds(step) == [ev.CustomerLeftConsult]  # B is told; nothing ends, no task closes
    assert call(leg) is C.ACCEPTED and leg.customer is CustomerState.LEFT
    assert leg.handle(I.CUSTOMER_LEFT, 9_001).disposition is DUPLICATE
    end = leg.handle(I.DROPPED_BY_B, 30_000)
    assert kinds(end) == [ev.CimCallLegEnded, ev.CallLegEnded, ev.TaskClosed]
    assert of(end, ev.CallLegEnded).reason is CimReason.CONSULT_ENDED  # type: ignore[attr-defined]


def test_the_customer_leaving_while_b_rings_leaves_the_alert_up() -> None:
    leg = ringing()
    step = leg.handle(I.CUSTOMER_LEFT, 3_000)
    assert kinds(step) == [ev.CustomerLeftConsult]  # no alert_removed: B's phone rings on
    assert call(leg) is C.RINGING and leg.deadline(Timer.RING) == 200 + RING
    assert kinds(leg.handle(I.ACCEPTED, 5_000)) == [ev.AlertRemoved, *STARTED_BY_DESK]


def test_b_s_desk_away_or_not_yet_alerted_is_not_told_that_the_customer_left() -> None:
    away = answered()
    away.handle(I.BROWSER_DISCONNECTED_B, 5_000)
    assert away.handle(I.CUSTOMER_LEFT, 6_000).events == ()
    early = new_leg()
    assert early.handle(I.CUSTOMER_LEFT, 10).events == ()
    assert early.customer is CustomerState.LEFT and call(early) is C.INITIATED


@pytest.mark.parametrize("held", [False, True], ids=["talking", "held"])
@pytest.mark.parametrize("desk_b_away", [False, True])
@pytest.mark.parametrize("kind", [I.TRANSFERRED, I.CONFERENCED])
def test_no_transfer_or_conference_of_a_customer_who_left(
    kind: InputKind, desk_b_away: bool, held: bool
) -> None:
    # There is no customer's call left to hand to B or to join B into.
    leg = answered()
    if held:
        leg.handle(I.HELD, 3_000)
    if desk_b_away:
        leg.handle(I.BROWSER_DISCONNECTED_B, 4_000)
    leg.handle(I.CUSTOMER_LEFT, 5_000)
    with unchanged(leg), pytest.raises(IllegalInput):
        leg.handle(kind, 6_000)


# --- 4 and 5. consult -> transfer, consult -> conference ------------------------------------


@pytest.mark.parametrize(
    ("kind", "state", "reason", "direction"),
    [
        (I.TRANSFERRED, C.TRANSFERRED, CimReason.CONSULT_TRANSFER, TaskDirection.CONSULT_TRANSFER),
        (
            I.CONFERENCED,
            C.CONFERENCED,
            CimReason.CONSULT_CONFERENCE,
            TaskDirection.CONSULT_CONFERENCE,
        ),
    ],
)
@pytest.mark.parametrize("held", [False, True])
def test_a_transfer_or_conference_ends_the_leg_and_keeps_b_s_task(
    kind: InputKind, state: CallState, reason: CimReason, direction: TaskDirection, held: bool
) -> None:
    leg = answered()
    if held:
        leg.handle(I.HELD, 5_000)
    step = leg.handle(kind, 20_000)
    assert kinds(step) == [ev.CimCallLegEnded, ev.CallLegEnded, ev.TaskConverted]
    assert of(step, ev.CimCallLegEnded).reason is reason  # type: ignore[attr-defined]
    assert of(step, ev.CallLegEnded).reason is reason  # type: ignore[attr-defined]
    assert of(step, ev.TaskConverted).direction is direction  # type: ignore[attr-defined]
    assert call(leg) is state and leg.is_finished
    assert leg.handle(kind, 20_001).disposition is DUPLICATE
    late = leg.handle(I.DROPPED_BY_A, 20_002)  # A's side of the transfer, reported after
    assert late.disposition is ABSORBED and late.events == ()


def test_a_transfer_while_b_s_desk_is_away_is_reported_by_the_ccm() -> None:
    leg = answered()
    leg.handle(I.BROWSER_DISCONNECTED_B, 10_000)
    step = leg.handle(I.TRANSFERRED, 12_000)
    assert kinds(step) == [ev.CallLegEnded, ev.TaskConverted]
    back = leg.handle(I.BROWSER_RESTORED_B, 15_000)
    assert kinds(back) == [ev.ConsultEndedForB]
    assert of(back, ev.ConsultEndedForB).reason is EndReason.TRANSFERRED  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", [I.TRANSFERRED, I.CONFERENCED, I.HELD, I.RETRIEVED])
def test_nothing_is_transferred_conferenced_or_held_before_b_answers(kind: InputKind) -> None:
    leg = ringing()
    with unchanged(leg), pytest.raises(IllegalInput):
        leg.handle(kind, 1_000)


# --- 6. hold and retrieve ----------------------------------------------------------------


def test_hold_and_retrieve_are_never_an_end() -> None:
    leg = answered()
    hold = leg.handle(I.HELD, 5_000)
    assert kinds(hold) == [ev.CimCallHold, ev.CallHeld] and call(leg) is C.HELD
    assert leg.handle(I.HELD, 5_001).disposition is DUPLICATE
    resume = leg.handle(I.RETRIEVED, 8_000)
    assert kinds(resume) == [ev.CimCallResume, ev.CallResumed] and call(leg) is C.ACCEPTED
    assert leg.handle(I.RETRIEVED, 8_001).disposition is DUPLICATE
    again = leg.handle(I.HELD, 9_000)
    assert kinds(again) == [ev.CimCallHold, ev.CallHeld]
    end = leg.handle(I.DROPPED_BY_A, 10_000)  # ends from held: once
    assert kinds(end) == [ev.CimCallLegEnded, ev.CallLegEnded, ev.TaskClosed]


def test_a_hold_while_b_s_desk_is_away_is_published_by_the_ccm() -> None:
    leg = answered()
    leg.handle(I.BROWSER_DISCONNECTED_B, 3_000)
    step = leg.handle(I.HELD, 4_000)
    assert kinds(step) == [ev.CallHeld]
    assert of(step, ev.CallHeld).reported_by is ev.Reporter.CCM  # type: ignore[attr-defined]


# --- 7. dialog id re-keying ----------------------------------------------------------------


def test_a_leg_goes_on_under_a_new_dialog_id_and_remembers_the_old_one() -> None:
    leg = ringing()
    step = leg.handle(I.REKEYED, 201, "D3")
    assert step.disposition is APPLIED and step.events == () and call(leg) is C.RINGING
    assert leg.facts.call_id == "D3" and leg.call_ids == ("D2", "D3")
    assert leg.handle(I.REKEYED, 202, "D3").disposition is DUPLICATE
    assert leg.handle(I.REKEYED, 203, "D2").disposition is ABSORBED  # late, about the old id
    assert leg.call_ids == ("D2", "D3")
    started = leg.handle(I.ACCEPTED, 4_000)
    assert of(started, ev.CimCallLegStarted).call_id == "D3"  # type: ignore[attr-defined]
    restored = Leg.restore(LegSnapshot.from_dict(leg.snapshot().to_dict()))
    assert restored.call_ids == ("D2", "D3")
    leg.handle(I.DROPPED_BY_A, 9_000)
    assert leg.handle(I.REKEYED, 9_001, "D7").disposition is ABSORBED


@pytest.mark.parametrize(
    ("value", "error"), [(None, IllegalInput), ("", InvalidLeg), (7, InvalidLeg)]
)
def test_a_rekeying_needs_a_dialog_id(value: object, error: type[Exception]) -> None:
    leg = ringing()
    with unchanged(leg), pytest.raises(error):
        leg.handle(I.REKEYED, 300, value)  # type: ignore[arg-type]


def test_only_inputs_that_carry_a_value_take_one() -> None:
    leg = ringing()
    with unchanged(leg), pytest.raises(IllegalInput, match="carries no value"):
        leg.handle(I.ACCEPTED, 300, "B")


# --- 8. queue consults ---------------------------------------------------------------------


def test_a_queue_consult_waits_without_an_agent_until_one_is_offered() -> None:
    leg = queued()
    assert call(leg) is C.QUEUED and leg.facts.agent_b is None
    assert leg.next_deadline == (Timer.QUEUE, 100 + 60_000)  # its time to live
    for kind in (I.ALERTING, I.ACCEPTED, I.RONA, I.DROPPED_BY_B):  # no agent to do them
        with unchanged(leg), pytest.raises(IllegalInput):
            leg.handle(kind, 500)
    step = leg.handle(I.OFFERED, 900, "B")
    assert [type(e) for e in step.events] == [ev.TimerCancelled, ev.AlertShown, ev.TimerStarted]
    assert of(step, ev.TimerStarted).timer is Timer.RING  # type: ignore[attr-defined]
    assert leg.facts.agent_b == "B" and call(leg) is C.RINGING
    assert leg.handle(I.OFFERED, 901, "B").disposition is DUPLICATE
    with unchanged(leg), pytest.raises(IllegalInput, match="offered to 'B'"):
        leg.handle(I.OFFERED, 902, "C")
    started = leg.handle(I.ACCEPTED, 3_000)
    assert of(started, ev.CallLegStarted).agent == "B"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kind", "end"),
    [(I.NO_AGENT, C.NO_AGENT), (I.DROPPED_BY_A, C.CANCELLED_BY_A), (I.FAILED, C.FAILED)],
)
def test_a_queue_consult_can_end_before_any_agent(kind: InputKind, end: CallState) -> None:
    leg = queued()
    step = leg.handle(kind, 30_000)
    assert step.applied and kinds(step) == [] and call(leg) is end and leg.is_finished


def test_a_queue_consult_s_time_to_live_ends_it() -> None:
    leg = queued(ttl=20_000)
    assert leg.handle_timers(20_099) == ()
    (step,) = leg.handle_timers(20_100)
    assert step.applied and call(leg) is C.NO_AGENT and kinds(step) == []


def test_a_queue_consult_with_no_time_to_live_waits_for_the_queue() -> None:
    leg = queued(ttl=None)
    assert leg.next_deadline is None
    step = leg.handle(I.OFFERED, 900, "B")
    assert [type(e) for e in step.events] == [ev.AlertShown, ev.TimerStarted]


def test_a_consult_to_an_agent_needs_the_agent_and_a_queue_one_is_its_own_leg() -> None:
    facts = {k: v for k, v in LEG_FACTS.items() if k != "agent_b"}
    with pytest.raises(InvalidLeg) as info:
        Leg(**facts, agent_b=None)  # type: ignore[arg-type]
    assert info.value.field == "agent_b"
    leg = queued()
    with unchanged(leg), pytest.raises(InvalidLeg):
        leg.handle(I.OFFERED, 900, "A")  # the consulting agent cannot be offered it


def test_a_queued_snapshot_restores() -> None:
    leg = queued()
    again = Leg.restore(LegSnapshot.from_dict(leg.snapshot().to_dict()))
    assert again.snapshot() == leg.snapshot() and again.facts.agent_b is None


# --- 9. agent logout ----------------------------------------------------------------------


def test_b_logged_out_while_ringing_the_ccm_reports_a_phone_answer() -> None:
    leg = ringing()
    out = leg.handle(I.LOGGED_OUT_B, 1_000)
    assert out.applied and out.events == () and leg.desk_b is DeskState.LOST
    assert call(leg) is C.RINGING  # the phone rings on
    assert leg.handle(I.LOGGED_OUT_B, 1_001).disposition is DUPLICATE
    assert kinds(leg.handle(I.ACCEPTED, 5_000)) == STARTED_BY_CCM


def test_a_forced_logout_ends_the_grace_window_early() -> None:
    leg = answered()
    leg.handle(I.BROWSER_DISCONNECTED_B, 5_000)
    assert leg.deadline(Timer.GRACE_B) == 65_000
    out = leg.handle(I.LOGGED_OUT_B, 40_000)
    assert [type(e) for e in out.events] == [ev.TimerCancelled]
    assert leg.deadlines == {} and call(leg) is C.ACCEPTED  # the call goes on
    end = leg.handle(I.DROPPED_BY_B, 90_000)
    assert kinds(end) == [ev.CallLegEnded, ev.TaskClosed]  # by the CCM


def test_a_logout_after_the_end_is_absorbed() -> None:
    leg = answered()
    leg.handle(I.DROPPED_BY_A, 9_000)
    assert leg.handle(I.LOGGED_OUT_A, 9_500).disposition is ABSORBED


# --- 10. stale updates --------------------------------------------------------------------


def test_a_cti_report_older_than_the_last_cti_transition_is_stale() -> None:
    leg = new_leg()
    leg.handle(I.ALERTING, 200, source_at=200)
    leg.handle(I.ACCEPTED, 2_000, source_at=1_990)
    assert leg.cti_at == 1_990
    with unchanged(leg):
        assert leg.handle(I.RONA, 2_050, source_at=1_900) is STALE  # not a contradiction
        assert leg.handle(I.DROPPED_BY_B, 2_060, source_at=1_989) is STALE
    # Without a source time the same RONA is the contradiction it looks like.
    with unchanged(leg), pytest.raises(IllegalInput):
        leg.handle(I.RONA, 2_070)
    # A report stamped at the same instant is not older: it applies.
    end = leg.handle(I.DROPPED_BY_B, 9_000, source_at=1_990)
    assert end.applied and call(leg) is C.ENDED_BY_B


def test_only_applied_cti_transitions_move_the_source_clock() -> None:
    leg = ringing()
    leg.handle(I.ALERTING, 300, source_at=5_000)  # a duplicate: the clock stays
    assert leg.cti_at is None
    leg.handle(I.BROWSER_DISCONNECTED_B, 400, source_at=9_000)  # not a CTI report
    assert leg.cti_at is None
    leg.handle(I.ACCEPTED, 500, source_at=6_000)
    assert leg.cti_at == 6_000
    assert Leg.restore(LegSnapshot.from_dict(leg.snapshot().to_dict())).cti_at == 6_000


def test_a_source_time_must_be_integer_ms() -> None:
    leg = ringing()
    with unchanged(leg), pytest.raises(InputRejected):
        leg.handle(I.ACCEPTED, 500, source_at=1.5)  # type: ignore[arg-type]
