"""The whole consult system for replay: legs, customer sessions, the desks,
the CCM, and the Routing Engine / Agent Manager as recipients.

:class:`System` is sans-I/O. It takes trace inputs (:mod:`consultfsm.trace`)
and returns output records (plain dicts, JSON-ready) in the order things
happen. Time is virtual: a due timer fires, at its own deadline, before the
first input whose ``at`` is at or past it.

Who decides what:

* each :class:`~consultfsm.leg.Leg` decides its transitions and who reports
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

from . import events as ev
from .cim import (
    ChannelSessionRef,
    CimCodec,
    CimMessage,
    CimParseError,
    MessageIntent,
    TimestampForm,
    parse_message,
)
from .correlation import (
    ChannelSession,
    ConsultEvidence,
    CorrelationError,
    SessionResolver,
    normalise_ani,
)
from .errors import ConsultFsmError, InputRejected
from .leg import Leg, LegConfig, Step
from .states import TIMEOUT_INPUT, InputKind, Timer
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


@attrs.frozen(slots=True)
class SystemConfig:
    """Settings of a replay. ``service_identifier`` is the fallback
    ``serviceIdentifier`` (see :class:`~consultfsm.cim.CimCodec`);
    ``default_region`` drives ANI normalisation; ``epoch_ms`` is the wall time
    of the trace's ``at`` = 0."""

    ring_ms: int = 15_000
    grace_ms: int = 60_000
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


#: Ties between timers of one leg due at the same ms fire in Timer order.
_TIMER_ORDER: dict[Timer, int] = {timer: i for i, timer in enumerate(Timer)}


