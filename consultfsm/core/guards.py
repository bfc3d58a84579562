"""Named guards: the conditions a table row may put on its transition.

A guard is a pure predicate over a :class:`GuardView` (the leg's region states
and pending deadlines, *before* the transition) and the input's time. Rows name
guards by enum member, so the table stays plain data and every guard shows up
by name in the docs and diagrams. A row's guards are a conjunction.

Most guards read only region states, so the runtime resolves them once per
configuration when it compiles the table. ``DUE``/``EARLY`` compare the input's
time with the pending deadline, so they are evaluated per input.
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
    TIMER_OF_INPUT,
    UNACCEPTED_ENDINGS,
    CallState,
    DeskState,
    InputKind,
    Timer,
)


class GuardView(Protocol):
    """What a guard may look at: the three region states and the deadlines."""

    @property
    def call(self) -> CallState: ...
    @property
    def desk_a(self) -> DeskState: ...
    @property
    def desk_b(self) -> DeskState: ...
    def deadline(self, timer: Timer) -> int | None: ...


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
    DUE = "due"  # the input is the expiry of this region's pending timer
    EARLY = "early"  # a timer input before the pending deadline: an older timer's expiry

    @property
    def dynamic(self) -> bool:
        """True when the guard depends on the input's time, not only on states."""
        return self in (Guard.DUE, Guard.EARLY)


GuardFn = Callable[[GuardView, Timer | None, int], bool]


def _is_due(view: GuardView, timer: Timer | None, at: int) -> bool:
    if timer is None:
        return False
    deadline = view.deadline(timer)
    return deadline is not None and at >= deadline


#: The predicate behind each guard: ``fn(view, timer_of_input, at)``.
GUARDS: dict[Guard, GuardFn] = {
    Guard.B_ONLINE: lambda v, t, at: v.desk_b in ONLINE_DESK_STATES,
    Guard.B_OFFLINE: lambda v, t, at: v.desk_b in OFFLINE_DESK_STATES,
    Guard.CALL_PENDING: lambda v, t, at: v.call in (CallState.INITIATED, CallState.RINGING),
    Guard.CALL_INITIATED: lambda v, t, at: v.call is CallState.INITIATED,
    Guard.CALL_RINGING: lambda v, t, at: v.call is CallState.RINGING,
    Guard.CALL_ACCEPTED: lambda v, t, at: v.call is CallState.ACCEPTED,
    Guard.CALL_LIVE: lambda v, t, at: v.call in LIVE_CALL_STATES,
    Guard.CALL_ENDED: lambda v, t, at: v.call in TERMINAL_CALL_STATES,
    Guard.ENDED_UNACCEPTED: lambda v, t, at: v.call in UNACCEPTED_ENDINGS,
    Guard.ENDED_ACCEPTED: lambda v, t, at: v.call in ACCEPTED_ENDINGS,
    Guard.DUE: _is_due,
    Guard.EARLY: lambda v, t, at: not _is_due(v, t, at),
}


def holds(guards: tuple[Guard, ...], view: GuardView, kind: InputKind, at: int) -> bool:
    """True when every guard of a row holds for this view and input."""
    timer = TIMER_OF_INPUT.get(kind)
    return all(GUARDS[g](view, timer, at) for g in guards)
