"""consultfsm's runtime: one :class:`consultfsm.core.leg.Leg` per consult leg."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consultfsm.core.leg import Leg
from consultfsm.core.states import InputKind
from consultfsm.core.step import Step

from .common import LIFECYCLE, Ctx, Peer, no_release


def create(c: Ctx) -> Leg:
    return Leg(
        c.leg_id,
        c.agent_a,
        c.agent_b,
        c.customer_ani,
        conversation_id=c.conversation_id,
        channel_session_id=c.channel_session_id,
        call_id=c.call_id,
        service_identifier=c.service_identifier,
        associated_dialog_uri=c.associated_dialog_uri,
    )


def events_of(step: Step) -> Sequence[Any]:
    return step.events


PEER = Peer(
    name="consultfsm",
    create=create,
    handle=Leg.handle,
    inputs=tuple(InputKind(kind) for kind, _ in LIFECYCLE),
    events_of=events_of,
    release=no_release,
)
