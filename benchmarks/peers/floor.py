"""The floor: what the lifecycle costs with no library at all.

A ``__slots__`` leg, a plain dict transition table keyed by (call state, B's
desk state, input), and ``__slots__`` event objects holding the same values as
consultfsm's events. Nothing is checked beyond what the table needs. The other
peers build these same event classes, so the event objects cost them no more
than they cost the floor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import GRACE_MS, LIFECYCLE, RING_MS, Ctx, Peer, no_release, same


class Event:
    __slots__ = ("at", "leg")

    def __init__(self, leg: str, at: int) -> None:
        self.leg = leg
        self.at = at


class AlertShown(Event):
    __slots__ = ("caller_id",)

    def __init__(self, leg: str, at: int, caller_id: str) -> None:
        self.leg = leg
        self.at = at
        self.caller_id = caller_id


class AlertRestored(AlertShown):
    __slots__ = ()


class AlertRemoved(Event):
    __slots__ = ("reason",)

    def __init__(self, leg: str, at: int, reason: str) -> None:
        self.leg = leg
        self.at = at
        self.reason = reason


class TimerStarted(Event):
    __slots__ = ("deadline", "timer")

    def __init__(self, leg: str, at: int, timer: str, deadline: int) -> None:
        self.leg = leg
        self.at = at
        self.timer = timer
        self.deadline = deadline


class TimerCancelled(TimerStarted):
    __slots__ = ()


class CimCallLeg(Event):
    __slots__ = (
        "agent",
        "associated_dialog_uri",
        "call_id",
        "channel_session_id",
        "conversation_id",
        "customer_ani",
        "reason",
        "service_identifier",
    )

    def __init__(  # noqa: PLR0917
        self,
        leg: str,
        at: int,
        agent: str,
        customer_ani: str,
        call_id: str | None,
        service_identifier: str | None,
        channel_session_id: str | None,
        conversation_id: str | None,
        associated_dialog_uri: str | None,
        reason: str,
    ) -> None:
        self.leg = leg
        self.at = at
        self.agent = agent
        self.customer_ani = customer_ani
        self.call_id = call_id
        self.service_identifier = service_identifier
        self.channel_session_id = channel_session_id
        self.conversation_id = conversation_id
        self.associated_dialog_uri = associated_dialog_uri
        self.reason = reason


class CimCallLegStarted(CimCallLeg):
    __slots__ = ()


class CimCallLegEnded(CimCallLeg):
    __slots__ = ()


class CallLeg(Event):
    __slots__ = ("agent", "channel_session_id", "conversation_id", "reason", "reported_by")

    def __init__(  # noqa: PLR0917
        self,
        leg: str,
        at: int,
        channel_session_id: str | None,
        conversation_id: str | None,
        agent: str,
        reason: str,
        reported_by: str,
    ) -> None:
        self.leg = leg
        self.at = at
        self.channel_session_id = channel_session_id
        self.conversation_id = conversation_id
        self.agent = agent
        self.reason = reason
        self.reported_by = reported_by


class CallLegStarted(CallLeg):
    __slots__ = ()


class CallLegEnded(CallLeg):
    __slots__ = ()


class Task(Event):
    __slots__ = ("agent", "conversation_id")

    def __init__(self, leg: str, at: int, agent: str, conversation_id: str | None) -> None:
        self.leg = leg
        self.at = at
        self.agent = agent
        self.conversation_id = conversation_id


class TaskCreated(Task):
    __slots__ = ()


class TaskAssigned(Task):
    __slots__ = ()


class TaskClosed(Event):
    __slots__ = ("agent", "conversation_id", "reason")

    def __init__(
        self, leg: str, at: int, agent: str, conversation_id: str | None, reason: str
    ) -> None:
        self.leg = leg
        self.at = at
        self.agent = agent
        self.conversation_id = conversation_id
        self.reason = reason


#: Field order of each event class, as consultfsm's (for the equivalence check).
FIELDS: dict[type[Event], tuple[str, ...]] = {
    AlertShown: ("leg", "at", "caller_id"),
    AlertRestored: ("leg", "at", "caller_id"),
    AlertRemoved: ("leg", "at", "reason"),
    TimerStarted: ("leg", "at", "timer", "deadline"),
    TimerCancelled: ("leg", "at", "timer", "deadline"),
    CimCallLegStarted: (
        "leg",
        "at",
        "agent",
        "customer_ani",
        "call_id",
        "service_identifier",
        "channel_session_id",
        "conversation_id",
        "associated_dialog_uri",
        "reason",
    ),
    CimCallLegEnded: (
        "leg",
        "at",
        "agent",
        "customer_ani",
        "call_id",
        "service_identifier",
        "channel_session_id",
        "conversation_id",
        "associated_dialog_uri",
        "reason",
    ),
    CallLegStarted: (
        "leg",
        "at",
        "channel_session_id",
        "conversation_id",
        "agent",
        "reason",
        "reported_by",
    ),
    CallLegEnded: (
        "leg",
        "at",
        "channel_session_id",
        "conversation_id",
        "agent",
        "reason",
        "reported_by",
    ),
    TaskCreated: ("leg", "at", "agent", "conversation_id"),
    TaskAssigned: ("leg", "at", "agent", "conversation_id"),
    TaskClosed: ("leg", "at", "agent", "conversation_id", "reason"),
}


# --- what each transition emits (shared by the library peers' callbacks) --------------


def ev_alerting(leg: Any, at: int, deadline: int) -> list[Event]:
    return [AlertShown(leg.leg_id, at, leg.agent_a), TimerStarted(leg.leg_id, at, "ring", deadline)]


def ev_b_disconnected(leg: Any, at: int, deadline: int) -> list[Event]:
    return [TimerStarted(leg.leg_id, at, "grace_b", deadline)]


def ev_b_restored(leg: Any, at: int, deadline: int) -> list[Event]:
    return [
        TimerCancelled(leg.leg_id, at, "grace_b", deadline),
        AlertRestored(leg.leg_id, at, leg.agent_a),
    ]


def ev_accepted(leg: Any, at: int, deadline: int) -> list[Event]:
    i = leg.leg_id
    return [
        TimerCancelled(i, at, "ring", deadline),
        AlertRemoved(i, at, "accepted"),
        CimCallLegStarted(
            i,
            at,
            leg.agent_b,
            leg.customer_ani,
            leg.call_id,
            leg.service_identifier,
            leg.channel_session_id,
            leg.conversation_id,
            leg.associated_dialog_uri,
            "CONSULT",
        ),
        CallLegStarted(
            i, at, leg.channel_session_id, leg.conversation_id, leg.agent_b, "CONSULT", "agentdesk"
        ),
        TaskCreated(i, at, leg.agent_b, leg.conversation_id),
        TaskAssigned(i, at, leg.agent_b, leg.conversation_id),
    ]


def ev_dropped_by_a(leg: Any, at: int) -> list[Event]:
    i = leg.leg_id
    return [
        CimCallLegEnded(
            i,
            at,
            leg.agent_b,
            leg.customer_ani,
            leg.call_id,
            leg.service_identifier,
            leg.channel_session_id,
            leg.conversation_id,
            leg.associated_dialog_uri,
            "CONSULT_ENDED",
        ),
        CallLegEnded(
            i,
            at,
            leg.channel_session_id,
            leg.conversation_id,
            leg.agent_b,
            "CONSULT_ENDED",
            "agentdesk",
        ),
        TaskClosed(i, at, leg.agent_b, leg.conversation_id, "dropped_by_a"),
    ]


# --- the floor leg ------------------------------------------------------------------


class FloorLeg:
    __slots__ = (
        "agent_a",
        "agent_b",
        "associated_dialog_uri",
        "call",
        "call_id",
        "channel_session_id",
        "conversation_id",
        "customer_ani",
        "desk_a",
        "desk_b",
        "grace_a_deadline",
        "grace_b_deadline",
        "last_at",
        "leg_id",
        "ring_deadline",
        "service_identifier",
    )

    def __init__(self, c: Ctx) -> None:
        self.leg_id = c.leg_id
        self.agent_a = c.agent_a
        self.agent_b = c.agent_b
        self.customer_ani = c.customer_ani
        self.conversation_id = c.conversation_id
        self.channel_session_id = c.channel_session_id
        self.call_id = c.call_id
        self.service_identifier = c.service_identifier
        self.associated_dialog_uri = c.associated_dialog_uri
        self.call = "initiated"
        self.desk_a = "connected"
        self.desk_b = "connected"
        self.ring_deadline: int | None = None
        self.grace_a_deadline: int | None = None
        self.grace_b_deadline: int | None = None
        self.last_at = 0

    def handle(self, kind: str, at: int) -> tuple[Event, ...]:
        row = TABLE.get((self.call, self.desk_b, kind))
        if row is None:
            raise ValueError(f"leg {self.leg_id}: no transition for {kind}")
        if at < self.last_at:
            raise ValueError(f"leg {self.leg_id}: time went backwards")
        self.last_at = at
        return row(self, at)


def _alerting(leg: FloorLeg, at: int) -> tuple[Event, ...]:
    leg.call = "ringing"
    leg.ring_deadline = d = at + RING_MS
    return (AlertShown(leg.leg_id, at, leg.agent_a), TimerStarted(leg.leg_id, at, "ring", d))


def _b_disconnected(leg: FloorLeg, at: int) -> tuple[Event, ...]:
    leg.desk_b = "disconnected"
    leg.grace_b_deadline = d = at + GRACE_MS
    return (TimerStarted(leg.leg_id, at, "grace_b", d),)


def _b_restored(leg: FloorLeg, at: int) -> tuple[Event, ...]:
    leg.desk_b = "restored"
    d = leg.grace_b_deadline
    leg.grace_b_deadline = None
    return (
        TimerCancelled(leg.leg_id, at, "grace_b", d),  # type: ignore[arg-type]
        AlertRestored(leg.leg_id, at, leg.agent_a),
    )


def _accepted(leg: FloorLeg, at: int) -> tuple[Event, ...]:
    leg.call = "accepted"
    d = leg.ring_deadline
    leg.ring_deadline = None
    i = leg.leg_id
    return (
        TimerCancelled(i, at, "ring", d),  # type: ignore[arg-type]
        AlertRemoved(i, at, "accepted"),
        CimCallLegStarted(
            i,
            at,
            leg.agent_b,
            leg.customer_ani,
            leg.call_id,
            leg.service_identifier,
            leg.channel_session_id,
            leg.conversation_id,
            leg.associated_dialog_uri,
            "CONSULT",
        ),
        CallLegStarted(
            i, at, leg.channel_session_id, leg.conversation_id, leg.agent_b, "CONSULT", "agentdesk"
        ),
        TaskCreated(i, at, leg.agent_b, leg.conversation_id),
        TaskAssigned(i, at, leg.agent_b, leg.conversation_id),
    )


def _dropped_by_a(leg: FloorLeg, at: int) -> tuple[Event, ...]:
    leg.call = "ended_by_a"
    i = leg.leg_id
    return (
        CimCallLegEnded(
            i,
            at,
            leg.agent_b,
            leg.customer_ani,
            leg.call_id,
            leg.service_identifier,
            leg.channel_session_id,
            leg.conversation_id,
            leg.associated_dialog_uri,
            "CONSULT_ENDED",
        ),
        CallLegEnded(
            i,
            at,
            leg.channel_session_id,
            leg.conversation_id,
            leg.agent_b,
            "CONSULT_ENDED",
            "agentdesk",
        ),
        TaskClosed(i, at, leg.agent_b, leg.conversation_id, "dropped_by_a"),
    )


#: The plain dict transition table: (call, desk_b, input) -> the transition.
TABLE: dict[tuple[str, str, str], Callable[[FloorLeg, int], tuple[Event, ...]]] = {
    ("initiated", "connected", "alerting"): _alerting,
    ("ringing", "connected", "browser_disconnected_b"): _b_disconnected,
    ("ringing", "disconnected", "browser_restored_b"): _b_restored,
    ("ringing", "restored", "accepted"): _accepted,
    ("ringing", "connected", "accepted"): _accepted,
    ("accepted", "restored", "dropped_by_a"): _dropped_by_a,
    ("accepted", "connected", "dropped_by_a"): _dropped_by_a,
}

PEER = Peer(
    name="floor",
    create=FloorLeg,
    handle=FloorLeg.handle,
    inputs=tuple(kind for kind, _ in LIFECYCLE),
    events_of=same,
    release=no_release,
)
