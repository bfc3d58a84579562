"""The transition table is well formed, and its rules hold as data."""

from __future__ import annotations

import attrs
import pytest

from consultfsm import Disposition
from consultfsm.core import (
    STATE_TIMERS,
    TABLE,
    Region,
    check_table,
    inputs_of,
    rows_for,
    states_of,
)
from consultfsm.core import events as ev
from consultfsm.core.states import (
    INPUT_REGION,
    OUTCOMES,
    TERMINAL_CALL_STATES,
    TIMER_OF_INPUT,
    TIMER_REGION,
    CallState,
    DeskState,
    InputKind,
    Timer,
)
from consultfsm.core.table import Row, _row, armed_in, emit


def test_the_table_passes_its_own_checks() -> None:
    assert check_table() == []


def test_check_table_reports_a_row_that_breaks_the_rules() -> None:
    # A row that leaves a terminal state and uses another region's input.
    bad = _row(Region.CALL, CallState.RONA, InputKind.BROWSER_RESTORED_B, CallState.RINGING)
    problems = check_table([*TABLE, bad])
    assert any("leaves a terminal state" in p for p in problems)
    assert any("input belongs to desk_b" in p for p in problems)


def test_every_region_state_and_input_appears_in_the_table() -> None:
    for region in Region:
        sources = {r.source for r in rows_for(region)}
        assert sources == set(states_of(region)), region
        assert {r.input for r in rows_for(region)} == set(inputs_of(region)), region


def test_every_input_belongs_to_exactly_one_region() -> None:
    assert set(INPUT_REGION) == set(InputKind)
    assert sum(len(inputs_of(r)) for r in Region) == len(InputKind)


def test_only_applied_rows_have_effects() -> None:
    for row in TABLE:
        if row.disposition is not Disposition.APPLIED:
            assert (row.emits, row.start, row.cancel) == ((), None, None), row.key
            assert row.target == row.source, row.key


def test_timers_are_only_touched_by_their_own_region() -> None:
    for row in TABLE:
        for timer in (row.start, row.cancel):
            if timer is not None:
                assert TIMER_REGION[timer] is row.region, row.key


def test_terminal_call_states_absorb_every_call_input_but_a_contradicting_answer() -> None:
    for state in TERMINAL_CALL_STATES:
        rows = [r for r in rows_for(Region.CALL) if r.source is state]
        # No timer is pending in a terminal state: rule 5 absorbs a late expiry.
        expected = set(inputs_of(Region.CALL)) - set(TIMER_OF_INPUT)
        if not OUTCOMES[state].accepted:  # B answering after an unanswered end: rejected
            expected.discard(InputKind.ACCEPTED)
        assert {r.input for r in rows} == expected, state
        assert all(r.disposition is not Disposition.APPLIED for r in rows), state


def test_started_and_ended_are_emitted_exactly_on_entering_and_leaving_the_call() -> None:
    # "On the call" is answered, held or not: a hold is never an end.
    def kinds(row: Row) -> list[str]:
        return [e.event.kind.value for e in row.emits]

    on_call = {CallState.ACCEPTED, CallState.HELD}
    for row in TABLE:
        started = kinds(row).count("CALL_LEG_STARTED")
        ended = kinds(row).count("CALL_LEG_ENDED")
        entering = row.target in on_call and row.source not in on_call
        leaving = row.source in on_call and row.target not in on_call
        assert started == (1 if entering else 0), row.key
        assert ended == (1 if leaving else 0), row.key


def test_every_terminal_state_says_what_it_reports() -> None:
    assert set(OUTCOMES) == TERMINAL_CALL_STATES
    for state, outcome in OUTCOMES.items():
        # A leg that ends after acceptance must report CALL_LEG_ENDED with a reason.
        assert (outcome.cim_reason is not None) == outcome.accepted, state


def test_row_keys_and_labels_are_unique_and_readable() -> None:
    keys = [r.key for r in TABLE]
    assert len(keys) == len(set(keys))
    accept = next(r for r in TABLE if r.key == "call:ringing--accepted[b_online]")
    assert accept.label == (
        "accepted [b_online] / cancel ring; alert_removed->agentdesk_b; cim_message->ccm; "
        "CALL_LEG_STARTED(reported_by=agentdesk)->conversation; task_created->routing_engine; "
        "task_assigned->agent_manager"
    )


def test_a_timer_is_pending_exactly_in_the_states_that_arm_it() -> None:
    # What armed_in() (and the snapshot check built on it) relies on.
    for timer in Timer:
        armed = armed_in(timer)
        assert armed, timer
        for row in rows_for(TIMER_REGION[timer]):
            if row.disposition is not Disposition.APPLIED:
                continue
            leaving = row.source in armed and row.target not in armed
            entering = row.source not in armed and row.target in armed
            consumed = row.cancel is timer or row.fires is timer
            assert leaving == consumed, row.key
            assert entering == (row.start is timer), row.key


def test_rows_never_name_timers_the_states_do() -> None:
    # Rule 5: arming and disarming follow from STATE_TIMERS, not from the rows.
    assert {f.name for f in attrs.fields(Row)} == {
        "region", "source", "input", "guards", "target", "emits", "disposition",
    }  # fmt: skip
    assert STATE_TIMERS == {
        (Region.CALL, CallState.RINGING): Timer.RING,
        (Region.CALL, CallState.QUEUED): Timer.QUEUE,
        (Region.DESK_A, DeskState.DISCONNECTED): Timer.GRACE_A,
        (Region.DESK_B, DeskState.DISCONNECTED): Timer.GRACE_B,
    }
    # Only the states that arm a timer have a row for its expiry: everywhere
    # else an expiry cannot be due, and rule 5 absorbs it with no row.
    for row in TABLE:
        timer = TIMER_OF_INPUT.get(row.input)
        if timer is not None:
            assert STATE_TIMERS[(row.region, row.source)] is timer, row.key


def test_check_table_reports_an_expiry_row_in_a_state_that_does_not_arm_it() -> None:
    stray = _row(Region.DESK_A, DeskState.CONNECTED, InputKind.GRACE_TIMEOUT_A, DeskState.LOST)
    assert any("must leave the state that arms it" in p for p in check_table([*TABLE, stray]))


def test_check_table_reports_an_expiry_that_is_not_consumed_or_has_no_row() -> None:
    key = "desk_a:disconnected--grace_timeout_a"
    kept = [
        attrs.evolve(r, target=r.source, emits=(), disposition=Disposition.DUPLICATE)
        if r.key == key else r
        for r in TABLE
    ]  # fmt: skip
    assert any(p.startswith(key) and "must leave" in p for p in check_table(kept))
    missing = [r for r in TABLE if r.key != key]
    assert "desk_a:disconnected: arms grace_a but no row takes its expiry" in check_table(missing)


def test_a_row_must_fix_exactly_the_event_parameters() -> None:
    with pytest.raises(TypeError, match="reported_by"):
        emit(ev.CallLegEnded)
    with pytest.raises(TypeError, match="reported_by"):
        emit(ev.AlertShown, reported_by=ev.Reporter.CCM)
