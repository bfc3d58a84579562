"""The CCM engine: every consult leg of a CCM, driven only by what desks send.

:class:`CcmEngine` is what a CCM service embeds. It takes the CIM messages
desks post (``POST /message/receive``), its socket layer's news of desks
connecting and disconnecting, the customer sessions the CCM starts and ends,
and the time; it answers with what to publish on the conversation topic, each
event built and serialised once. Sans-I/O: nothing here reads a clock, a
socket or a file; deadlines are read with :meth:`CcmEngine.next_deadline` and
handed back with :meth:`CcmEngine.handle_timers`.

How a message finds its leg, in O(1) whatever has been seen before:

* both desks of a consult name the same Finesse dialog: ``body.callId``, and
  the last part of their ``leg`` strings (``<extension>:<agentId>:<dialogId>``).
  Every dialog id a leg was reported under (old and re-keyed) points at it;
* a consult's first message finds the customer's session through
  :class:`~consultfsm.ccm.sessions.SessionIndex` (dialog URI, session id,
  normalised ANI); no session is ever created for a consult;
* a finished leg is evicted at once and its dialog ids kept as a tombstone for
  ``tombstone_ms``, so a late or repeated report is recognised and never
  published again (nor re-creates the leg);
* desks by agent, so presence news reaches that agent's live legs only;
* deadlines in one heap, stale entries skipped when popped.

Every input is all or nothing: it is checked (parsed, its leg and session
found, its time) before anything moves, and a refused one raises a typed
error (:class:`~consultfsm.core.errors.ConsultFsmError`) and changes nothing.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from consultfsm.core.errors import ConfigError, ConsultFsmError, SnapshotError, TimeWentBackwards
from consultfsm.core.table import Disposition
from consultfsm.core.text import is_writable
from consultfsm.wire.cim import (
    CONSULT_ROLE_KEY,
    ChannelSessionRef,
    CimCodec,
    CimMessage,
    ConsultRole,
    ConversationEvent,
    MessageIntent,
    message_id,
    parse_message,
)
from consultfsm.wire.legref import LegRefError, parse_leg_ref
from consultfsm.wire.strict_json import NotUnicode, check_text

from .correlation import (
    AmbiguousSession,
    ChannelSession,
    ConsultEvidence,
    Evidence,
    NoUsableEvidence,
    SessionNotFound,
    SessionResolver,
    is_e164,
    stronger_than,
)
from .machine import CcmConfig, CcmLeg, CcmSnapshot, CcmStep, Publish
from .sessions import SessionIndex
from .table import (
    PRESENCE_INPUT,
    REPORT_INPUT,
    UNOBSERVED,
    CcmInput,
    Intent,
    Party,
    Source,
)
from .tombstones import Tombstones

#: How long a finished leg's dialog ids are remembered, by default (ms).
DEFAULT_TOMBSTONE_MS = 86_400_000
#: How long a session whose customer left still takes a consult heard of late (ms).
DEFAULT_ENDED_SESSION_MS = 600_000
#: The ``consultRole`` values (:data:`~consultfsm.wire.cim.CONSULT_ROLE_KEY`).
ROLES: dict[str, Party] = {ConsultRole.CONSULTING: Party.A, ConsultRole.CONSULTED: Party.B}
_INTENTS: dict[MessageIntent, Intent] = {MessageIntent(i.value): i for i in Intent}
_REASON: dict[Intent, str | None] = {
    Intent.STARTED: "CONSULT", Intent.ENDED: UNOBSERVED, Intent.HOLD: None, Intent.RESUME: None,
}  # fmt: skip


class CcmRefused(ConsultFsmError):
    """A desk message the engine cannot take (``field`` says which part); nothing changed."""

    def __init__(self, field: str, why: str) -> None:
        self.field = field
        self.why = why
        super().__init__(f"{field}: {why}")


@attrs.frozen(slots=True)
class Published:
    """One event for the conversation topic: built once, serialised once (``json``)."""

    leg: str
    at: int
    intent: Intent
    source: Source
    event: ConversationEvent
    json: str

    @property
    def reason(self) -> str | None:
        return self.event.data.body.reason_code


@attrs.frozen(slots=True)
class Outcome:
    """What one input did: the disposition of the report (None for an input that
    is not a report), the leg it concerned, and everything published, the
    publications of deadlines that fell due before it included."""

    leg: str | None
    disposition: Disposition | None
    published: tuple[Published, ...] = ()
    late: bool = False  # the leg had finished: the report matched a tombstone


@attrs.define(slots=True)
class _Live:
    """A live leg and what the engine knows of it beside its machine."""

    machine: CcmLeg
    session: ChannelSessionRef
    dialogs: list[str]
    agents: dict[Party, str]
    a_end: CimMessage | None = None  # A's CALL_LEG_ENDED, published if B's never comes
    armed: int | None = None  # the deadline last put on the heap


class CcmEngine:
    """Every consult leg of one CCM.

    >>> from consultfsm.ccm import ChannelSession
    >>> from consultfsm.wire.cim import CimCodec, MessageIntent
    >>> codec = CimCodec("8000")
    >>> ccm = CcmEngine(codec)
    >>> ccm.start_session(ChannelSession("S1", "C1", "+923001234567"), at=0)
    ()
    >>> started = codec.agent_message(
    ...     leg="7002:1002:16777301", at=2_000, intent=MessageIntent.CALL_LEG_STARTED,
    ...     agent="1002", customer="+923001234567", call_id="16777301", reason=None)
    >>> [(p.intent.value, p.source.value) for p in ccm.receive(started, at=2_005).published]
    [('CALL_LEG_STARTED', 'b')]
    >>> ccm.receive(started, at=2_010).disposition.value    # re-sent: published once
    'duplicate'
    """

    def __init__(
        self, codec: CimCodec, *, resolver: SessionResolver | None = None,
        config: CcmConfig | None = None, tombstone_ms: int = DEFAULT_TOMBSTONE_MS,
        leg_class: type[CcmLeg] = CcmLeg, ended_session_ms: int = DEFAULT_ENDED_SESSION_MS,
    ) -> None:  # fmt: skip
        if not isinstance(codec, CimCodec):
            raise ConfigError("codec", f"must be a CimCodec, got {type(codec).__name__}")
        if isinstance(tombstone_ms, bool) or not isinstance(tombstone_ms, int) or tombstone_ms <= 0:
            raise ConfigError("tombstone_ms", "must be a positive number of ms")
        self.codec = codec
        self._leg_class = leg_class  # another table's machine: how the checks run a broken copy
        self.config = CcmConfig() if config is None else config
        if (isinstance(ended_session_ms, bool) or not isinstance(ended_session_ms, int)
                or ended_session_ms < 0):  # fmt: skip
            raise ConfigError("ended_session_ms", "must be a non-negative number of ms")
        self.tombstone_ms = tombstone_ms
        self.ended_session_ms = ended_session_ms
        self.sessions = SessionIndex(resolver)
        # Sessions whose customer left lately, with the time: a consult already
        # on when the customer hung up may be heard of only afterwards.
        self._ended = SessionIndex(self.sessions.resolver)
        self._ended_at: dict[str, int] = {}  # session id -> when it ended, oldest first
        self.now = 0
        self.published = 0  # events published, ever
        self._legs: dict[str, _Live] = {}  # by the leg's id (its first dialog id)
        self._by_dialog: dict[str, str] = {}  # every dialog id of a live leg -> its id
        self._by_agent: dict[str, dict[str, Party]] = {}  # agent -> live legs, and as whom
        self._by_session: dict[str, set[str]] = {}  # session id -> live legs
        self._presence: dict[str, bool] = {}  # agent -> desk up (the socket layer)
        self._timers: list[tuple[int, str]] = []  # (deadline, leg id); stale ones skipped
        self._tombs = Tombstones(tombstone_ms)  # dialog ids of finished legs
        #: Called with every step a leg machine takes (which row, what it did):
        #: for coverage, tracing and the review page; None to skip.
        self.on_step: Callable[[CcmStep], None] | None = None

    # --- public ------------------------------------------------------------------------

    def __len__(self) -> int:
        """The number of live legs."""
        return len(self._legs)

    @property
    def tombstones(self) -> int:
        return len(self._tombs)

    def leg(self, dialog_id: str) -> CcmLeg | None:
        """The live leg with this dialog id (any of its ids), or None."""
        key = self._by_dialog.get(dialog_id)
        return None if key is None else self._legs[key].machine

    def is_finished(self, dialog_id: str) -> bool:
        """True when a leg with this dialog id finished within the tombstone horizon."""
        return dialog_id in self._tombs

    def start_session(self, session: ChannelSession, at: int) -> tuple[Published, ...]:
        """The customer's call is on: consults can now find its session. A
        session id is used once: one whose end is still remembered (a late
        consult could still be published in it) is :class:`CcmRefused`."""
        self._check_time(at)
        self.sessions.check_new(session)
        if self.session_used(session.id, at):  # (active: check_new refused it already)
            raise CcmRefused("session", f"channel session {session.id!r} already existed: it "
                             f"ended at {self._ended_at[session.id]} ms")  # fmt: skip
        out = self._advance(at)
        self.sessions.add(session)
        return out

    def end_session(self, session_id: str, at: int) -> tuple[Published, ...]:
        """The customer's call ended. Its consults go on (and still publish in
        it, now ``isActive: false``); no new consult can find it."""
        self._check_time(at)
        if not isinstance(session_id, str) or self.sessions.get(session_id) is None:
            raise CcmRefused("session", f"no active channel session {session_id!r}")
        out = self._advance(at)
        reading = self.sessions.reading(session_id)
        ended = self.sessions.end(session_id)
        if self.ended_session_ms and self._ended.get(session_id) is None:
            self._ended.add(ended, reading=reading)  # (read in its own region)
            self._ended_at[session_id] = at
        for key in self._by_session.get(session_id, ()):
            live = self._legs[key]
            live.session = attrs.evolve(live.session, active=False)
        return out

    def reconfigure(self, codec: CimCodec, resolver: SessionResolver) -> None:
        """Write and read another wire form from now on (``codec``); normalise
        the numbers of sessions started from now on in another region
        (``resolver``): those already indexed keep theirs."""
        if not isinstance(codec, CimCodec):
            raise ConfigError("codec", f"must be a CimCodec, got {type(codec).__name__}")
        self.codec = codec
        self.sessions.resolver = self._ended.resolver = resolver

    def receive(
        self, message: CimMessage | Report | str | bytes | Mapping[str, Any], at: int
    ) -> Outcome:
        """A desk's CIM message, received at ``at``. Raises
        :class:`~consultfsm.wire.cim.CimParseError`, :class:`CcmRefused` or a
        :class:`~consultfsm.ccm.correlation.CorrelationError` for one it cannot
        take, changing nothing. ``message`` may be the :class:`Report`
        :func:`read_report` read of it (a store reads one to find its rows)."""
        self._check_time(at)
        if isinstance(message, Report) and message.codec is self.codec:
            report = message
        else:
            if isinstance(message, Report):  # (read by another codec: read again)
                message = message.message
            elif not isinstance(message, CimMessage):
                message = parse_message(message)
            report = read_report(self.codec, message)
        message, party, intent, dialogs = (
            report.message, report.party, report.intent, report.dialogs)  # fmt: skip
        key = self._find(dialogs)
        if key is not None:
            self._check_party(self._legs[key], party, message.header.sender.id)
        if key is None and any(self._tombs.holds(d, at) for d in dialogs):
            return Outcome(dialogs[0], Disposition.ABSORBED, self._advance(at), late=True)
        session = None
        if key is None:
            session = self._resolve(message, party, at)
        out = list(self._advance(at))
        # Timers that fell due may have finished it: look again. A leg they
        # finished is a late report's leg even when its tombstone is already
        # past the horizon (the timers ran that late): never a new consult.
        key = self._find(dialogs)
        if key is None:
            if session is None or any(self._tombs.holds(d, at) for d in dialogs):
                return Outcome(dialogs[0], Disposition.ABSORBED, tuple(out), late=True)
            key = self._create(dialogs[0], session, at)
        live = self._legs[key]
        for dialog in dialogs:  # a re-keyed consult: its new id points here too
            if dialog not in self._by_dialog:
                self._by_dialog[dialog] = key
                live.dialogs.append(dialog)
        out += self._learn(live, party, message.header.sender.id, at)
        kind = REPORT_INPUT[(party, intent)]
        occurred = message.header.timestamp_ms
        if occurred is not None:
            occurred -= self.codec.epoch_ms
        step = live.machine.handle(kind, at, occurred)
        if kind is CcmInput.A_ENDED and step.applied:
            live.a_end = message
        out += self._publish(live, step, message)
        self._after(key, live, at)
        return Outcome(key, step.disposition, tuple(out))

    def desk_up(self, agent: str, at: int) -> tuple[Published, ...]:
        """The socket layer: ``agent``'s desk connected (a first connect, a
        return, or a CCM restart meeting a desk already up: all the same)."""
        return self._presence_news(agent, True, at)

    def desk_down(self, agent: str, at: int) -> tuple[Published, ...]:
        """The socket layer: ``agent``'s desk disconnected."""
        return self._presence_news(agent, False, at)

    def next_deadline(self) -> int | None:
        """The earliest armed deadline of any leg (ms), or None."""
        while self._timers:
            deadline, key = self._timers[0]
            live = self._legs.get(key)
            if live is not None and live.machine.deadline == deadline:
                return deadline
            heapq.heappop(self._timers)
        return None

    def handle_timers(self, now: int) -> tuple[Published, ...]:
        """Fire every deadline due at ``now``, earliest first, each at its own time."""
        self._check_time(now)
        return self._advance(now)

    # --- reading a message -----------------------------------------------------------------

    def _check_time(self, at: int) -> None:
        if isinstance(at, bool) or not isinstance(at, int):
            raise CcmRefused("at", f"time {at!r} is not an int")
        if at < self.now:
            why = f"the CCM is already at {self.now} ms"
            raise TimeWentBackwards("ccm", "-", "input", at, why)
        self.codec.wall_time(at)  # publishable: CimEncodeError before anything moves

    def _check_party(self, live: _Live, party: Party, agent: str) -> None:
        other = Party.B if party is Party.A else Party.A
        if live.agents.get(other) == agent:
            why = f"agent {agent!r} is already the {other.value.upper()} agent of this consult"
            raise CcmRefused("header.sender.id", why)

    def _find(self, dialogs: Sequence[str]) -> str | None:
        keys = {k for d in dialogs if (k := self._by_dialog.get(d)) is not None}
        if len(keys) > 1:
            raise CcmRefused("body", f"its dialog ids {dialogs} name two live legs {sorted(keys)}")
        return next(iter(keys), None)

    def _resolve(self, message: CimMessage, party: Party, at: int) -> ChannelSessionRef:
        evidence = evidence_of(message, party)
        active = True
        try:
            found = self.sessions.resolve(evidence)
            session = found.session
        except SessionNotFound as exc:
            # No live session: one that ended lately still takes a consult that
            # was on when the customer left (the customer's leaving does not
            # end it), published there as ``isActive: false``.
            try:
                session = self._ended_until(at).resolve(evidence).session
            except SessionNotFound:
                raise exc from None
            active = False
        else:
            # A live session found by weaker evidence than names an ended one
            # is not the consult's: a customer who left while the consult rang
            # and called back from the same number has a live session by ANI,
            # and the consult's dialog URI or session id still names the first.
            ended = self.ended_session_named(evidence, found.evidence, at)
            if ended is not None:
                session, active = ended, False
        return ChannelSessionRef(session.id, session.conversation_id, session.customer_ani,
                                 session.service_identifier, active)  # fmt: skip

    def ended_session_named(
        self, evidence: ConsultEvidence, than: Evidence, at: int
    ) -> ChannelSession | None:
        """The ended session (within its horizon at ``at``) that ``evidence``
        names by a kind of evidence stronger than ``than`` (the kind that found
        a live one), or None; :class:`AmbiguousSession` when that stronger
        evidence names more than one (ambiguity never falls through)."""
        stronger = stronger_than(evidence, than)
        if stronger is None:
            return None  # (nothing stronger to look for: the common case costs nothing)
        try:
            found = self._ended.resolve(stronger)  # (every remembered end: O(1))
            if not self._ended_gone(found.session.id, at):
                return found.session
        except (SessionNotFound, NoUsableEvidence):
            return None
        except AmbiguousSession:
            pass
        # Some of what it names are past the horizon: among those within it.
        try:
            return self._ended_until(at).resolve(stronger).session
        except (SessionNotFound, NoUsableEvidence):
            return None

    def session_used(self, session_id: str, at: int) -> bool:
        """Whether :meth:`start_session` would refuse ``session_id`` at ``at``
        as used: active, or ended and still remembered."""
        return self.sessions.get(session_id) is not None or (
            self._ended.get(session_id) is not None and not self._ended_gone(session_id, at)
        )

    def _ended_until(self, at: int) -> SessionIndex:
        """The ended sessions still within their horizon at ``at``: those past
        it are dropped only when the clock moves (after the input is checked),
        so they are left out here, not found, never ambiguous."""
        oldest = next(iter(self._ended_at), None)
        if oldest is None or not self._ended_gone(oldest, at):
            return self._ended
        index = SessionIndex(self._ended.resolver)
        for session_id in self._ended_at:
            session = self._ended.get(session_id)
            if session is not None and not self._ended_gone(session_id, at):
                index.add(session, reading=self._ended.reading(session_id))
        return index

    def _ended_gone(self, session_id: str, at: int) -> bool:
        """True when the ended session is past the horizon at ``at``."""
        return self._ended_at[session_id] + self.ended_session_ms < at

    # --- moving legs -------------------------------------------------------------------------

    def _create(self, key: str, session: ChannelSessionRef, at: int) -> str:
        machine = self._leg_class(key, config=self.config, created_at=at)
        self._legs[key] = _Live(machine, session, [], {})
        self._by_session.setdefault(session.id, set()).add(key)
        return key

    def _learn(self, live: _Live, party: Party, agent: str, at: int) -> list[Published]:
        """The first message of a party names its agent: from then on that
        agent's presence reaches this leg, starting with what is known now."""
        if party in live.agents:
            return []
        live.agents[party] = agent
        self._by_agent.setdefault(agent, {})[live.machine.leg] = party
        up = self._presence.get(agent)
        if up is None:
            return []
        return self._publish(live, live.machine.handle(PRESENCE_INPUT[(party, up)], at), None)

    def _presence_news(self, agent: str, up: bool, at: int) -> tuple[Published, ...]:
        if not isinstance(agent, str) or not agent.strip():  # (as restore reads it: _text)
            raise CcmRefused("agent", "must be a non-empty string")
        self._check_time(at)
        out = list(self._advance(at))
        self._presence[agent] = up
        # In leg id order, so a restored engine publishes in the same order.
        for key, party in sorted(self._by_agent.get(agent, {}).items()):
            live = self._legs[key]
            out += self._publish(live, live.machine.handle(PRESENCE_INPUT[(party, up)], at), None)
            self._after(key, live, at)
        return tuple(out)

    def _advance(self, until: int) -> tuple[Published, ...]:
        """Fire every deadline due by ``until``, each at its own time, then move the clock."""
        out: list[Published] = []
        while (deadline := self.next_deadline()) is not None and deadline <= until:
            _, key = heapq.heappop(self._timers)
            live = self._legs[key]
            self.now = max(self.now, deadline)
            out += self._publish(live, live.machine.handle_timer(deadline), None)
            self._after(key, live, deadline)
        self.now = until
        self._tombs.expire(until)
        while self._ended_at and self._ended_gone(gone := next(iter(self._ended_at)), until):
            del self._ended_at[gone]
            self._ended.end(gone)
        return tuple(out)

    def _after(self, key: str, live: _Live, at: int) -> None:
        """Arm the leg's deadline, or evict it when it is finished."""
        machine = live.machine
        if machine.is_finished:
            self._evict(key, live, at)
        elif machine.deadline is not None and machine.deadline != live.armed:
            heapq.heappush(self._timers, (machine.deadline, key))
        live.armed = machine.deadline

    def _evict(self, key: str, live: _Live, at: int) -> None:
        del self._legs[key]
        for dialog in live.dialogs:
            del self._by_dialog[dialog]
        for agent in live.agents.values():
            legs = self._by_agent[agent]
            del legs[key]
            if not legs:
                del self._by_agent[agent]
        legs_of = self._by_session[live.session.id]
        legs_of.discard(key)
        if not legs_of:
            del self._by_session[live.session.id]
        self._tombs.bury(live.dialogs, at)

    # --- publishing ----------------------------------------------------------------------------

    def _publish(self, live: _Live, step: CcmStep, message: CimMessage | None) -> list[Published]:
        if self.on_step is not None:
            self.on_step(step)
        return [self._event(live, p, message) for p in step.emits]

    def _event(self, live: _Live, pub: Publish, message: CimMessage | None) -> Published:
        intent, source = pub.emit.intent, pub.emit.source
        wire = MessageIntent(intent.value)
        if source is Source.CCM:
            data = self.codec.system_message(
                leg=live.machine.leg, at=pub.at, intent=wire, session=live.session,
                call_id=live.dialogs[-1] if live.dialogs else live.machine.leg,
                reason=_REASON[intent],
            )  # fmt: skip
        else:
            own = live.a_end if source is Source.A and intent is Intent.ENDED else message
            if own is None:  # pragma: no cover - the table never asks for a message it lacks
                raise CcmRefused("table", f"{pub} needs a message of {source.value}'s desk")
            # rule 4: a start implied by a later report
            data = own if own.header.intent is wire else _implied(own, wire)
        event, text = self.codec.leg_event_json(leg=live.machine.leg, at=pub.at, intent=wire,
                                                session=live.session, message=data)  # fmt: skip
        self.published += 1
        return Published(live.machine.leg, pub.at, intent, source, event, text)

    # --- snapshots -------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole engine, JSON-ready: legs, sessions, presence, tombstones, the clock."""
        return {
            "v": 1, "now": self.now, "published": self.published,
            "config": attrs.asdict(self.config), "tombstone_ms": self.tombstone_ms,
            "sessions": [attrs.asdict(s, value_serializer=_plain) for s in self.sessions],
            "ended_sessions": [
                [t, attrs.asdict(self._ended.get(sid), value_serializer=_plain)]  # type: ignore[arg-type]
                for sid, t in self._ended_at.items()
            ],
            "ended_session_ms": self.ended_session_ms,
            "presence": dict(self._presence),
            "legs": self.leg_records(),
            "tombstones": self._tombs.to_list(),
            **self._readings(),
        }  # fmt: skip

    def _readings(self) -> dict[str, Any]:
        """``readings`` for :meth:`snapshot`: each session whose number was
        read in another region than the resolver's now (:meth:`reconfigure`),
        with that reading, ``[E.164 or null, region]``; absent when there is
        none, so a snapshot of an engine never reconfigured stays as it was."""
        region = self.sessions.resolver.default_region
        out: dict[str, list[str | None]] = {}
        for index, ids in ((self.sessions, [s.id for s in self.sessions]),
                           (self._ended, list(self._ended_at))):  # fmt: skip
            for sid in ids:
                ani, read_in = index.reading(sid)
                if read_in != region:
                    out[sid] = [ani, read_in]
        return {"readings": out} if out else {}

    def leg_records(self) -> list[dict[str, Any]]:
        """The ``legs`` of :meth:`snapshot` alone (what a store writes back after an input)."""
        return [
            {"machine": live.machine.snapshot().to_dict(),
             "session": _session_dict(live.session), "dialogs": list(live.dialogs),
             "agents": {p.value: a for p, a in live.agents.items()},
             "a_end": None if live.a_end is None else self.codec.encode(live.a_end)}
            for live in self._legs.values()
        ]  # fmt: skip

    def buried(self) -> set[str]:
        """Every dialog id a tombstone holds (finished legs' ids, within the horizon)."""
        return self._tombs.ids()

    def buried_at(self) -> dict[str, int]:
        """:meth:`buried`, each with the time it is remembered from: the start
        of its tombstone generation (:meth:`Tombstones.generation_of
        <consultfsm.ccm.tombstones.Tombstones.generation_of>` of when its leg
        finished), the time a store keeps to load it as it stands here."""
        return self._tombs.starts()

    @classmethod
    def restore(cls, data: Mapping[str, Any], codec: CimCodec, *,
                resolver: SessionResolver | None = None,
                leg_class: type[CcmLeg] = CcmLeg, own: bool = False) -> CcmEngine:  # fmt: skip
        """The engine :meth:`snapshot` wrote, continuing exactly where it was.

        ``own=True`` says the data is this library's own writing read back (a
        durable store's rows): its text was checked writable when the inputs it
        holds were taken, so that scan of every string is skipped; every other
        check still runs."""
        if not own:
            try:
                check_text(data)  # every id in it goes back out: it must be writable
            except NotUnicode as exc:
                raise SnapshotError(exc.path, exc.why) from None
        try:
            _keys(data, _SNAPSHOT_KEYS, "$", optional=_SNAPSHOT_OPTIONAL)
            readings = _readings_of(data.get("readings", {}))
            if _count(data["v"], "v") != 1:
                raise SnapshotError("v", "not a version 1 CCM engine snapshot")
            engine = cls(codec, resolver=resolver, config=CcmConfig(**data["config"]),
                         tombstone_ms=data["tombstone_ms"], leg_class=leg_class,
                         ended_session_ms=data["ended_session_ms"])  # fmt: skip
            engine.now = _count(data["now"], "now")
            engine.published = _count(data["published"], "published")
            try:
                codec.wall_time(engine.now)  # (an engine past year 9999 could take no input)
            except ConsultFsmError as exc:
                raise SnapshotError("now", str(exc)) from None
            for raw in data["sessions"]:
                one = _session(raw, "sessions[]")
                engine.sessions.add(one, reading=readings.pop(one.id, None))
            for t, raw in data["ended_sessions"]:
                one = _session(raw, "ended_sessions[]")
                engine._ended.add(one, reading=readings.pop(one.id, None))
                at = _count(t, "ended_sessions[][0]")
                if engine._ended_at and at < next(reversed(engine._ended_at.values())):
                    raise SnapshotError("ended_sessions", "must be in the order they ended")
                engine._ended_at[raw["id"]] = at
            engine._presence = {_text(a, "presence"): _flag(up, "presence")
                                for a, up in data["presence"].items()}  # fmt: skip
            if readings:
                raise SnapshotError("readings", f"{next(iter(readings))!r} is no session here")
            for raw in data["legs"]:
                engine._restore_leg(raw, leg_class)
            engine._tombs = Tombstones.from_list(engine.tombstone_ms, data["tombstones"])
        except SnapshotError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError,
                ConsultFsmError) as exc:  # fmt: skip
            # (AttributeError: a part of the wrong kind, a string where an object belongs)
            raise SnapshotError("$", f"not a CCM engine snapshot: {exc}") from None
        return engine

    def _restore_leg(self, raw: Mapping[str, Any], leg_class: type[CcmLeg]) -> None:
        """One leg of a snapshot, indexed (see :meth:`restore`, which catches what it raises)."""
        _keys(raw, _LEG_KEYS, "legs[]")
        snap = CcmSnapshot.from_dict(raw["machine"])
        if snap.now > self.now:
            raise SnapshotError("legs[].machine.now", f"{snap.now} ms is after the "
                                f"engine's clock, {self.now} ms")  # fmt: skip
        machine = leg_class.restore(snap, self.config)
        a_end = None if raw["a_end"] is None else parse_message(raw["a_end"])
        agents = {Party(p): _text(a, "legs[].agents") for p, a in raw["agents"].items()}
        if len(set(agents.values())) < len(agents):
            raise SnapshotError("legs[].agents", "one agent cannot be both A and B")
        session = _session_ref(raw["session"])
        dialogs = [_text(d, "legs[].dialogs") for d in raw["dialogs"]]
        live = _Live(machine, session, dialogs, agents, a_end)
        key = machine.leg
        # The indexes must be able to take it: one leg per id and per dialog.
        if key in self._legs or key not in dialogs:
            raise SnapshotError("legs[].machine.leg", f"{key!r}: twice, or not a dialog")
        for dialog in dialogs:
            if dialog in self._by_dialog or dialogs.count(dialog) > 1:
                raise SnapshotError("legs[].dialogs", f"dialog {dialog!r} named twice")
        self._legs[key] = live
        for dialog in live.dialogs:
            self._by_dialog[dialog] = key
        for party, agent in live.agents.items():
            self._by_agent.setdefault(agent, {})[key] = party
        self._by_session.setdefault(live.session.id, set()).add(key)
        if machine.deadline is not None:
            heapq.heappush(self._timers, (machine.deadline, key))
        live.armed = machine.deadline


