"""What every peer shares: the leg's context, the lifecycle and the Peer shape."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

#: Agents and the service come from a small pool (shared strings, as in a real CCM).
AGENTS: tuple[str, ...] = tuple(f"agent{n:04d}@cc.example.com" for n in range(500))
SERVICE = "8001"
RING_MS = 15_000
GRACE_MS = 60_000

#: The lifecycle, as (input name, time in ms). Names are consultfsm's InputKind values.
LIFECYCLE: tuple[tuple[str, int], ...] = (
    ("alerting", 100),
    ("browser_disconnected_b", 200),
    ("browser_restored_b", 300),
    ("accepted", 400),
    ("dropped_by_a", 500),
)
#: Domain events the lifecycle emits in total (checked against every peer).
EVENTS_PER_LIFECYCLE = 14


class Ctx(NamedTuple):
    """A leg's full context: ids, agents, the customer's ANI."""

    leg_id: str
    agent_a: str
    agent_b: str
    customer_ani: str
    conversation_id: str
    channel_session_id: str
    call_id: str
    service_identifier: str
    associated_dialog_uri: str


def make_ctx(i: int) -> Ctx:
    """The context of leg number ``i``: unique ids, realistic lengths."""
    return Ctx(
        f"leg-{i:010d}",
        AGENTS[i % 500],
        AGENTS[(i * 7 + 1) % 500],
        f"+92300{i:07d}",
        f"{i:08x}-7d1c-4c5e-9a0b-{i:012x}",
        f"{i:08x}-51f0-4b7e-8c21-{i:012x}",
        str(4_000_000_000 + i),
        SERVICE,
        f"https://finesse.example.com/finesse/api/Dialog/{30_000_000 + i}",
    )


class Peer(NamedTuple):
    """One implementation, as plain callables (no per-call method binding).

    ``handle(leg, kind, at)`` applies one input and returns what it emitted
    (consultfsm: a Step holding the events; the others: a sequence of events).
    ``release(leg)`` is called once a leg has ended (a shared machine must
    forget its model; for the others it does nothing).
    """

    name: str
    create: Callable[[Ctx], Any]
    handle: Callable[[Any, Any, int], Any]
    inputs: tuple[Any, ...]  # the lifecycle's inputs, in this peer's vocabulary
    events_of: Callable[[Any], Sequence[Any]]  # the events of what handle returned
    release: Callable[[Any], None]


def no_release(leg: Any) -> None:
    """Nothing to undo: dropping the last reference frees the leg."""


def same(result: Any) -> Sequence[Any]:
    """``handle`` already returned the sequence of events."""
    seq: Sequence[Any] = result
    return seq
