"""The whole consult system for replay: legs, customer sessions, the desks,
the CCM, and the Routing Engine / Agent Manager as recipients.

:class:`System` is sans-I/O. It takes trace inputs (:mod:`consultfsm.replay.trace`)
and returns output records (plain dicts, JSON-ready) in the order things
happen. Time is virtual: a due timer fires, at its own deadline, before the
first input whose ``at`` is at or past it.

Who decides what:

* each :class:`~consultfsm.core.leg.Leg` decides its transitions and who reports
  (the transition table);
* :class:`SessionResolver` finds the customer's existing channel session
  when a consult starts; no session is ever created for a consult;
* the CCM layer here guarantees exactly-once publication on the conversation
  topic per leg and intent, whatever desks re-send: every desk message goes
  through a real CIM encode/parse round trip, and a report of something
  already published is suppressed, not re-published.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from consultfsm.ccm.correlation import (
    ChannelSession,
    ConsultEvidence,
    CorrelationError,
    SessionResolver,
    normalise_ani,
)
from consultfsm.core import events as ev
from consultfsm.core import facts as _facts
from consultfsm.core.errors import ConsultFsmError, InputRejected
from consultfsm.core.facts import LegConfig
from consultfsm.core.leg import Leg
from consultfsm.core.snapshot import LegSnapshot
from consultfsm.core.states import TIMEOUT_INPUT, InputKind, Timer
from consultfsm.core.step import Step
from consultfsm.wire.cim import (
    ChannelSessionRef,
    CimCodec,
    CimEncodeError,
    CimMessage,
    CimParseError,
    MessageIntent,
    TimestampForm,
    parse_message,
)

from .trace import (
    CUSTOMER,
    Browser,
    CallInput,
    CimReport,
    Config,
    ConsultInitiated,
    Dropped,
    SessionEnded,
    SessionStarted,
    Tick,
    TraceError,
    TraceInput,
    TraceInputKind,
    parse_input,
)

#: ``serviceIdentifier`` used when neither the consult nor its session names one.
DEFAULT_SERVICE_IDENTIFIER = "consultfsm-replay"

Record = dict[str, Any]

_CALL_INPUT: dict[TraceInputKind, InputKind] = {
    TraceInputKind.ALERTING: InputKind.ALERTING,
    TraceInputKind.ACCEPTED: InputKind.ACCEPTED,
    TraceInputKind.RONA: InputKind.RONA,
    TraceInputKind.FAILED: InputKind.FAILED,
}
_BROWSER_INPUT: dict[tuple[TraceInputKind, bool], InputKind] = {
    (TraceInputKind.BROWSER_DISCONNECTED, True): InputKind.BROWSER_DISCONNECTED_A,
    (TraceInputKind.BROWSER_DISCONNECTED, False): InputKind.BROWSER_DISCONNECTED_B,
    (TraceInputKind.BROWSER_RESTORED, True): InputKind.BROWSER_RESTORED_A,
    (TraceInputKind.BROWSER_RESTORED, False): InputKind.BROWSER_RESTORED_B,
}
_CONVERSATION_EVENTS = (ev.CallLegStarted, ev.CallLegEnded)


def _leg_default(name: str) -> Any:
    # Read when a SystemConfig is made, so it follows consultfsm.core.facts.DEFAULT_CONFIG.
    return attrs.Factory(lambda: getattr(_facts.DEFAULT_CONFIG, name))


@attrs.frozen(slots=True)
class SystemConfig:
    """Settings of a replay. ``ring_ms`` and ``grace_ms`` default to the leg's
    own defaults (:data:`consultfsm.core.facts.DEFAULT_CONFIG`); ``service_identifier``
    is the fallback ``serviceIdentifier`` (see :class:`~consultfsm.wire.cim.CimCodec`);
    ``default_region`` drives ANI normalisation; ``epoch_ms`` is the wall time
    of the trace's ``at`` = 0."""

    ring_ms: int = _leg_default("ring_ms")
    grace_ms: int = _leg_default("grace_ms")
    default_region: str | None = None
    service_identifier: str = DEFAULT_SERVICE_IDENTIFIER
    timestamp_form: TimestampForm = TimestampForm.RFC3339
    epoch_ms: int = 0


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


_Timer = tuple[int, int, int, str, Timer]  # (deadline, leg order, timer order, leg, timer)
_MISSING: Any = object()


