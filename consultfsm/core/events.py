"""Domain events: what a leg tells the world, each addressed to its consumer.

A leg never performs I/O. Every transition returns events; the host delivers
each one to the consumer named by its ``to`` (a desk, the CCM, the conversation
topic, the Routing Engine, Agent Manager, or the host itself for timers).

Events are frozen, slotted attrs classes that hold plain values (ids, times,
enums), never references back to the leg, so they can be queued, logged and
compared freely and free no cycles. ``kind`` and ``to`` are class-level: the
transition table names event *classes*, which is what makes the emitted events
of every row introspectable.

Each field after ``leg`` and ``at`` declares where its value comes from
(:class:`From`): a fact of the leg (:mod:`consultfsm.core.facts`), a value
derived from the call state after the transition (why it ended), a constant,
or a parameter the table's row fixes (who reported a leg end). Building an
event is derived from that declaration: :func:`build_event` is the plain path,
and :mod:`consultfsm.core._speed` compiles the same declaration into
straight-line code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, ClassVar, NamedTuple

import attrs

from .facts import FACT_NAMES, LegFacts
from .states import GAVE_UP_REASON, OUTCOMES, CallState, CimReason, EndReason, TaskDirection, Timer


class Consumer(StrEnum):
    """Who an event is for."""

    AGENTDESK_A = "agentdesk_a"  # the consulting agent's desk
    AGENTDESK_B = "agentdesk_b"  # the consulted agent's desk
    CCM = "ccm"  # Customer Channel Manager: receives CIM messages
    CONVERSATION = "conversation"  # the conversation topic (published by the CCM)
    ROUTING_ENGINE = "routing_engine"
    AGENT_MANAGER = "agent_manager"
    HOST = "host"  # timers: the host arms and disarms them


class EventKind(StrEnum):
    """The wire name of each event (``event`` in JSON output)."""

    ALERT_SHOWN = "alert_shown"
    ALERT_RESTORED = "alert_restored"
    ALERT_REMOVED = "alert_removed"
    CONSULT_RESTORED = "consult_restored"
    CONSULT_STILL_RINGING = "consult_still_ringing"
    REJOIN_CONVERSATION = "rejoin_conversation"
    CONSULT_ENDED = "consult_ended"
    CONSULT_ANSWERED = "consult_answered"
    CUSTOMER_LEFT = "customer_left"
    CIM_MESSAGE = "cim_message"
    CALL_LEG_STARTED = "CALL_LEG_STARTED"
    CALL_LEG_ENDED = "CALL_LEG_ENDED"
    CALL_HOLD = "CALL_HOLD"
    CALL_RESUME = "CALL_RESUME"
    TASK_CREATED = "task_created"
    TASK_ASSIGNED = "task_assigned"
    TASK_CLOSED = "task_closed"
    TASK_CONVERTED = "task_converted"
    TIMER_STARTED = "timer_started"
    TIMER_CANCELLED = "timer_cancelled"


class Reporter(StrEnum):
    """Who made the CCM publish a leg event: B's desk (CIM sender ``AGENT``) or
    the CCM on its own because B's desk was offline (sender ``SYSTEM``)."""

    AGENTDESK = "agentdesk"
    CCM = "ccm"


class CimIntent(StrEnum):
    """``header.intent`` values of the CIM messages a leg emits."""

    CALL_LEG_STARTED = "CALL_LEG_STARTED"
    CALL_LEG_ENDED = "CALL_LEG_ENDED"
    CALL_HOLD = "CALL_HOLD"
    CALL_RESUME = "CALL_RESUME"


#: Intents a leg may emit more than once (a consult can be held again): their
#: messages are told apart by time, the others are once per leg.
REPEATABLE_INTENTS: frozenset[CimIntent] = frozenset({CimIntent.CALL_HOLD, CimIntent.CALL_RESUME})


