"""THE transition table of a consult leg. Everything else is derived from it.

The executor (:mod:`consultfsm.core.executor`, which :class:`~consultfsm.core.leg.Leg`
runs), the ``transitions`` machine (:mod:`consultfsm.interop.transitions_machine`),
the diagrams, the docs and the model-based tests all read :data:`TABLE` and
:data:`STATE_TIMERS`. Behaviour lives nowhere else.

The rules
---------
1. A leg is four orthogonal regions: ``call`` (the consult dialog),
   ``desk_a``, ``desk_b`` (the agents' AgentDesks) and ``customer`` (the
   customer's own dialog, which the consult is about but which is not part of
   it). Every input belongs to exactly one region (``states.INPUT_REGION``)
   and only that region moves; so one input changes at most one region.
2. A row is ``(region, source, input, guards) -> (target, emits,
   disposition)``. Guards are a conjunction of named predicates
   (:mod:`consultfsm.core.guards`) over the leg *before* the input. They may read
   other regions (who reports a leg end depends on whether B's desk is up);
   they never change them.
3. For each region state and input, the guards of its rows are mutually
   exclusive: at most one row applies. No applicable row means the input is
   illegal in that state: the leg raises ``IllegalInput`` naming the leg, the
   state and the input, and changes nothing.
4. A row's ``disposition`` says what the input was:
   ``applied`` (a real transition), ``duplicate`` (the same input again: a
   no-op that says so), or ``absorbed`` (late or stale: a CTI event reordered
   after the leg moved on). Only ``applied`` rows change state, arm or disarm
   timers, or emit events.
5. Timers are state time-outs (as in Erlang's gen_statem). :data:`STATE_TIMERS`
   says which region state arms which timer: entering the state starts it
   (``timer_started`` with the absolute deadline), leaving it cancels it
   (``timer_cancelled``), unless the input that leaves is the timer's own
   expiry, which consumes it ("fires"). A timer whose window is None in the
   leg's ``LegConfig`` (a direct consult's ring window) is never armed. Rows
   never name timers. A timer input is looked up in the rows only when its
   timer is pending and due; an expiry of a timer that is not pending
   (cancelled, fired, never armed) or not yet due is absorbed by this rule,
   with no row (``Step.row`` is None). A host that asks the leg
   (``Leg.handle_timers(now)``) never sends either.
6. The CTI's word is the truth; the leg's own deadlines are fallbacks. The
   ring deadline withdraws B's alert (``unanswered``) but ends nothing: B
   answering after it still starts the leg, and the CTI's RONA (or a hang-up)
   ends it. A terminal call state never changes again: every call input there
   is absorbed, or is a duplicate when it is a CTI report that leads into that
   state (the same report again).
   One exception: ``accepted`` after the CTI ended a leg unanswered (RONA,
   cancelled, declined, failed, no agent) has no row. B answering a call the
   CTI said was gone is a contradiction that loses a real call if swallowed,
   so it is rejected loudly, as ``rona`` after ``accepted`` is.
   Desk inputs after the end are absorbed too, except the return of a desk that
   was offline when the leg ended: it still gets told how the leg ended.
7. ``CALL_LEG_STARTED`` is emitted exactly on entering the call (``accepted``
   or ``held``, from any other state); ``CALL_LEG_ENDED``, with the reason of
   the terminal state, exactly on leaving it. A hold is never an end:
   ``CALL_HOLD`` / ``CALL_RESUME``. B's desk sends the CIM message when it is
   up; when it is down the CCM publishes on its own (``reported_by=ccm``).
8. (The executor's, like rule 5.) An input that carries a value
   (``states.VALUE_OF_INPUT``) sets that fact when its row applies; a CTI
   report that carries its source's time (``source_at``, Finesse
   ``stateChangeTime``) older than the source time of the leg's last CTI
   transition is stale and absorbed before any row is looked up.

The rows are written out below. Rule 6's absorbing rows are generated from the
written rows (:func:`_terminal_rows`), so that adding a way to end a leg needs
no second edit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

import attrs

from . import events as ev
from .guards import Guard
from .states import (
    INPUT_REGION,
    OUTCOMES,
    REGION_STATES,
    TERMINAL_CALL_STATES,
    TIMEOUT_INPUT,
    TIMER_OF_INPUT,
    TIMER_REGION,
    CallState,
    CustomerState,
    DeskState,
    InputKind,
    Region,
    Timer,
)

# Short local names keep the rows on one line each, like a table.
I = InputKind  # noqa: E741
C = CallState
D = DeskState
Cu = CustomerState
G = Guard


class Disposition(StrEnum):
    """What an input turned out to be."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    ABSORBED = "absorbed"


