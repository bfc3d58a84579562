"""The invariants every run of consult legs must keep, as an observer.

An :class:`Observer` drives one or more legs (:meth:`Observer.step`) or is told
what they did (:meth:`Observer.observe`), folds the emitted events into what
each consumer has seen, and checks after every step what the design note and
issue 4 promise:

* per accepted leg exactly one ``CALL_LEG_STARTED`` and then exactly one
  ``CALL_LEG_ENDED``, on the conversation topic, in the customer's existing
  channel session; a never-accepted leg publishes neither and has no task;
* B's task is created (and assigned) once after the start, and once after
  the end closed, or converted when the consult became a transfer or a
  conference;
* ``CALL_HOLD`` and ``CALL_RESUME`` alternate, only while B is on the call,
  and the consult is held exactly when one more hold than resume went out;
* B's alert is visible exactly when the call rings and B's desk is online. The
  desk's view is a fold of the desk's events; a browser disconnect clears what
  the page showed. After the end no online desk shows anything;
* a terminal call stays terminal; a finished leg stays finished and silent;
* every started timer is cancelled or fires (its timeout input applied) exactly
  once, never before its deadline; a late or early expiry emits nothing;
* a duplicate or absorbed input changes nothing and emits nothing; a rejected
  input changes nothing.

Sans-I/O: the observer never reads a clock; times come with the inputs. It
works with anything shaped like :class:`ObservedLeg`: a
:class:`~consultfsm.core.leg.Leg` of the real table or of any other
(:func:`~consultfsm.core.leg.leg_class`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol

import attrs

from consultfsm.core import events as ev
from consultfsm.core.errors import InputRejected
from consultfsm.core.executor import LegState
from consultfsm.core.facts import LegFacts
from consultfsm.core.states import (
    ACCEPTED_ENDINGS,
    ON_CALL_STATES,
    ONLINE_DESK_STATES,
    OUTCOMES,
    TERMINAL_CALL_STATES,
    TIMEOUT_INPUT,
    TIMER_OF_INPUT,
    CallState,
    InputKind,
    Timer,
)
from consultfsm.core.step import Step


class ObservedLeg(Protocol):
    """What the observer needs from a leg."""

    @property
    def leg_id(self) -> str: ...
    @property
    def facts(self) -> LegFacts: ...
    @property
    def state(self) -> LegState: ...
    @property
    def deadlines(self) -> dict[Timer, int]: ...
    @property
    def is_finished(self) -> bool: ...
    @property
    def last_at(self) -> int: ...
    def handle(
        self, kind: InputKind, at: int, value: str | None = None, *, source_at: int | None = None
    ) -> Step: ...
    def accepts(self, kind: InputKind, at: int) -> bool: ...


class Invariant(StrEnum):
    """The name of each invariant; used in violations, reports and docs."""

    STARTED_ONCE = "started_once"  # one CALL_LEG_STARTED per accepted leg, none otherwise
    ENDED_ONCE = "ended_once"  # one CALL_LEG_ENDED after the start, exactly for ended legs
    CUSTOMER_SESSION = "customer_session"  # on the conversation topic, customer's session
    REPORTER = "reporter"  # a desk-reported publication follows B's CIM message
    TASK_LIFECYCLE = "task_lifecycle"  # created+assigned once after start, closed after end
    HOLD_BALANCED = "hold_balanced"  # CALL_HOLD / CALL_RESUME alternate while on the call
    ALERT_VISIBLE = "alert_visible"  # B's alert shown iff ringing and B's desk online
    NOTHING_SHOWN_AFTER_END = "nothing_shown_after_end"
    TERMINAL_STAYS = "terminal_stays"  # a terminal call state never changes
    FINISHED_IS_SILENT = "finished_is_silent"  # a finished leg stays so and emits nothing
    TIMERS_ONCE = "timers_once"  # each timer cancelled or fired exactly once, when due
    LATE_EXPIRY_SILENT = "late_expiry_silent"  # a stale/early expiry emits nothing
    NOOP_CHANGES_NOTHING = "noop_changes_nothing"  # duplicate/absorbed: no change, no events
    REJECTION_CHANGES_NOTHING = "rejection_changes_nothing"
    EVENT_IDENTITY = "event_identity"  # events name their leg and the input's time


@attrs.frozen
class Violation:
    """One broken invariant, with where and when it broke."""

    invariant: Invariant
    leg: str
    at: int
    input: str
    message: str

    def __str__(self) -> str:
        return (
            f"[{self.invariant}] leg {self.leg}, after {self.input} at {self.at} ms: {self.message}"
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "invariant": self.invariant.value,
            "leg": self.leg,
            "at": self.at,
            "input": self.input,
            "message": self.message,
        }


@attrs.define
class LegRecord:
    """What the observer has folded for one leg: counts per consumer, B's
    alert as B's page shows it, and the timers the host was told about."""

    session: str | None
    conversation: str | None
    ani: str
    started: int = 0
    ended: int = 0
    tasks_created: int = 0
    tasks_assigned: int = 0
    tasks_closed: int = 0
    tasks_converted: int = 0
    holds: int = 0
    resumes: int = 0
    alert_on_b: bool = False
    pending: dict[Timer, int] = attrs.field(factory=dict)
    terminal: CallState | None = None
    finished: bool = False

    def key(self) -> tuple[object, ...]:
        """A hashable digest (pending timers excluded: the leg holds them)."""
        return (
            self.started,
            self.ended,
            self.tasks_created,
            self.tasks_assigned,
            self.tasks_closed,
            self.tasks_converted,
            self.holds,
            self.resumes,
            self.alert_on_b,
            self.terminal,
            self.finished,
        )