@attrs.frozen(slots=True)
class Report:
    """A desk's message as a CCM reads it (:func:`read_report`): who reports
    what about which dialogs. :meth:`CcmEngine.receive` takes one in place of
    its message, and does not read it again."""

    message: CimMessage
    party: Party
    intent: Intent
    dialogs: tuple[str, ...]  # its ``leg`` string's dialog id, then ``callId``
    codec: CimCodec = attrs.field(eq=False, repr=False)  # (the codec that read it)


def read_report(codec: CimCodec, message: CimMessage) -> Report:
    """Who reports what about which dialogs: the party (by ``consultRole``), the
    intent, and the dialog ids the message names (its ``leg`` string's, then
    ``callId``), or :class:`CcmRefused`. A store looks these up before it
    hands the message (the report) to an engine."""
    intent = _INTENTS.get(message.header.intent)
    if intent is None:
        why = f"the CCM takes no {message.header.intent.value} for a consult leg"
        raise CcmRefused("header.intent", why)
    role = next((a.value for a in message.header.channel_data.additional_attributes
                 if a.key == CONSULT_ROLE_KEY), ConsultRole.CONSULTED)  # fmt: skip
    party = ROLES.get(str(role))
    if party is None:
        raise CcmRefused(f"header.channelData.additionalAttributes[{CONSULT_ROLE_KEY}]",
                         f"{role!r} is neither CONSULTING nor CONSULTED")  # fmt: skip
    if not isinstance(message.id, str) or not is_writable(message.id):
        # (a message built in code: the text parser refuses it) its id keys
        # a hold's event id, which must be written, after the leg has moved
        raise CcmRefused("id", "must be a string UTF-8 can encode")
    dialogs: list[str] = []
    if message.body.leg is not None:
        try:
            dialogs.append(parse_leg_ref(message.body.leg).dialog_id)
        except LegRefError as exc:
            raise CcmRefused("body.leg", exc.why) from None
    call_id = message.body.call_id
    if call_id is not None and call_id.strip() and call_id not in dialogs:
        dialogs.append(call_id)
    if not dialogs:
        raise CcmRefused("body", "neither body.leg nor body.callId names the consult dialog")
    attributes = message.header.channel_data.additional_attributes
    if (
        message.header.extra
        or message.body.extra
        or message.header.sender.extra
        or message.header.channel_data.extra
        or any(not isinstance(a.value, str) for a in attributes)
    ):
        # What the parser passes through unread is written back into the
        # event: refuse now what could not be written then.
        try:
            codec.dumps(message)
        except (ValueError, TypeError, RecursionError) as exc:
            raise CcmRefused("$", f"holds a value that cannot be written back: {exc}") from None
    return Report(message, party, intent, tuple(dialogs), codec)


