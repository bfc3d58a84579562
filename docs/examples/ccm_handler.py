"""A CCM-side handler that embeds consultfsm (runnable: ``python docs/examples/ccm_handler.py``).

The CCM keeps one :class:`Leg` per consult in a dict, feeds it what the CTI and
the desks' sockets report, routes every emitted event by ``event.to``, and
keeps the leg's timers: ``timer_started`` arms a deadline, ``timer_cancelled``
disarms it, and when a deadline passes the matching timeout input is fed back.
The leg itself does no I/O and reads no clock: every input carries its time.
"""

from __future__ import annotations

import heapq

from consultfsm import TIMEOUT_INPUT, InputKind, Leg, Timer
from consultfsm.core import events as ev
from consultfsm.verify.scenarios import label


class CcmHandler:
    """Legs by id, a timer heap, and one delivery function per consumer."""

    def __init__(self) -> None:
        self.legs: dict[str, Leg] = {}
        self.timers: list[tuple[int, str, Timer]] = []  # (deadline, leg id, timer)

    def start(self, leg_id: str, at: int) -> None:
        self.legs[leg_id] = Leg(
            leg_id, agent_a="A", agent_b="B", customer_ani="+923001234567",
            conversation_id="C1", channel_session_id="S1", created_at=at,
        )  # fmt: skip

    def feed(self, leg_id: str, kind: InputKind, at: int) -> None:
        """Fire every deadline due by ``at`` first, then apply the input."""
        self.advance(at)
        self._apply(leg_id, kind, at)

    def advance(self, now: int) -> None:
        """Feed the timeout of every armed deadline that is due by ``now``."""
        while self.timers and self.timers[0][0] <= now:
            deadline, leg_id, timer = heapq.heappop(self.timers)
            leg = self.legs.get(leg_id)
            if leg is not None and leg.deadline(timer) == deadline:  # skip disarmed ones
                self._apply(leg_id, TIMEOUT_INPUT[timer], deadline)

    def _apply(self, leg_id: str, kind: InputKind, at: int) -> None:
        leg = self.legs[leg_id]
        step = leg.handle(kind, at)
        print(f"t={at} {kind.value}: {step.disposition.value}, now {leg.state}")
        for event in step.events:
            self.route(event)
        if leg.is_finished:  # nothing can happen to it any more
            del self.legs[leg_id]
            print(f"t={at} leg {leg_id} finished")

    def route(self, event: ev.Event) -> None:
        """Deliver one event to its consumer (here: print what would be sent)."""
        if isinstance(event, ev.TimerStarted):
            heapq.heappush(self.timers, (event.deadline, event.leg, event.timer))
            print(f"  host: arm {event.timer.value} for t={event.deadline}")
        elif isinstance(event, ev.TimerCancelled):
            print(f"  host: disarm {event.timer.value}")  # advance() skips it
        else:
            print(f"  -> {event.to.value}: {label(event)}")


if __name__ == "__main__":
    ccm = CcmHandler()
    # 1. B answers, B's browser refreshes, A hangs up: the CCM publishes the end itself.
    ccm.start("L1", at=0)
    ccm.feed("L1", InputKind.ALERTING, 200)
    ccm.feed("L1", InputKind.ACCEPTED, 2_000)
    ccm.feed("L1", InputKind.BROWSER_DISCONNECTED_B, 5_000)
    ccm.feed("L1", InputKind.DROPPED_BY_A, 6_000)
    ccm.feed("L1", InputKind.BROWSER_RESTORED_B, 8_000)
    # 2. Nobody answers: our own ring deadline fires (RONA) when the clock passes it.
    ccm.start("L2", at=0)
    ccm.feed("L2", InputKind.ALERTING, 200)
    ccm.advance(20_000)
    print(f"open legs: {sorted(ccm.legs)}")