def _wire(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


# --- where a field's value comes from -------------------------------------------------


class Origin(StrEnum):
    """The kinds of :class:`From`."""

    FACT = "fact"  # a field of LegFacts, copied
    DERIVED = "derived"  # a function of the call state after the transition (DERIVED)
    FIXED = "fixed"  # a constant
    PARAM = "param"  # fixed by the table row that emits the event
    EXECUTOR = "executor"  # filled in by the executor (timer events)


class From(NamedTuple):
    """Where one event field's value comes from (see :class:`Origin`)."""

    origin: Origin
    arg: Any = None


def _end_reason(call: CallState) -> EndReason:
    outcome = OUTCOMES.get(call)
    if outcome is None:
        return GAVE_UP_REASON.get(call, EndReason.ACCEPTED)
    return outcome.reason


def _cim_end_reason(call: CallState) -> CimReason:
    reason = OUTCOMES[call].cim_reason
    assert reason is not None, f"CALL_LEG_ENDED only follows an accepted leg, not {call}"
    return reason


def _task_becomes(call: CallState) -> TaskDirection:
    direction = OUTCOMES[call].task_becomes
    assert direction is not None, f"B's task is closed, not converted, in {call}"
    return direction


#: The derived values, by name: each a function of the call state after the step.
DERIVED: dict[str, Callable[[CallState], Any]] = {
    "end_reason": _end_reason,  # why the leg ended, for desks and tasks (or "accepted")
    "cim_end_reason": _cim_end_reason,  # reasonCode of CALL_LEG_ENDED
    "task_becomes": _task_becomes,  # B's task direction after a transfer or conference
}

_SOURCE = "consultfsm.from"


def fact(name: str) -> Any:
    """A field copied from the leg's fact ``name``."""
    assert name in FACT_NAMES, name
    return attrs.field(metadata={_SOURCE: From(Origin.FACT, name)})


def derived(name: str) -> Any:
    """A field computed by ``DERIVED[name]`` from the call state after the step."""
    assert name in DERIVED, name
    return attrs.field(metadata={_SOURCE: From(Origin.DERIVED, name)})


def fixed(value: Any) -> Any:
    """A field that always holds ``value``."""
    return attrs.field(metadata={_SOURCE: From(Origin.FIXED, value)})


def param() -> Any:
    """A field whose value the emitting row fixes (``emit(Event, name=value)``)."""
    return attrs.field(metadata={_SOURCE: From(Origin.PARAM)})


def _by_executor() -> Any:
    return attrs.field(metadata={_SOURCE: From(Origin.EXECUTOR)})


# Every event class is ``attrs.frozen(repr=False, eq=False)``: ``repr`` and
# ``eq`` come from Event (the same output and semantics as attrs' own) instead
# of being generated per class, which halves the cost of defining the classes,
# the largest part of ``import consultfsm``.


@attrs.frozen(repr=False, eq=False)
class Event:
    """Base of every domain event: which leg, and when (ms, the input's time).
    Events are values: equal when of the same class with equal fields."""

    kind: ClassVar[EventKind]
    to: ClassVar[Consumer]

    leg: str
    at: int

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in attrs.fields(type(self)))

    def __repr__(self) -> str:
        fields = attrs.fields(type(self))
        inner = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields)
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((self.__class__, self._values()))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``event``, ``to``, then the fields, enums as wire strings."""
        out: dict[str, Any] = {"event": self.kind.value, "to": self.to.value}
        for field in attrs.fields(type(self)):
            out[field.name] = _wire(getattr(self, field.name))
        return out


def sources(cls: type[Event]) -> tuple[tuple[str, From], ...]:
    """Each field after ``leg`` and ``at`` with where its value comes from."""
    return tuple((f.name, f.metadata[_SOURCE]) for f in attrs.fields(cls)[2:])


def params_of(cls: type[Event]) -> tuple[str, ...]:
    """The fields a row must fix when it emits ``cls``."""
    return tuple(name for name, src in sources(cls) if src.origin is Origin.PARAM)


def build_event(
    cls: type[Event], facts: LegFacts, call: CallState, at: int, params: Mapping[str, Any]
) -> Event:
    """Build ``cls`` for a leg with ``facts`` whose call region is now ``call``:
    the plain path, read straight from the fields' declarations."""
    values: list[Any] = []
    for name, src in sources(cls):
        if src.origin is Origin.FACT:
            values.append(getattr(facts, src.arg))
        elif src.origin is Origin.DERIVED:
            values.append(DERIVED[src.arg](call))
        elif src.origin is Origin.FIXED:
            values.append(src.arg)
        elif src.origin is Origin.PARAM:
            values.append(params[name])
        else:
            raise TypeError(f"{cls.__name__}.{name} is filled in by the executor")
    return cls(facts.leg_id, at, *values)


