"""``transitions``: a Machine per leg, and one shared Machine with per-leg models.

The lifecycle is a flat machine (the call and B's desk folded into one state,
which is how a flat-FSM library is used for it); every transition's ``after``
callback builds the same event objects as the floor (:mod:`.floor`), so the
difference measured is the library's. ``auto_transitions=False`` keeps the
model lean (no ``to_<state>`` methods), the documented way to cut its cost.
"""

from __future__ import annotations

from typing import Any

from transitions import Machine

from . import floor
from .common import GRACE_MS, LIFECYCLE, RING_MS, Ctx, Peer, same

STATES = ["initiated", "ringing", "ringing_b_away", "accepted", "ended_by_a"]
TRANSITIONS: list[dict[str, str]] = [
    {"trigger": "alerting", "source": "initiated", "dest": "ringing", "after": "_alerting"},
    {
        "trigger": "browser_disconnected_b",
        "source": "ringing",
        "dest": "ringing_b_away",
        "after": "_b_disconnected",
    },
    {
        "trigger": "browser_restored_b",
        "source": "ringing_b_away",
        "dest": "ringing",
        "after": "_b_restored",
    },
    {"trigger": "accepted", "source": "ringing", "dest": "accepted", "after": "_accepted"},
    {
        "trigger": "dropped_by_a",
        "source": "accepted",
        "dest": "ended_by_a",
        "after": "_dropped_by_a",
    },
]


class TLeg:
    """The model: the leg's context, deadlines, and the events of the last trigger."""

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
        self.ring_deadline: int | None = None
        self.grace_b_deadline: int | None = None
        self.last_at = 0
        self.out: list[floor.Event] = []

    def _alerting(self, at: int) -> None:
        self.ring_deadline = d = at + RING_MS
        self.out = floor.ev_alerting(self, at, d)

    def _b_disconnected(self, at: int) -> None:
        self.grace_b_deadline = d = at + GRACE_MS
        self.out = floor.ev_b_disconnected(self, at, d)

    def _b_restored(self, at: int) -> None:
        d = self.grace_b_deadline
        self.grace_b_deadline = None
        self.out = floor.ev_b_restored(self, at, d)  # type: ignore[arg-type]

    def _accepted(self, at: int) -> None:
        d = self.ring_deadline
        self.ring_deadline = None
        self.out = floor.ev_accepted(self, at, d)  # type: ignore[arg-type]

    def _dropped_by_a(self, at: int) -> None:
        self.out = floor.ev_dropped_by_a(self, at)


def handle(leg: Any, kind: str, at: int) -> list[floor.Event]:
    if at < leg.last_at:
        raise ValueError(f"leg {leg.leg_id}: time went backwards")
    leg.trigger(kind, at)
    leg.last_at = at
    out: list[floor.Event] = leg.out
    leg.out = []
    return out


def create_per_leg(c: Ctx) -> TLeg:
    leg = TLeg(c)
    Machine(
        model=leg,
        states=STATES,
        transitions=TRANSITIONS,
        initial="initiated",
        auto_transitions=False,
    )
    return leg


def release_nothing(leg: Any) -> None:
    """A per-leg machine goes with its model (but only when the GC finds the cycle)."""


#: The shared machine: one for all legs, models added and removed.
SHARED = Machine(
    model=None, states=STATES, transitions=TRANSITIONS, initial="initiated", auto_transitions=False
)


def create_shared(c: Ctx) -> TLeg:
    leg = TLeg(c)
    SHARED.add_model(leg)
    return leg


def release_shared(leg: Any) -> None:
    SHARED.remove_model(leg)


INPUTS = tuple(kind for kind, _ in LIFECYCLE)

PER_LEG = Peer(
    "transitions (Machine per leg)", create_per_leg, handle, INPUTS, same, release_nothing
)
SHARED_PEER = Peer(
    "transitions (shared Machine, add_model)", create_shared, handle, INPUTS, same, release_shared
)
