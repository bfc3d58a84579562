"""``python-statemachine``: a StateMachine per leg.

Flat states as for ``transitions``; each event's ``on_<event>`` callback builds
the same event objects as the floor (:mod:`.floor`). The time of the input is
passed to ``send`` as a keyword and injected into the callbacks by name.
"""

from __future__ import annotations

from typing import Any

from statemachine import State, StateMachine

from . import floor
from .common import GRACE_MS, LIFECYCLE, RING_MS, Ctx, Peer, no_release, same


class SMLeg(StateMachine):
    initiated = State(initial=True)
    ringing = State()
    ringing_b_away = State()
    accepted_ = State("accepted", value="accepted")
    ended_by_a = State(final=True)

    alerting = initiated.to(ringing)
    browser_disconnected_b = ringing.to(ringing_b_away)
    browser_restored_b = ringing_b_away.to(ringing)
    accepted = ringing.to(accepted_)
    dropped_by_a = accepted_.to(ended_by_a)

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
        super().__init__()

    def on_alerting(self, at: int) -> None:
        self.ring_deadline = d = at + RING_MS
        self.out = floor.ev_alerting(self, at, d)

    def on_browser_disconnected_b(self, at: int) -> None:
        self.grace_b_deadline = d = at + GRACE_MS
        self.out = floor.ev_b_disconnected(self, at, d)

    def on_browser_restored_b(self, at: int) -> None:
        d = self.grace_b_deadline
        self.grace_b_deadline = None
        self.out = floor.ev_b_restored(self, at, d)  # type: ignore[arg-type]

    def on_accepted(self, at: int) -> None:
        d = self.ring_deadline
        self.ring_deadline = None
        self.out = floor.ev_accepted(self, at, d)  # type: ignore[arg-type]

    def on_dropped_by_a(self, at: int) -> None:
        self.out = floor.ev_dropped_by_a(self, at)


def handle(leg: Any, kind: str, at: int) -> list[floor.Event]:
    if at < leg.last_at:
        raise ValueError(f"leg {leg.leg_id}: time went backwards")
    leg.send(kind, at=at)
    leg.last_at = at
    out: list[floor.Event] = leg.out
    leg.out = []
    return out


PEER = Peer(
    "python-statemachine (StateMachine per leg)",
    SMLeg,
    handle,
    tuple(kind for kind, _ in LIFECYCLE),
    same,
    no_release,
)