# --- AgentDesk B -----------------------------------------------------------------


@attrs.frozen(repr=False, eq=False)
class AlertShown(Event):
    """Show the incoming consult alert on B's desk; the caller id is Agent A."""

    kind = EventKind.ALERT_SHOWN
    to = Consumer.AGENTDESK_B
    caller_id: str = fact("agent_a")


@attrs.frozen(repr=False, eq=False)
class AlertRestored(Event):
    """B's desk came back while the consult still rings: show the alert again."""

    kind = EventKind.ALERT_RESTORED
    to = Consumer.AGENTDESK_B
    caller_id: str = fact("agent_a")


@attrs.frozen(repr=False, eq=False)
class AlertRemoved(Event):
    """Take the alert off B's desk, and say why (accepted, RONA, dropped by A/B, ...)."""

    kind = EventKind.ALERT_REMOVED
    to = Consumer.AGENTDESK_B
    reason: EndReason = derived("end_reason")


@attrs.frozen(repr=False, eq=False)
class ConsultRestored(Event):
    """B's desk came back while B is on the consult: re-attach the call view.
    The desk must not send CALL_LEG_STARTED again."""

    kind = EventKind.CONSULT_RESTORED
    to = Consumer.AGENTDESK_B


@attrs.frozen(repr=False, eq=False)
class ConsultEndedForB(Event):
    """B's desk came back after the accepted consult ended: close the consult
    view. The CCM has already published CALL_LEG_ENDED; the desk must not."""

    kind = EventKind.CONSULT_ENDED
    to = Consumer.AGENTDESK_B
    reason: EndReason = derived("end_reason")


@attrs.frozen(repr=False, eq=False)
class ConsultAnswered(Event):
    """B answered after the leg's own ring window had withdrawn the alert (a
    ring window shorter than the CTI's, a late report): show the consult call
    again. The desk reports the answer (CALL_LEG_STARTED) as on any answer."""

    kind = EventKind.CONSULT_ANSWERED
    to = Consumer.AGENTDESK_B
    caller_id: str = fact("agent_a")


@attrs.frozen(repr=False, eq=False)
class CustomerLeftConsult(Event):
    """The customer hung up while B's desk shows the consult: the consult with
    A goes on (the customer is no participant of it); say so on B's view."""

    kind = EventKind.CUSTOMER_LEFT
    to = Consumer.AGENTDESK_B
    conversation_id: str = fact("conversation_id")


# --- AgentDesk A -----------------------------------------------------------------


@attrs.frozen(repr=False, eq=False)
class ConsultStillRinging(Event):
    """A's desk came back while the consult still rings on B: show it as ringing."""

    kind = EventKind.CONSULT_STILL_RINGING
    to = Consumer.AGENTDESK_A
    agent_b: str = fact("agent_b")


@attrs.frozen(repr=False, eq=False)
class RejoinConversation(Event):
    """A's desk came back and B is already on the call: rejoin the *same*
    conversation (never a new one)."""

    kind = EventKind.REJOIN_CONVERSATION
    to = Consumer.AGENTDESK_A
    conversation_id: str = fact("conversation_id")
    agent_b: str = fact("agent_b")


@attrs.frozen(repr=False, eq=False)
class ConsultEndedForA(Event):
    """A's desk came back after the consult ended: show how it ended; A stays
    with the customer."""

    kind = EventKind.CONSULT_ENDED
    to = Consumer.AGENTDESK_A
    reason: EndReason = derived("end_reason")


# --- CIM messages from B's desk to the CCM ----------------------------------------


@attrs.frozen(repr=False, eq=False)
class _CimCallLeg(Event):
    """A CIM message B's desk sends to the CCM (``POST /message/receive``).

    ``customer_ani`` travels as ``header.channelData.channelCustomerIdentifier``:
    the customer's number, never Agent A's extension (the design note's fix for
    CCX and queue consults, which carry no ``associatedDialogUri``).
    """

    to = Consumer.CCM
    intent: ClassVar[CimIntent]
    agent: str = fact("agent_b")  # the sender: Agent B (set once B is known)
    customer_ani: str = fact("customer_ani")
    call_id: str | None = fact("call_id")
    service_identifier: str | None = fact("service_identifier")
    channel_session_id: str = fact("channel_session_id")
    conversation_id: str = fact("conversation_id")
    associated_dialog_uri: str | None = fact("associated_dialog_uri")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["intent"] = self.intent.value
        return out