@attrs.define
class _Journal:
    """What one input changed, so a rejected input can be undone whole: the
    first snapshot of each leg it touched (None: the leg is new), the timers it
    popped, and the previous value of each CCM / session / desk entry."""

    now: int
    legs: dict[str, LegSnapshot | None] = attrs.Factory(dict)
    popped: list[_Timer] = attrs.Factory(list)
    published: list[tuple[str, str]] = attrs.Factory(list)
    received: dict[tuple[str, str], Any] = attrs.Factory(dict)
    sessions: dict[str, Any] = attrs.Factory(dict)
    offline: dict[str, bool] = attrs.Factory(dict)
    config: SystemConfig | None = None
    fired: list[str] = attrs.Factory(list)  # "leg timer" of each timer that fired


#: Ties between timers of one leg due at the same ms fire in Timer order.
_TIMER_ORDER: dict[Timer, int] = {timer: i for i, timer in enumerate(Timer)}


class System:
    """Every component of a consult, fed trace inputs, returning output records.

    Every input is all or nothing: it is checked (time, references, message)
    before anything moves, and if it is rejected anyway, whatever it had
    changed, the timers that fell due before it included, is undone, so a
    rejected input leaves the legs, the CCM's memory and the clock as they were.

    >>> system = System()
    >>> records = system.feed_lines(['{"at": 0, "input": "tick"}'])
    >>> records, system.rejected
    ([], 0)
    """

    def __init__(self, config: SystemConfig | None = None) -> None:
        self.config = config or SystemConfig()
        self.now = 0
        self.rejected = 0
        self.sessions: dict[str, ChannelSession] = {}
        self._legs: dict[str, _Entry] = {}
        self._offline: set[str] = set()
        # The CCM's memory: what it published, and the desk message behind it.
        self._published: set[tuple[str, str]] = set()
        self._received: dict[tuple[str, str], CimMessage] = {}
        # Armed timers, earliest first. A cancelled, fired or undone timer stays
        # until popped, then is skipped (its leg's deadline no longer matches).
        self._timers: list[_Timer] = []
        self._journal = _Journal(0)
        self._apply_config()

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
        kind = _kind_of(item)
        leg = getattr(item, "leg", None)
        self._journal = _Journal(self.now)
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
            return out
        if self._journal.fired:
            # The reason may name a state those timers led to: say so.
            why += (
                f" (after the timers due by then fired: {', '.join(self._journal.fired)}; "
                "undone with the input, they fire before the next one)"
            )
        self._undo()
        return [self._rejection(item.at, leg, lineno, kind, why)]

    # -- all or nothing -------------------------------------------------------------

    def _check(self, item: TraceInput) -> None:
        """Refuse an input whose time or references are wrong, before the
        clock moves (a mis-stamped line must not fire anyone's timers)."""
        if item.at < self.now:
            raise _Rejected(f"time went backwards: the replay is already at {self.now} ms")
        codec = _components(self._configured(item))[2] if isinstance(item, Config) else self._codec
        try:
            codec.wall_time(item.at)  # every event of this input is at or before it
        except CimEncodeError as exc:
            raise _Rejected(f"at: {exc.why}") from None
        if isinstance(item, CallInput | Dropped):
            leg = self._entry(item.leg).leg
            a, b = leg.facts.agent_a, leg.facts.agent_b
            if isinstance(item, Dropped) and item.by not in (a, b, CUSTOMER):
                why = f"`by` {item.by!r} is neither {a!r}, {b!r} nor {CUSTOMER!r}"
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

    def _undo(self) -> None:
        """Put back everything the current input changed (see :class:`_Journal`)."""
        j = self._journal
        self.now = j.now
        for leg_id, snap in j.legs.items():
            if snap is None:
                del self._legs[leg_id]
            else:
                self._legs[leg_id].leg.reset(snap)
        for timer in j.popped:
            heapq.heappush(self._timers, timer)
        self._published.difference_update(j.published)
        for key, message in j.received.items():
            if message is _MISSING:
                del self._received[key]
            else:
                self._received[key] = message
        for session_id, session in j.sessions.items():
            if session is _MISSING:
                del self.sessions[session_id]
            else:
                self.sessions[session_id] = session
        for agent, was_offline in j.offline.items():
            (self._offline.add if was_offline else self._offline.discard)(agent)
        if j.config is not None:
            self.config = j.config
            self._apply_config()
        self._journal = _Journal(self.now)

    def _handle(self, entry: _Entry, kind: InputKind, at: int) -> Iterator[Record]:
        """The one way a leg is moved: remember it first, so it can be undone."""
        leg = entry.leg
        if leg.leg_id not in self._journal.legs:
            self._journal.legs[leg.leg_id] = leg.snapshot()
        return self._records(entry, leg.handle(kind, at), kind, at)

    def _set_session(self, session: ChannelSession) -> None:
        self._journal.sessions.setdefault(session.id, self.sessions.get(session.id, _MISSING))
        self.sessions[session.id] = session

    # -- configuration and sessions ------------------------------------------------

    def _apply_config(self) -> None:
        self._leg_config, self._resolver, self._codec = _components(self.config)

    def _configured(self, item: Config) -> SystemConfig:
        """The settings after ``item``, checked (a bad value rejects the input)."""
        changes = {
            k: v for k, v in attrs.asdict(item, recurse=False).items()
            if k != "at" and v is not None
        }  # fmt: skip
        config = attrs.evolve(self.config, **changes)
        try:
            _components(config)
        except ConsultFsmError as exc:
            raise _Rejected(str(exc)) from None
        return config

    def _configure(self, item: Config) -> Iterator[Record]:
        if self._journal.config is None:
            self._journal.config = self.config
        self.config = self._configured(item)
        self._apply_config()
        return iter(())

    def _start_session(self, item: SessionStarted) -> Iterator[Record]:
        self._set_session(
            ChannelSession(
                item.session, item.conversation, item.customer_ani, item.dialog,
                item.service_identifier, agents=frozenset(item.agents),
            )
        )  # fmt: skip
        return iter(())

    def _end_session(self, item: SessionEnded) -> Iterator[Record]:
        self._set_session(attrs.evolve(self.sessions[item.session], active=False))
        return iter(())

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
        leg = Leg(
            item.leg, item.agent_a, item.agent_b, customer,
            conversation_id=session.conversation_id, channel_session_id=session.id,
            call_id=item.call_id or item.leg,
            service_identifier=item.service_identifier or session.service_identifier,
            associated_dialog_uri=item.associated_dialog_uri, config=self._leg_config,
            created_at=item.at,
        )  # fmt: skip
        entry = _Entry(leg, session.id, self._next_order())
        self._journal.legs[item.leg] = None  # new: undone by forgetting it
        self._legs[item.leg] = entry
        yield {
            "at": item.at, "leg": item.leg, "to": "ccm", "event": "session_resolved",
            "channel_session_id": session.id, "conversation_id": session.conversation_id,
            "evidence": found.evidence.value, "customer_identifier": customer,
        }  # fmt: skip
        # A leg always starts with both desks up (core limitation): replay the
        # absence of a desk that is already offline, so the table knows.
        for agent, is_a in ((item.agent_a, True), (item.agent_b, False)):
            if agent in self._offline:
                kind = _BROWSER_INPUT[(TraceInputKind.BROWSER_DISCONNECTED, is_a)]
                yield from self._handle(entry, kind, item.at)

    def _next_order(self) -> int:
        last = next(reversed(self._legs.values()), None)
        return 0 if last is None else last.order + 1

    def _call_input(self, item: CallInput | Dropped) -> Iterator[Record]:
        entry = self._entry(item.leg)
        leg = entry.leg
        if isinstance(item, Dropped):
            kind = {
                leg.facts.agent_a: InputKind.DROPPED_BY_A,
                leg.facts.agent_b: InputKind.DROPPED_BY_B,
                CUSTOMER: InputKind.DROPPED_BY_CUSTOMER,
            }[item.by]  # `by` was checked before the clock moved
        else:
            kind = _CALL_INPUT[item.kind]
        try:
            return self._handle(entry, kind, item.at)
        except InputRejected as exc:
            raise _Rejected(f"{type(exc).__name__}: {exc}", item.leg) from None

    def _browser(self, item: Browser) -> Iterator[Record]:
        """Every unfinished leg of the agent gets the input, and decides: a
        repeat is a duplicate there, a return that no disconnect preceded is
        illegal. All or nothing: one leg refusing refuses the input."""
        going = item.kind is TraceInputKind.BROWSER_DISCONNECTED
        targets: list[tuple[_Entry, InputKind]] = []
        for entry in self._legs.values():
            leg = entry.leg
            if leg.is_finished or item.agent not in (leg.facts.agent_a, leg.facts.agent_b):
                continue
            targets.append((entry, _BROWSER_INPUT[(item.kind, item.agent == leg.facts.agent_a)]))
        refused = [e.leg for e, kind in targets if not e.leg.accepts(kind, item.at)]
        if refused:
            states = ", ".join(f"{leg.leg_id} ({leg.state})" for leg in refused)
            raise _Rejected(
                f"IllegalInput: {item.kind.value} of agent {item.agent!r} is illegal for leg(s) "
                f"{states}" + ("" if going else ": that desk was not disconnected"),
                refused[0].leg_id,
            )
        self._journal.offline.setdefault(item.agent, item.agent in self._offline)
        if going:
            self._offline.add(item.agent)
        else:
            self._offline.discard(item.agent)
        if not targets:
            yield {
                "at": item.at, "leg": None, "to": "host", "event": "input_ignored",
                "input": item.kind.value, "agent": item.agent, "disposition": "no_live_leg",
            }  # fmt: skip
        for entry, kind in targets:
            yield from self._handle(entry, kind, item.at)

    # -- the CCM ----------------------------------------------------------------------

    def _read_report(self, item: CimReport) -> tuple[_Entry, CimMessage]:
        """A desk's own CIM message, parsed and checked against the leg it names."""
        if not isinstance(item.message, str | dict):
            raise _Rejected("message: expected a CIM object or JSON text")
        try:
            message = parse_message(item.message)
        except CimParseError as exc:
            raise _Rejected(f"CimParseError: {exc}") from None
        intent = message.header.intent
        leg_id = message.body.leg
        if intent not in (MessageIntent.CALL_LEG_STARTED, MessageIntent.CALL_LEG_ENDED):
            raise _Rejected(f"header.intent: the CCM takes no {intent.value} for a consult leg")
        if leg_id is None:
            raise _Rejected("body.leg: missing")
        entry = self._entry(leg_id)
        leg = entry.leg
        if item.sender not in (leg.facts.agent_a, leg.facts.agent_b):
            raise _Rejected(f"from: {item.sender!r} is not an agent of leg {leg_id!r}", leg_id)
        return entry, message

    def _desk_report(self, item: CimReport) -> Iterator[Record]:
        """A desk's own CIM message: publish nothing twice."""
        entry, message = self._read_report(item)
        leg = entry.leg
        intent = message.header.intent
        if (leg.leg_id, intent.value) not in self._published:
            # The leg, driven by the CTI, is the authority: a report ahead of
            # it (B never accepted, the call still up) is refused.
            raise _Rejected(
                f"{intent.value} for leg {leg.leg_id!r} in state {leg.state}: "
                "the CTI has not reported it; nothing to publish",
                leg.leg_id,
            )
        yield {
            "at": item.at, "leg": leg.leg_id, "to": "ccm", "event": "duplicate_suppressed",
            "from": f"agentdesk:{item.sender}", "intent": intent.value, "message_id": message.id,
        }  # fmt: skip

    def _deliver_cim(
        self, entry: _Entry, event: ev.CimCallLegStarted | ev.CimCallLegEnded
    ) -> Record:
        # What B's desk sends goes over the wire and back: the CCM reads the
        # same bytes a deployed CCM would, so the codec is exercised end to end.
        message = self._codec.message_for(event)
        received = parse_message(self._codec.dumps(message))
        if received != message:  # pragma: no cover - a codec bug, not an input problem
            raise AssertionError(f"CIM round trip changed {message!r} into {received!r}")
        key = (event.leg, event.intent.value)
        self._journal.received.setdefault(key, self._received.get(key, _MISSING))
        self._received[key] = received
        return {
            "at": event.at, "leg": event.leg, "to": "ccm", "event": ev.EventKind.CIM_MESSAGE.value,
            "from": f"agentdesk:{event.agent}", "intent": event.intent.value,
            "message": self._codec.encode(received),
        }  # fmt: skip

    def _publish(self, entry: _Entry, event: ev.CallLegStarted | ev.CallLegEnded) -> Record:
        key = (event.leg, event.kind.value)
        if key in self._published:  # defence in depth: the table emits each once
            return {
                "at": event.at, "leg": event.leg, "to": "ccm", "event": "duplicate_suppressed",
                "from": "leg", "intent": event.kind.value,
            }  # fmt: skip
        self._published.add(key)
        self._journal.published.append(key)
        session = self.sessions[entry.session_id]
        ref = ChannelSessionRef(
            session.id, session.conversation_id, session.customer_ani,
            session.service_identifier, session.active,
        )  # fmt: skip
        message = (
            self._received[key]
            if event.reported_by is ev.Reporter.AGENTDESK
            else self._codec.system_message_for(event, ref, entry.leg.facts.call_id)
        )
        out = event.to_dict()
        record: Record = {"at": event.at, "leg": event.leg, "to": out.pop("to"),
                          "event": out.pop("event")}  # fmt: skip
        out.pop("leg")
        out.pop("at")
        record.update(out)
        record["channel_session"] = self._codec.channel_session(ref)
        record["message"] = self._codec.conversation_event(event, ref, message)
        return record

    # -- timers and records ------------------------------------------------------------

    def _fire_due(self, until: int) -> Iterator[Record]:
        """Fire every timer due at or before ``until``, earliest first (ties:
        leg creation order, then timer order). A heap of armed timers keeps
        this independent of the number of legs."""
        while self._timers and self._timers[0][0] <= until:
            item = heapq.heappop(self._timers)
            self._journal.popped.append(item)
            deadline, _, _, leg_id, timer = item
            entry = self._legs.get(leg_id)
            if entry is None or entry.leg.deadline(timer) != deadline:
                continue  # cancelled, fired or undone since it was pushed
            kind = TIMEOUT_INPUT[timer]
            yield {
                "at": deadline, "leg": leg_id, "to": "host", "event": "timer_fired",
                "timer": timer.value,
            }  # fmt: skip
            self.now = max(self.now, deadline)
            self._journal.fired.append(f"{leg_id} {timer.value}")
            yield from self._handle(entry, kind, deadline)

    def _records(self, entry: _Entry, step: Step, kind: InputKind, at: int) -> Iterator[Record]:
        leg = entry.leg
        if not step.applied:
            yield {
                "at": at, "leg": leg.leg_id, "to": "host",
                "event": "input_ignored", "input": kind.value,
                "disposition": step.disposition.value,
            }  # fmt: skip
            return
        for event in step.events:
            if isinstance(event, ev.TimerStarted):
                heapq.heappush(
                    self._timers,
                    (
                        event.deadline,
                        entry.order,
                        _TIMER_ORDER[event.timer],
                        leg.leg_id,
                        event.timer,
                    ),
                )
            if isinstance(event, ev.CimCallLegStarted | ev.CimCallLegEnded):
                yield self._deliver_cim(entry, event)
            elif isinstance(event, _CONVERSATION_EVENTS):
                yield self._publish(entry, event)
            else:
                out = event.to_dict()
                to = out.pop("to")
                record: Record = {"at": event.at, "leg": event.leg,
                                  "to": _address(to, leg), "event": out.pop("event")}  # fmt: skip
                out.pop("leg")
                out.pop("at")
                record.update(out)
                yield record

    def _rejection(
        self, at: int | None, leg: str | None, lineno: int | None, kind: str | None, why: str
    ) -> Record:
        self.rejected += 1
        return {
            "at": at, "leg": leg, "to": "host", "event": "input_rejected",
            "line": lineno, "input": kind, "reason": why,
        }  # fmt: skip

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
        if isinstance(item, CallInput | Dropped):
            return list(self._call_input(item))
        if isinstance(item, Browser):
            return list(self._browser(item))
        return list(self._desk_report(item))


