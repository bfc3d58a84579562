"""Domain events: what a leg tells the world, each addressed to its consumer.

A leg never performs I/O. Every transition returns events; the host delivers
each one to the consumer named by its ``to`` (a desk, the CCM, the conversation
topic, the Routing Engine, Agent Manager, or the host itself for timers).

Events are frozen, slotted attrs classes that hold plain values (ids, times,
enums), never references back to the leg, so they can be queued, logged and
compared freely and free no cycles. ``kind`` and ``to`` are class-level: the
transition table names event *classes*, which is what makes the emitted events
of every row introspectable.

Each class builds itself from the leg's context with :meth:`Event.build`; the
few events whose content depends on the row (who reported a leg end) take that
as a parameter fixed in the table.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

import attrs

from .states import OUTCOMES, CimReason, EndReason, Timer

if TYPE_CHECKING:
    from .leg import Leg


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
    CIM_MESSAGE = "cim_message"
    CALL_LEG_STARTED = "CALL_LEG_STARTED"
    CALL_LEG_ENDED = "CALL_LEG_ENDED"
    TASK_CREATED = "task_created"
    TASK_ASSIGNED = "task_assigned"
    TASK_CLOSED = "task_closed"
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


def _wire(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


_T = TypeVar("_T", bound=attrs.AttrsInstance)


def _layout_twin(cls: type) -> type:
    """A subclass of a frozen, slotted attrs class with the very same slot layout
    and plain attribute stores. An instance built as the twin may have its
    ``__class__`` set back to ``cls``: it then *is* a ``cls`` instance."""
    return type(
        f"_{cls.__name__}Builder",
        (cls,),
        {"__slots__": (), "__setattr__": object.__setattr__,
         "__delattr__": object.__delattr__},
    )  # fmt: skip


def _fast_constructor(cls: type[_T]) -> Callable[..., _T]:
    """A positional constructor for a frozen, slotted attrs class, for hot paths.

    attrs' ``__init__`` of a frozen class stores each field through
    ``object.__setattr__`` (a call per field), which costs about three times a
    plain slot store. This builds the same object faster: it allocates an
    instance of the class's :func:`_layout_twin`, fills the slots, then sets
    ``__class__`` to ``cls``. The result *is* a ``cls`` instance (same fields,
    equality, hash, repr, pickling, still frozen); only the construction
    differs. Classes with validators, converters or ``__attrs_post_init__`` get
    their ordinary constructor, since skipping ``__init__`` would skip those.
    Every field is a required positional argument, defaults included.
    """
    fields = attrs.fields(cls)
    if (
        "__slots__" not in cls.__dict__
        or any(f.validator or f.converter for f in fields)
        or hasattr(cls, "__attrs_post_init__")
    ):
        return cls
    names = [f.name for f in fields]
    body = "".join(f"    o.{n} = {n}\n" for n in names)
    src = (
        f"def make({', '.join(names)}):\n    o = new_(twin_)\n{body}"
        "    o.__class__ = cls_\n    return o\n"
    )
    scope: dict[str, Any] = {"new_": object.__new__, "twin_": _layout_twin(cls), "cls_": cls}
    exec(src, scope)  # the same technique attrs uses for its own __init__
    make: Callable[..., _T] = scope["make"]
    make.__qualname__ = f"{cls.__qualname__}._make"
    return make


@attrs.frozen
class Event:
    """Base of every domain event: which leg, and when (ms, the input's time)."""

    kind: ClassVar[EventKind]
    to: ClassVar[Consumer]

    leg: str
    at: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_make" not in cls.__dict__:
            # Each class compiles its own fast constructor on first use.
            cls._make = Event.__dict__["_make"]  # type: ignore[method-assign]

    @classmethod
    def _make(cls, *args: Any) -> Self:
        """Construct from all fields, positionally, fast (see :func:`_fast_constructor`).
        The first call compiles this class's constructor and replaces this method."""
        make = _fast_constructor(cls)
        type.__setattr__(cls, "_make", staticmethod(make))
        return make(*args)

    @classmethod
    def build(cls, leg: Leg, at: int) -> Event:
        """Build this event for ``leg`` (its state *after* the transition)."""
        return cls._make(leg.leg_id, at)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``event``, ``to``, then the fields, enums as wire strings."""
        out: dict[str, Any] = {"event": self.kind.value, "to": self.to.value}
        for field in attrs.fields(type(self)):
            out[field.name] = _wire(getattr(self, field.name))
        return out


def _end_reason(leg: Leg) -> EndReason:
    outcome = OUTCOMES.get(leg.call)
    return EndReason.ACCEPTED if outcome is None else outcome.reason


# --- AgentDesk B -----------------------------------------------------------------


@attrs.frozen
class AlertShown(Event):
    """Show the incoming consult alert on B's desk; the caller id is Agent A."""

    kind = EventKind.ALERT_SHOWN
    to = Consumer.AGENTDESK_B
    caller_id: str

    @classmethod
    def build(cls, leg: Leg, at: int) -> AlertShown:
        return cls._make(leg.leg_id, at, leg.agent_a)


@attrs.frozen
class AlertRestored(Event):
    """B's desk came back while the consult still rings: show the alert again."""

    kind = EventKind.ALERT_RESTORED
    to = Consumer.AGENTDESK_B
    caller_id: str

    @classmethod
    def build(cls, leg: Leg, at: int) -> AlertRestored:
        return cls._make(leg.leg_id, at, leg.agent_a)


@attrs.frozen
class AlertRemoved(Event):
    """Take the alert off B's desk, and say why (accepted, RONA, dropped by A/B, ...)."""

    kind = EventKind.ALERT_REMOVED
    to = Consumer.AGENTDESK_B
    reason: EndReason

    @classmethod
    def build(cls, leg: Leg, at: int) -> AlertRemoved:
        return cls._make(leg.leg_id, at, _end_reason(leg))


@attrs.frozen
class ConsultRestored(Event):
    """B's desk came back while B is on the consult: re-attach the call view.
    The desk must not send CALL_LEG_STARTED again."""

    kind = EventKind.CONSULT_RESTORED
    to = Consumer.AGENTDESK_B


@attrs.frozen
class ConsultEndedForB(Event):
    """B's desk came back after the accepted consult ended: close the consult
    view. The CCM has already published CALL_LEG_ENDED; the desk must not."""

    kind = EventKind.CONSULT_ENDED
    to = Consumer.AGENTDESK_B
    reason: EndReason

    @classmethod
    def build(cls, leg: Leg, at: int) -> ConsultEndedForB:
        return cls._make(leg.leg_id, at, _end_reason(leg))


# --- AgentDesk A -----------------------------------------------------------------


@attrs.frozen
class ConsultStillRinging(Event):
    """A's desk came back while the consult still rings on B: show it as ringing."""

    kind = EventKind.CONSULT_STILL_RINGING
    to = Consumer.AGENTDESK_A
    agent_b: str

    @classmethod
    def build(cls, leg: Leg, at: int) -> ConsultStillRinging:
        return cls._make(leg.leg_id, at, leg.agent_b)


@attrs.frozen
class RejoinConversation(Event):
    """A's desk came back and B is already on the call: rejoin the *same*
    conversation (never a new one)."""

    kind = EventKind.REJOIN_CONVERSATION
    to = Consumer.AGENTDESK_A
    conversation_id: str
    agent_b: str

    @classmethod
    def build(cls, leg: Leg, at: int) -> RejoinConversation:
        return cls._make(leg.leg_id, at, leg.conversation_id, leg.agent_b)


@attrs.frozen
class ConsultEndedForA(Event):
    """A's desk came back after the consult ended: show how it ended; A stays
    with the customer."""

    kind = EventKind.CONSULT_ENDED
    to = Consumer.AGENTDESK_A
    reason: EndReason

    @classmethod
    def build(cls, leg: Leg, at: int) -> ConsultEndedForA:
        return cls._make(leg.leg_id, at, _end_reason(leg))


# --- CIM messages from B's desk to the CCM ----------------------------------------


@attrs.frozen
class _CimCallLeg(Event):
    """A CIM message B's desk sends to the CCM (``POST /message/receive``).

    ``customer_ani`` travels as ``header.channelData.channelCustomerIdentifier``:
    the customer's number, never Agent A's extension (the design note's fix for
    CCX and queue consults, which carry no ``associatedDialogUri``).
    """

    to = Consumer.CCM
    intent: ClassVar[CimIntent]
    agent: str  # the sender: Agent B
    customer_ani: str
    call_id: str | None
    service_identifier: str | None
    channel_session_id: str
    conversation_id: str
    associated_dialog_uri: str | None
    reason: CimReason

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["intent"] = self.intent.value
        return out


@attrs.frozen
class CimCallLegStarted(_CimCallLeg):
    """``CALL_LEG_STARTED`` with ``reasonCode`` ``CONSULT``."""

    kind = EventKind.CIM_MESSAGE
    intent = CimIntent.CALL_LEG_STARTED

    @classmethod
    def build(cls, leg: Leg, at: int) -> CimCallLegStarted:
        return cls._make(
            leg.leg_id, at, leg.agent_b, leg.customer_ani, leg.call_id,
            leg.service_identifier, leg.channel_session_id, leg.conversation_id,
            leg.associated_dialog_uri, CimReason.CONSULT,
        )  # fmt: skip


@attrs.frozen
class CimCallLegEnded(_CimCallLeg):
    """``CALL_LEG_ENDED`` with ``reasonCode`` ``CONSULT_ENDED`` (``DIALOG_ENDED``
    when the dialog failed after it was active)."""

    kind = EventKind.CIM_MESSAGE
    intent = CimIntent.CALL_LEG_ENDED

    @classmethod
    def build(cls, leg: Leg, at: int) -> CimCallLegEnded:
        reason = OUTCOMES[leg.call].cim_reason
        assert reason is not None, "CALL_LEG_ENDED only follows an accepted leg"
        return cls._make(
            leg.leg_id, at, leg.agent_b, leg.customer_ani, leg.call_id,
            leg.service_identifier, leg.channel_session_id, leg.conversation_id,
            leg.associated_dialog_uri, reason,
        )  # fmt: skip


# --- the conversation topic (the CCM publishes) ------------------------------------


@attrs.frozen
class CallLegStarted(Event):
    """The CCM publishes ``CALL_LEG_STARTED`` (reason ``CONSULT``) on the
    conversation topic, in the customer's *existing* channel session."""

    kind = EventKind.CALL_LEG_STARTED
    to = Consumer.CONVERSATION
    channel_session_id: str
    conversation_id: str
    agent: str
    reason: CimReason
    reported_by: Reporter

    @classmethod
    def build(cls, leg: Leg, at: int, reported_by: Reporter = Reporter.AGENTDESK) -> CallLegStarted:
        return cls._make(
            leg.leg_id, at, leg.channel_session_id, leg.conversation_id, leg.agent_b,
            CimReason.CONSULT, reported_by,
        )  # fmt: skip


@attrs.frozen
class CallLegEnded(Event):
    """The CCM publishes ``CALL_LEG_ENDED`` on the conversation topic. When B's
    desk was offline at the end, the CCM publishes it on its own
    (``reported_by`` = ``ccm``), as the design note's failover table asks."""

    kind = EventKind.CALL_LEG_ENDED
    to = Consumer.CONVERSATION
    channel_session_id: str
    conversation_id: str
    agent: str
    reason: CimReason
    reported_by: Reporter

    @classmethod
    def build(cls, leg: Leg, at: int, reported_by: Reporter = Reporter.AGENTDESK) -> CallLegEnded:
        reason = OUTCOMES[leg.call].cim_reason
        assert reason is not None, "CALL_LEG_ENDED only follows an accepted leg"
        return cls._make(
            leg.leg_id, at, leg.channel_session_id, leg.conversation_id, leg.agent_b,
            reason, reported_by,
        )  # fmt: skip


# --- Routing Engine / Agent Manager ------------------------------------------------


@attrs.frozen
class TaskCreated(Event):
    """The Routing Engine creates a consult task for B in the conversation."""

    kind = EventKind.TASK_CREATED
    to = Consumer.ROUTING_ENGINE
    agent: str
    conversation_id: str

    @classmethod
    def build(cls, leg: Leg, at: int) -> TaskCreated:
        return cls._make(leg.leg_id, at, leg.agent_b, leg.conversation_id)


@attrs.frozen
class TaskAssigned(Event):
    """The Routing Engine calls Agent Manager's assign-task for B."""

    kind = EventKind.TASK_ASSIGNED
    to = Consumer.AGENT_MANAGER
    agent: str
    conversation_id: str

    @classmethod
    def build(cls, leg: Leg, at: int) -> TaskAssigned:
        return cls._make(leg.leg_id, at, leg.agent_b, leg.conversation_id)


@attrs.frozen
class TaskClosed(Event):
    """The Routing Engine closes B's consult task when the leg ends."""

    kind = EventKind.TASK_CLOSED
    to = Consumer.ROUTING_ENGINE
    agent: str
    conversation_id: str
    reason: EndReason

    @classmethod
    def build(cls, leg: Leg, at: int) -> TaskClosed:
        return cls._make(leg.leg_id, at, leg.agent_b, leg.conversation_id, _end_reason(leg))


# --- timers, for the host -----------------------------------------------------------


@attrs.frozen
class TimerStarted(Event):
    """Arm a timer: feed the matching timeout input at ``deadline`` (absolute ms)."""

    kind = EventKind.TIMER_STARTED
    to = Consumer.HOST
    timer: Timer
    deadline: int


@attrs.frozen
class TimerCancelled(Event):
    """Disarm a timer. An expiry that still arrives is absorbed as late."""

    kind = EventKind.TIMER_CANCELLED
    to = Consumer.HOST
    timer: Timer
    deadline: int


#: Every concrete event class, for introspection (docs, diagrams, tests).
EVENT_CLASSES: tuple[type[Event], ...] = (
    AlertShown, AlertRestored, AlertRemoved, ConsultRestored, ConsultEndedForB,
    ConsultStillRinging, RejoinConversation, ConsultEndedForA,
    CimCallLegStarted, CimCallLegEnded, CallLegStarted, CallLegEnded,
    TaskCreated, TaskAssigned, TaskClosed, TimerStarted, TimerCancelled,
)  # fmt: skip

__all__ = [
    "EVENT_CLASSES",
    "AlertRemoved",
    "AlertRestored",
    "AlertShown",
    "CallLegEnded",
    "CallLegStarted",
    "CimCallLegEnded",
    "CimCallLegStarted",
    "CimIntent",
    "ConsultEndedForA",
    "ConsultEndedForB",
    "ConsultRestored",
    "ConsultStillRinging",
    "Consumer",
    "Event",
    "EventKind",
    "RejoinConversation",
    "Reporter",
    "TaskAssigned",
    "TaskClosed",
    "TaskCreated",
    "TimerCancelled",
    "TimerStarted",
]

# Compile the fast constructors of this module's classes now, not on first use.
for _cls in (Event, _CimCallLeg, *EVENT_CLASSES):
    type.__setattr__(_cls, "_make", staticmethod(_fast_constructor(_cls)))
del _cls
