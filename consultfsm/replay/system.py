"""The whole consult system for replay: legs, customer sessions, the desks,
the CCM, and the Routing Engine / Agent Manager as recipients.

:class:`System` is sans-I/O. It takes trace inputs (:mod:`consultfsm.replay.trace`)
and returns output records (:mod:`consultfsm.replay.records`) in the order
things happen. Time is virtual: a due timer (:mod:`consultfsm.replay.timers`)
fires, at its own deadline, before the first input whose ``at`` is at or past it.

Who decides what:

* each :class:`~consultfsm.core.leg.Leg` decides its transitions and who reports
  (the transition table);
* :class:`~consultfsm.ccm.correlation.SessionResolver` finds the customer's
  existing channel session when a consult starts; no session is ever created
  for a consult;
* the CCM (:mod:`consultfsm.replay.publisher`) publishes on the conversation
  topic exactly once per leg and intent (a repeatable intent, such as a
  hold: once per leg, intent and time), whatever desks re-send;
* :mod:`consultfsm.replay.presence` knows whose desk is down across legs, and
  how (a browser away, an agent logged out);
* this module reads each input, checks it, routes it, and makes it all or
  nothing (:mod:`consultfsm.replay.journal`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

import attrs

from consultfsm.ccm.correlation import (
    ChannelSession,
    ConsultEvidence,
    CorrelationError,
    normalise_ani,
)
from consultfsm.core.errors import ConsultFsmError, InputRejected
from consultfsm.core.events import Event, TimerCancelled, TimerStarted
from consultfsm.core.leg import Leg
from consultfsm.core.states import TIMEOUT_INPUT, CallState, InputKind
from consultfsm.core.step import Step
from consultfsm.wire.cim import (
    REPEATABLE,
    CimEncodeError,
    CimMessage,
    CimParseError,
    MessageIntent,
    parse_message,
)

from . import records
from .config import DEFAULT_SERVICE_IDENTIFIER, SystemConfig, components
from .desks import Desks
from .journal import Journal
from .presence import Away, Presence, agent_input, desk_input
from .publisher import Publisher
from .records import Record, dumps_record
from .timers import TimerHeap
from .trace import (
    CUSTOMER,
    AgentDeskOpened,
    Browser,
    CallInput,
    CimReport,
    Config,
    ConsultInitiated,
    DialogList,
    Dropped,
    FinesseUpdate,
    LegInput,
    Offered,
    Rekeyed,
    SessionEnded,
    SessionStarted,
    Tick,
    TraceError,
    TraceInput,
    TraceInputKind,
    kind_of,
    parse_input,
)

#: The leg input of each trace input about one leg's dialog (``dropped`` is
#: by whoever hung up, see :meth:`System._leg_input`).
_CALL_INPUT: dict[TraceInputKind, InputKind] = {
    TraceInputKind.ALERTING: InputKind.ALERTING,
    TraceInputKind.OFFERED: InputKind.OFFERED,
    TraceInputKind.ACCEPTED: InputKind.ACCEPTED,
    TraceInputKind.RONA: InputKind.RONA,
    TraceInputKind.NO_AGENT: InputKind.NO_AGENT,
    TraceInputKind.HELD: InputKind.HELD,
    TraceInputKind.RETRIEVED: InputKind.RETRIEVED,
    TraceInputKind.TRANSFERRED: InputKind.TRANSFERRED,
    TraceInputKind.CONFERENCED: InputKind.CONFERENCED,
    TraceInputKind.REKEYED: InputKind.REKEYED,
    TraceInputKind.FAILED: InputKind.FAILED,
}
#: The intents of a desk's own messages about a consult leg.
_DESK_INTENTS = frozenset({
    MessageIntent.CALL_LEG_STARTED, MessageIntent.CALL_LEG_ENDED,
    MessageIntent.CALL_HOLD, MessageIntent.CALL_RESUME,
})  # fmt: skip
#: How an agent input leaves that agent's desk (None: it came back).
_AWAY: dict[TraceInputKind, Away | None] = {
    TraceInputKind.BROWSER_DISCONNECTED: Away.DISCONNECTED,
    TraceInputKind.LOGGED_OUT: Away.LOGGED_OUT,
    TraceInputKind.BROWSER_RESTORED: None,
}


class _Rejected(Exception):
    """Internal: the current input is refused; the system is unchanged."""

    def __init__(self, reason: str, leg: str | None = None) -> None:
        self.reason = reason
        self.leg = leg
        super().__init__(reason)


@attrs.define
class _Entry:
    """A leg and the channel session it is attached to."""

    leg: Leg
    session_id: str
    order: int  # creation order: breaks ties between timers due at the same ms


class System:
    """Every component of a consult, fed trace inputs, returning output records.

    Every input is all or nothing: it is checked (time, references, message)
    before anything moves, and if it is rejected anyway, whatever it had
    changed, the timers that fell due before it included, is undone, so a
    rejected input leaves the legs, the CCM's memory and the clock as they were.

    ``leg_class`` runs the legs on another table
    (:func:`consultfsm.core.leg.leg_class`), for tests of the system itself.

    >>> system = System()
    >>> records = system.feed_lines(['{"at": 0, "input": "tick"}'])
    >>> records, system.rejected
    ([], 0)
    """

    def __init__(self, config: SystemConfig | None = None, *, leg_class: type[Leg] = Leg) -> None:
        self.config = config or SystemConfig()
        self.now = 0
        self.rejected = 0
        self.sessions: dict[str, ChannelSession] = {}
        self._leg_class = leg_class
        self._legs: dict[str, _Entry] = {}
        self._journal = Journal()  # what the current input changed
        self._presence = Presence(self._journal)
        self._ccm = Publisher(self._journal)
        self._desks = Desks(self._journal)  # agents whose desk is fed Finesse
        self._timers = TimerHeap()
        self._fired: list[str] = []  # "leg timer" of each timer the current input fired
        self._set_config(self.config)

    # -- public ---------------------------------------------------------------------

    def leg(self, leg_id: str) -> Leg:
        """The leg with this id (KeyError if none). Undoing a rejected input
        resets legs in place, so a kept object stays current."""
        return self._legs[leg_id].leg

    @property
    def legs(self) -> tuple[Leg, ...]:
        """Every leg, in creation order."""
        return tuple(e.leg for e in self._legs.values())

    def feed_lines(self, lines: Iterable[str]) -> list[Record]:
        """Feed trace lines (blank lines are skipped); returns all records."""
        out: list[Record] = []
        for lineno, line in enumerate(lines, 1):
            if line.strip():
                out.extend(self.feed_line(line, lineno))
        return out

    def feed_line(self, line: str, lineno: int | None = None) -> list[Record]:
        """Feed one trace line; a malformed one gives an ``input_rejected`` record."""
        try:
            item = parse_input(line)
        except TraceError as exc:
            return [self._rejection(exc.at, exc.leg, lineno, None, str(exc))]
        return self.feed(item, lineno)

    def feed(self, item: TraceInput, lineno: int | None = None) -> list[Record]:
        """Apply one input: check it, fire the timers due by its time, apply it.
        A rejected input returns only its ``input_rejected`` record and changes
        nothing: no timer fires and the clock stays where it was."""
        kind = kind_of(item).value
        leg = getattr(item, "leg", None)
        now = self.now
        self._journal.commit()  # a fresh log: nothing of an earlier input is undone
        self._fired = []
        try:
            self._check(item)  # references and time: before any timer fires
            out = list(self._fire_due(item.at))
            self.now = item.at
            out.extend(self._dispatch(item))
        except _Rejected as exc:
            why, leg = exc.reason, exc.leg or leg
        except ConsultFsmError as exc:  # the last line of defence: still all or nothing
            why = f"{type(exc).__name__}: {exc}"
        else:
            self._journal.commit()
            return out
        if self._fired:
            # The reason may name a state those timers led to: say so.
            why += (
                f" (after the timers due by then fired: {', '.join(self._fired)}; "
                "undone with the input, they fire before the next one)"
            )
        self._journal.undo()
        self.now = now
        return [self._rejection(item.at, leg, lineno, kind, why)]

    # -- checking and routing an input --------------------------------------------

    def _check(self, item: TraceInput) -> None:
        """Refuse an input whose time or references are wrong, before the
        clock moves (a mis-stamped line must not fire anyone's timers)."""
        if item.at < self.now:
            raise _Rejected(f"time went backwards: the replay is already at {self.now} ms")
        codec = (
            components(self._configured(item)).codec if isinstance(item, Config) else self._codec
        )
        try:
            codec.wall_time(item.at)  # every event of this input is at or before it
        except CimEncodeError as exc:
            raise _Rejected(f"at: {exc.why}") from None
        if isinstance(item, CallInput | Offered | Rekeyed | Dropped):
            leg = self._entry(item.leg).leg
            a, b = leg.facts.agent_a, leg.facts.agent_b
            if isinstance(item, Dropped) and item.by not in (a, b, CUSTOMER):
                people = f"{a!r}, {b!r}" if b is not None else f"{a!r} (no agent B yet)"
                why = f"`by` {item.by!r} is neither {people} nor {CUSTOMER!r}"
                raise _Rejected(why, item.leg)
            if isinstance(item, Offered) and item.agent in (a, CUSTOMER):
                why = (
                    f"`agent` {item.agent!r} is agent A of the leg: A cannot consult A"
                    if item.agent == a
                    else f"{CUSTOMER!r} is reserved for `dropped` and is no agent id"
                )
                raise _Rejected(why, item.leg)
        elif isinstance(item, ConsultInitiated):
            if item.leg in self._legs:
                raise _Rejected(f"leg {item.leg!r} already exists", item.leg)
            if item.agent_a == item.agent_b:
                raise _Rejected("agent_a and agent_b must differ", item.leg)
            if CUSTOMER in (item.agent_a, item.agent_b):
                why = f"{CUSTOMER!r} is reserved for `dropped` and is no agent id"
                raise _Rejected(why, item.leg)
        elif isinstance(item, SessionStarted) and item.session in self.sessions:
            raise _Rejected(f"channel session {item.session!r} already exists")
        elif isinstance(item, SessionEnded):
            session = self.sessions.get(item.session)
            if session is None or not session.active:
                raise _Rejected(f"no active channel session {item.session!r}")
        elif isinstance(item, CimReport):
            self._read_report(item)
        elif isinstance(item, AgentDeskOpened) and item.agent in self._desks:
            raise _Rejected(f"agent {item.agent!r} already has an agent_desk")
        elif isinstance(item, FinesseUpdate | DialogList) and item.agent not in self._desks:
            raise _Rejected(f"agent {item.agent!r} has no agent_desk to receive it")

    def _dispatch(self, item: TraceInput) -> list[Record]:
        if isinstance(item, Config):
            return list(self._configure(item))
        if isinstance(item, Tick):
            return []
        if isinstance(item, SessionStarted):
            return list(self._start_session(item))
        if isinstance(item, SessionEnded):
            return list(self._end_session(item))
        if isinstance(item, ConsultInitiated):
            return list(self._start_leg(item))
        if isinstance(item, CallInput | Offered | Rekeyed | Dropped):
            return list(self._call_input(item))
        if isinstance(item, Browser):
            return list(self._agent_input(item))
        if isinstance(item, AgentDeskOpened):
            self._desks.open(item)
            return []
        if isinstance(item, FinesseUpdate | DialogList):
            return list(self._desks.feed(item, self._codec))
        return list(self._desk_report(item))

    def _rejection(
        self, at: int | None, leg: str | None, lineno: int | None, kind: str | None, why: str
    ) -> Record:
        self.rejected += 1
        return records.input_rejected(at, leg, lineno, kind, why)

    # -- configuration and sessions ------------------------------------------------

    def _set_config(self, config: SystemConfig) -> None:
        self.config = config
        self._components = components(config)
        _, self._resolver, self._codec = self._components

    def _configured(self, item: Config) -> SystemConfig:
        """The settings after ``item``, checked (a bad value rejects the input)."""
        changes = {
            k: v for k, v in attrs.asdict(item, recurse=False).items()
            if k != "at" and v is not None
        }  # fmt: skip
        config = attrs.evolve(self.config, **changes)
        try:
            components(config)
        except ConsultFsmError as exc:
            raise _Rejected(str(exc)) from None
        return config

    def _configure(self, item: Config) -> Iterator[Record]:
        self._journal.on_undo(partial(self._set_config, self.config))
        self._set_config(self._configured(item))
        return iter(())

    def _set_session(self, session: ChannelSession) -> None:
        self._journal.keep_item(self.sessions, session.id)
        self.sessions[session.id] = session

    def _start_session(self, item: SessionStarted) -> Iterator[Record]:
        self._set_session(
            ChannelSession(
                item.session, item.conversation, item.customer_ani, item.dialog,
                item.service_identifier, agents=frozenset(item.agents),
            )
        )  # fmt: skip
        return iter(())

    def _end_session(self, item: SessionEnded) -> Iterator[Record]:
        """The customer's call ended: every unfinished leg of the session is
        told (``customer_left``: the consults go on), all or nothing, and then
        the session is no longer active."""
        targets = [
            (entry, InputKind.CUSTOMER_LEFT) for entry in self._legs.values()
            if entry.session_id == item.session and not entry.leg.is_finished
        ]  # fmt: skip
        what = f"customer_left (session {item.session!r} ended)"
        self._refuse_unless_all_accept(targets, item.at, what)
        for entry, kind in targets:
            yield from self._handle(entry, kind, item.at)
        self._set_session(attrs.evolve(self.sessions[item.session], active=False))

    # -- legs -----------------------------------------------------------------------

    def _entry(self, leg_id: str) -> _Entry:
        entry = self._legs.get(leg_id)
        if entry is None:
            raise _Rejected(f"unknown leg {leg_id!r}", leg_id)
        return entry

    def _start_leg(self, item: ConsultInitiated) -> Iterator[Record]:
        evidence = ConsultEvidence(
            item.associated_dialog_uri, item.channel_session_id, item.customer_ani, item.agent_a
        )
        try:
            found = self._resolver.resolve(evidence, self.sessions.values())
        except CorrelationError as exc:
            raise _Rejected(f"{type(exc).__name__}: {exc}", item.leg) from None
        session = found.session
        # B's desk sends the customer's number (the note's fix); when the
        # consult has none usable, the session's identifier stands in.
        usable = normalise_ani(item.customer_ani, self.config.default_region) is not None
        customer = (
            item.customer_ani.strip() if usable and item.customer_ani else session.customer_ani
        )
        facts: dict[str, Any] = {
            "conversation_id": session.conversation_id, "channel_session_id": session.id,
            "call_id": item.call_id or item.leg,
            "service_identifier": item.service_identifier or session.service_identifier,
            "associated_dialog_uri": item.associated_dialog_uri,
            "config": self._components.leg_config_for(direct=item.direct),
            "created_at": item.at,
        }  # fmt: skip
        if item.agent_b is None:  # a queue consult: no agent until the queue offers one
            leg = self._leg_class.queue_consult(item.leg, item.agent_a, customer, **facts)
        else:
            leg = self._leg_class(item.leg, item.agent_a, item.agent_b, customer, **facts)
        entry = _Entry(leg, session.id, self._next_order())
        self._journal.keep_item(self._legs, item.leg)  # new: undone by forgetting it
        self._legs[item.leg] = entry
        yield records.session_resolved(
            item.at, item.leg, session=session.id, conversation=session.conversation_id,
            evidence=found.evidence.value, customer=customer,
        )  # fmt: skip
        # A leg starts with no timer, except a queue consult's time to live,
        # which no step announces: the host reads it off the new leg.
        for timer, deadline in leg.deadlines.items():
            yield from self._events(entry, (TimerStarted(leg.leg_id, item.at, timer, deadline),))
        # A leg always starts with both desks up (core limitation): replay the
        # absence of a desk that is already down, so the table knows.
        for kind in self._presence.absences(leg.facts):
            yield from self._handle(entry, kind, item.at)

    def _next_order(self) -> int:
        last = next(reversed(self._legs.values()), None)
        return 0 if last is None else last.order + 1

    def _leg_input(self, item: LegInput, leg: Leg) -> tuple[InputKind, str | None]:
        """The leg input of a CTI trace input, and the value it carries."""
        if isinstance(item, Dropped):  # `by` was checked before the clock moved
            if item.by == CUSTOMER:  # the customer's own call: the consult goes on
                return InputKind.CUSTOMER_LEFT, None
            return (InputKind.DROPPED_BY_A if item.by == leg.facts.agent_a
                    else InputKind.DROPPED_BY_B), None  # fmt: skip
        if isinstance(item, Offered):
            return InputKind.OFFERED, item.agent
        if isinstance(item, Rekeyed):
            return InputKind.REKEYED, item.dialog
        return _CALL_INPUT[item.kind], None

    def _call_input(self, item: LegInput) -> Iterator[Record]:
        entry = self._entry(item.leg)
        leg = entry.leg
        kind, value = self._leg_input(item, leg)
        out: list[Record] = []
        try:
            if isinstance(item, Offered) and leg.facts.agent_b is None:
                # The queue chose an agent whose desk is already down: the
                # leg must know before the offer, or it alerts a dead desk.
                away = self._presence.away(item.agent)
                if away is not None and leg.call is CallState.QUEUED:
                    out.extend(self._handle(entry, desk_input(away, side_a=False), item.at))
            out.extend(self._handle(entry, kind, item.at, value, item.source_at))
        except InputRejected as exc:
            raise _Rejected(f"{type(exc).__name__}: {exc}", item.leg) from None
        return iter(out)

    def _agent_input(self, item: Browser) -> Iterator[Record]:
        """Every unfinished leg of the agent gets the input, and decides: a
        repeat is a duplicate there, a return that no disconnect preceded is
        illegal. All or nothing: one leg refusing refuses the input."""
        away = _AWAY[item.kind]
        targets: list[tuple[_Entry, InputKind]] = []
        for entry in self._legs.values():
            facts = entry.leg.facts
            if entry.leg.is_finished or item.agent not in (facts.agent_a, facts.agent_b):
                continue
            targets.append((entry, agent_input(facts, item.agent, away)))
        why = "" if away is not None else ": that desk was not disconnected"
        what = f"{item.kind.value} of agent {item.agent!r}"
        self._refuse_unless_all_accept(targets, item.at, what, why)
        self._presence.set_away(item.agent, away)
        if item.agent in self._desks:  # the page itself: its socket, or a reload
            yield from self._desks.page(item.agent, item.kind, item.at, self._codec)
        elif not targets:
            yield records.input_ignored(
                item.at, None, item.kind.value, "no_live_leg", agent=item.agent
            )
        for entry, kind in targets:
            yield from self._handle(entry, kind, item.at)

    def _refuse_unless_all_accept(
        self, targets: list[tuple[_Entry, InputKind]], at: int, what: str, why: str = ""
    ) -> None:
        """All or nothing for an input told to several legs: refuse it whole,
        naming the legs, when any of them would refuse its part."""
        refused = [e.leg for e, kind in targets if not e.leg.accepts(kind, at)]
        if refused:
            states = ", ".join(f"{leg.leg_id} ({leg.state})" for leg in refused)
            raise _Rejected(f"IllegalInput: {what} is illegal for leg(s) {states}{why}",
                            refused[0].leg_id)  # fmt: skip

    def _handle(
        self, entry: _Entry, kind: InputKind, at: int, value: str | None = None,
        source_at: int | None = None,
    ) -> Iterator[Record]:  # fmt: skip
        """The one way a leg is moved: remember it first, so it can be undone."""
        leg = entry.leg
        if self._journal.first(("leg", leg.leg_id)):
            self._journal.on_undo(partial(leg.reset, leg.snapshot()))
        if value is None and source_at is None:
            step = leg.handle(kind, at)
        else:
            step = leg.handle(kind, at, value, source_at=source_at)
        return self._records(entry, step, kind, at)

    def _records(self, entry: _Entry, step: Step, kind: InputKind, at: int) -> Iterator[Record]:
        """What a step's events become: timers armed, the CCM's records, the rest as they are."""
        if not step.applied:
            yield records.input_ignored(at, entry.leg.leg_id, kind.value, step.disposition.value)
            return
        yield from self._events(entry, step.events)

    def _events(self, entry: _Entry, events: tuple[Event, ...]) -> Iterator[Record]:
        leg = entry.leg
        session = self.sessions[entry.session_id]
        for_ccm = self._ccm.step_records(self._codec, events, session, leg.facts)
        for i, event in enumerate(events):
            if isinstance(event, TimerStarted):
                self._timers.arm(leg.leg_id, entry.order, event.timer, event.deadline)
            elif isinstance(event, TimerCancelled) and event.deadline is None:
                continue  # a timer the leg never armed (no window): nothing to cancel
            yield for_ccm[i] if i in for_ccm else records.event_record(event, leg.facts)

    def _fire_due(self, until: int) -> Iterator[Record]:
        """Fire every timer due at or before ``until``, earliest first: the
        legs' and the AgentDesks' (a desk's first, at the same ms)."""
        while (desk := self._desks.next_deadline()) is not None and desk[0] <= until:
            yield from self._fire_legs(desk[0] - 1)
            deadline, agent = desk
            self.now = max(self.now, deadline)
            self._fired.append(f"{agent}'s desk settle")
            yield from self._desks.fire(agent, deadline, self._codec)
        yield from self._fire_legs(until)

    def _fire_legs(self, until: int) -> Iterator[Record]:
        while (armed := self._timers.pop_due(until)) is not None:
            self._journal.on_undo(partial(self._timers.push, armed))
            entry = self._legs.get(armed.leg)
            if entry is None or not armed.is_live(entry.leg):
                continue
            yield records.timer_fired(armed.deadline, armed.leg, armed.timer.value)
            self.now = max(self.now, armed.deadline)
            self._fired.append(f"{armed.leg} {armed.timer.value}")
            yield from self._handle(entry, TIMEOUT_INPUT[armed.timer], armed.deadline)

    # -- desks reporting on their own ------------------------------------------------

    def _read_report(self, item: CimReport) -> tuple[_Entry, CimMessage]:
        """A desk's own CIM message, parsed and checked against the leg it names."""
        if not isinstance(item.message, str | dict):
            raise _Rejected("message: expected a CIM object or JSON text")
        try:
            message = parse_message(item.message)
        except CimParseError as exc:
            raise _Rejected(f"CimParseError: {exc}") from None
        intent = message.header.intent
        if intent not in _DESK_INTENTS:
            raise _Rejected(f"header.intent: the CCM takes no {intent.value} for a consult leg")
        entry = self._report_leg(item.sender, message)
        leg = entry.leg
        if item.sender not in (leg.facts.agent_a, leg.facts.agent_b):
            why = f"from: {item.sender!r} is not an agent of leg {leg.leg_id!r}"
            raise _Rejected(why, leg.leg_id)
        return entry, message

    def _report_leg(self, sender: str, message: CimMessage) -> _Entry:
        """The leg a desk's message is about: the one ``body.leg`` names; else
        the newest leg of the sender that ever had the dialog ``body.callId``
        (a re-keyed leg keeps its old ids, :attr:`Leg.call_ids`)."""
        leg_id, dialog = message.body.leg, message.body.call_id
        if leg_id is not None or dialog is None:
            if leg_id is None:
                raise _Rejected("body.leg: missing, and no body.callId to find the leg by")
            return self._entry(leg_id)
        knowing = [e for e in self._legs.values() if dialog in e.leg.call_ids]
        if not knowing:
            raise _Rejected(f"body.callId: no leg has dialog {dialog!r} (and body.leg is missing)")
        mine = [e for e in knowing if sender in (e.leg.facts.agent_a, e.leg.facts.agent_b)]
        return (mine or knowing)[-1]  # a stranger is refused by the caller

    def _desk_report(self, item: CimReport) -> Iterator[Record]:
        """A desk's own CIM message: publish nothing twice."""
        entry, message = self._read_report(item)
        leg = entry.leg
        intent = message.header.intent
        if not self._ccm.reports_published(leg.leg_id, message):
            # The leg, driven by the CTI, is the authority: a report ahead of
            # it (B never accepted, the call still up, no such hold) is refused.
            when, stamp = "", message.header.timestamp_ms
            if intent in REPEATABLE:  # which hold? the message's own time says
                epoch = self._codec.epoch_ms
                when = " with no time" if stamp is None else f" at {stamp - epoch} ms"
            raise _Rejected(
                f"{intent.value}{when} for leg {leg.leg_id!r} in state {leg.state}: "
                "the CTI has not reported it; nothing to publish",
                leg.leg_id,
            )
        yield records.duplicate_suppressed(
            item.at, leg.leg_id, records.desk(item.sender), intent.value, message.id
        )


@attrs.frozen(slots=True)
class ReplayResult:
    """The records of a replay and how many inputs were rejected."""

    records: tuple[Record, ...]
    rejected: int

    def lines(self) -> list[str]:
        """The records as JSON Lines (no trailing newlines)."""
        return [dumps_record(r) for r in self.records]


def replay(lines: Iterable[str], config: SystemConfig | None = None) -> ReplayResult:
    """Replay a whole trace through a fresh :class:`System`."""
    system = System(config)
    return ReplayResult(tuple(system.feed_lines(lines)), system.rejected)


__all__ = [
    "DEFAULT_SERVICE_IDENTIFIER",
    "Record",
    "ReplayResult",
    "System",
    "SystemConfig",
    "dumps_record",
    "replay",
]