#: Rule 5: the timer each region state arms (a state time-out). Its window is
#: ``LegConfig.window(timer)``, counted from entering the state.
STATE_TIMERS: dict[tuple[Region, StrEnum], Timer] = {
    (Region.CALL, CallState.RINGING): Timer.RING,  # the RONA window (routed consults)
    (Region.CALL, CallState.QUEUED): Timer.QUEUE,  # a queue consult's time to live
    (Region.DESK_A, DeskState.DISCONNECTED): Timer.GRACE_A,  # waiting for A's desk
    (Region.DESK_B, DeskState.DISCONNECTED): Timer.GRACE_B,  # waiting for B's desk
}


@attrs.frozen
class Emit:
    """One event a row emits: the event class and any row-fixed parameters."""

    event: type[ev.Event]
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        """``kind->consumer``, with parameters, for docs and diagrams."""
        args = ",".join(f"{k}={getattr(v, 'value', v)}" for k, v in self.params)
        kind = self.event.kind.value + (f"({args})" if args else "")
        return f"{kind}->{self.event.to.value}"


def emit(event: type[ev.Event], **params: Any) -> Emit:
    """Name an emitted event in a row, with the parameters that row fixes:
    exactly the event's :func:`~consultfsm.core.events.param` fields."""
    wanted = ev.params_of(event)
    if set(params) != set(wanted):
        raise TypeError(f"{event.__name__} takes the row parameters {wanted}, got {sorted(params)}")
    return Emit(event, tuple((name, params[name]) for name in wanted))


@attrs.frozen
class Row:
    """One transition of one region. See the module docstring for the rules."""

    region: Region
    source: StrEnum
    input: InputKind
    guards: tuple[Guard, ...]
    target: StrEnum
    emits: tuple[Emit, ...] = ()
    disposition: Disposition = Disposition.APPLIED

    # Rule 5: what the row does to timers follows from the states it leaves
    # and enters; these are derived from STATE_TIMERS, never written in a row.

    @property
    def fires(self) -> Timer | None:
        """The timer this row consumes: its input is that timer's expiry."""
        timer = TIMER_OF_INPUT.get(self.input)
        return timer if self.disposition is Disposition.APPLIED else None

    @property
    def start(self) -> Timer | None:
        """The timer this row starts: the one the entered state arms."""
        if self.disposition is not Disposition.APPLIED or self.target == self.source:
            return None
        return STATE_TIMERS.get((self.region, self.target))

    @property
    def cancel(self) -> Timer | None:
        """The timer this row cancels: the one the left state armed, unless
        the row's input is that timer's own expiry (then it fires)."""
        if self.disposition is not Disposition.APPLIED or self.target == self.source:
            return None
        timer = STATE_TIMERS.get((self.region, self.source))
        return None if timer is None or TIMEOUT_INPUT[timer] is self.input else timer

    @property
    def key(self) -> str:
        """A stable, unique name for the row (used by tests and coverage)."""
        guards = "&".join(g.value for g in self.guards)
        return f"{self.region}:{self.source}--{self.input}" + (f"[{guards}]" if guards else "")

    @property
    def label(self) -> str:
        """The edge label: input [guards] / events; timers."""
        parts = [self.input.value]
        if self.guards:
            parts.append("[" + " & ".join(g.value for g in self.guards) + "]")
        effects = [e.label for e in self.emits]
        if self.cancel is not None:
            effects.insert(0, f"cancel {self.cancel.value}")
        if self.start is not None:
            effects.append(f"start {self.start.value}")
        if self.disposition is not Disposition.APPLIED:
            effects.append(self.disposition.value)
        if effects:
            parts.append("/ " + "; ".join(effects))
        return " ".join(parts)


