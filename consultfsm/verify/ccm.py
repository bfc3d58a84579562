"""The whole consult, explored: the world (the leg model), A's and B's desks,
the network between them and the CCM, and the CCM engine.

Nobody sees everything. The world is a :class:`~consultfsm.core.leg.Leg` on
the real table, moved by the CTI; what Finesse then shows goes to each desk
machine (:class:`~consultfsm.desk.machine.Desk`) whose page is up, a page that
is down receives nothing and reads its dialog list when it comes back; what
the desks send travels to the CCM (:class:`~consultfsm.ccm.engine.CcmEngine`,
fed real CIM messages) in any order, and any message may arrive twice. The
CCM also hears of each desk's socket going down and coming back.

Breadth first to a bounded depth, every action is tried in every reachable
state: a CTI input the leg model accepts, a page going away or coming back, a
desk's settle deadline, a message delivered (any of those in flight, once or
as a duplicate), the CCM's deadline. One assumption about time: the CCM's
last resort (``away``) outlasts any delivery delay, so it fires only when
nothing is in flight; the CCM's other windows and the desks' may pass at any
moment. After every step:

* **exactly once**: at most one ``CALL_LEG_STARTED`` and one
  ``CALL_LEG_ENDED``, the start first, hold and resume in turn and only in
  between, and no leg finished without its end published;
* **the right session**: every event is in the customer's own channel session
  and conversation (another customer's session is live beside it);
* **the right start**: nothing is published for a consult the world never
  answered;
* **the right reason**: an end carries the leg model's reason, except what a
  desk cannot tell apart (a desk that was away at the end reads only that the
  consult is gone: ``CONSULT_ENDED``) and the CCM's last resort
  (:data:`~consultfsm.ccm.table.UNOBSERVED`), the only end while the world's
  consult is still on;
* **the last resort** only while no desk that still follows the consult is up
  (a desk that never saw it, or has said all it will, cannot report more).

And from every state, **eventually**: deliver everything in flight, bring
both pages back, fire every deadline; then the CCM has published the start
exactly when some desk saw B on the call, and the end exactly when, besides,
the world's consult has ended (or the last resort ended it); while it goes on,
the topic's last hold or resume says what the world's call is.

A counterexample is the list of actions that led to it, as JSON Lines
(:func:`action_lines`); :func:`replay_actions` runs such a list again.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import attrs

from consultfsm.ccm.correlation import ChannelSession
from consultfsm.ccm.engine import CcmEngine, Published
from consultfsm.ccm.machine import CcmConfig, CcmLeg, CcmStep, ccm_class, observed_ccm_leg
from consultfsm.ccm.table import CCM_TABLE, UNOBSERVED, CcmRow, CcmTimer, Intent, Source
from consultfsm.core.errors import ConsultFsmError, InputRejected
from consultfsm.core.facts import DIRECT_CONFIG
from consultfsm.core.leg import Leg
from consultfsm.core.states import OUTCOMES, CallState, CimReason, InputKind
from consultfsm.desk.agentdesk import CONSULT_ROLE
from consultfsm.desk.machine import Desk, DeskEffect, DeskFacts, DeskStep, observed_desk_class
from consultfsm.desk.table import DEFAULT_SETTLE_MS, DeskInput, DeskRole, Effect
from consultfsm.verify.scenarios import Case, inputs_of, new_leg
from consultfsm.wire.cim import CimCodec, CimMessage, MessageIntent
from consultfsm.wire.strict_json import loads_strict

#: Actions per path by default: enough for a consult answered, reported by
#: both desks and ended, with a page going away and coming back around it.
DEFAULT_DEPTH = 6
WINDOW = 1_000  # the desks' settle window and the CCM's waits
#: The CCM's last resort outlasts any delivery delay and any of the other
#: windows: the search fires it only when nothing is in flight.
AWAY_WINDOW = 1_000_000
CUSTOMER_ANI = "+923001234567"
SESSION = ChannelSession("S1", "C1", CUSTOMER_ANI, "D0", agents=frozenset({"1001"}))
OTHER = ChannelSession("S2", "C2", "+923009999999", "D9", agents=frozenset({"1003"}))
AGENT = {DeskRole.A: "1001", DeskRole.B: "1002"}
EXTENSION = {DeskRole.A: "7001", DeskRole.B: "7002"}
DIALOG = "D1"
#: The surviving dialog of a re-key: in CVP-routed flows B is alerted on a
#: temporary dialog and answers on another, posted a millisecond later.
REKEYED_DIALOG = "D2"
#: The flows the search starts from: a consult routed to B, and one to a
#: queue (no B until the queue offers it).
FLOWS = ("routed", "queue")

#: What Finesse shows every desk on the consult dialog after each CTI input.
SHOWN: dict[InputKind, tuple[DeskInput, ...]] = {
    InputKind.ALERTING: (DeskInput.ALERTING,),
    InputKind.OFFERED: (DeskInput.ALERTING,),  # the queue chose B: B rings
    InputKind.NO_AGENT: (DeskInput.FAILED,),  # the queue gave up: A's consult fails
    InputKind.ACCEPTED: (DeskInput.ANSWERED,),
    InputKind.HELD: (DeskInput.HELD,),
    InputKind.RETRIEVED: (DeskInput.ANSWERED,),
    InputKind.DROPPED_BY_A: (DeskInput.DROPPED_A,),
    InputKind.DROPPED_BY_B: (DeskInput.DROPPED_B,),
    InputKind.FAILED: (DeskInput.FAILED,),
    InputKind.RONA: (DeskInput.DROPPED_B,),
    # both leave the consult dialog; the customer's call names it as secondaryId
    InputKind.TRANSFERRED: (DeskInput.DROPPED_A, DeskInput.TRANSFERRED),
    InputKind.CONFERENCED: (DeskInput.DROPPED_A, DeskInput.CONFERENCED),
}
_ANSWERED = frozenset({CallState.ACCEPTED, CallState.HELD}) | {
    s for s, o in OUTCOMES.items() if o.accepted
}
_CTI_ACTIONS: dict[object, tuple[Action, ...]] = {}
#: The value a CTI input carries in the search: the queue offers the consult
#: to B; a re-key moves it to the surviving dialog.
_VALUE: dict[InputKind, str] = {
    InputKind.OFFERED: AGENT[DeskRole.B],
    InputKind.REKEYED: REKEYED_DIALOG,
}
_SEND_INTENT = {
    Effect.SEND_STARTED: MessageIntent.CALL_LEG_STARTED,
    Effect.SEND_ENDED: MessageIntent.CALL_LEG_ENDED,
    Effect.SEND_HOLD: MessageIntent.CALL_HOLD,
    Effect.SEND_RESUME: MessageIntent.CALL_RESUME,
}


def listed(call: CallState, role: DeskRole) -> DeskInput | None:
    """What a returning page's dialog list shows of the consult (None: nothing
    of it, for a desk that never saw it: the list shows no dialog to follow)."""
    if call is CallState.INITIATED:
        return DeskInput.LISTED_DIALLING if role is DeskRole.A else None
    if call in (CallState.RINGING, CallState.UNANSWERED):
        return DeskInput.LISTED_RINGING
    if call is CallState.ACCEPTED:
        return DeskInput.LISTED_TALKING
    if call is CallState.HELD:
        return DeskInput.LISTED_HELD
    if call is CallState.TRANSFERRED:  # B holds the customer's call now; A left it
        return DeskInput.LISTED_TRANSFERRED if role is DeskRole.B else DeskInput.LISTED_ABSENT
    if call is CallState.CONFERENCED:
        return DeskInput.LISTED_CONFERENCED
    return DeskInput.LISTED_ABSENT


@attrs.frozen(slots=True)
class Message:
    """A desk's CIM message on its way to the CCM."""

    role: DeskRole
    intent: MessageIntent
    reason: CimReason | None
    at: int
    copies: int = 1  # a duplicate still to come counts as a second copy
    leg: str = f"{EXTENSION[DeskRole.B]}:1002:{DIALOG}"  # the desk's leg string
    call_id: str = DIALOG  # the consult's dialog id when it was sent

    @property
    def what(self) -> str:
        """The intent and its reason: ``CALL_LEG_ENDED(CONSULT_ENDED)``."""
        why = "" if self.reason is None else f"({self.reason.value})"
        return f"{self.intent.value}{why}"

    @property
    def label(self) -> str:
        return f"{self.role.value}:{self.what}@{self.at}"