def _components(config: SystemConfig) -> tuple[LegConfig, SessionResolver, CimCodec]:
    """What a config builds; raises a :class:`ConsultFsmError` for a bad value."""
    return (
        LegConfig(config.ring_ms, config.grace_ms),
        SessionResolver(config.default_region),
        CimCodec(config.service_identifier, config.timestamp_form, config.epoch_ms),
    )


def _kind_of(item: TraceInput) -> str:
    kind = getattr(item, "kind", None)
    if isinstance(kind, TraceInputKind):
        return kind.value
    names = {
        Config: TraceInputKind.CONFIG, Tick: TraceInputKind.TICK,
        SessionStarted: TraceInputKind.CUSTOMER_SESSION_STARTED,
        SessionEnded: TraceInputKind.CUSTOMER_SESSION_ENDED,
        ConsultInitiated: TraceInputKind.CONSULT_INITIATED, Dropped: TraceInputKind.DROPPED,
        CimReport: TraceInputKind.CIM_MESSAGE,
    }  # fmt: skip
    return names[type(item)].value


def _address(to: str, leg: Leg) -> str:
    """The output ``to`` of a consumer: desks are named by their agent."""
    if to == ev.Consumer.AGENTDESK_A.value:
        return f"agentdesk:{leg.facts.agent_a}"
    if to == ev.Consumer.AGENTDESK_B.value:
        return f"agentdesk:{leg.facts.agent_b}"
    return to


def dumps_record(record: Record) -> str:
    """One output line: compact JSON, keys in emission order, ASCII only, so
    the same trace always gives the same bytes."""
    return json.dumps(record, separators=(",", ":"))


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
    records = system.feed_lines(lines)
    return ReplayResult(tuple(records), system.rejected)


__all__ = [
    "DEFAULT_SERVICE_IDENTIFIER",
    "Record",
    "ReplayResult",
    "System",
    "SystemConfig",
    "dumps_record",
    "replay",
]
