"""Agent B's AgentDesk embedding consultfsm across a page refresh
(runnable: ``python docs/examples/agentdesk_handler.py``).

The desk keeps the leg as a JSON snapshot (``localStorage`` in a browser, here
a dict). After a refresh it restores the leg from that snapshot, tells it the
browser is back, and reacts to the events addressed to it: the desk's own
view (``to == agentdesk_b``) and the CIM messages it must POST to the CCM
(``to == ccm``). Everything else is for the CCM/RE to act on.
"""

from __future__ import annotations

import json

from consultfsm import InputKind, Leg, LegSnapshot
from consultfsm.core import events as ev
from consultfsm.core.events import label

STORAGE: dict[str, str] = {}  # stands in for the browser's localStorage
KEY = "consult-leg:L1"


class AgentDeskB:
    """One page load of B's desk."""

    def __init__(self, leg: Leg) -> None:
        self.leg = leg

    @classmethod
    def reload(cls) -> AgentDeskB:
        """A fresh page: rebuild the leg from its JSON snapshot."""
        snapshot = LegSnapshot.from_dict(json.loads(STORAGE[KEY]))
        return cls(Leg.restore(snapshot))

    def feed(self, kind: InputKind, at: int) -> None:
        step = self.leg.handle(kind, at)
        print(f"t={at} {kind.value}: {step.disposition.value}, now {self.leg.state}")
        for event in step.events:
            self.react(event)
        STORAGE[KEY] = json.dumps(self.leg.snapshot().to_dict())  # persist after every step

    def react(self, event: ev.Event) -> None:
        if isinstance(event, ev.AlertShown | ev.AlertRestored):
            print(f"  desk B: show consult alert from {event.caller_id}")
        elif isinstance(event, ev.AlertRemoved):
            print(f"  desk B: remove alert ({event.reason.value})")
        elif isinstance(event, ev.ConsultRestored):
            print("  desk B: re-attach the consult view (no second CALL_LEG_STARTED)")
        elif isinstance(event, ev.ConsultEndedForB):
            print(f"  desk B: close the consult view ({event.reason.value})")
        elif isinstance(event, ev.CimCallLegStarted | ev.CimCallLegEnded):
            print(f"  desk B: POST /message/receive {label(event)} ani={event.customer_ani}")


if __name__ == "__main__":
    first = AgentDeskB(Leg("L1", agent_a="A", agent_b="B", customer_ani="+923001234567",
                           conversation_id="C1", channel_session_id="S1"))  # fmt: skip
    first.feed(InputKind.ALERTING, 200)
    first.feed(InputKind.ACCEPTED, 2_000)
    first.feed(InputKind.BROWSER_DISCONNECTED_B, 5_000)  # the socket closes: page refresh
    del first
    saved = json.loads(STORAGE[KEY])
    print(f"snapshot: call={saved['call']}, B={saved['desk_b']}")
    second = AgentDeskB.reload()
    second.feed(InputKind.BROWSER_RESTORED_B, 7_000)
    second.feed(InputKind.DROPPED_BY_B, 20_000)