def evidence_of(message: CimMessage, party: Party) -> ConsultEvidence:
    """What a consult's message offers to find the customer's session."""
    header = message.header
    uri = next((a.value for a in header.channel_data.additional_attributes
                if a.key == "associatedDialogUri"), None)  # fmt: skip
    return ConsultEvidence(
        associated_dialog_uri=None if uri is None else str(uri),
        channel_session_id=header.channel_session_id,
        customer_ani=header.channel_data.channel_customer_identifier,
        agent_a=header.sender.id if party is Party.A else None,
    )


def _text(value: Any, where: str) -> str:
    """A non-empty string read from a snapshot (it is written back out as an id)."""
    if not isinstance(value, str) or not value.strip():
        raise SnapshotError(where, f"expected a non-empty string, got {value!r:.40}")
    return value


def _count(value: Any, where: str) -> int:
    """A non-negative integer read from a snapshot (not a bool, a float, a string)."""
    if value.__class__ is not int or value < 0:
        raise SnapshotError(where, f"expected a non-negative integer, got {value!r:.40}")
    return int(value)


_SNAPSHOT_KEYS = frozenset({"v", "now", "published", "config", "tombstone_ms", "sessions",
                            "ended_sessions", "ended_session_ms", "presence", "legs",
                            "tombstones"})  # fmt: skip
