"""Named guards: the conditions a table row may put on its transition.

A guard is a pure predicate over a :class:`GuardView`: the leg's region states
*before* the transition. Rows name guards by enum member, so the table stays
plain data and every guard shows up by name in the docs and diagrams. A row's
guards are a conjunction.

Guards read states only, never time: whether a timer input is the expiry of a
pending, due timer is the executor's one timer rule (table rule 5), not a
guard. So the executor resolves every guard once per configuration when it
compiles a table, and a step evaluates none.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from .states import (
    ACCEPTED_ENDINGS,
    LIVE_CALL_STATES,
    OFFLINE_DESK_STATES,
    ON_CALL_STATES,
    ONLINE_DESK_STATES,
    PENDING_CALL_STATES,
    TERMINAL_CALL_STATES,
    UNACCEPTED_ENDINGS,
    CallState,
    CustomerState,
    DeskState,
)


class GuardView(Protocol):
    """What a guard may look at: the region states."""

    @property
    def call(self) -> CallState: ...
    @property
    def desk_a(self) -> DeskState: ...
    @property
    def desk_b(self) -> DeskState: ...
    @property
    def customer(self) -> CustomerState: ...


class Guard(StrEnum):
    """Every guard a row can name. The value is the label used in docs and diagrams."""

    B_ONLINE = "b_online"  # B's desk is up: the desk reports (CIM) and sees alerts
    B_OFFLINE = "b_offline"  # B's desk is down: the CCM reports the leg itself
    CALL_PENDING = "call_pending"  # initiated, queued or ringing: still trying to reach B
    CALL_RINGING = "call_ringing"
    CALL_UNANSWERED = "call_unanswered"  # the leg's ring window withdrew the alert
    CALL_ON_CALL = "call_on_call"  # accepted or held: B is on the consult
    CALL_ENGAGED = "call_engaged"  # ringing or on the call: B's desk shows the consult
    CALL_UNSEEN = "call_unseen"  # live, and B's desk shows nothing of it
    CALL_LIVE = "call_live"  # not terminal
    CALL_ENDED = "call_ended"  # terminal, however it ended
    GAVE_UP = "gave_up"  # unanswered, or ended before B answered: nothing was published
    ENDED_ACCEPTED = "ended_accepted"  # terminal after B answered
    CUSTOMER_PRESENT = "customer_present"  # the customer's call is still up


GuardFn = Callable[[GuardView], bool]

_ENGAGED = frozenset({CallState.RINGING, *ON_CALL_STATES})
_GAVE_UP = frozenset({CallState.UNANSWERED, *UNACCEPTED_ENDINGS})

#: The predicate behind each guard.
GUARDS: dict[Guard, GuardFn] = {
    Guard.B_ONLINE: lambda v: v.desk_b in ONLINE_DESK_STATES,
    Guard.B_OFFLINE: lambda v: v.desk_b in OFFLINE_DESK_STATES,
    Guard.CALL_PENDING: lambda v: v.call in PENDING_CALL_STATES,
    Guard.CALL_RINGING: lambda v: v.call is CallState.RINGING,
    Guard.CALL_UNANSWERED: lambda v: v.call is CallState.UNANSWERED,
    Guard.CALL_ON_CALL: lambda v: v.call in ON_CALL_STATES,
    Guard.CALL_ENGAGED: lambda v: v.call in _ENGAGED,
    Guard.CALL_UNSEEN: lambda v: v.call in LIVE_CALL_STATES and v.call not in _ENGAGED,
    Guard.CALL_LIVE: lambda v: v.call in LIVE_CALL_STATES,
    Guard.CALL_ENDED: lambda v: v.call in TERMINAL_CALL_STATES,
    Guard.GAVE_UP: lambda v: v.call in _GAVE_UP,
    Guard.ENDED_ACCEPTED: lambda v: v.call in ACCEPTED_ENDINGS,
    Guard.CUSTOMER_PRESENT: lambda v: v.customer is CustomerState.PRESENT,
}


def holds(guards: tuple[Guard, ...], view: GuardView) -> bool:
    """True when every guard of a row holds for this view."""
    return all(GUARDS[g](view) for g in guards)