# --- building blocks ---------------------------------------------------------------


def _row(
    region: Region,
    source: StrEnum,
    input: InputKind,
    target: StrEnum | None = None,
    *emits: Emit,
    when: tuple[Guard, ...] = (),
    disposition: Disposition = Disposition.APPLIED,
) -> Row:
    target = source if target is None else target
    return Row(region, source, input, when, target, tuple(emits), disposition)


def _dup(region: Region, source: StrEnum, input: InputKind, *when: Guard) -> Row:
    return _row(region, source, input, when=when, disposition=Disposition.DUPLICATE)


def _late(region: Region, source: StrEnum, input: InputKind, *when: Guard) -> Row:
    return _row(region, source, input, when=when, disposition=Disposition.ABSORBED)


# What accepting / ending an accepted leg emits, by who reports it (rule 7).
_STARTED_BY_DESK = (
    emit(ev.CimCallLegStarted),
    emit(ev.CallLegStarted, reported_by=ev.Reporter.AGENTDESK),
    emit(ev.TaskCreated),
    emit(ev.TaskAssigned),
)
_STARTED_BY_CCM = (
    emit(ev.CallLegStarted, reported_by=ev.Reporter.CCM),
    emit(ev.TaskCreated),
    emit(ev.TaskAssigned),
)
_ENDED_BY_DESK = (
    emit(ev.CimCallLegEnded),
    emit(ev.CallLegEnded, reported_by=ev.Reporter.AGENTDESK),
    emit(ev.TaskClosed),
)
_ENDED_BY_CCM = (emit(ev.CallLegEnded, reported_by=ev.Reporter.CCM), emit(ev.TaskClosed))
# A transfer or conference ends the consult leg, but B's task lives on: B now
# serves the customer (TaskTypeDirection CONSULT_TRANSFER / CONSULT_CONFERENCE).
_CONVERTED_BY_DESK = (
    emit(ev.CimCallLegEnded),
    emit(ev.CallLegEnded, reported_by=ev.Reporter.AGENTDESK),
    emit(ev.TaskConverted),
)
_CONVERTED_BY_CCM = (
    emit(ev.CallLegEnded, reported_by=ev.Reporter.CCM),
    emit(ev.TaskConverted),
)
_HELD_BY_DESK = (emit(ev.CimCallHold), emit(ev.CallHeld, reported_by=ev.Reporter.AGENTDESK))
_HELD_BY_CCM = (emit(ev.CallHeld, reported_by=ev.Reporter.CCM),)
_RESUMED_BY_DESK = (
    emit(ev.CimCallResume),
    emit(ev.CallResumed, reported_by=ev.Reporter.AGENTDESK),
)
_RESUMED_BY_CCM = (emit(ev.CallResumed, reported_by=ev.Reporter.CCM),)
_ALERT_REMOVED = emit(ev.AlertRemoved)

# How each CTI end maps to a terminal state, before and after B accepted.
_ENDINGS: tuple[tuple[InputKind, CallState, CallState], ...] = (
    (I.DROPPED_BY_A, C.CANCELLED_BY_A, C.ENDED_BY_A),
    (I.DROPPED_BY_B, C.DECLINED_BY_B, C.ENDED_BY_B),
    (I.FAILED, C.FAILED, C.ENDED_FAILED),
)
_ON_CALL = (C.ACCEPTED, C.HELD)


def _by_desk_or_ccm(
    source: StrEnum, input: InputKind, target: StrEnum,
    by_desk: tuple[Emit, ...], by_ccm: tuple[Emit, ...], *when: Guard,
) -> Iterator[Row]:  # fmt: skip
    """Rule 7: B's desk reports when it is up; the CCM does when it is down."""
    yield _row(Region.CALL, source, input, target, *by_desk, when=(*when, G.B_ONLINE))
    yield _row(Region.CALL, source, input, target, *by_ccm, when=(*when, G.B_OFFLINE))


