"""The observer: silent on every case of the note, loud on each broken rule."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from consultfsm.core import events as ev
from consultfsm.core.errors import IllegalInput
from consultfsm.core.leg import Leg
from consultfsm.core.states import CallState, InputKind, Timer
from consultfsm.core.step import Step
from consultfsm.core.table import TABLE, Disposition, Emit, Row, emit
from consultfsm.verify.explore import explore, table_leg_factory
from consultfsm.verify.invariants import Invariant, Observer
from consultfsm.verify.scenarios import CASES, LEG_FACTS, Case

I = InputKind  # noqa: E741


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_notes_cases_keep_every_invariant(case: Case) -> None:
    observer = Observer(session="S1", conversation="C1")
    leg = Leg(**LEG_FACTS, config=case.config)
    for at, kind in case.steps:
        observer.step(leg, kind, at)
    observer.drain({leg.leg_id: leg}, case.steps[-1][0])
    assert observer.ok, [str(v) for v in observer.violations]
    assert observer.checks > 0


def _edit(match: Callable[[Row], bool], change: Callable[[Row], Row]) -> tuple[Row, ...]:
    """A copy of the table with the matching rows changed (the real one is untouched)."""
    hits = [r for r in TABLE if match(r)]
    assert hits, "the edit matched no row"
    return tuple(change(r) if match(r) else r for r in TABLE)


def _key(key: str) -> Callable[[Row], bool]:
    return lambda r: r.key == key


def _without(cls: type[ev.Event]) -> Callable[[Row], Row]:
    return lambda r: attrs.evolve(r, emits=tuple(e for e in r.emits if e.event is not cls))


def _plus(*extra: Emit) -> Callable[[Row], Row]:
    return lambda r: attrs.evolve(r, emits=(*r.emits, *extra))


BROKEN: dict[str, tuple[tuple[Row, ...], Invariant]] = {
    "started twice": (
        _edit(
            _key("call:ringing--accepted[b_online]"),
            _plus(emit(ev.CallLegStarted, reported_by=ev.Reporter.AGENTDESK)),
        ),
        Invariant.STARTED_ONCE,
    ),
    "no end published when B's desk is down": (
        _edit(_key("call:accepted--dropped_by_a[b_offline]"), _without(ev.CallLegEnded)),
        Invariant.ENDED_ONCE,
    ),
    "task never closed": (
        _edit(_key("call:accepted--dropped_by_b[b_online]"), _without(ev.TaskClosed)),
        Invariant.TASK_LIFECYCLE,
    ),
    "alert left on B after RONA": (
        _edit(_key("call:ringing--rona[b_online]"), _without(ev.AlertRemoved)),
        Invariant.ALERT_VISIBLE,
    ),
    "alert shown to an offline desk": (
        _edit(_key("call:initiated--alerting[b_offline]"), _plus(emit(ev.AlertShown))),
        Invariant.ALERT_VISIBLE,
    ),
    # (A row can no longer forget to cancel a timer: rule 5 derives arming and
    # cancelling from STATE_TIMERS, and check_table refuses an expiry row that
    # does not leave the arming state; see test_table.py.)
    "grace expiry shows the alert on a lost desk": (
        _edit(_key("desk_b:disconnected--grace_timeout_b"), _plus(emit(ev.AlertRestored))),
        Invariant.ALERT_VISIBLE,
    ),
    "a terminal state left": (
        _edit(
            _key("call:ended_by_a--accepted"),
            lambda r: attrs.evolve(r, target=CallState.ACCEPTED, disposition=Disposition.APPLIED),
        ),
        Invariant.TERMINAL_STAYS,
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_table_is_caught(name: str) -> None:
    table, invariant = BROKEN[name]
    report = explore(6, 1, factory=table_leg_factory(table), table=table)
    assert report.counterexample is not None, f"{name}: not caught"
    kinds = {v.invariant for v in report.counterexample.violations}
    assert invariant in kinds, f"{name}: caught as {kinds}"


class _SloppyLeg(Leg):
    """A leg that moves its clock even when it refuses an input."""

    __slots__ = ()

    def handle(self, kind: InputKind, at: int) -> Step:
        try:
            return super().handle(kind, at)
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
    observer = Observer(session="S1", conversation="C1")
    leg = Leg(**{**LEG_FACTS, "channel_session_id": "S-consult"})
    observer.step(leg, I.ACCEPTED, 100)
    kinds = {v.invariant for v in observer.violations}
    assert kinds == {Invariant.CUSTOMER_SESSION}


def test_a_timer_left_pending_is_caught_by_drain() -> None:
    observer = Observer(session="S1", conversation="C1")
    leg = Leg(**LEG_FACTS)
    observer.step(leg, I.ALERTING, 0)
    # drain fires the ring timer at its deadline, like a host: RONA, finished
    assert observer.drain({leg.leg_id: leg}, 0) == leg.config.ring_ms
    assert observer.ok and leg.is_finished and leg.call is CallState.RONA


def test_a_timer_that_never_fires_is_caught_by_drain() -> None:
    observer = Observer(session="S1", conversation="C1")
    leg = Leg(**LEG_FACTS)
    observer.step(leg, I.ALERTING, 0)
    observer.records[leg.leg_id].pending[Timer.GRACE_A] = 5  # the host was told of a ghost
    observer.drain({leg.leg_id: leg}, 0)
    assert Invariant.TIMERS_ONCE in {v.invariant for v in observer.violations}