@attrs.frozen(repr=False, eq=False)
class CimCallLegStarted(_CimCallLeg):
    """``CALL_LEG_STARTED`` with ``reasonCode`` ``CONSULT``."""

    kind = EventKind.CIM_MESSAGE
    intent = CimIntent.CALL_LEG_STARTED
    reason: CimReason = fixed(CimReason.CONSULT)


@attrs.frozen(repr=False, eq=False)
class CimCallLegEnded(_CimCallLeg):
    """``CALL_LEG_ENDED`` with ``reasonCode`` ``CONSULT_ENDED`` (``DIALOG_ENDED``
    when the dialog failed after it was active)."""

    kind = EventKind.CIM_MESSAGE
    intent = CimIntent.CALL_LEG_ENDED
    reason: CimReason = derived("cim_end_reason")


@attrs.frozen(repr=False, eq=False)
class CimCallHold(_CimCallLeg):
    """``CALL_HOLD``: the consult went on hold (no ``reasonCode``)."""

    kind = EventKind.CIM_MESSAGE
    intent = CimIntent.CALL_HOLD
    reason: CimReason | None = fixed(None)


@attrs.frozen(repr=False, eq=False)
class CimCallResume(_CimCallLeg):
    """``CALL_RESUME``: the consult was taken off hold (no ``reasonCode``)."""

    kind = EventKind.CIM_MESSAGE
    intent = CimIntent.CALL_RESUME
    reason: CimReason | None = fixed(None)


# --- the conversation topic (the CCM publishes) ------------------------------------


@attrs.frozen(repr=False, eq=False)
class _Publication(Event):
    """What the CCM publishes on the conversation topic, in the customer's
    *existing* channel session; ``reported_by`` says whether B's desk reported
    it or the CCM published on its own (B's desk offline)."""

    to = Consumer.CONVERSATION
    intent: ClassVar[CimIntent]  # of the CIM message behind it
    channel_session_id: str = fact("channel_session_id")
    conversation_id: str = fact("conversation_id")
    agent: str = fact("agent_b")


@attrs.frozen(repr=False, eq=False)
class CallLegStarted(_Publication):
    """``CALL_LEG_STARTED`` (reason ``CONSULT``): B answered the consult."""

    kind = EventKind.CALL_LEG_STARTED
    intent = CimIntent.CALL_LEG_STARTED
    reason: CimReason = fixed(CimReason.CONSULT)
    reported_by: Reporter = param()


@attrs.frozen(repr=False, eq=False)
class CallLegEnded(_Publication):
    """``CALL_LEG_ENDED``. When B's desk was offline at the end, the CCM
    publishes it on its own (``reported_by`` = ``ccm``), as the design note's
    failover table asks."""

    kind = EventKind.CALL_LEG_ENDED
    intent = CimIntent.CALL_LEG_ENDED
    reason: CimReason = derived("cim_end_reason")
    reported_by: Reporter = param()


@attrs.frozen(repr=False, eq=False)
class CallHeld(_Publication):
    """``CALL_HOLD``: the consult is on hold; it has not ended."""

    kind = EventKind.CALL_HOLD
    intent = CimIntent.CALL_HOLD
    reason: CimReason | None = fixed(None)
    reported_by: Reporter = param()


@attrs.frozen(repr=False, eq=False)
class CallResumed(_Publication):
    """``CALL_RESUME``: the consult is off hold again."""

    kind = EventKind.CALL_RESUME
    intent = CimIntent.CALL_RESUME
    reason: CimReason | None = fixed(None)
    reported_by: Reporter = param()


# --- Routing Engine / Agent Manager ------------------------------------------------


@attrs.frozen(repr=False, eq=False)
class TaskCreated(Event):
    """The Routing Engine creates a consult task for B in the conversation."""

    kind = EventKind.TASK_CREATED
    to = Consumer.ROUTING_ENGINE
    agent: str = fact("agent_b")
    conversation_id: str = fact("conversation_id")