def _call_rows() -> Iterator[Row]:
    R = Region.CALL
    # B's phone starts ringing: alert B (if the desk is up). A routed consult
    # starts its RONA window (rule 5; a direct consult has none).
    yield from _by_desk_or_ccm(C.INITIATED, I.ALERTING, C.RINGING, (emit(ev.AlertShown),), ())
    yield _dup(R, C.RINGING, I.ALERTING)
    for later in (C.UNANSWERED, *_ON_CALL):  # CTI reordering: ALERTING after the fact
        yield _late(R, later, I.ALERTING)

    # A queue consult: the queue offers the call to an agent it chose (the
    # input carries the agent), gives up (NO_AGENT_AVAILABLE, or the leg's
    # TTL), or A abandons it. Nothing rings before an agent is chosen.
    yield from _by_desk_or_ccm(C.QUEUED, I.OFFERED, C.RINGING, (emit(ev.AlertShown),), ())
    yield _dup(R, C.RINGING, I.OFFERED)  # the same offer again (a different agent is rejected)
    for later in (C.UNANSWERED, *_ON_CALL):
        yield _late(R, later, I.OFFERED)
    yield _row(R, C.QUEUED, I.NO_AGENT, C.NO_AGENT)
    yield _row(R, C.QUEUED, I.QUEUE_TIMEOUT, C.NO_AGENT)
    yield _row(R, C.QUEUED, I.DROPPED_BY_A, C.CANCELLED_BY_A)  # the caller abandons
    yield _row(R, C.QUEUED, I.FAILED, C.FAILED)

    # B answers. Rule 7: STARTED exactly here. The CTI may report the answer
    # before the alert (no ordering guarantee), so INITIATED accepts it too;
    # and after the leg's own ring window gave up: the CTI's word is the truth.
    yield from _by_desk_or_ccm(C.INITIATED, I.ACCEPTED, C.ACCEPTED, _STARTED_BY_DESK,
                               _STARTED_BY_CCM)  # fmt: skip
    yield from _by_desk_or_ccm(C.RINGING, I.ACCEPTED, C.ACCEPTED,
                               (_ALERT_REMOVED, *_STARTED_BY_DESK), _STARTED_BY_CCM)  # fmt: skip
    yield from _by_desk_or_ccm(C.UNANSWERED, I.ACCEPTED, C.ACCEPTED,
                               (emit(ev.ConsultAnswered), *_STARTED_BY_DESK),
                               _STARTED_BY_CCM)  # fmt: skip
    yield _dup(R, C.ACCEPTED, I.ACCEPTED)
    yield _late(R, C.HELD, I.ACCEPTED)  # the answer reported again after a hold

    # No answer. The CTI's RONA ends the leg. The leg's own ring deadline is
    # only a fallback: it withdraws the alert and leaves the word to the CTI.
    yield _row(R, C.INITIATED, I.RONA, C.RONA)
    yield from _by_desk_or_ccm(C.RINGING, I.RONA, C.RONA, (_ALERT_REMOVED,), ())
    yield _row(R, C.UNANSWERED, I.RONA, C.RONA)
    yield from _by_desk_or_ccm(C.RINGING, I.RING_TIMEOUT, C.UNANSWERED, (_ALERT_REMOVED,), ())
    # (accepted, rona) has no row on purpose: an answered leg cannot be RONA,
    # so the CTI contradicting itself is rejected, not silently swallowed.

    # Hold and retrieve: the dialog stays ACTIVE, a participant is HELD. It is
    # never an end: CALL_HOLD / CALL_RESUME, from B's desk or the CCM.
    yield from _by_desk_or_ccm(C.ACCEPTED, I.HELD, C.HELD, _HELD_BY_DESK, _HELD_BY_CCM)
    yield _dup(R, C.HELD, I.HELD)
    yield from _by_desk_or_ccm(C.HELD, I.RETRIEVED, C.ACCEPTED, _RESUMED_BY_DESK,
                               _RESUMED_BY_CCM)  # fmt: skip
    yield _dup(R, C.ACCEPTED, I.RETRIEVED)

    # A completes a transfer or a conference: the consult leg ends with that
    # reason and B's task lives on. There must be a customer to hand over.
    for input, target in ((I.TRANSFERRED, C.TRANSFERRED), (I.CONFERENCED, C.CONFERENCED)):
        for source in _ON_CALL:
            yield from _by_desk_or_ccm(source, input, target, _CONVERTED_BY_DESK,
                                       _CONVERTED_BY_CCM, G.CUSTOMER_PRESENT)  # fmt: skip

    # Someone hangs up (or the dialog fails) before B answers: nothing was
    # published, so nothing is; B's alert goes away with the reason.
    for input, unaccepted, accepted in _ENDINGS:
        yield _row(R, C.INITIATED, input, unaccepted)
        yield from _by_desk_or_ccm(C.RINGING, input, unaccepted, (_ALERT_REMOVED,), ())
        yield _row(R, C.UNANSWERED, input, unaccepted)  # the alert is already gone
        # ... or after: CALL_LEG_ENDED exactly once, from B's desk or the CCM.
        for source in _ON_CALL:
            yield from _by_desk_or_ccm(source, input, accepted, _ENDED_BY_DESK, _ENDED_BY_CCM)

    # The consult dialog gets a new id (a CVP temporary dialog, a transfer or
    # conference): the leg goes on under it. Its state does not change.
    for source in LIVE_CALL_STATES_IN_ORDER:
        yield _row(R, source, I.REKEYED)


