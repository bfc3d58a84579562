"""A CCM-side handler that embeds consultfsm (runnable: ``python docs/examples/ccm_handler.py``).

The CCM keeps one :class:`Leg` per consult in a dict, feeds it what the CTI and
the desks' sockets report, and routes every emitted event by ``event.to``.
Timers are the leg's own deadlines: the host keeps one wake-up per leg
(``leg.next_deadline``) and, when it comes, lets the leg fire whatever is due
(``leg.handle_timers(now)``), so it never feeds a wrong expiry. The leg itself
does no I/O and reads no clock: every input carries its time.
"""

from __future__ import annotations

import heapq

from consultfsm import InputKind, Leg, Step
from consultfsm.core import events as ev
from consultfsm.core.events import label


class CcmHandler:
    """Legs by id, one wake-up per leg, and one delivery function per consumer."""

    def __init__(self) -> None:
        self.legs: dict[str, Leg] = {}
        self.wakeups: list[tuple[int, str]] = []  # (deadline, leg id), earliest first

    def start(self, leg_id: str, at: int) -> None:
        self.legs[leg_id] = Leg(
            leg_id, agent_a="A", agent_b="B", customer_ani="+923001234567",
            conversation_id="C1", channel_session_id="S1", created_at=at,
        )  # fmt: skip

    def feed(self, leg_id: str, kind: InputKind, at: int) -> None:
        """Fire every deadline due by ``at`` first, then apply the input."""
        self.advance(at)
        leg = self.legs[leg_id]
        self._done(leg, kind.value, leg.handle(kind, at))

    def advance(self, now: int) -> None:
        """Let every leg whose next deadline is due by ``now`` fire its timers."""
        while self.wakeups and self.wakeups[0][0] <= now:
            deadline, leg_id = heapq.heappop(self.wakeups)
            leg = self.legs.get(leg_id)
            if leg is None or leg.next_deadline is None or leg.next_deadline[1] != deadline:
                continue  # a stale wake-up: that deadline was cancelled or already fired
            for step in leg.handle_timers(now):
                self._done(leg, "timer", step)

    def _done(self, leg: Leg, what: str, step: Step) -> None:
        if step.row is not None:
            what = step.row.input.value
        print(f"t={leg.last_at} {what}: {step.disposition.value}, now {leg.state}")
        for event in step.events:
            self.route(event)
        if leg.is_finished:  # nothing can happen to it any more
            del self.legs[leg.leg_id]
            print(f"t={leg.last_at} leg {leg.leg_id} finished")
        elif (due := leg.next_deadline) is not None:
            heapq.heappush(self.wakeups, (due[1], leg.leg_id))  # wake up then

    def route(self, event: ev.Event) -> None:
        """Deliver one event to its consumer (here: print what would be sent)."""
        if isinstance(event, ev.TimerStarted | ev.TimerCancelled):
            verb = "arm" if isinstance(event, ev.TimerStarted) else "disarm"
            print(f"  host: {verb} {event.timer.value} for t={event.deadline}")  # informational
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
    # 2. Nobody answers: our own ring deadline withdraws the alert when the clock
    #    passes it (a fallback: B may still answer), and the CTI's RONA ends the leg.
    ccm.start("L2", at=0)
    ccm.feed("L2", InputKind.ALERTING, 200)
    ccm.advance(20_000)
    ccm.feed("L2", InputKind.RONA, 20_040)
    print(f"open legs: {sorted(ccm.legs)}")