@attrs.frozen(slots=True)
class Action:
    """One step of the world, a page, the network or a deadline."""

    kind: str  # flow, cti, away, back, settle, deliver, duplicate, ccm_timer
    arg: str | int | None = None

    def to_dict(self) -> dict[str, str | int | None]:
        return {"action": self.kind, "arg": self.arg}

    def __str__(self) -> str:
        return self.kind if self.arg is None else f"{self.kind}:{self.arg}"


@attrs.frozen(slots=True)
class CcmViolation:
    rule: str
    detail: str
    path: tuple[Action, ...]

    def __str__(self) -> str:
        steps = " -> ".join(str(a) for a in self.path) or "nothing"
        return f"{self.rule}: {self.detail} (after {steps})"


@attrs.frozen(slots=True)
class CcmReport:
    depth: int
    states: int
    steps: int
    rows_covered: frozenset[str]
    rows_total: frozenset[str]
    violations: tuple[CcmViolation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def rows_missed(self) -> list[str]:
        return sorted(self.rows_total - self.rows_covered)


class World:
    """One composed state: the world, two desks, the network, the CCM."""

    codec = CimCodec("8000")

    def __init__(
        self, leg_class: type[CcmLeg] = CcmLeg, leg: Leg | None = None,
        config: CcmConfig | None = None, settle_ms: int = WINDOW, flow: str = "routed", *,
        desk_class: type[Desk] = Desk,
    ) -> None:  # fmt: skip
        self.leg_class = leg_class
        self.desk_class = desk_class  # an observed one tells which rows the desks took
        self.settle_ms = settle_ms
        self.now = 0 if leg is None else leg.snapshot().last_at
        facts: dict[str, Any] = {"conversation_id": "C1", "channel_session_id": "S1",
                                 "call_id": DIALOG, "config": DIRECT_CONFIG}  # fmt: skip
        if leg is None and flow == "queue":
            leg = Leg.queue_consult("L1", AGENT[DeskRole.A], CUSTOMER_ANI, **facts)
        self.leg = leg or Leg("L1", AGENT[DeskRole.A], AGENT[DeskRole.B], CUSTOMER_ANI, **facts)
        self.dialog = self.leg.call_ids[-1]  # what Finesse calls the consult now
        self.desks: dict[DeskRole, Desk | None] = dict.fromkeys(DeskRole)
        self.up = dict.fromkeys(DeskRole, True)
        self.in_flight: list[Message] = []
        config = config or CcmConfig(WINDOW, WINDOW, AWAY_WINDOW)
        self.ccm = CcmEngine(self.codec, config=config, leg_class=leg_class)
        self.ccm.start_session(OTHER, 0)
        self.ccm.start_session(SESSION, 0)
        for role in DeskRole:
            self.ccm.desk_up(AGENT[role], 0)
        self.published: list[Published] = []
        self.posted: list[Message] = []  # every message a desk sent, in order (for a review)
        self.wrong: list[str] = []  # what a step did wrong that the state cannot show
        self.sent_start = dict.fromkeys(DeskRole, False)  # the desk sent CALL_LEG_STARTED
        self.away_at_end = dict.fromkeys(DeskRole, False)  # the page was down when it ended

    # --- cloning -----------------------------------------------------------------------

    def clone(self) -> World:
        other = World.__new__(World)
        other.now = self.now
        other.leg_class = self.leg_class
        other.desk_class = self.desk_class
        other.settle_ms = self.settle_ms
        other.leg = Leg.restore(self.leg.snapshot())
        other.dialog = self.dialog
        other.desks = {r: None if d is None else self.desk_class.restore(d.snapshot())
                       for r, d in self.desks.items()}  # fmt: skip
        other.up = dict(self.up)
        other.in_flight = list(self.in_flight)
        other.ccm = CcmEngine.restore(self.ccm.snapshot(), self.codec, leg_class=self.leg_class)
        other.published = list(self.published)
        other.posted = list(self.posted)
        other.wrong = list(self.wrong)
        other.sent_start = dict(self.sent_start)
        other.away_at_end = dict(self.away_at_end)
        return other

    def key(self) -> tuple[object, ...]:
        """What the future depends on (times only as the order of what is in flight)."""
        desks = tuple(
            None if d is None else (d.call, d.page, d.settle_deadline is not None)
            for d in self.desks.values()
        )
        ccm = self.ccm_leg()
        hold_at = None if ccm is None else ccm.hold_at
        flight = tuple(sorted(
            (m.at, m.role, m.intent, m.reason, m.copies, hold_at is not None and m.at < hold_at,
             m.leg, m.call_id)
            for m in self.in_flight
        ))  # fmt: skip
        order = {at: i for i, at in enumerate(sorted({f[0] for f in flight}))}
        flight = tuple((order[f[0]], *f[1:]) for f in flight)
        summary = tuple((p.intent, p.source, p.reason) for p in self.published), len(self.wrong)
        return (
            self.leg.call, self.leg.customer, self.dialog, desks, tuple(self.up.values()), flight,
            None if ccm is None else (ccm.call, ccm.desk_a, ccm.desk_b, ccm.timer),
            self.ccm_finished(), summary, tuple(self.sent_start.values()),
            tuple(self.away_at_end.values()),
        )  # fmt: skip

    def ccm_leg(self) -> CcmLeg | None:
        """The CCM's machine of the consult, by whichever dialog id it knows."""
        return self.ccm.leg(DIALOG) or self.ccm.leg(REKEYED_DIALOG)

    def ccm_finished(self) -> bool:
        return self.ccm.is_finished(DIALOG) or self.ccm.is_finished(REKEYED_DIALOG)

    # --- actions --------------------------------------------------------------------------

    def actions(self) -> Iterator[Action]:
        yield from self._cti_actions()
        if self.ccm.sessions.get(SESSION.id) is not None:
            yield Action("cti", InputKind.CUSTOMER_LEFT.value)
        for role in DeskRole:
            yield Action("away" if self.up[role] else "back", role.value)
            desk = self.desks[role]
            if desk is not None and desk.settle_deadline is not None:
                yield Action("settle", role.value)
        seen: set[tuple[object, ...]] = set()
        for i, m in enumerate(self.in_flight):
            what = (m.role, m.intent, m.reason, m.at)
            if what in seen:
                continue
            seen.add(what)
            yield Action("deliver", i)
            if m.copies == 1:
                yield Action("duplicate", i)
        if self._ccm_timer_may_fire():
            yield Action("ccm_timer")

    def _ccm_timer_may_fire(self) -> bool:
        deadline = self.ccm.next_deadline()
        if deadline is None:
            return False
        leg = self.ccm_leg()
        away = leg is not None and leg.timer is CcmTimer.AWAY
        return not (away and self.in_flight)  # the timing assumption (module docstring)

    def _cti_actions(self) -> tuple[Action, ...]:
        # Only what moves the consult: Finesse shows no news for the rest.
        # The answer depends on the leg's state alone (no timers run).
        state = self.leg.state
        acts = _CTI_ACTIONS.get(state)
        if acts is None:
            snap = self.leg.snapshot()
            acts = tuple(
                Action("cti", kind.value) for kind in SHOWN
                if self.leg.accepts(kind, self.now + 1)
                and Leg.restore(snap).handle(kind, self.now + 1, _VALUE.get(kind)).applied
            )  # fmt: skip
            _CTI_ACTIONS[state] = acts
        if self.leg.call is CallState.RINGING and self.dialog == DIALOG:
            # CVP: B rings on a temporary dialog, then on the surviving one (once).
            acts = (*acts, Action("cti", InputKind.REKEYED.value))
        return acts

    def pending(self) -> Iterator[Action]:
        """What the network and the deadlines still have to do."""
        if self.in_flight:
            yield Action("deliver", 0)
        for role in DeskRole:
            desk = self.desks[role]
            if desk is not None and desk.settle_deadline is not None:
                yield Action("settle", role.value)
        if self._ccm_timer_may_fire():
            yield Action("ccm_timer")

    def apply(self, action: Action) -> None:
        self.now += 1
        arg = action.arg
        if action.kind == "flow":
            return  # which flow the path starts from (replay_actions reads it)
        if action.kind == "cti":
            kind = InputKind(str(arg))
            self._cti(kind, _VALUE.get(kind))
        elif action.kind in ("away", "back"):
            self._page(DeskRole(str(arg)), action.kind == "back")
        elif action.kind == "settle":
            desk = self.desks[DeskRole(str(arg))]
            if desk is None or desk.settle_deadline is None:
                raise _CannotHappen(f"desk {arg} has no settle deadline")
            self.now = max(self.now, desk.settle_deadline)
            self._sent(DeskRole(str(arg)), desk.handle_timer(self.now).emits)
        elif action.kind in ("deliver", "duplicate"):
            if arg.__class__ is not int:  # (not 1e308, not a bool)
                raise _CannotHappen(f"which message in flight is a whole number, not {arg!r}")
            i = int(arg)
            if not 0 <= i < len(self.in_flight):
                raise _CannotHappen(f"{len(self.in_flight)} messages are in flight: there is "
                                    f"no message {i}")  # fmt: skip
            m = self.in_flight[i]
            if action.kind == "duplicate":
                self.in_flight[i] = attrs.evolve(m, copies=2)
            elif m.copies == 2:
                self.in_flight[i] = attrs.evolve(m, copies=1)
            else:
                del self.in_flight[i]
            self._deliver(m)
        elif action.kind == "ccm_timer":
            deadline = self.ccm.next_deadline()
            if deadline is None:
                raise _CannotHappen("the CCM has no deadline armed")
            self.now = max(self.now, deadline)
            self._publish(self.ccm.handle_timers(self.now))
        else:  # pragma: no cover - a path written by hand
            raise ValueError(f"no action {action.kind!r}")

    def time_passes(self, until: int) -> None:
        """Every deadline due by ``until`` fires, in order; the clock moves there."""
        while True:
            due: list[tuple[int, DeskRole | None]] = [
                (d.settle_deadline, r) for r, d in self.desks.items()
                if d is not None and d.settle_deadline is not None
            ]  # fmt: skip
            ccm = self.ccm.next_deadline()
            if ccm is not None:
                due.append((ccm, None))
            due = [d for d in due if d[0] <= until]
            if not due:
                break
            deadline, role = min(due, key=lambda d: (d[0], d[1] is not None))
            self.now = max(self.now, deadline - 1)
            self.apply(Action("ccm_timer") if role is None else Action("settle", role.value))
            while self.in_flight:
                self.apply(Action("deliver", 0))
        self.now = max(self.now, until)

    def _cti(self, kind: InputKind, value: str | None = None) -> None:
        if kind is InputKind.CUSTOMER_LEFT:  # the customer's own call: the CCM ends its session
            if self.leg.handle(kind, self.now).applied:
                self._publish(self.ccm.end_session(SESSION.id, self.now))
            return
        if not self.leg.handle(kind, self.now, value).applied:
            return
        if kind is InputKind.REKEYED:  # the desks follow the consult to its new dialog
            self.dialog = self.leg.call_ids[-1]
        if self.leg.is_finished:
            for role in DeskRole:
                self.away_at_end[role] = not self.up[role]
        for role in DeskRole:
            if self.up[role]:
                for shown in SHOWN.get(kind, ()):
                    self._desk_input(role, shown)

    def _page(self, role: DeskRole, back: bool) -> None:
        desk = self.desks[role]
        agent = AGENT[role]
        if not back:
            if desk is not None:
                desk.handle(DeskInput.SOCKET_DOWN, self.now)
            self.up[role] = False
            self._publish(self.ccm.desk_down(agent, self.now))
            return
        self.up[role] = True
        self._publish(self.ccm.desk_up(agent, self.now))
        if desk is not None:
            desk.handle(DeskInput.SOCKET_UP, self.now)
        shown = listed(self.leg.call, role)
        if shown is not None and (desk is not None or shown is not DeskInput.LISTED_ABSENT):
            if desk is None:  # a page that first learns of the consult from the list
                desk = self._new_desk(role)
                desk.handle(DeskInput.SOCKET_DOWN, self.now)
                desk.handle(DeskInput.SOCKET_UP, self.now)
            self._desk_input(role, shown)

    def _new_desk(self, role: DeskRole) -> Desk:
        # A desk names the consult by the dialog it first saw it on.
        leg = f"{EXTENSION[role]}:{AGENT[role]}:{self.dialog}"
        facts = DeskFacts(role, leg, CUSTOMER_ANI, EXTENSION[DeskRole.A])
        desk = self.desk_class(facts, settle_ms=self.settle_ms, created_at=self.now)
        self.desks[role] = desk
        return desk

    def _desk_input(self, role: DeskRole, kind: DeskInput) -> None:
        desk = self.desks[role]
        if desk is None:
            if kind not in (DeskInput.ALERTING, DeskInput.ANSWERED, DeskInput.HELD):
                return  # a desk that never saw the consult has no dialog to follow
            desk = self._new_desk(role)
        step = desk.handle(kind, self.now)
        self._sent(role, step.emits)

    def _sent(self, role: DeskRole, emits: Iterable[DeskEffect]) -> None:
        for e in emits:
            intent = _SEND_INTENT.get(e.effect)
            if intent is None:
                continue
            if intent is MessageIntent.CALL_LEG_STARTED:
                self.sent_start[role] = True
            desk = self.desks[role]
            assert desk is not None
            sent = Message(role, intent, e.cim_reason, self.now, leg=desk.facts.leg,
                           call_id=self.dialog)  # fmt: skip
            self.in_flight.append(sent)
            self.posted.append(sent)

    def message(self, m: Message) -> CimMessage:
        return self.codec.agent_message(
            leg=m.leg, at=m.at, intent=m.intent, agent=AGENT[m.role],
            customer=CUSTOMER_ANI, call_id=m.call_id, reason=m.reason,
            consult_role=CONSULT_ROLE[m.role],
        )  # fmt: skip

    def _deliver(self, m: Message) -> None:
        outcome = self.ccm.receive(self.message(m), self.now)
        self._publish(outcome.published)

    def _publish(self, published: Iterable[Published]) -> None:
        for p in published:
            seeing = self._seeing()
            if p.intent is Intent.ENDED and p.source is Source.CCM and seeing:
                # The last resort is for a consult nobody connected can see.
                self.wrong.append(f"the CCM ended it on its own while {seeing} was up")
            self.published.append(p)

    def _seeing(self) -> str:
        """The desks that are up and still follow the consult (a desk that never
        saw it, or has said all it will, can report nothing more)."""
        return " and ".join(
            f"{r.value}'s desk" for r, up in self.up.items()
            if up and (d := self.desks[r]) is not None and not d.is_finished
        )  # fmt: skip

    # --- checks -----------------------------------------------------------------------------

    def problems(self) -> list[str]:
        out: list[str] = list(self.wrong)
        intents = [p.intent for p in self.published]
        starts, ends = intents.count(Intent.STARTED), intents.count(Intent.ENDED)
        if starts > 1 or ends > 1:
            out.append(f"published {starts} starts and {ends} ends")
        if intents and intents[0] is not Intent.STARTED:
            out.append(f"published {intents[0].value} before the start")
        if Intent.ENDED in intents and intents[-1] is not Intent.ENDED:
            out.append("published after the end")
        for p in self.published:
            session = p.event.channel_session
            if (session.id, p.event.conversation_id) != (SESSION.id, SESSION.conversation_id):
                out.append(f"{p.intent.value} went to session {session.id}")
        if starts and not self._answered():
            out.append("published a start for a consult the world never answered")
        holds = [i for i in intents if i in (Intent.HOLD, Intent.RESUME)]
        if any(a is b for a, b in itertools.pairwise(holds)) or holds[:1] == [Intent.RESUME]:
            out.append(f"hold and resume out of turn: {[h.value for h in holds]}")
        if self.ccm_finished() and starts and not ends:
            out.append("the CCM finished the leg without publishing its end")
        for p in self.published:
            if p.intent is Intent.ENDED:
                out += self._reason_problems(p)
        return out

    def _answered(self) -> bool:
        return self.leg.call in _ANSWERED

    def _reason_problems(self, p: Published) -> list[str]:
        outcome = OUTCOMES.get(self.leg.call)
        if p.source is Source.CCM:
            return [] if p.reason == UNOBSERVED else [f"the CCM's own end says {p.reason}"]
        if outcome is None:
            return [f"an end from {p.source.value}'s desk while the world's consult is on"]
        truth = None if outcome.cim_reason is None else outcome.cim_reason.value
        role = DeskRole(p.source.value)
        allowed = {truth}
        if self.away_at_end[role]:  # read from a list: gone, nothing more
            allowed.add(CimReason.CONSULT_ENDED.value)
        if p.reason not in allowed:
            return [f"the end says {p.reason}, the world {truth}"]
        return []

    def settle(self) -> World:
        """A copy after the network and the deadlines have done all they will,
        with both pages back."""
        done = self.clone()
        for role in DeskRole:
            if not done.up[role]:
                done.apply(Action("back", role.value))
        for _ in range(100_000):  # bounded: every action here removes work
            act = next(done.pending(), None)
            if act is None:
                break
            done.apply(act)
        return done

    def eventual_problems(self) -> list[str]:
        done = self.settle()
        intents = [p.intent for p in done.published]
        out = done.problems()
        saw = any(done.sent_start.values())
        if saw != (Intent.STARTED in intents):
            out.append(f"a desk {'saw' if saw else 'never saw'} B on the call, "
                       f"and the start was {'not ' if saw else ''}published")  # fmt: skip
        live = Intent.STARTED in intents and Intent.ENDED not in intents
        if live and done.leg.call in (CallState.ACCEPTED, CallState.HELD):
            holds = [i for i in intents if i in (Intent.HOLD, Intent.RESUME)]
            held = bool(holds) and holds[-1] is Intent.HOLD
            if held != (done.leg.call is CallState.HELD):
                out.append(f"the topic says the consult is {'held' if held else 'not held'}, "
                           f"the world that it is {done.leg.call}")  # fmt: skip
        by_ccm = any(p.intent is Intent.ENDED and p.source is Source.CCM for p in done.published)
        should_end = saw and (done.leg.is_finished or by_ccm)
        if should_end != (Intent.ENDED in intents):
            out.append(f"the end was {'not ' if should_end else ''}published "
                       f"(the world is {done.leg.call})")  # fmt: skip
        return out


#: What a case's leg input is to the composition: a CTI input, or a page.
_PAGE_OF_CASE: dict[InputKind, tuple[str, DeskRole]] = {
    InputKind.BROWSER_DISCONNECTED_A: ("away", DeskRole.A),
    InputKind.LOGGED_OUT_A: ("away", DeskRole.A),
    InputKind.BROWSER_RESTORED_A: ("back", DeskRole.A),
    InputKind.BROWSER_DISCONNECTED_B: ("away", DeskRole.B),
    InputKind.LOGGED_OUT_B: ("away", DeskRole.B),
    InputKind.BROWSER_RESTORED_B: ("back", DeskRole.B),
}
#: Inputs the world's leg decides alone (its own deadlines): no desk hears of them.
_LEG_OWN = frozenset({
    InputKind.GRACE_TIMEOUT_A, InputKind.GRACE_TIMEOUT_B,
})  # fmt: skip


def run_case_through_ccm(case: Case) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A case of ``consultfsm cases`` with the CCM learning only what the desks
    send: every message delivered at once, then every page back. Returns what
    the CCM published and what the case's CCM column says it publishes, both
    as ``publish INTENT(reason)`` labels (who reported left out: the leg model
    knows from the CTI the moment a call drops while B's desk is away; the CCM
    learns it from A's desk after its settle window, or from B's on return,
    whichever is first)."""
    done = _run_case(case, _case_world(case))
    got = tuple(_label(p) for p in done.published)
    # Who reported is the leg model's own refinement (it has the CTI): the CCM
    # column is what is published, and why.
    want = tuple(x.removesuffix(" by CCM") for x in case.ccm if x.startswith("publish "))
    return got, want


def _case_world(case: Case, leg_class: type[CcmLeg] = CcmLeg,
                desk_class: type[Desk] = Desk) -> World:  # fmt: skip
    return World(leg_class, leg=new_leg(case), config=CcmConfig(), settle_ms=DEFAULT_SETTLE_MS,
                 desk_class=desk_class)  # fmt: skip


def _run_case(case: Case, world: World, after: Callable[[World], None] | None = None) -> World:
    """The one run of a case through the composition: each input (a CTI input
    or a page), the deliveries it triggers; then :meth:`World.settle`, whose
    settled copy is returned. ``after`` is told of ``world`` after each input
    (a refused one too) and of the settled copy last."""
    for step in inputs_of(case):
        world.time_passes(step.at - 1)
        page = _PAGE_OF_CASE.get(step.kind)
        if page is not None:
            # A page already where the case says (a logout after a close) does nothing.
            if world.up[page[1]] is not (page[0] == "back"):
                world.apply(Action(*page))
        else:
            world.now += 1
            with contextlib.suppress(InputRejected):  # the case expects the leg model to refuse it
                world._cti(step.kind, step.value)
        while world.in_flight:  # the network is quick here
            world.apply(Action("deliver", 0))
        if after is not None:
            after(world)
    done = world.settle()
    if after is not None:
        after(done)
    return done


#: What a composed step calls the last one: everything after the case's inputs.
SETTLED = "settled"


@attrs.frozen(slots=True)
class MachineState:
    """One machine after a composed step: its state by region (None: there is no
    such machine yet) and the keys of the rows of its own table its steps took."""

    state: dict[str, str] | None
    rows: tuple[str, ...] = ()


@attrs.frozen(slots=True)
class ComposedStep:
    """After one input of a case (or, last, :data:`SETTLED`: both pages back,
    every message delivered, every deadline fired): each desk machine, the
    CCM's machine of the case's leg, and what the desks posted and the CCM
    published meanwhile."""

    input: str  # the case input's kind, or SETTLED
    at: int  # the composition's clock
    desks: dict[DeskRole, MachineState]
    ccm: MachineState
    published: tuple[str, ...]  # ``publish INTENT(reason) by SOURCE``
    posted: tuple[Message, ...] = ()  # the desks' CIM messages, as sent


def case_states(case: Case) -> tuple[tuple[ComposedStep, ...], World]:
    """The run of :func:`run_case_through_ccm`, observed: per input of the case
    (and the settling after them), each AgentDesk machine's state and the CCM
    machine's state of the case's leg, with the rows their own steps took
    (:func:`~consultfsm.desk.machine.observed_desk_class`,
    :func:`~consultfsm.ccm.machine.observed_ccm_leg`). Also returns the settled
    world, whose desks and CCM are where the last step says."""
    desk_rows: dict[str, list[str]] = {}  # by the desk's role
    ccm_rows: list[str] = []
    ccm_machine: list[CcmLeg] = []  # the last CCM machine that stepped (a finished one is evicted)

    def on_desk(desk: Desk, step: DeskStep) -> None:
        if step.row is not None:
            desk_rows.setdefault(desk.facts.role.value, []).append(step.row.key)

    def on_ccm(machine: CcmLeg, step: CcmStep) -> None:
        ccm_machine[:] = [machine]
        if step.row is not None:
            ccm_rows.append(step.row.key)

    steps: list[ComposedStep] = []
    names = [s.kind.value for s in inputs_of(case)]
    published = posted = 0

    def after(world: World) -> None:
        nonlocal published, posted
        desks = {}
        for role, desk in world.desks.items():
            state = None if desk is None else {"call": desk.call.value, "page": desk.page.value}
            desks[role] = MachineState(state, tuple(desk_rows.get(role.value, ())))
        machine = world.ccm_leg() or (ccm_machine[0] if ccm_machine else None)
        ccm = MachineState(None if machine is None else ccm_state(machine), tuple(ccm_rows))
        news = tuple(f"{_label(p)} by {p.source.value}" for p in world.published[published:])
        published = len(world.published)
        sent, posted = tuple(world.posted[posted:]), len(world.posted)
        name = names[len(steps)] if len(steps) < len(names) else SETTLED
        steps.append(ComposedStep(name, world.now, desks, ccm, news, sent))
        desk_rows.clear()
        ccm_rows.clear()

    world = _case_world(case, observed_ccm_leg(on_ccm), observed_desk_class(on_desk))
    done = _run_case(case, world, after)
    return tuple(steps), done


def ccm_state(machine: CcmLeg) -> dict[str, str]:
    """A CCM machine's state by region."""
    return {"call": machine.call.value, "desk_a": machine.desk_a.value,
            "desk_b": machine.desk_b.value}  # fmt: skip


def _label(p: Published) -> str:
    reason = p.reason if p.intent is Intent.ENDED else None
    return f"publish {p.intent.value}" + ("" if reason is None else f"({reason})")


def explore_ccm(depth: int = DEFAULT_DEPTH, rows: tuple[CcmRow, ...] = CCM_TABLE) -> CcmReport:
    """Every interleaving to ``depth`` actions, with the checks above, the CCM
    running ``rows`` (a broken copy of the table, for the checks' own tests)."""
    leg_class = CcmLeg if rows is CCM_TABLE else ccm_class(rows)
    queue: deque[tuple[World, tuple[Action, ...]]] = deque()
    seen: dict[tuple[object, ...], int] = {}
    for flow in FLOWS:
        root = World(leg_class, flow=flow)
        path: tuple[Action, ...] = ()
        if flow != "routed":  # the path says which flow it starts from
            path = (Action("flow", flow),)
            root.apply(path[0])
        seen[root.key()] = 0
        queue.append((root, path))
    violations: list[CcmViolation] = []
    covered: set[str] = set()
    steps = 0
    checked_eventually: set[tuple[object, ...]] = set()
    while queue:
        world, path = queue.popleft()
        key = world.key()
        if key not in checked_eventually:
            checked_eventually.add(key)
            for p in world.eventual_problems():
                violations.append(CcmViolation("eventually", p, path))
        if len(path) >= depth or violations:
            continue
        for action in world.actions():
            nxt = world.clone()
            nxt.ccm.on_step = lambda step: covered.add(step.row.key) if step.row else None
            steps += 1
            nxt.apply(action)
            new_path = (*path, action)
            problems = nxt.problems()
            if problems:
                violations += [CcmViolation("always", p, new_path) for p in problems]
                break
            k = nxt.key()
            if k not in seen:
                seen[k] = len(new_path)
                queue.append((nxt, new_path))
    return CcmReport(depth, len(seen), steps, frozenset(covered),
                     frozenset(r.key for r in CCM_TABLE), tuple(violations))  # fmt: skip


def action_lines(path: Sequence[Action]) -> list[str]:
    """A path as JSON Lines, one action per line."""
    return [json.dumps(a.to_dict(), separators=(",", ":")) for a in path]


def replay_actions(lines: Iterable[str], rows: tuple[CcmRow, ...] = CCM_TABLE) -> World:
    """Run a path written by :func:`action_lines` from the start again."""
    try:
        actions = [Action(raw["action"], raw["arg"])
                   for line in lines if line.strip() for raw in (loads_strict(line),)]  # fmt: skip
    except RecursionError:  # (nesting deeper than the parser goes)
        raise ValueError("a line nests too deeply to be an action") from None
    flow = str(actions[0].arg) if actions and actions[0].kind == "flow" else "routed"
    if flow not in FLOWS:
        raise ValueError(f"no flow {flow!r} (the flows: {', '.join(FLOWS)})")
    world = World(CcmLeg if rows is CCM_TABLE else ccm_class(rows), flow=flow)
    for n, action in enumerate(actions, 1):
        try:
            world.apply(action)
        except (_CannotHappen, ConsultFsmError) as exc:  # (an input the machines refuse)
            raise ValueError(f"action {n} ({action}) cannot happen here: {exc}") from None
    return world


class _CannotHappen(Exception):
    """A path edited by hand asks for what cannot happen at that point."""


__all__ = [
    "DEFAULT_DEPTH",
    "SETTLED",
    "CcmReport",
    "CcmViolation",
    "ComposedStep",
    "MachineState",
    "World",
    "action_lines",
    "case_states",
    "ccm_state",
    "explore_ccm",
    "listed",
    "replay_actions",
    "run_case_through_ccm",
]