#: Written only when there is something to say (see CcmEngine._readings).
_SNAPSHOT_OPTIONAL = frozenset({"readings"})
_LEG_KEYS = frozenset({"machine", "session", "dialogs", "agents", "a_end"})


def _keys(
    raw: Any, keys: frozenset[str], where: str, *, optional: frozenset[str] = frozenset()
) -> None:
    """An object with exactly ``keys``, and any of ``optional`` (a misspelt
    key must not restore silently)."""
    if not isinstance(raw, Mapping):
        raise SnapshotError(where, "must be an object")
    if raw.keys() != keys and not keys <= raw.keys() <= keys | optional:
        odd = sorted((set(raw) ^ keys) - optional)[0]
        raise SnapshotError(f"{where}.{odd}", "unknown or missing field")


def _readings_of(raw: Any) -> dict[str, tuple[str | None, str | None]]:
    """A snapshot's ``readings``: session id -> (E.164 or None, region or None)."""
    if not isinstance(raw, Mapping):
        raise SnapshotError("readings", "must be an object")
    out = {}
    for sid, reading in raw.items():
        if (
            not isinstance(reading, list)
            or len(reading) != 2
            or not all(part is None or isinstance(part, str) for part in reading)
            or (reading[0] is not None and not is_e164(reading[0]))
        ):
            raise SnapshotError(
                f"readings.{sid}", "must be [an E.164 number or null, a region or null]"
            )
        out[sid] = (reading[0], reading[1])
    return out


