"""Timers are state time-outs, and a host may ask the leg instead of being told.

A pull host (``leg.next_deadline`` / ``leg.handle_timers(now)``) and a push host
(one timer per ``timer_started``, the timeout input fed back) must see the same
events; a stale or early expiry is absorbed with no row; a bad ``now`` changes
nothing.
"""

from __future__ import annotations

import contextlib
import heapq

import pytest
from hypothesis import given
from strategies import CUSTOMER_ANI, Move, configs, moves

from consultfsm import (
    TIMEOUT_INPUT,
    Disposition,
    IllegalInput,
    InputKind,
    InputRejected,
    InvalidTime,
    Leg,
    LegConfig,
    Timer,
    TimeWentBackwards,
)
from consultfsm.core import events as ev
from consultfsm.core.states import TIMER_OF_INPUT
from consultfsm.core.step import EXPIRY_ABSORBED
from consultfsm.core.table import Row

I = InputKind  # noqa: E741
WINDOWS = LegConfig(ring_ms=15_000, grace_ms=5_000)


def _leg(config: LegConfig = WINDOWS) -> Leg:
    return Leg("L1", "A", "B", CUSTOMER_ANI, conversation_id="C1", channel_session_id="S1",
               config=config)  # fmt: skip


def test_handle_timers_fires_what_is_due_earliest_first_each_at_its_deadline() -> None:
    leg = _leg()
    leg.handle(I.ALERTING, 0)  # ring due at 15,000
    leg.handle(I.BROWSER_DISCONNECTED_A, 1_000)  # grace_a due at 6,000
    assert leg.next_deadline == (Timer.GRACE_A, 6_000)
    assert leg.handle_timers(5_999) == ()
    grace, ring = leg.handle_timers(20_000)
    assert grace.row is not None and grace.row.input is I.GRACE_TIMEOUT_A and not grace.events
    assert ring.row is not None and ring.row.input is I.RING_TIMEOUT
    assert [(e.kind.value, e.at) for e in ring.events] == [("alert_removed", 15_000)]
    assert str(leg.state) == "unanswered/lost/connected/present"  # the CTI has the last word
    assert leg.next_deadline is None and leg.handle_timers(30_000) == ()
    assert leg.last_at == 15_000  # the clock is where the last timer fired


def test_a_deadline_the_host_overslept_fires_at_the_leg_s_last_input() -> None:
    leg = _leg()
    leg.handle(I.ALERTING, 0)
    leg.handle(I.BROWSER_DISCONNECTED_A, 16_000)  # the ring deadline (15,000) was missed
    (step,) = leg.handle_timers(16_000)
    assert step.row is not None and step.row.input is I.RING_TIMEOUT
    assert all(e.at == 16_000 for e in step.events)  # never before the leg's own time


@pytest.mark.parametrize(("now", "error"), [(500, TimeWentBackwards), (1.5, InvalidTime)])
def test_a_bad_now_is_refused_and_changes_nothing(now: object, error: type[Exception]) -> None:
    leg = _leg()
    leg.handle(I.ALERTING, 1_000)
    before = leg.snapshot()
    with pytest.raises(error):
        leg.handle_timers(now)  # type: ignore[arg-type]
    assert leg.snapshot() == before


def test_a_stale_or_early_expiry_is_absorbed_with_no_row() -> None:
    leg = _leg()
    leg.handle(I.ALERTING, 0)
    assert leg.handle(I.RING_TIMEOUT, 14_999) is EXPIRY_ABSORBED  # early
    leg.handle(I.ACCEPTED, 1_000)
    stale = leg.handle(I.RING_TIMEOUT, 15_000)  # cancelled when B answered
    assert stale.disposition is Disposition.ABSORBED and stale.row is None and not stale.events
    assert str(leg.state) == "accepted/connected/connected/present"


def _pull(leg: Leg, kind: InputKind, at: int) -> list[ev.Event]:
    """A host that asks: fire what is due by ``at``, then apply the input."""
    out = [e for s in leg.handle_timers(at) for e in s.events]
    return out + list(leg.handle(kind, at).events)


class _PushHost:
    """A host that is told: one timer per timer_started, expiries fed back."""

    def __init__(self, leg: Leg) -> None:
        self.leg = leg
        self.timers: list[tuple[int, int, Timer]] = []  # (deadline, tie-break, timer)

    def feed(self, kind: InputKind, at: int) -> list[ev.Event]:
        out: list[ev.Event] = []
        while self.timers and self.timers[0][0] <= at:
            deadline, _, timer = heapq.heappop(self.timers)
            fired = self.leg.handle(TIMEOUT_INPUT[timer], max(deadline, self.leg.last_at))
            out += self._track(fired.events)  # a cancelled one is absorbed: nothing
        return out + self._track(self.leg.handle(kind, at).events)

    def _track(self, events: tuple[ev.Event, ...]) -> list[ev.Event]:
        for e in events:
            if isinstance(e, ev.TimerStarted):
                heapq.heappush(self.timers, (e.deadline, list(Timer).index(e.timer), e.timer))
        return list(events)


