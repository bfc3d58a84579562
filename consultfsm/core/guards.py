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
    ONLINE_DESK_STATES,
    TERMINAL_CALL_STATES,
    UNACCEPTED_ENDINGS,
    CallState,
    DeskState,
)


class GuardView(Protocol):
    """What a guard may look at: the three region states."""

    @property
    def call(self) -> CallState: ...
    @property
    def desk_a(self) -> DeskState: ...
    @property
    def desk_b(self) -> DeskState: ...


class Guard(StrEnum):
    """Every guard a row can name. The value is the label used in docs and diagrams."""

    B_ONLINE = "b_online"  # B's desk is up: the desk reports (CIM) and sees alerts
    B_OFFLINE = "b_offline"  # B's desk is down: the CCM reports the leg itself
    CALL_PENDING = "call_pending"  # initiated or ringing: B has not answered yet
    CALL_INITIATED = "call_initiated"
    CALL_RINGING = "call_ringing"
    CALL_ACCEPTED = "call_accepted"
    CALL_LIVE = "call_live"  # not terminal
    CALL_ENDED = "call_ended"  # terminal, however it ended
    ENDED_UNACCEPTED = "ended_unaccepted"  # terminal, B never answered
    ENDED_ACCEPTED = "ended_accepted"  # terminal after B answered


GuardFn = Callable[[GuardView], bool]

#: The predicate behind each guard.
GUARDS: dict[Guard, GuardFn] = {
    Guard.B_ONLINE: lambda v: v.desk_b in ONLINE_DESK_STATES,
    Guard.B_OFFLINE: lambda v: v.desk_b in OFFLINE_DESK_STATES,
    Guard.CALL_PENDING: lambda v: v.call in (CallState.INITIATED, CallState.RINGING),
    Guard.CALL_INITIATED: lambda v: v.call is CallState.INITIATED,
    Guard.CALL_RINGING: lambda v: v.call is CallState.RINGING,
    Guard.CALL_ACCEPTED: lambda v: v.call is CallState.ACCEPTED,
    Guard.CALL_LIVE: lambda v: v.call in LIVE_CALL_STATES,
    Guard.CALL_ENDED: lambda v: v.call in TERMINAL_CALL_STATES,
    Guard.ENDED_UNACCEPTED: lambda v: v.call in UNACCEPTED_ENDINGS,
    Guard.ENDED_ACCEPTED: lambda v: v.call in ACCEPTED_ENDINGS,
}


def holds(guards: tuple[Guard, ...], view: GuardView) -> bool:
    """True when every guard of a row holds for this view."""
    return all(GUARDS[g](view) for g in guards)
