"""Commit points where a fault-injection test makes a worker crash.

Every attempt at an input passes these points in order (an input run again,
after a deadlock or to take the advisory locks it found it needs, passes
``before_lock`` again; the sweeper's transactions pass none, so a crash
planned for an input is not spent on a sweep); a test (or a soak
run) names one and the hit on which to crash there, and the worker dies on the spot, as a
SIGKILL would kill it: nothing after that point runs, no ``finally``, no
rollback sent to the database. Off unless asked for (one dictionary lookup).
``CONSULTFSM_CRASH_AT=after_outbox:3`` asks for it from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable

#: In the order an input passes them.
POINTS = ("before_lock", "after_apply", "after_outbox", "before_commit", "after_commit")


class Faults:
    """Which point crashes, on which hit, and how (by default: the process exits)."""

    def __init__(self, point: str | None = None, hit: int = 1,
                 crash: Callable[[str], None] | None = None) -> None:  # fmt: skip
        if point is not None and point not in POINTS:
            raise ValueError(f"no commit point {point!r}; the points are {', '.join(POINTS)}")
        self.point = point
        self.left = hit
        self.crash = crash or (lambda _: os._exit(137))  # as SIGKILL leaves it

    @classmethod
    def from_env(cls) -> Faults:
        spec = os.environ.get("CONSULTFSM_CRASH_AT", "")
        if not spec:
            return cls()
        point, _, hit = spec.partition(":")
        return cls(point, int(hit or 1))

    def armed(self, point: str) -> bool:
        """True if a crash is planned at ``point`` (on this hit or a later one)."""
        return point == self.point

    def reached(self, point: str) -> None:
        if point == self.point:
            self.left -= 1
            if self.left == 0:
                self.point = None
                self.crash(point)


__all__ = ["POINTS", "Faults"]