_Fingerprint = tuple[LegState, tuple[tuple[Timer, int], ...], int, bool]


def fingerprint(leg: ObservedLeg) -> _Fingerprint:
    """Everything observable about a leg's state: regions, deadlines, clock."""
    return (leg.state, tuple(sorted(leg.deadlines.items())), leg.last_at, leg.is_finished)


class Observer:
    """Folds the steps of several legs and records every invariant they break.

    ``session``/``conversation`` are the customer's existing channel session
    and conversation; when given, every publication must be there (otherwise
    each leg's own facts are the reference and must not be missing).
    """

    def __init__(self, *, session: str | None = None, conversation: str | None = None) -> None:
        self.session = session
        self.conversation = conversation
        self.records: dict[str, LegRecord] = {}
        self.violations: list[Violation] = []
        self.checks = 0  # invariant evaluations, for reports

    def copy(self) -> Observer:
        """An independent copy (the explorer branches on it)."""
        other = Observer.__new__(Observer)
        other.session, other.conversation = self.session, self.conversation
        other.records = {
            k: attrs.evolve(r, pending=dict(r.pending)) for k, r in self.records.items()
        }
        other.violations = list(self.violations)
        other.checks = self.checks
        return other

    def track(self, leg: ObservedLeg) -> LegRecord:
        """Start observing ``leg`` before it steps (idempotent)."""
        return self._record(leg, pending=leg.deadlines)

    def _record(self, leg: ObservedLeg, pending: Mapping[Timer, int] = {}) -> LegRecord:
        record = self.records.get(leg.leg_id)
        if record is None:
            record = LegRecord(
                self.session if self.session is not None else leg.facts.channel_session_id,
                self.conversation if self.conversation is not None else leg.facts.conversation_id,
                leg.facts.customer_ani,
                # A queue consult's time to live runs from its creation: the
                # host reads it from the new leg (there is no step to tell it).
                pending=dict(pending),
            )
            self.records[leg.leg_id] = record
        return record

    @property
    def ok(self) -> bool:
        """True while no invariant has been broken."""
        return not self.violations

    def step(
        self, leg: ObservedLeg, kind: InputKind, at: int, value: str | None = None,
        source_at: int | None = None,
    ) -> Step | InputRejected:  # fmt: skip
        """Feed ``kind`` at ``at`` (with ``value``, for an input that carries
        one, and the source's own time) to ``leg``, check everything, return
        what happened."""
        self.track(leg)
        before = fingerprint(leg)
        try:
            step = leg.handle(kind, at, value, source_at=source_at)
        except InputRejected as exc:
            self.rejected(leg, kind, at, before)
            return exc
        self.observe(leg, kind, at, step, before)
        return step

    def rejected(self, leg: ObservedLeg, kind: InputKind, at: int, before: _Fingerprint) -> None:
        """Record that ``leg`` refused ``kind``; it must be exactly as before."""
        rec = self._record(leg)
        timer = TIMER_OF_INPUT.get(kind)
        # (an expiry stamped before the leg's clock may be refused: the host's mistake)
        if timer is not None and rec.pending.get(timer, at + 1) <= at and at >= leg.last_at:
            self._fail(Invariant.TIMERS_ONCE, leg, kind, at, f"the due {timer} expiry was rejected")
        self._check(
            fingerprint(leg) == before,
            Invariant.REJECTION_CHANGES_NOTHING,
            leg,
            kind,
            at=at,
            msg=lambda: f"rejected input changed the leg from {before} to {fingerprint(leg)}",
        )

    def observe(
        self, leg: ObservedLeg, kind: InputKind, at: int, step: Step, before: _Fingerprint
    ) -> None:
        """Fold one accepted step of ``leg`` (``before`` from :func:`fingerprint`)."""
        rec = self._record(leg)
        state_before = before[0]
        c = self._check_step_shape(rec, leg, kind, at, step=step, before=before)
        self._fold_events(rec, leg, kind, at, step.events)
        # A fired timer: the applied timeout input consumes its pending deadline.
        timer = TIMER_OF_INPUT.get(kind)
        due = timer is not None and timer in rec.pending and rec.pending[timer] <= at
        c(
            step.applied or not due,
            Invariant.TIMERS_ONCE,
            lambda: (
                f"timer {timer} was due at {rec.pending.get(timer) if timer else None} "
                f"but its expiry was "
                f"{step.disposition}"
            ),
        )
        if timer is not None and step.applied:
            deadline = rec.pending.pop(timer, None)
            c(
                deadline is not None,
                Invariant.TIMERS_ONCE,
                lambda: f"timer {timer} fired but was not pending",
            )
            c(
                deadline is None or at >= deadline,
                Invariant.TIMERS_ONCE,
                lambda: f"timer {timer} fired at {at} before its deadline {deadline}",
            )
        # The page of a desk whose browser went away, or whose agent was
        # logged out, shows nothing any more.
        if kind in (InputKind.BROWSER_DISCONNECTED_B, InputKind.LOGGED_OUT_B):
            rec.alert_on_b = False
        self._check_after(rec, leg, kind, at, state_before)

    # -- the checks --------------------------------------------------------------

    def _check(
        self, cond: bool, inv: Invariant, leg: ObservedLeg, kind: InputKind, *, at: int, msg: _Msg
    ) -> None:
        self.checks += 1
        if not cond:
            self.violations.append(Violation(inv, leg.leg_id, at, kind.value, msg()))

    def _fail(self, inv: Invariant, leg: ObservedLeg, kind: InputKind, at: int, msg: str) -> None:
        self.checks += 1
        self.violations.append(Violation(inv, leg.leg_id, at, kind.value, msg))

    def _checker(self, leg: ObservedLeg, kind: InputKind, at: int) -> _Checker:
        def c(cond: bool, inv: Invariant, msg: _Msg) -> None:
            self._check(cond, inv, leg, kind, at=at, msg=msg)

        return c

    def _check_step_shape(
        self,
        rec: LegRecord,
        leg: ObservedLeg,
        kind: InputKind,
        at: int,
        *,
        step: Step,
        before: _Fingerprint,
    ) -> _Checker:
        c = self._checker(leg, kind, at)

        def names() -> list[str]:
            return [e.kind.value for e in step.events]

        if not step.applied:
            c(
                not step.events,
                Invariant.NOOP_CHANGES_NOTHING,
                lambda: f"a {step.disposition} input emitted {names()}",
            )
            c(
                fingerprint(leg) == before,
                Invariant.NOOP_CHANGES_NOTHING,
                lambda: f"a {step.disposition} input changed {before} to {fingerprint(leg)}",
            )
            if kind in TIMER_OF_INPUT:
                c(
                    not step.events,
                    Invariant.LATE_EXPIRY_SILENT,
                    lambda: f"a late {kind} emitted {names()}",
                )
        if rec.finished:
            c(
                not step.events,
                Invariant.FINISHED_IS_SILENT,
                lambda: f"a finished leg emitted {names()}",
            )
        bad = [
            (e.kind.value, e.leg, e.at) for e in step.events if (e.leg, e.at) != (leg.leg_id, at)
        ]
        c(not bad, Invariant.EVENT_IDENTITY, lambda: f"events name another leg or time: {bad}")
        return c

    def _fold_events(
        self,
        rec: LegRecord,
        leg: ObservedLeg,
        kind: InputKind,
        at: int,
        events: tuple[ev.Event, ...],
    ) -> None:
        c = self._checker(leg, kind, at)
        # B's messages of this step, wherever the row lists them: the events of
        # one step happen together, so a publication is checked against all.
        cim = {e.intent for e in events if isinstance(e, ev.CIM_EVENT_CLASSES)}  # type: ignore[attr-defined]
        for e in events:
            self._fold_one(rec, c, at, e, cim)

    def _fold_one(
        self, rec: LegRecord, c: _Checker, at: int, e: ev.Event, cim: set[ev.CimIntent]
    ) -> None:
        if isinstance(e, ev.CIM_EVENT_CLASSES):
            c(
                e.customer_ani == rec.ani,  # type: ignore[attr-defined]
                Invariant.CUSTOMER_SESSION,
                lambda: f"CIM message identifies {e.customer_ani!r}, not the customer",  # type: ignore[attr-defined]
            )
        elif isinstance(e, ev.CallHeld | ev.CallResumed):
            held = isinstance(e, ev.CallHeld)
            rec.holds += held
            rec.resumes += not held
            c(
                rec.started == 1 and rec.ended == 0 and rec.holds - rec.resumes in (0, 1),
                Invariant.HOLD_BALANCED,
                lambda: (
                    f"{e.kind} #{rec.holds}/{rec.resumes} with {rec.started} starts, "
                    f"{rec.ended} ends"
                ),
            )
            self._publication(rec, c, e, cim)
        elif isinstance(e, ev.CallLegStarted | ev.CallLegEnded):
            self._publication(rec, c, e, cim)
        elif isinstance(e, ev.TaskCreated):
            rec.tasks_created += 1
            c(
                rec.started == 1 and rec.tasks_created == 1,
                Invariant.TASK_LIFECYCLE,
                lambda: f"task created #{rec.tasks_created} with {rec.started} starts",
            )
        elif isinstance(e, ev.TaskAssigned):
            rec.tasks_assigned += 1
            c(
                rec.tasks_created == 1 and rec.tasks_assigned == 1,
                Invariant.TASK_LIFECYCLE,
                lambda: f"task assigned #{rec.tasks_assigned}, created {rec.tasks_created}",
            )
        elif isinstance(e, ev.TaskClosed | ev.TaskConverted):
            closed = isinstance(e, ev.TaskClosed)
            rec.tasks_closed += closed
            rec.tasks_converted += not closed
            c(
                rec.ended == 1
                and rec.tasks_created == 1
                and rec.tasks_closed + rec.tasks_converted == 1,
                Invariant.TASK_LIFECYCLE,
                lambda: (
                    f"task {e.kind} #{rec.tasks_closed + rec.tasks_converted} with {rec.ended} ends"
                ),
            )
        elif isinstance(e, ev.AlertShown | ev.AlertRestored):
            rec.alert_on_b = True
        elif isinstance(e, ev.AlertRemoved):
            rec.alert_on_b = False
        elif isinstance(e, ev.TimerStarted):
            c(
                e.timer not in rec.pending,
                Invariant.TIMERS_ONCE,
                lambda: f"timer {e.timer} started again while pending",
            )
            c(
                e.deadline > at,
                Invariant.TIMERS_ONCE,
                lambda: f"timer {e.timer} started with a past deadline {e.deadline}",
            )
            rec.pending[e.timer] = e.deadline
        elif isinstance(e, ev.TimerCancelled):
            pending = rec.pending.pop(e.timer, None)
            c(
                pending == e.deadline,
                Invariant.TIMERS_ONCE,
                lambda: f"cancelled {e.timer}@{e.deadline}, pending was {pending}",
            )

    def _publication(
        self,
        rec: LegRecord,
        c: _Checker,
        e: ev.CallLegStarted | ev.CallLegEnded | ev.CallHeld | ev.CallResumed,
        cim: set[ev.CimIntent],
    ) -> None:
        if isinstance(e, ev.CallHeld | ev.CallResumed):
            pass  # counted by the caller
        elif isinstance(e, ev.CallLegStarted):
            rec.started += 1
            c(
                rec.started == 1,
                Invariant.STARTED_ONCE,
                lambda: f"CALL_LEG_STARTED published {rec.started} times",
            )
        else:
            rec.ended += 1
            c(
                rec.started == 1 and rec.ended == 1,
                Invariant.ENDED_ONCE,
                lambda: f"CALL_LEG_ENDED #{rec.ended} after {rec.started} starts",
            )
        c(
            e.to is ev.Consumer.CONVERSATION,
            Invariant.CUSTOMER_SESSION,
            lambda: f"{e.kind} went to {e.to}, not the conversation topic",
        )
        c(
            rec.session is not None and e.channel_session_id == rec.session,
            Invariant.CUSTOMER_SESSION,
            lambda: f"{e.kind} in session {e.channel_session_id!r}, customer's is {rec.session!r}",
        )
        c(
            rec.conversation is not None and e.conversation_id == rec.conversation,
            Invariant.CUSTOMER_SESSION,
            lambda: f"{e.kind} on conversation {e.conversation_id!r}, not {rec.conversation!r}",
        )
        intent = e.intent
        by_desk = e.reported_by is ev.Reporter.AGENTDESK
        c(
            by_desk == (intent in cim),
            Invariant.REPORTER,
            lambda: (
                f"{e.kind} reported_by={e.reported_by} but B's CIM message "
                f"{'was' if intent in cim else 'was not'} sent"
            ),
        )

    def _check_after(
        self, rec: LegRecord, leg: ObservedLeg, kind: InputKind, at: int, before: LegState
    ) -> None:
        c = self._checker(leg, kind, at)
        state = leg.state
        accepted = state.call in ON_CALL_STATES or state.call in ACCEPTED_ENDINGS
        ended = state.call in ACCEPTED_ENDINGS
        c(
            rec.started == int(accepted),
            Invariant.STARTED_ONCE,
            lambda: f"{rec.started} CALL_LEG_STARTED in call state {state.call}",
        )
        c(
            rec.ended == int(ended),
            Invariant.ENDED_ONCE,
            lambda: f"{rec.ended} CALL_LEG_ENDED in call state {state.call}",
        )
        terminal = state.call in TERMINAL_CALL_STATES
        converted = OUTCOMES[state.call].task_becomes is not None if ended else False
        c(
            (rec.tasks_created, rec.tasks_assigned, rec.tasks_closed, rec.tasks_converted)
            == (rec.started, rec.started, rec.ended - converted, int(converted)),
            Invariant.TASK_LIFECYCLE,
            lambda: (
                f"tasks created/assigned/closed/converted {rec.tasks_created}/"
                f"{rec.tasks_assigned}/{rec.tasks_closed}/{rec.tasks_converted} for "
                f"{rec.started} start(s) and {rec.ended} end(s) in {state.call}"
            ),
        )
        balance = rec.holds - rec.resumes  # an end while held leaves it at 1
        c(
            balance in (0, 1) if terminal else balance == int(state.call is CallState.HELD),
            Invariant.HOLD_BALANCED,
            lambda: f"{rec.holds} holds, {rec.resumes} resumes in call state {state.call}",
        )
        b_online = state.desk_b in ONLINE_DESK_STATES
        should_show = state.call is CallState.RINGING and b_online
        c(
            rec.alert_on_b == should_show,
            Invariant.ALERT_VISIBLE,
            lambda: (
                f"B's desk {'shows' if rec.alert_on_b else 'does not show'} the alert in {state}"
            ),
        )
        c(
            not (terminal and b_online and rec.alert_on_b),
            Invariant.NOTHING_SHOWN_AFTER_END,
            lambda: f"B's online desk still shows the alert after the leg ended ({state})",
        )
        if rec.terminal is not None:
            c(
                state.call is rec.terminal,
                Invariant.TERMINAL_STAYS,
                lambda: f"terminal {rec.terminal} became {state.call}",
            )
        elif terminal:
            rec.terminal = state.call
        c(
            rec.pending == leg.deadlines,
            Invariant.TIMERS_ONCE,
            lambda: (
                f"the host was told of timers {_fmt(rec.pending)}, "
                f"the leg holds {_fmt(leg.deadlines)}"
            ),
        )
        if rec.finished:
            c(
                leg.is_finished,
                Invariant.FINISHED_IS_SILENT,
                lambda: f"a finished leg came back to life in {state}",
            )
        rec.finished = leg.is_finished
        c(
            rec.finished == (terminal and not rec.pending),
            Invariant.FINISHED_IS_SILENT,
            lambda: f"is_finished={rec.finished} in {state} with timers {_fmt(rec.pending)}",
        )

    # -- end of a run -----------------------------------------------------------

    def drain(self, legs: Mapping[str, ObservedLeg], now: int) -> int:
        """Fire every pending timer in deadline order, as a host would, and
        return the time reached. Afterwards no timer may be pending: each one
        was cancelled or fired exactly once."""
        while True:
            due = [
                (deadline, leg_id, timer)
                for leg_id, leg in legs.items()
                for timer, deadline in leg.deadlines.items()
            ]
            if not due:
                break
            deadline, leg_id, timer = min(due)
            now = max(now, deadline)
            self.step(legs[leg_id], TIMEOUT_INPUT[timer], now)
            if legs[leg_id].deadlines.get(timer) == deadline:  # would loop forever
                leg = legs[leg_id]
                self._fail(
                    Invariant.TIMERS_ONCE,
                    leg,
                    TIMEOUT_INPUT[timer],
                    now,
                    f"timer {timer} did not fire at its deadline",
                )
                break
        for leg_id, rec in self.records.items():
            if leg_id in legs and rec.pending:
                leg = legs[leg_id]
                self._fail(
                    Invariant.TIMERS_ONCE,
                    leg,
                    InputKind.RING_TIMEOUT,
                    now,
                    f"timers never fired: {_fmt(rec.pending)}",
                )
        return now


class _Msg(Protocol):
    def __call__(self) -> str: ...


class _Checker(Protocol):
    def __call__(self, cond: bool, inv: Invariant, msg: _Msg) -> None: ...


def _fmt(timers: Mapping[Timer, int]) -> str:
    return "{" + ", ".join(f"{t.value}@{d}" for t, d in sorted(timers.items())) + "}"