def _session(raw: Any, where: str) -> ChannelSession:
    """A session from a snapshot: its agents a list of ids."""
    agents = raw["agents"]
    if not isinstance(agents, list) or not all(isinstance(a, str) for a in agents):
        raise SnapshotError(f"{where}.agents", "must be a list of agent ids")
    return ChannelSession(**{**raw, "agents": frozenset(agents)})


def _flag(value: Any, where: str) -> bool:
    if value.__class__ is not bool:
        raise SnapshotError(where, f"expected true or false, got {value!r:.40}")
    return bool(value)


def _session_dict(ref: ChannelSessionRef) -> dict[str, Any]:
    """``attrs.asdict(ref)``, written out: a store writes it back after every input."""
    return {"id": ref.id, "conversation_id": ref.conversation_id,
            "customer_identifier": ref.customer_identifier,
            "service_identifier": ref.service_identifier, "active": ref.active}  # fmt: skip


def _session_ref(raw: Mapping[str, Any]) -> ChannelSessionRef:
    """A leg's session from a snapshot, each field of its type: the CCM writes
    it into every event it publishes, later."""
    ref = ChannelSessionRef(**raw)
    for name in ("id", "conversation_id", "customer_identifier"):
        _text(getattr(ref, name), f"legs[].session.{name}")
    if ref.service_identifier is not None:
        _text(ref.service_identifier, "legs[].session.service_identifier")
    _flag(ref.active, "legs[].session.active")
    return ref


def _plain(_: Any, __: Any, value: Any) -> Any:
    return sorted(value) if isinstance(value, frozenset) else value


def _implied(message: CimMessage, intent: MessageIntent) -> CimMessage:
    """The desk's message for ``intent`` that ``message`` implies (rule 4: an
    end or a hold that overtook the start): the same sender and channel data,
    and the id the desk's own message of that intent has."""
    leg = message.body.leg or message.body.call_id or message.id
    scope = message.header.conversation_id or message.header.channel_session_id
    reason = "CONSULT" if intent is MessageIntent.CALL_LEG_STARTED else None
    return attrs.evolve(
        message,
        id=message_id(leg, intent, scope=scope),
        header=attrs.evolve(message.header, intent=intent),
        body=attrs.evolve(message.body, reason_code=reason),
    )


__all__ = [
    "DEFAULT_TOMBSTONE_MS",
    "ROLES",
    "CcmEngine",
    "CcmRefused",
    "Outcome",
    "Published",
    "Report",
    "evidence_of",
    "read_report",
]