#: The live call states, in declaration order.
LIVE_CALL_STATES_IN_ORDER: tuple[CallState, ...] = tuple(
    s for s in CallState if s not in TERMINAL_CALL_STATES
)


def _presence_rows(
    region: Region,
    disconnected: InputKind, restored: InputKind, logged_out: InputKind, timeout: InputKind,
) -> Iterator[Row]:  # fmt: skip
    """Rows every desk shares: going away, logout, the grace window, duplicates."""
    for up in (D.CONNECTED, D.RESTORED):
        yield _row(region, up, disconnected, D.DISCONNECTED, when=(G.CALL_LIVE,))
        # After the end nothing waits for this desk any more (rule 6).
        yield _late(region, up, disconnected, G.CALL_ENDED)
        # Logged out (by the agent, a supervisor, or Finesse after 60 s away):
        # the phone call goes on, but this desk reports nothing any more.
        yield _row(region, up, logged_out, D.LOST, when=(G.CALL_LIVE,))
        yield _late(region, up, logged_out, G.CALL_ENDED)
    yield _row(region, D.DISCONNECTED, logged_out, D.LOST)  # the grace window's end, early
    yield _dup(region, D.LOST, logged_out)
    yield _dup(region, D.DISCONNECTED, disconnected)
    yield _dup(region, D.LOST, disconnected)
    yield _dup(region, D.RESTORED, restored)
    # A live leg cannot see a desk come back that never went: (connected,
    # restored) is illegal then. After the end, a disconnect was absorbed
    # (above), so the matching return is absorbed too.
    yield _late(region, D.CONNECTED, restored, G.CALL_ENDED)
    yield _row(region, D.DISCONNECTED, timeout, D.LOST)  # the grace window passed
    # A desk that came back after its grace window, once the leg is over, finds
    # nothing to reconcile here: the leg had stopped waiting for it.
    yield _late(region, D.LOST, restored, G.CALL_ENDED)