@attrs.frozen(repr=False, eq=False)
class TaskAssigned(Event):
    """The Routing Engine calls Agent Manager's assign-task for B."""

    kind = EventKind.TASK_ASSIGNED
    to = Consumer.AGENT_MANAGER
    agent: str = fact("agent_b")
    conversation_id: str = fact("conversation_id")


@attrs.frozen(repr=False, eq=False)
class TaskClosed(Event):
    """The Routing Engine closes B's consult task when the leg ends."""

    kind = EventKind.TASK_CLOSED
    to = Consumer.ROUTING_ENGINE
    agent: str = fact("agent_b")
    conversation_id: str = fact("conversation_id")
    reason: EndReason = derived("end_reason")


@attrs.frozen(repr=False, eq=False)
class TaskConverted(Event):
    """B's consult task is not closed: the consult became a transfer or a
    conference, and B now serves the customer (``TaskTypeDirection``
    ``CONSULT_TRANSFER`` / ``CONSULT_CONFERENCE``; B's role becomes primary)."""

    kind = EventKind.TASK_CONVERTED
    to = Consumer.ROUTING_ENGINE
    agent: str = fact("agent_b")
    conversation_id: str = fact("conversation_id")
    direction: TaskDirection = derived("task_becomes")


# --- timers, for the host -----------------------------------------------------------


@attrs.frozen(repr=False, eq=False)
class TimerStarted(Event):
    """Arm a timer: feed the matching timeout input at ``deadline`` (absolute ms),
    or call ``Leg.handle_timers(now)`` once ``now`` reaches it."""

    kind = EventKind.TIMER_STARTED
    to = Consumer.HOST
    timer: Timer = _by_executor()
    deadline: int = _by_executor()


@attrs.frozen(repr=False, eq=False)
class TimerCancelled(Event):
    """Disarm a timer. An expiry that still arrives is absorbed as late."""

    kind = EventKind.TIMER_CANCELLED
    to = Consumer.HOST
    timer: Timer = _by_executor()
    deadline: int = _by_executor()


#: Every concrete event class, for introspection (docs, diagrams, tests).
EVENT_CLASSES: tuple[type[Event], ...] = (
    AlertShown, AlertRestored, AlertRemoved, ConsultRestored, ConsultEndedForB,
    ConsultAnswered, CustomerLeftConsult,
    ConsultStillRinging, RejoinConversation, ConsultEndedForA,
    CimCallLegStarted, CimCallLegEnded, CimCallHold, CimCallResume,
    CallLegStarted, CallLegEnded, CallHeld, CallResumed,
    TaskCreated, TaskAssigned, TaskClosed, TaskConverted, TimerStarted, TimerCancelled,
)  # fmt: skip


#: The CIM messages B's desk sends, and the CCM's publications on the
#: conversation topic (each pairs with the message of the same intent).
CIM_EVENT_CLASSES: tuple[type[Event], ...] = (
    CimCallLegStarted, CimCallLegEnded, CimCallHold, CimCallResume,
)  # fmt: skip
PUBLICATION_CLASSES: tuple[type[Event], ...] = (CallLegStarted, CallLegEnded, CallHeld, CallResumed)


def label(event: Event) -> str:
    """A short, stable text of an event, for logs, expectations and tables:
    ``CIM CALL_LEG_STARTED(CONSULT)``, ``publish CALL_LEG_ENDED(CONSULT_ENDED) by
    CCM``, ``alert_removed(rona)``, else the event's wire name."""
    if isinstance(event, _CimCallLeg):
        reason = "" if event.reason is None else f"({event.reason.value})"  # type: ignore[attr-defined]
        return f"CIM {event.intent.value}{reason}"
    if isinstance(event, CallLegStarted | CallLegEnded | CallHeld | CallResumed):
        by = " by CCM" if event.reported_by is Reporter.CCM else ""
        shown = isinstance(event, CallLegEnded)
        reason = f"({event.reason.value})" if shown and event.reason is not None else ""
        return f"publish {event.kind.value}{reason}{by}"
    if isinstance(event, AlertRemoved | ConsultEndedForA | ConsultEndedForB):
        return f"{event.kind.value}({event.reason.value})"
    if isinstance(event, TaskConverted):
        return f"{event.kind.value}({event.direction.value})"
    return event.kind.value
