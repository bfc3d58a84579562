"""The AgentDesk's side: one agent's desk, driven by what its page receives.

* :mod:`.reading`: what a Finesse dialog says to a desk (consult or not, on
  which platform, whose number, who left, a transfer's surviving call);
* :mod:`.table`: **the** desk table (states, inputs, rows, rules);
* :mod:`.machine`: :class:`Desk`, that table run for one desk and one consult;
* :mod:`.agentdesk`: :class:`AgentDesk`, what an AgentDesk backend embeds: it
  takes the notifications, the page's lifecycle and the dialog list, and
  answers with what to show and the CIM messages to send.

Depends on ``core`` and ``wire``.
"""

from consultfsm.desk.agentdesk import (
    EXPERTFLOW_CUSTOMER_NUMBER,
    AgentDesk,
    NotASend,
    UnknownConsult,
)
from consultfsm.desk.machine import (
    Desk,
    DeskEffect,
    DeskFacts,
    DeskIllegalInput,
    DeskSnapshot,
    DeskStep,
)
from consultfsm.desk.reading import (
    UCCX_CONSULT_CALL_TYPE,
    CustomerNumberSource,
    Platform,
    consult_platform,
    read_consult,
    read_list,
    read_successor,
)
from consultfsm.desk.table import (
    DESK_TABLE,
    DeskCall,
    DeskInput,
    DeskPage,
    DeskReason,
    DeskRole,
    Effect,
)

__all__ = [
    "DESK_TABLE", "EXPERTFLOW_CUSTOMER_NUMBER", "UCCX_CONSULT_CALL_TYPE", "AgentDesk",
    "CustomerNumberSource", "Desk", "DeskCall", "DeskEffect", "DeskFacts", "DeskIllegalInput",
    "DeskInput", "DeskPage", "DeskReason", "DeskRole", "DeskSnapshot", "DeskStep", "Effect",
    "NotASend", "Platform", "UnknownConsult", "consult_platform", "read_consult", "read_list",
    "read_successor",
]  # fmt: skip
