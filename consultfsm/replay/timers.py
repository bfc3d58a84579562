"""The host's timers on the replay's virtual clock: a heap of armed deadlines.

Legs announce timers in ``timer_started`` events and keep the deadline
themselves; the host only has to know which to feed first. A heap keeps
finding the next one independent of the number of legs. Nothing is taken out
when a timer is cancelled: an entry whose leg no longer holds that deadline is
stale, and whoever pops it skips it (see :meth:`Armed.is_live`).
"""

from __future__ import annotations

import heapq
from typing import NamedTuple

from consultfsm.core.leg import Leg
from consultfsm.core.states import Timer

#: Ties between timers of one leg due at the same ms fire in Timer order.
_TIMER_ORDER: dict[Timer, int] = {timer: i for i, timer in enumerate(Timer)}


class Armed(NamedTuple):
    """One armed timer. Compared as a tuple, so the heap's order is: earliest
    deadline, then the leg created first, then :class:`Timer` order."""

    deadline: int
    leg_order: int  # the leg's creation order
    timer_order: int
    leg: str
    timer: Timer

    def is_live(self, leg: Leg | None) -> bool:
        """False when the timer was cancelled, fired or undone since it was armed."""
        return leg is not None and leg.deadline(self.timer) == self.deadline


class TimerHeap:
    """Every armed timer, earliest first (stale entries included)."""

    __slots__ = ("_heap",)

    def __init__(self) -> None:
        self._heap: list[Armed] = []

    def arm(self, leg: str, leg_order: int, timer: Timer, deadline: int) -> None:
        """Remember a timer a leg started."""
        self.push(Armed(deadline, leg_order, _TIMER_ORDER[timer], leg, timer))

    def push(self, armed: Armed) -> None:
        """Put an entry (back) in: how a popped timer is undone."""
        heapq.heappush(self._heap, armed)

    def pop_due(self, until: int) -> Armed | None:
        """Take out the earliest entry due at or before ``until``, if any."""
        if self._heap and self._heap[0].deadline <= until:
            return heapq.heappop(self._heap)
        return None
