"""The observer: silent on every case of the note, loud on each broken rule."""

from __future__ import annotations

import attrs
import pytest
from helpers import (
    each_case,
    edit_table,
    explorer,
    new_leg,
    new_observer,
    plus_events,
    row_is,
    without_event,
)

from consultfsm.core import events as ev
from consultfsm.core.errors import IllegalInput
from consultfsm.core.leg import Leg
from consultfsm.core.states import CallState, InputKind, Timer
from consultfsm.core.step import Step
from consultfsm.core.table import Disposition, Row, emit
from consultfsm.verify import scenarios
from consultfsm.verify.invariants import Invariant, Observer
from consultfsm.verify.scenarios import LEG_FACTS, Case

I = InputKind  # noqa: E741


@each_case
def test_the_notes_cases_keep_every_invariant(case: Case) -> None:
    observer = new_observer()
    leg = scenarios.new_leg(case)
    observer.track(leg)
    for step in scenarios.inputs_of(case):
        observer.step(leg, step.kind, step.at, step.value, step.source_at)
    observer.drain({leg.leg_id: leg}, case.steps[-1][0])
    assert observer.ok, [str(v) for v in observer.violations]
    assert observer.checks > 0


BROKEN: dict[str, tuple[tuple[Row, ...], Invariant]] = {
    "started twice": (
        edit_table(
            row_is("call:ringing--accepted[b_online]"),
            plus_events(emit(ev.CallLegStarted, reported_by=ev.Reporter.AGENTDESK)),
        ),
        Invariant.STARTED_ONCE,
    ),
    "no end published when B's desk is down": (
        edit_table(
            row_is("call:accepted--dropped_by_a[b_offline]"), without_event(ev.CallLegEnded)
        ),
        Invariant.ENDED_ONCE,
    ),
    "task never closed": (
        edit_table(row_is("call:accepted--dropped_by_b[b_online]"), without_event(ev.TaskClosed)),
        Invariant.TASK_LIFECYCLE,
    ),
    "alert left on B after RONA": (
        edit_table(row_is("call:ringing--rona[b_online]"), without_event(ev.AlertRemoved)),
        Invariant.ALERT_VISIBLE,
    ),
    "alert shown to an offline desk": (
        edit_table(row_is("call:initiated--alerting[b_offline]"), plus_events(emit(ev.AlertShown))),
        Invariant.ALERT_VISIBLE,
    ),
    # (A row can no longer forget to cancel a timer: rule 5 derives arming and
    # cancelling from STATE_TIMERS, and check_table refuses an expiry row that
    # does not leave the arming state; see test_table.py.)
    "grace expiry shows the alert on a lost desk": (
        edit_table(
            row_is("desk_b:disconnected--grace_timeout_b"), plus_events(emit(ev.AlertRestored))
        ),
        Invariant.ALERT_VISIBLE,
    ),
    "a terminal state left": (
        edit_table(
            row_is("call:ended_by_a--accepted"),
            lambda r: attrs.evolve(r, target=CallState.ACCEPTED, disposition=Disposition.APPLIED),
        ),
        Invariant.TERMINAL_STAYS,
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_table_is_caught(name: str) -> None:
    table, invariant = BROKEN[name]
    report = explorer(table)(6, 1)
    assert report.counterexample is not None, f"{name}: not caught"
    kinds = {v.invariant for v in report.counterexample.violations}
    assert invariant in kinds, f"{name}: caught as {kinds}"


def _cim_last(row: Row) -> Row:
    cim = tuple(e for e in row.emits if e.event in (ev.CimCallLegStarted, ev.CimCallLegEnded))
    return attrs.evolve(row, emits=(*(e for e in row.emits if e not in cim), *cim))


def test_the_order_of_events_within_a_step_does_not_matter_to_the_reporter_check() -> None:
    # A step's events happen together: B's message listed after the
    # publication it causes is still B's message (no false "not sent").
    keys = ("call:ringing--accepted[b_online]", "call:accepted--dropped_by_a[b_online]")
    table = edit_table(lambda r: r.key in keys, _cim_last)
    assert explorer(table)(6, 1).ok


class _SloppyLeg(Leg):
    """A leg that moves its clock even when it refuses an input."""

    __slots__ = ()

    def handle(
        self, kind: InputKind, at: int, value: str | None = None, *, source_at: int | None = None
    ) -> Step:
        try:
            return super().handle(kind, at, value, source_at=source_at)
        except IllegalInput:
            self.last_at = at
            raise


def test_a_rejection_that_changes_the_leg_is_caught() -> None:
    observer = Observer()
    leg = _SloppyLeg(**LEG_FACTS)
    observer.step(leg, I.BROWSER_RESTORED_A, 500)  # illegal: A's desk never left
    assert [v.invariant for v in observer.violations] == [Invariant.REJECTION_CHANGES_NOTHING]
    assert "rejected input changed the leg" in str(observer.violations[0])


def test_a_publication_outside_the_customers_session_is_caught() -> None:
    observer = new_observer()
    leg = new_leg(channel_session_id="S-consult")
    observer.step(leg, I.ACCEPTED, 100)
    kinds = {v.invariant for v in observer.violations}
    assert kinds == {Invariant.CUSTOMER_SESSION}


def test_a_timer_left_pending_is_caught_by_drain() -> None:
    observer = new_observer()
    leg = new_leg()
    observer.step(leg, I.ALERTING, 0)
    # drain fires the ring timer at its deadline, like a host: the alert is
    # withdrawn, nothing is pending any more, and the CTI has the last word
    assert observer.drain({leg.leg_id: leg}, 0) == leg.config.ring_ms
    assert observer.ok, [str(v) for v in observer.violations]
    assert leg.deadlines == {} and leg.call is CallState.UNANSWERED


def test_a_timer_that_never_fires_is_caught_by_drain() -> None:
    observer = new_observer()
    leg = new_leg()
    observer.step(leg, I.ALERTING, 0)
    observer.records[leg.leg_id].pending[Timer.GRACE_A] = 5  # the host was told of a ghost
    observer.drain({leg.leg_id: leg}, 0)
    assert Invariant.TIMERS_ONCE in {v.invariant for v in observer.violations}
