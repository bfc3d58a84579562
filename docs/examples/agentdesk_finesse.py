"""Agent B's AgentDesk backend fed exactly what its page receives (runnable:
``python docs/examples/agentdesk_finesse.py``).

Finesse notifications go in as they arrive (XML here; the JSON a gadget gets
works too), and so do the page's lifecycle and the dialog list a page reads
when it comes back. Out come the effects: what to show, and the CIM messages
to POST to the CCM. The whole desk is one JSON snapshot for ``localStorage``.
"""

from __future__ import annotations

import json

from consultfsm.desk import AgentDesk, DeskEffect
from consultfsm.wire.finesse import parse_dialogs

STORAGE: dict[str, str] = {}  # stands in for the browser's localStorage


def dialog(state: str, a: str, b: str, at: str) -> str:
    """The UCCE consult dialog 16777301 from A (7001) to B (7002)."""

    def party(ext: str, st: str) -> str:
        return (
            f"<Participant><mediaAddress>{ext}</mediaAddress><mediaAddressType>AGENT_DEVICE"
            f"</mediaAddressType><state>{st}</state><stateCause></stateCause>"
            f"<stateChangeTime>2026-12-01T10:00:{at}Z</stateChangeTime></Participant>"
        )

    return (
        "<Dialog><associatedDialogUri>/finesse/api/Dialog/16777300</associatedDialogUri>"
        "<fromAddress>7001</fromAddress><id>16777301</id><mediaProperties><callType>AGENT_INSIDE"
        "</callType><callvariables><CallVariable><name>callVariable1</name>"
        "<value>+923001234567:3000</value></CallVariable></callvariables></mediaProperties>"
        f"<participants>{party('7001', a)}{party('7002', b)}</participants><state>{state}</state>"
        "<uri>/finesse/api/Dialog/16777301</uri></Dialog>"
    )


def update(event: str, body: str) -> str:
    if event == "PUT":
        data, source = f"<dialog>{body[8:-9]}</dialog>", "/finesse/api/Dialog/16777301"
    else:
        data, source = f"<dialogs>{body}</dialogs>", "/finesse/api/User/1002/Dialogs"
    return f"<Update><data>{data}</data><event>{event}</event><source>{source}</source></Update>"


def show(t: int, what: str, effects: list[DeskEffect]) -> None:
    print(f"t={t} {what}: {', '.join(str(e) for e in effects) or 'nothing to do'}")
    for e in effects:
        if e.is_send:
            reason = f"({e.cim_reason})" if e.cim_reason else ""
            print(f"  POST /message/receive {e.cim_intent}{reason} leg {e.leg}")


desk = AgentDesk(agent_id="1002", extension="7002")
show(100, "alert", desk.on_update(update("POST", dialog("ALERTING", "INITIATED", "ALERTING",
                                                        "00.100")), 100))  # fmt: skip
show(2_000, "B answers", desk.on_update(update("PUT", dialog("ACTIVE", "ACTIVE", "ACTIVE",
                                                             "02.000")), 2_000))  # fmt: skip
STORAGE["desk"] = json.dumps(desk.snapshot())

# The page reloads: its socket closes, a new page restores the desk and reads
# GET /finesse/api/User/1002/Dialogs. The consult is still on: no second STARTED.
show(5_000, "socket down", desk.on_socket_down(5_000))
page = AgentDesk.restore(json.loads(STORAGE["desk"]))
show(6_000, "new page", page.on_page_loaded(6_000))
listing = parse_dialogs("<Dialogs>" + dialog("ACTIVE", "ACTIVE", "ACTIVE", "02.000") + "</Dialogs>")
show(6_100, "dialog list", page.on_dialogs(listing, 6_100))

# A hangs up. Finesse does not say whether a transfer follows, so the desk
# waits its settle window for a dialog naming the consult; none comes.
show(9_000, "A hangs up", page.on_update(update("DELETE", dialog("DROPPED", "DROPPED", "ACTIVE",
                                                                  "09.000")), 9_000))  # fmt: skip
deadline = page.next_deadline()
print(f"settle deadline t={deadline}")
assert deadline is not None
show(deadline, "settle timer", page.handle_timers(deadline))