@given(config=configs(), run=moves())
def test_a_pull_host_and_a_push_host_see_the_same_events(
    config: LegConfig, run: list[Move]
) -> None:
    pulled, pushed = _leg(config), _PushHost(_leg(config))
    now = 0
    for m in run:
        if m.kind in TIMER_OF_INPUT:
            continue  # neither host is ever handed an expiry from outside
        at = m.at(now, list(pulled.deadlines.values()))
        if at < now:
            continue
        now = at
        try:
            a = _pull(pulled, m.kind, at)
        except InputRejected:
            a = None
        try:
            b = pushed.feed(m.kind, at)
        except InputRejected:
            b = None
        assert a == b, f"{m.kind}@{at}"
        # (A refused input leaves the timers fired before it fired, in both hosts.)
        assert pulled.snapshot() == pushed.leg.snapshot()


def test_import_compiles_no_table_and_the_first_step_does() -> None:
    import subprocess
    import sys

    code = (
        "import consultfsm\n"
        "from consultfsm.core import _speed\n"
        "assert isinstance(consultfsm.Leg.__dict__['_dispatch'], _speed.OnFirstUse)\n"
        "leg = consultfsm.Leg('L1', 'A', 'B', '', conversation_id='C', channel_session_id='S')\n"
        "leg.handle(consultfsm.InputKind.ALERTING, 1)\n"
        "assert isinstance(consultfsm.Leg.__dict__['_dispatch'], tuple)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_table_that_leaves_a_due_timer_pending_is_refused_whole() -> None:
    # A broken copy (check_table would refuse it): grace_a's expiry a duplicate.
    import attrs

    from consultfsm.core import TABLE, check_table, leg_class

    def broken(row: Row) -> Row:
        if row.key != "desk_a:disconnected--grace_timeout_a":
            return row
        return attrs.evolve(row, target=row.source, emits=(), disposition=Disposition.DUPLICATE)

    table = tuple(broken(r) for r in TABLE)
    assert check_table(table)  # the static check says so...
    leg = leg_class(table)("L1", "A", "B", "", conversation_id="C1", channel_session_id="S1")
    leg.handle(I.ALERTING, 0)
    leg.handle(I.BROWSER_DISCONNECTED_A, 1_000)
    before = leg.snapshot()
    with pytest.raises(IllegalInput, match="did not consume"):  # ...and the leg, at run time
        leg.handle_timers(100_000)  # the ring (15 s) fires first, then grace_a (61 s) sticks
    assert leg.snapshot() == before  # the ring's firing is undone with it: all or nothing


def test_deadlines_due_at_the_same_ms_come_in_timer_order() -> None:
    # The ring window and B's grace window end at the same ms: the host is
    # told the RONA window first (Timer order), as the docstring promises.
    leg = _leg(LegConfig(ring_ms=15_000, grace_ms=10_000))
    leg.handle(I.ALERTING, 200)  # ring due at 15,200
    leg.handle(I.BROWSER_DISCONNECTED_B, 5_200)  # grace_b due at 15,200
    assert leg.deadlines == {Timer.RING: 15_200, Timer.GRACE_B: 15_200}
    assert leg.next_deadline == (Timer.RING, 15_200)
    fired = [s.row.input for s in leg.handle_timers(15_200) if s.row is not None]
    assert fired == [I.RING_TIMEOUT, I.GRACE_TIMEOUT_B]


def test_a_stale_cti_report_in_the_same_ms_as_the_last_input_is_stale_not_an_error() -> None:
    leg = _leg()
    leg.handle(I.ALERTING, 200, source_at=1_000)
    leg.handle(I.ACCEPTED, 300, source_at=2_000)
    # A re-delivered alert (older source time), in the same ms: old news.
    step = leg.handle(I.ALERTING, 300, source_at=1_000)
    assert step.disposition is Disposition.ABSORBED and step.events == ()
    with pytest.raises(TimeWentBackwards):
        leg.handle(I.ALERTING, 299, source_at=1_000)


@given(run=moves(max_size=12), config=configs())
def test_accepts_says_exactly_whether_handle_would_take_the_input(
    run: list[Move], config: LegConfig
) -> None:
    # Leg.accepts is what a host asks before telling several legs at once (all
    # or nothing); it must agree with handle for every input, timers included,
    # before, at and after each pending deadline.
    leg = _leg(config)
    now = 0
    for move in run:
        now = move.at(now, list(leg.deadlines.values()))
        with contextlib.suppress(InputRejected):
            leg.handle(move.kind, now, move.value)
        now = max(now, leg.last_at)
        times = {leg.last_at - 1, leg.last_at, leg.last_at + 1}
        times |= {d + k for d in leg.deadlines.values() for k in (-1, 0, 1)}
        for kind in InputKind:
            for at in sorted(t for t in times if t >= 0):
                probe = Leg.restore(leg.snapshot())
                try:
                    probe.handle(kind, at)
                    took = True
                except InputRejected:
                    took = False
                assert leg.accepts(kind, at) == took, (kind, at, leg.state, leg.deadlines)