def _desk_a_rows() -> Iterator[Row]:
    R = Region.DESK_A
    yield from _presence_rows(R, I.BROWSER_DISCONNECTED_A, I.BROWSER_RESTORED_A,
                              I.LOGGED_OUT_A, I.GRACE_TIMEOUT_A)  # fmt: skip
    # A's desk comes back: tell it where the consult stands. Until the CTI
    # says otherwise, a leg whose ring window passed may still be answered.
    back = I.BROWSER_RESTORED_A
    for source in (D.DISCONNECTED, D.LOST):
        for waiting in (G.CALL_PENDING, G.CALL_UNANSWERED):
            yield _row(R, source, back, D.RESTORED, emit(ev.ConsultStillRinging), when=(waiting,))
        yield _row(R, source, back, D.RESTORED, emit(ev.RejoinConversation),
                   when=(G.CALL_ON_CALL,))  # fmt: skip
    yield _row(R, D.DISCONNECTED, back, D.RESTORED, emit(ev.ConsultEndedForA), when=(G.CALL_ENDED,))


def _desk_b_rows() -> Iterator[Row]:
    R = Region.DESK_B
    yield from _presence_rows(R, I.BROWSER_DISCONNECTED_B, I.BROWSER_RESTORED_B,
                              I.LOGGED_OUT_B, I.GRACE_TIMEOUT_B)  # fmt: skip
    # B's desk comes back: restore the alert, re-attach the call, or clear what
    # it still shows from before it went away.
    back = I.BROWSER_RESTORED_B
    for source in (D.DISCONNECTED, D.LOST):
        yield _row(R, source, back, D.RESTORED, when=(G.CALL_UNSEEN, G.CALL_PENDING))
        yield _row(R, source, back, D.RESTORED, emit(ev.AlertRestored), when=(G.CALL_RINGING,))
        yield _row(R, source, back, D.RESTORED, _ALERT_REMOVED, when=(G.CALL_UNANSWERED,))
        yield _row(R, source, back, D.RESTORED, emit(ev.ConsultRestored), when=(G.CALL_ON_CALL,))
    yield _row(R, D.DISCONNECTED, back, D.RESTORED, _ALERT_REMOVED,
               when=(G.CALL_ENDED, G.GAVE_UP))  # fmt: skip
    yield _row(R, D.DISCONNECTED, back, D.RESTORED, emit(ev.ConsultEndedForB),
               when=(G.ENDED_ACCEPTED,))  # fmt: skip


def _customer_rows() -> Iterator[Row]:
    """The customer hangs up: their own dialog ended, not the consult (the
    customer is no participant of it), so the call region does not move. B's
    desk is told if it shows the consult; a transfer or conference is no
    longer possible (those rows need ``customer_present``)."""
    R = Region.CUSTOMER
    yield _row(R, Cu.PRESENT, I.CUSTOMER_LEFT, Cu.LEFT, emit(ev.CustomerLeftConsult),
               when=(G.CALL_ENGAGED, G.B_ONLINE))  # fmt: skip
    yield _row(R, Cu.PRESENT, I.CUSTOMER_LEFT, Cu.LEFT, when=(G.CALL_ENGAGED, G.B_OFFLINE))
    yield _row(R, Cu.PRESENT, I.CUSTOMER_LEFT, Cu.LEFT, when=(G.CALL_UNSEEN,))
    # After the consult ended the customer still leaves (the region is the
    # truth of the customer's call); nobody is told, nothing waits for it.
    yield _row(R, Cu.PRESENT, I.CUSTOMER_LEFT, Cu.LEFT, when=(G.CALL_ENDED,))
    yield _dup(R, Cu.LEFT, I.CUSTOMER_LEFT)


def _terminal_rows(written: Iterable[Row]) -> Iterator[Row]:
    """Rule 6: in a terminal call state every call input is absorbed, except
    a CTI report that leads there, which is a duplicate, and ``accepted`` after
    an unanswered end, which is rejected. (No timer is pending there: rule 5
    absorbs a late expiry.) Derived from the rows that enter each terminal
    state, so it cannot disagree with them."""
    written = list(written)
    call_inputs = [
        i for i in InputKind if INPUT_REGION[i] is Region.CALL and i not in TIMER_OF_INPUT
    ]
    for state in sorted(TERMINAL_CALL_STATES, key=list(CallState).index):
        entering = {
            r.input for r in written
            if r.region is Region.CALL and r.target is state
            and r.disposition is Disposition.APPLIED
        }  # fmt: skip
        for input in call_inputs:
            if input is I.ACCEPTED and not OUTCOMES[state].accepted:
                continue  # a contradiction: rejected, never absorbed (rule 6)
            if input in entering:
                yield _dup(Region.CALL, state, input)
            else:
                yield _late(Region.CALL, state, input)


