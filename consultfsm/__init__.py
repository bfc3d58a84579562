"""consultfsm: consult-call legs as an explicit, sans-I/O finite state machine.

Agent A consults Agent B about a customer call. Each consult leg is three
orthogonal regions (the call, A's AgentDesk, B's AgentDesk) driven by one
transition table (:data:`consultfsm.core.table.TABLE`). Feed a :class:`Leg`
timed inputs; it returns the domain events each consumer must act on::

    >>> from consultfsm import InputKind, Leg
    >>> leg = Leg("L1", agent_a="A", agent_b="B", customer_ani="+923001234567",
    ...           conversation_id="C1", channel_session_id="S1")
    >>> step = leg.handle(InputKind.ALERTING, at=200)
    >>> [(e.to.value, e.kind.value) for e in step.events]
    [('agentdesk_b', 'alert_shown'), ('host', 'timer_started')]
    >>> step = leg.handle(InputKind.ACCEPTED, at=900)
    >>> [e.kind.value for e in step.events if e.to.value == "conversation"]
    ['CALL_LEG_STARTED']

The library does no I/O, reads no clock and starts no timer: inputs carry
their time, and timers are deadlines the leg keeps (``leg.next_deadline``,
``leg.handle_timers(now)``).

This module exports what a backend embedding legs needs. The rest lives in
its subpackage: ``consultfsm.core`` (the table, every event class, the
executor), ``consultfsm.wire`` (the CIM codec), ``consultfsm.ccm`` (finding
the customer's session), ``consultfsm.replay``, ``consultfsm.verify``,
``consultfsm.render``, ``consultfsm.interop`` and ``consultfsm.cli``; see
docs/architecture.md.
"""

from consultfsm.core.errors import (
    ConfigError,
    ConsultFsmError,
    IllegalInput,
    InputRejected,
    InvalidLeg,
    InvalidTime,
    SnapshotError,
    TimeWentBackwards,
)
from consultfsm.core.events import Consumer, Event, EventKind, Reporter
from consultfsm.core.executor import LegState
from consultfsm.core.facts import LegConfig, LegFacts
from consultfsm.core.leg import Leg
from consultfsm.core.snapshot import LegSnapshot
from consultfsm.core.states import (
    TIMEOUT_INPUT,
    CallState,
    CimReason,
    DeskState,
    EndReason,
    InputKind,
    Timer,
)
from consultfsm.core.step import Step
from consultfsm.core.table import Disposition

__all__ = [
    "TIMEOUT_INPUT",
    "CallState",
    "CimReason",
    "ConfigError",
    "ConsultFsmError",
    "Consumer",
    "DeskState",
    "Disposition",
    "EndReason",
    "Event",
    "EventKind",
    "IllegalInput",
    "InputKind",
    "InputRejected",
    "InvalidLeg",
    "InvalidTime",
    "Leg",
    "LegConfig",
    "LegFacts",
    "LegSnapshot",
    "LegState",
    "Reporter",
    "SnapshotError",
    "Step",
    "TimeWentBackwards",
    "Timer",
]
