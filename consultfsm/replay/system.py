"""The whole consult system for replay: the world, the desks and the real CCM.

:class:`System` is sans-I/O. It takes trace inputs (:mod:`consultfsm.replay.trace`)
and returns output records (:mod:`consultfsm.replay.records`) in the order
things happen. Time is virtual: a due timer (:mod:`consultfsm.replay.timers`)
fires, at its own deadline, before the first input whose ``at`` is at or past it.

Who decides what:

* the **world** is the leg model: each :class:`~consultfsm.core.leg.Leg`, moved
  by the trace's CTI inputs, decides what happens to the call and what B's
  desk sends (the transition table);
* the **desks** send the CCM what they see. B's messages are the ones the leg
  model emits; A's desk, which sees the consult dialog too, reports what the
  leg model says the CCM must learn while B's desk is away; a page that was
  away reports what it missed when it comes back. An ``agent_desk`` is a real
  :class:`~consultfsm.desk.AgentDesk` fed Finesse, and ``cim_message`` lines
  are a desk's own posts;
* the **CCM** is a real :class:`~consultfsm.ccm.engine.CcmEngine`: it hears
  only those messages and whose socket is up, and it alone decides what is
  published on the conversation topic (exactly once per leg, whatever
  arrives twice, late or out of order). There is no second CCM here;
* :mod:`consultfsm.replay.presence` knows whose desk is down across legs;
* this module reads each input, checks it, routes it, and makes the world's
  part all or nothing (:mod:`consultfsm.replay.journal`).

What reaches the CCM is handed over only once the world has taken the input:
a rejected input never reaches it. The CCM's own answer to a message (a
publication, a repeat absorbed, a refusal) is an output record, not a
rejection of the trace line: the desk did post it.

Memory is bounded by what is live: a finished leg is kept whole for
``forget_ms`` (late CTI reports are still judged by the leg itself), then
forgotten, its id kept as a tombstone; the CCM evicts its own legs the same way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from functools import partial
from typing import Any

import attrs

from consultfsm.ccm.correlation import (
    ChannelSession,
    ConsultEvidence,
    CorrelationError,
    normalise_ani,
)
from consultfsm.ccm.engine import CcmEngine
from consultfsm.ccm.machine import CcmConfig, CcmLeg, observed_ccm_leg
from consultfsm.ccm.tombstones import Tombstones
from consultfsm.core import events as ev
from consultfsm.core.errors import ConsultFsmError, InputRejected
from consultfsm.core.events import Event, TimerCancelled, TimerStarted
from consultfsm.core.leg import Leg
from consultfsm.core.states import TIMEOUT_INPUT, CallState, InputKind
from consultfsm.core.step import Step
from consultfsm.wire.cim import (
    CimEncodeError,
    CimMessage,
    CimParseError,
    parse_message,
)
from consultfsm.wire.legref import LegRef, LegRefError, parse_leg_ref

from . import records
from .ccm_answers import CcmAnswers, Out
from .config import DEFAULT_SERVICE_IDENTIFIER, SystemConfig, components
from .cti_desks import NO_EXTENSION, CtiDesks
from .desks import Desks
from .journal import Journal
from .presence import Away, Presence, agent_input, desk_input
from .records import Record, dumps_record
from .states import States
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
#: How an agent input leaves that agent's desk (None: it came back).
_AWAY: dict[TraceInputKind, Away | None] = {
    TraceInputKind.BROWSER_DISCONNECTED: Away.DISCONNECTED,
    TraceInputKind.LOGGED_OUT: Away.LOGGED_OUT,
    TraceInputKind.BROWSER_RESTORED: None,
}
#: The leg events that are B's desk posting a CIM message.
_B_SENDS = (ev.CimCallLegStarted, ev.CimCallLegEnded, ev.CimCallHold, ev.CimCallResume)
#: The leg model's publications: what the CCM must come to publish. Reported
#: by B's desk, the message above stands for it; reported by the CCM (B's desk
#: is away), A's desk reports it, or the first desk to come back.
_PUBLICATIONS = (ev.CallLegStarted, ev.CallLegEnded, ev.CallHeld, ev.CallResumed)


class _Rejected(Exception):
    """Internal: the current input is refused; the system is unchanged."""

    def __init__(self, reason: str, leg: str | None = None) -> None:
        self.reason = reason
        self.leg = leg
        super().__init__(reason)


@attrs.define
class _Entry:
    """A leg of the world and the channel session it is attached to."""

    leg: Leg
    session_id: str
    order: int  # creation order: breaks ties between timers due at the same ms


class System:
    """Every component of a consult, fed trace inputs, returning output records.

    Every input is all or nothing: it is checked (time, references, message)
    before anything moves, and if it is rejected anyway, whatever it had
    changed, the timers that fell due before it included, is undone, so a
    rejected input leaves the legs, the desks and the clock as they were,
    and the CCM never hears of it.

    ``leg_class`` runs the legs on another table
    (:func:`consultfsm.core.leg.leg_class`), for tests of the system itself;
    ``ccm_config`` sets the CCM's waits. With ``states``, every accepted input
    ends with a ``states`` record per leg it touched
    (:mod:`consultfsm.replay.states`); without, the output is as it always was.

    >>> system = System()
    >>> records = system.feed_lines(['{"at": 0, "input": "tick"}'])
    >>> records, system.rejected
    ([], 0)
    """

    def __init__(
        self, config: SystemConfig | None = None, *, leg_class: type[Leg] = Leg,
        ccm_config: CcmConfig | None = None, states: bool = False,
    ) -> None:  # fmt: skip
        self.config = config or SystemConfig()
        self._states = States() if states else None
        self.now = 0
        self.rejected = 0
        self._leg_class = leg_class
        self._legs: dict[str, _Entry] = {}  # live legs, and finished ones not yet forgotten
        self._order = 0
        self._by_agent: dict[str, dict[str, None]] = {}  # agent -> its unfinished legs
        self._by_session: dict[str, dict[str, None]] = {}  # session -> its unfinished legs
        self._by_dialog: dict[str, str] = {}  # consult dialog id -> the unfinished leg on it
        self._finished: deque[tuple[int, str]] = deque()  # (finished at, leg), oldest first
        self._journal = Journal()  # what the current input changed
        self._presence = Presence(self._journal)
        self._desks = Desks(  # agents whose desk is fed Finesse
            self._journal, None if self._states is None else self._states.desk_step
        )
        self._timers = TimerHeap()
        self._connected: set[str] = set()  # agents whose socket the CCM has heard of
        self._touched: dict[str, None] = {}  # legs the current input moved
        self._fired: list[str] = []  # "leg timer" of each timer the current input fired
        self._set_config(self.config)
        ccm_leg = CcmLeg if self._states is None else observed_ccm_leg(self._states.ccm_step)
        self.ccm = CcmEngine(self._codec, resolver=self._resolver, config=ccm_config,
                             leg_class=ccm_leg)  # fmt: skip
        self._answers = CcmAnswers(self.ccm, self._agent_b_of)
        self._cti_desks = CtiDesks(self._journal, self._presence, self._answers,
                                   lambda: self._codec)  # fmt: skip
        self._forgotten = Tombstones(self.config.forget_ms)

    # -- public ---------------------------------------------------------------------

    def leg(self, leg_id: str) -> Leg:
        """The leg with this id (KeyError if none, or forgotten). Undoing a
        rejected input resets legs in place, so a kept object stays current."""
        return self._legs[leg_id].leg

    @property
    def legs(self) -> tuple[Leg, ...]:
        """Every leg not yet forgotten, in creation order."""
        return tuple(e.leg for e in self._legs.values())

    @property
    def sessions(self) -> dict[str, ChannelSession]:
        """The CCM's active customer sessions, by id."""
        return {s.id: s for s in self.ccm.sessions}

    def _leg_or_none(self, leg_id: str) -> Leg | None:
        entry = self._legs.get(leg_id)
        return None if entry is None else entry.leg

    def _agent_b_of(self, leg_id: str) -> str | None:
        entry = self._legs.get(leg_id)
        return None if entry is None else entry.leg.facts.agent_b

    def desk_is_up(self, agent: str) -> bool:
        """False while ``agent``'s desk is away (its browser gone, or logged out)."""
        return self._presence.away(agent) is None

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
            return [self._rejection(exc.at, exc.leg, lineno, exc.input_kind, str(exc))]
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
        self._touched = {}
        if self._states is not None:
            self._states.reset()
        try:
            self._check(item)  # references and time: before any timer fires
            out = self._fire_due(item.at)
            self.now = item.at
            out.append(partial(self._answers.advance, item.at))
            out.extend(self._dispatch(item))
        except _Rejected as exc:
            why, leg = exc.reason, exc.leg or leg
        except ConsultFsmError as exc:  # the last line of defence: still all or nothing
            why = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            why = f"internal error, {type(exc).__name__}: {exc} (the input was undone)"
        else:
            self._journal.commit()
            self._settle()
            done: list[Record] = []
            for x in out:  # the CCM hears of it now, in order
                done.extend(x() if callable(x) else (x,))
            if self._states is not None:
                done += self._states.records(
                    self.now, lineno, kind, self._leg_or_none, self.ccm.leg
                )
            return done
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
            if isinstance(item, Offered):
                if item.agent in (a, CUSTOMER):
                    why = (
                        f"`agent` {item.agent!r} is agent A of the leg: A cannot consult A"
                        if item.agent == a
                        else f"{CUSTOMER!r} is reserved for `dropped` and is no agent id"
                    )
                    raise _Rejected(why, item.leg)
                self._check_leg_string(item.agent, item.leg)
            if isinstance(item, Rekeyed):
                self._check_dialog_free(item.dialog, item.leg)
        elif isinstance(item, ConsultInitiated):
            if item.leg in self._legs or item.leg in self._forgotten:
                raise _Rejected(f"leg {item.leg!r} already exists", item.leg)
            if item.agent_a == item.agent_b:
                raise _Rejected("agent_a and agent_b must differ", item.leg)
            if CUSTOMER in (item.agent_a, item.agent_b):
                why = f"{CUSTOMER!r} is reserved for `dropped` and is no agent id"
                raise _Rejected(why, item.leg)
            for agent in (item.agent_a, item.agent_b):
                if agent is not None:
                    self._check_leg_string(agent, item.leg)
            self._check_dialog_free(item.call_id or item.leg, item.leg)
        elif isinstance(item, SessionStarted) and self.ccm.session_used(item.session, item.at):
            # (active, or ended and remembered: a late consult could still be published in it)
            raise _Rejected(f"channel session {item.session!r} already exists or ended lately")
        elif isinstance(item, SessionEnded) and self.ccm.sessions.get(item.session) is None:
            raise _Rejected(f"no active channel session {item.session!r}")
        elif isinstance(item, CimReport):
            self._read_report(item)
        elif isinstance(item, AgentDeskOpened) and item.agent in self._desks:
            raise _Rejected(f"agent {item.agent!r} already has an agent_desk")
        elif isinstance(item, FinesseUpdate | DialogList) and item.agent not in self._desks:
            raise _Rejected(f"agent {item.agent!r} has no agent_desk to receive it")

    @staticmethod
    def _check_leg_string(agent: str, leg: str) -> None:
        """The desks name a leg ``-:<agent>:<leg>``: both must fit in one."""
        try:
            LegRef(NO_EXTENSION, agent, leg)
        except LegRefError as exc:
            raise _Rejected(f"{exc} (the desks' leg string is -:<agent>:<leg>)", leg) from None

    def _check_dialog_free(self, dialog: str, leg: str) -> None:
        """Finesse never has two live consults on one dialog (the CCM tells
        consults apart by it); a finished one's may come back (a re-offer)."""
        owner = self._by_dialog.get(dialog)
        if owner is not None and owner != leg:
            raise _Rejected(f"dialog {dialog!r} is already live leg {owner!r}'s", leg)

    def _dispatch(self, item: TraceInput) -> Out:
        if isinstance(item, Config):
            return self._configure(item)
        if isinstance(item, Tick):
            return []
        if isinstance(item, SessionStarted):
            return self._start_session(item)
        if isinstance(item, SessionEnded):
            return self._end_session(item)
        if isinstance(item, ConsultInitiated):
            return self._start_leg(item)
        if isinstance(item, CallInput | Offered | Rekeyed | Dropped):
            return self._call_input(item)
        if isinstance(item, Browser):
            return self._agent_input(item)
        if isinstance(item, AgentDeskOpened):
            self._desks.open(item)
            return []
        if isinstance(item, FinesseUpdate | DialogList):
            return self._desk_sends(self._desks.feed(item, self._codec))
        return self._desk_report(item)

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

    def _configure(self, item: Config) -> Out:
        self._journal.on_undo(partial(self._set_config, self.config))
        self._set_config(self._configured(item))
        codec, resolver = self._codec, self._resolver

        def tell_ccm() -> list[Record]:
            self.ccm.reconfigure(codec, resolver)
            return []

        return [tell_ccm]

    def _start_session(self, item: SessionStarted) -> Out:
        session = ChannelSession(
            item.session, item.conversation, item.customer_ani, item.dialog,
            item.service_identifier, agents=frozenset(item.agents),
        )  # fmt: skip
        try:
            self.ccm.sessions.check_new(session)
        except ConsultFsmError as exc:
            raise _Rejected(f"{type(exc).__name__}: {exc}") from None
        return [partial(self._answers.call, self.ccm.start_session, session, item.at)]

    def _end_session(self, item: SessionEnded) -> Out:
        """The customer's call ended: every unfinished leg of the session is
        told (``customer_left``: the consults go on), all or nothing, and then
        the CCM ends the session."""
        targets = [(self._legs[k], InputKind.CUSTOMER_LEFT)
                   for k in self._by_session.get(item.session, ())]  # fmt: skip
        what = f"customer_left (session {item.session!r} ended)"
        self._refuse_unless_all_accept(targets, item.at, what)
        out: Out = []
        for entry, kind in targets:
            out += self._handle(entry, kind, item.at)
        out.append(partial(self._answers.call, self.ccm.end_session, item.session, item.at))
        return out

    # -- legs -----------------------------------------------------------------------

    def _entry(self, leg_id: str) -> _Entry:
        entry = self._legs.get(leg_id)
        if entry is None:
            if leg_id in self._forgotten:
                why = f"leg {leg_id!r} finished and was forgotten (forget_ms)"
                raise _Rejected(why, leg_id)
            raise _Rejected(f"unknown leg {leg_id!r}", leg_id)
        return entry

    def _start_leg(self, item: ConsultInitiated) -> Out:
        evidence = ConsultEvidence(
            item.associated_dialog_uri, item.channel_session_id, item.customer_ani, item.agent_a
        )
        try:
            found = self.ccm.sessions.resolve(evidence)
            ended = self.ccm.ended_session_named(evidence, found.evidence, item.at)
        except CorrelationError as exc:
            raise _Rejected(f"{type(exc).__name__}: {exc}", item.leg) from None
        if ended is not None:
            # The CCM would publish it there, not in the live session: a
            # consult is not begun for a call whose customer has left.
            why = (f"the consult names ended session {ended.id!r} more strongly than "
                   f"{found.evidence.value} names live {found.session.id!r}")  # fmt: skip
            raise _Rejected(why, item.leg)
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
        entry = _Entry(leg, session.id, self._order)
        self._journal.on_undo(partial(setattr, self, "_order", self._order))
        self._order += 1
        self._journal.keep_item(self._legs, item.leg)  # new: undone by forgetting it
        self._legs[item.leg] = entry
        if self._states is not None:
            self._states.leg_step(leg, None)
        self._index(self._by_session, session.id, item.leg)
        self._own_dialog(leg.call_ids[-1], item.leg)
        out: Out = []
        for agent in (item.agent_a, item.agent_b):
            if agent is not None:
                self._index(self._by_agent, agent, item.leg)
                out += self._first_connect(agent, item.at)
        out += [
            records.session_resolved(
                item.at, item.leg, session=session.id, conversation=session.conversation_id,
                evidence=found.evidence.value, customer=customer,
            )
        ]  # fmt: skip
        # A leg starts with no timer, except a queue consult's time to live,
        # which no step announces: the host reads it off the new leg.
        for timer, deadline in leg.deadlines.items():
            out += self._events(entry, (TimerStarted(leg.leg_id, item.at, timer, deadline),))
        # A leg always starts with both desks up (core limitation): replay the
        # absence of a desk that is already down, so the table knows.
        for kind in self._presence.absences(leg.facts):
            out += self._handle(entry, kind, item.at)
        return out

    def _own_dialog(self, dialog: str, leg: str) -> None:
        self._journal.keep_item(self._by_dialog, dialog)
        self._by_dialog[dialog] = leg

    def _index(self, index: dict[str, dict[str, None]], key: str, leg: str) -> None:
        """Add ``leg`` under ``key`` (undone with a rejected input)."""
        legs = index.setdefault(key, {})
        if leg in legs:
            return
        legs[leg] = None

        def forget() -> None:
            legs.pop(leg, None)
            if not legs:
                index.pop(key, None)

        self._journal.on_undo(forget)

    def _settle(self) -> None:
        """After an input is taken: unindex the legs it finished, and forget
        those finished longer than ``forget_ms`` ago (tombstones remain)."""
        for key in self._touched:
            entry = self._legs.get(key)
            if entry is None or not entry.leg.is_finished:
                continue
            facts = entry.leg.facts
            for agent in (facts.agent_a, facts.agent_b):
                self._unindex(self._by_agent, agent, key)
            self._unindex(self._by_session, entry.session_id, key)
            for dialog in entry.leg.call_ids:
                if self._by_dialog.get(dialog) == key:
                    del self._by_dialog[dialog]
            self._finished.append((self.now, key))
        horizon = self.now - self.config.forget_ms
        while self._finished and self._finished[0][0] <= horizon:
            at, key = self._finished.popleft()
            if self._legs.pop(key, None) is not None:
                self._forgotten.bury((key,), at)
                self._cti_desks.forget(key)  # the CCM's `away` deadline has spoken by now
        self._forgotten.expire(self.now)

    @staticmethod
    def _unindex(index: dict[str, dict[str, None]], key: str | None, leg: str) -> None:
        legs = index.get(key) if key is not None else None
        if legs is not None:
            legs.pop(leg, None)
            if not legs:
                del index[key]  # type: ignore[arg-type]

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

    def _call_input(self, item: LegInput) -> Out:
        entry = self._entry(item.leg)
        leg = entry.leg
        kind, value = self._leg_input(item, leg)
        out: Out = []
        try:
            if isinstance(item, Offered) and leg.facts.agent_b is None:
                # The queue chose an agent whose desk is already down: the
                # leg must know before the offer, or it alerts a dead desk.
                away = self._presence.away(item.agent)
                if away is not None and leg.call is CallState.QUEUED:
                    out += self._handle(entry, desk_input(away, side_a=False), item.at)
            out += self._handle(entry, kind, item.at, value, item.source_at)
        except InputRejected as exc:
            raise _Rejected(f"{type(exc).__name__}: {exc}", item.leg) from None
        if isinstance(item, Rekeyed) and leg.call_ids[-1] == item.dialog:
            self._own_dialog(item.dialog, item.leg)
        if isinstance(item, Offered) and not leg.is_finished and leg.facts.agent_b == item.agent:
            self._index(self._by_agent, item.agent, item.leg)
            out += self._first_connect(item.agent, item.at)
        return out

    def _first_connect(self, agent: str, at: int) -> Out:
        """A trace starts with every desk up: the CCM's socket layer sees an
        agent's desk connect the first time the agent takes part (later
        comings and goings are the agent inputs)."""
        if agent in self._connected:
            return []
        self._journal.keep_member(self._connected, agent)
        self._connected.add(agent)
        sender = self._desks.sender_id(agent)
        return [partial(self._answers.call, self.ccm.desk_up, sender, at)]

    def _agent_input(self, item: Browser) -> Out:
        """Every unfinished leg of the agent gets the input, and decides: a
        repeat is a duplicate there, a return that no disconnect preceded is
        illegal. All or nothing: one leg refusing refuses the input. The CCM
        hears of the socket, and a page coming back reports what it missed."""
        away = _AWAY[item.kind]
        targets: list[tuple[_Entry, InputKind]] = []
        for key in sorted(self._by_agent.get(item.agent, ()), key=lambda k: self._legs[k].order):
            entry = self._legs[key]
            facts = entry.leg.facts
            if item.agent in (facts.agent_a, facts.agent_b):  # a re-offered queue consult moved on
                targets.append((entry, agent_input(facts, item.agent, away)))
        why = "" if away is not None else ": that desk was not disconnected"
        what = f"{item.kind.value} of agent {item.agent!r}"
        self._refuse_unless_all_accept(targets, item.at, what, why)
        self._presence.set_away(item.agent, away)
        out: Out = []
        if item.agent in self._desks:  # the page itself: its socket, or a reload
            out += self._desk_sends(self._desks.page(item.agent, item.kind, item.at, self._codec))
        elif not targets:
            out.append(records.input_ignored(
                item.at, None, item.kind.value, "no_live_leg", agent=item.agent
            ))  # fmt: skip
        presence = self.ccm.desk_down if away is not None else self.ccm.desk_up
        self._journal.keep_member(self._connected, item.agent)
        self._connected.add(item.agent)
        sender = self._desks.sender_id(item.agent)  # the CCM knows a desk by whom it posts as
        out.append(partial(self._answers.call, presence, sender, item.at))
        for entry, kind in targets:
            out += self._handle(entry, kind, item.at)
        if away is None:
            out += self._cti_desks.pay_owed(item.agent, item.at)
        return out

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
    ) -> Out:  # fmt: skip
        """The one way a leg is moved: remember it first, so it can be undone."""
        leg = entry.leg
        if self._journal.first(("leg", leg.leg_id)):
            self._journal.on_undo(partial(leg.reset, leg.snapshot()))
        self._touched[leg.leg_id] = None
        if value is None and source_at is None:
            step = leg.handle(kind, at)
        else:
            step = leg.handle(kind, at, value, source_at=source_at)
        if self._states is not None:
            self._states.leg_step(leg, step)
        return self._records(entry, step, kind, at)

    def _records(self, entry: _Entry, step: Step, kind: InputKind, at: int) -> Out:
        """What a step's events become: timers armed, desk messages, the rest as they are."""
        if not step.applied:
            return [records.input_ignored(at, entry.leg.leg_id, kind.value,
                                          step.disposition.value)]  # fmt: skip
        return self._events(entry, step.events)

    def _events(self, entry: _Entry, events: tuple[Event, ...]) -> Out:
        leg = entry.leg
        facts = leg.facts
        out: Out = []
        for event in events:
            if isinstance(event, TimerStarted):
                self._timers.arm(leg.leg_id, entry.order, event.timer, event.deadline)
            elif isinstance(event, TimerCancelled) and event.deadline is None:
                continue  # a timer the leg never armed (no window): nothing to cancel
            if isinstance(event, _B_SENDS):
                out += self._cti_desks.send(
                    facts, event.agent, event.intent, event.reason, event.at
                )
            elif isinstance(event, _PUBLICATIONS):
                if event.reported_by is ev.Reporter.CCM:  # B's desk is away
                    out += self._cti_desks.tell_ccm(facts, event)
            else:
                out.append(records.event_record(event, facts))
        return out

    def _fire_due(self, until: int) -> Out:
        """Fire every timer due at or before ``until``, earliest first: the
        legs' and the AgentDesks' (a desk's first, at the same ms); the CCM
        fires its own deadlines up to each of them before hearing more."""
        out: Out = []
        while (desk := self._desks.next_deadline()) is not None and desk[0] <= until:
            out += self._fire_legs(desk[0] - 1)
            deadline, agent = desk
            self.now = max(self.now, deadline)
            self._fired.append(f"{agent}'s desk settle")
            out.append(partial(self._answers.advance, deadline))
            out += self._desk_sends(self._desks.fire(agent, deadline, self._codec))
        out += self._fire_legs(until)
        return out

    def _fire_legs(self, until: int) -> Out:
        out: Out = []
        while (armed := self._timers.pop_due(until)) is not None:
            self._journal.on_undo(partial(self._timers.push, armed))
            entry = self._legs.get(armed.leg)
            if entry is None or not armed.is_live(entry.leg):
                continue
            out.append(partial(self._answers.advance, armed.deadline))
            out.append(records.timer_fired(armed.deadline, armed.leg, armed.timer.value))
            self.now = max(self.now, armed.deadline)
            self._fired.append(f"{armed.leg} {armed.timer.value}")
            out += self._handle(entry, TIMEOUT_INPUT[armed.timer], armed.deadline)
        return out

    # -- desks' own posts -----------------------------------------------------------------

    def _desk_sends(self, sends: Iterable[Record | tuple[int, str, str, CimMessage]]) -> Out:
        """An AgentDesk's effects: what it shows as records, what it posts to the CCM."""
        out: Out = []
        for x in sends:
            if isinstance(x, dict):
                out.append(x)
            else:
                at, leg, agent, message = x
                out += self._cti_desks.post(at, leg, agent, message)
        return out

    def _read_report(self, item: CimReport) -> CimMessage:
        """A desk's own CIM message, parsed (a malformed one is a bad trace line)."""
        if not isinstance(item.message, str | dict):
            raise _Rejected("message: expected a CIM object or JSON text")
        try:
            return parse_message(item.message)
        except CimParseError as exc:
            raise _Rejected(f"CimParseError: {exc}") from None

    def _desk_report(self, item: CimReport) -> Out:
        """A desk's own CIM message: the CCM decides."""
        message = self._read_report(item)
        leg = message.body.call_id or "-"
        if message.body.leg is not None:  # the CCM's name for the leg: its dialog part
            try:
                leg = parse_leg_ref(message.body.leg).dialog_id
            except LegRefError:
                leg = message.body.leg  # the CCM will say what is wrong with it
        record = records.cim_received(
            item.at,
            leg,
            records.desk(item.sender),
            message.header.intent.value,
            self._codec.encode(message),
        )
        return [record, partial(self._answers.receive, leg, item.sender, message, item.at)]


@attrs.frozen(slots=True)
class ReplayResult:
    """The records of a replay and how many inputs were rejected."""

    records: tuple[Record, ...]
    rejected: int

    def lines(self) -> list[str]:
        """The records as JSON Lines (no trailing newlines)."""
        return [dumps_record(r) for r in self.records]


def replay(
    lines: Iterable[str], config: SystemConfig | None = None, *, states: bool = False
) -> ReplayResult:
    """Replay a whole trace through a fresh :class:`System` (``states``: with
    ``states`` records, see :mod:`consultfsm.replay.states`)."""
    system = System(config, states=states)
    return ReplayResult(tuple(system.feed_lines(lines)), system.rejected)


__all__ = [
    "DEFAULT_SERVICE_IDENTIFIER",
    "NO_EXTENSION",
    "Record",
    "ReplayResult",
    "System",
    "SystemConfig",
    "dumps_record",
    "replay",
]