def _build() -> tuple[Row, ...]:
    written = [*_call_rows(), *_desk_a_rows(), *_desk_b_rows(), *_customer_rows()]
    return (*written, *_terminal_rows(written))


#: The transition table: every row of every region.
TABLE: tuple[Row, ...] = _build()


# --- introspection -----------------------------------------------------------------


def rows_for(region: Region) -> tuple[Row, ...]:
    """The rows of one region, in table order."""
    return tuple(r for r in TABLE if r.region is region)


def inputs_of(region: Region) -> tuple[InputKind, ...]:
    """The inputs a region handles (its alphabet)."""
    return tuple(i for i in InputKind if INPUT_REGION[i] is region)


def states_of(region: Region) -> tuple[StrEnum, ...]:
    """The states of a region, in declaration order."""
    return REGION_STATES[region]


def armed_in(timer: Timer) -> frozenset[StrEnum]:
    """The region states in which ``timer`` is pending (rule 5)."""
    return frozenset(state for (_, state), t in STATE_TIMERS.items() if t is timer)


def agentless_states(table: Iterable[Row] = TABLE) -> frozenset[CallState]:
    """The call states a queue consult reaches before the queue offers it to an
    agent (``offered``): the only ones in which a leg has no ``agent_b``."""
    rows = [r for r in table if r.region is Region.CALL and r.input is not InputKind.OFFERED]
    reached: set[StrEnum] = {CallState.QUEUED}
    grown = True
    while grown:
        more = {r.target for r in rows if r.source in reached} - reached
        reached |= more
        grown = bool(more)
    return frozenset(CallState(s) for s in reached)


def check_table(table: Iterable[Row] = TABLE) -> list[str]:
    """Static sanity checks of a table; returns the problems found (none is good).

    Checks that rows only name states and inputs of their region; that each
    state time-out belongs to its timer's region; that only applied rows
    change state or emit; that keys are unique; that terminal call states are
    never left; and (rule 5) that a timer's expiry is taken, applied, only by
    rows that leave the state that arms it, and that such a state has one.
    """
    table = tuple(table)
    problems: list[str] = []
    for (region, state), timer in STATE_TIMERS.items():
        if TIMER_REGION[timer] is not region or state not in REGION_STATES[region]:
            problems.append(
                f"{region}:{state}: arms {timer}, which belongs to {TIMER_REGION[timer]}"
            )
    seen: set[str] = set()
    for row in table:
        states = REGION_STATES[row.region]
        if row.source not in states or row.target not in states:
            problems.append(f"{row.key}: state outside region {row.region}")
        if INPUT_REGION[row.input] is not row.region:
            problems.append(f"{row.key}: input belongs to {INPUT_REGION[row.input]}")
        expired = TIMER_OF_INPUT.get(row.input)
        if expired is not None and (
            STATE_TIMERS.get((row.region, row.source)) is not expired
            or row.disposition is not Disposition.APPLIED
            or row.target == row.source
        ):
            problems.append(f"{row.key}: {expired}'s expiry must leave the state that arms it")
        if row.disposition is not Disposition.APPLIED and (row.emits or row.target != row.source):
            problems.append(f"{row.key}: a {row.disposition} row must change nothing")
        if row.source in TERMINAL_CALL_STATES and row.target != row.source:
            problems.append(f"{row.key}: leaves a terminal state")
        if row.key in seen:
            problems.append(f"{row.key}: duplicate row key")
        seen.add(row.key)
    for (region, state), timer in STATE_TIMERS.items():
        expiry = TIMEOUT_INPUT[timer]
        if not any(r.region is region and r.source is state and r.input is expiry for r in table):
            problems.append(f"{region}:{state}: arms {timer} but no row takes its expiry")
    return problems