class System:
    """Every component of a consult, fed trace inputs, returning output records.

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
        # Armed timers, earliest first: (deadline, leg order, timer order, leg, timer).
        # A cancelled or already fired timer stays until popped, then is skipped.
        self._timers: list[tuple[int, int, int, str, Timer]] = []
        self._apply_config()

    # -- public ---------------------------------------------------------------------

    def leg(self, leg_id: str) -> Leg:
        """The leg with this id (KeyError if none)."""
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
        """Apply one input: first fire due timers, then the input itself."""
        kind = _kind_of(item)
        leg = getattr(item, "leg", None)
        if item.at < self.now:
            why = f"time went backwards: the replay is already at {self.now} ms"
            return [self._rejection(item.at, leg, lineno, kind, why)]
        out = list(self._fire_due(item.at))
        self.now = item.at
        try:
            out.extend(self._dispatch(item))
        except _Rejected as exc:
            out.append(self._rejection(item.at, exc.leg or leg, lineno, kind, exc.reason))
        return out

    # -- configuration and sessions ------------------------------------------------

    def _apply_config(self) -> None:
        c = self.config
        self._leg_config = LegConfig(c.ring_ms, c.grace_ms)
        self._resolver = SessionResolver(c.default_region)
        self._codec = CimCodec(c.service_identifier, c.timestamp_form, c.epoch_ms)

    def _configure(self, item: Config) -> Iterator[Record]:
        changes = {
            k: v for k, v in attrs.asdict(item, recurse=False).items()
            if k != "at" and v is not None
        }  # fmt: skip
        previous = self.config
        self.config = attrs.evolve(self.config, **changes)
        try:
            self._apply_config()
        except ConsultFsmError as exc:
            self.config = previous
            self._apply_config()
            raise _Rejected(str(exc)) from None
        return iter(())

    def _start_session(self, item: SessionStarted) -> Iterator[Record]:
        if item.session in self.sessions:
            raise _Rejected(f"channel session {item.session!r} already exists")
        self.sessions[item.session] = ChannelSession(
            item.session, item.conversation, item.customer_ani, item.dialog,
            item.service_identifier, agents=frozenset(item.agents),
        )  # fmt: skip
        return iter(())

    def _end_session(self, item: SessionEnded) -> Iterator[Record]:
        session = self.sessions.get(item.session)
        if session is None or not session.active:
            raise _Rejected(f"no active channel session {item.session!r}")
        self.sessions[item.session] = attrs.evolve(session, active=False)
        return iter(())

    # -- legs -----------------------------------------------------------------------

    def _entry(self, leg_id: str) -> _Entry:
        entry = self._legs.get(leg_id)
        if entry is None:
            raise _Rejected(f"unknown leg {leg_id!r}", leg_id)
        return entry

    def _start_leg(self, item: ConsultInitiated) -> Iterator[Record]:
        if item.leg in self._legs:
            raise _Rejected(f"leg {item.leg!r} already exists", item.leg)
        if item.agent_a == item.agent_b:
            raise _Rejected("agent_a and agent_b must differ", item.leg)
        if CUSTOMER in (item.agent_a, item.agent_b):
            raise _Rejected(f"{CUSTOMER!r} is reserved for `dropped` and is no agent id", item.leg)
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
        entry = _Entry(leg, session.id, len(self._legs))
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
                yield from self._records(entry, leg.handle(kind, item.at), kind, item.at)

    def _call_input(self, item: CallInput | Dropped) -> Iterator[Record]:
        entry = self._entry(item.leg)
        leg = entry.leg
        if isinstance(item, Dropped):
            if item.by == leg.agent_a:
                kind = InputKind.DROPPED_BY_A
            elif item.by == leg.agent_b:
                kind = InputKind.DROPPED_BY_B
            elif item.by == CUSTOMER:
                kind = InputKind.DROPPED_BY_CUSTOMER
            else:
                why = (
                    f"`by` {item.by!r} is neither {leg.agent_a!r}, {leg.agent_b!r} nor {CUSTOMER!r}"
                )
                raise _Rejected(why, item.leg)
        else:
            kind = _CALL_INPUT[item.kind]
        try:
            step = leg.handle(kind, item.at)
        except InputRejected as exc:
            raise _Rejected(f"{type(exc).__name__}: {exc}", item.leg) from None
        return self._records(entry, step, kind, item.at)

    def _browser(self, item: Browser) -> Iterator[Record]:
        going = item.kind is TraceInputKind.BROWSER_DISCONNECTED
        if not going and item.agent not in self._offline:
            raise _Rejected(f"the desk of agent {item.agent!r} is not disconnected")
        targets: list[tuple[_Entry, InputKind]] = []
        for entry in self._legs.values():
            leg = entry.leg
            if leg.is_finished or item.agent not in (leg.agent_a, leg.agent_b):
                continue
            targets.append((entry, _BROWSER_INPUT[(item.kind, item.agent == leg.agent_a)]))
        # All or nothing: check every leg before changing any.
        refused = [e.leg.leg_id for e, kind in targets if not e.leg.accepts(kind, item.at)]
        if refused:
            raise _Rejected(
                f"{item.kind.value} of {item.agent!r} is illegal for leg(s) {', '.join(refused)}",
                refused[0],
            )
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
            yield from self._records(entry, entry.leg.handle(kind, item.at), kind, item.at)

    # -- the CCM ----------------------------------------------------------------------

    def _desk_report(self, item: CimReport) -> Iterator[Record]:
        """A desk's own CIM message: parse it, check it, and publish nothing twice."""
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
        if item.sender not in (leg.agent_a, leg.agent_b):
            raise _Rejected(f"from: {item.sender!r} is not an agent of leg {leg_id!r}", leg_id)
        if (leg_id, intent.value) not in self._published:
            # The leg, driven by the CTI, is the authority: a report ahead of
            # it (B never accepted, the call still up) is refused.
            raise _Rejected(
                f"{intent.value} for leg {leg_id!r} in state {leg.state}: "
                "the CTI has not reported it; nothing to publish",
                leg_id,
            )
        yield {
            "at": item.at, "leg": leg_id, "to": "ccm", "event": "duplicate_suppressed",
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
        self._received[(event.leg, event.intent.value)] = received
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
        session = self.sessions[entry.session_id]
        ref = ChannelSessionRef(
            session.id, session.conversation_id, session.customer_ani,
            session.service_identifier, session.active,
        )  # fmt: skip
        message = (
            self._received[key]
            if event.reported_by is ev.Reporter.AGENTDESK
            else self._codec.system_message_for(event, ref, entry.leg.call_id)
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
            deadline, _, _, leg_id, timer = heapq.heappop(self._timers)
            entry = self._legs[leg_id]
            if entry.leg.deadline(timer) != deadline:
                continue  # cancelled, or fired and re-armed, since it was pushed
            kind = TIMEOUT_INPUT[timer]
            yield {
                "at": deadline, "leg": leg_id, "to": "host", "event": "timer_fired",
                "timer": timer.value,
            }  # fmt: skip
            self.now = max(self.now, deadline)
            yield from self._records(entry, entry.leg.handle(kind, deadline), kind, deadline)

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

    def _dispatch(self, item: TraceInput) -> Iterable[Record]:
        if isinstance(item, Config):
            return self._configure(item)
        if isinstance(item, Tick):
            return ()
        if isinstance(item, SessionStarted):
            return self._start_session(item)
        if isinstance(item, SessionEnded):
            return self._end_session(item)
        if isinstance(item, ConsultInitiated):
            return list(self._start_leg(item))
        if isinstance(item, CallInput | Dropped):
            return list(self._call_input(item))
        if isinstance(item, Browser):
            return list(self._browser(item))
        return list(self._desk_report(item))


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
        return f"agentdesk:{leg.agent_a}"
    if to == ev.Consumer.AGENTDESK_B.value:
        return f"agentdesk:{leg.agent_b}"
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
