"""consultfsm: consult-call legs as an explicit, sans-I/O finite state machine.

Agent A consults Agent B about a customer call. Each consult leg is three
orthogonal regions (the call, A's AgentDesk, B's AgentDesk) driven by one
transition table (:data:`TABLE`). Feed a :class:`Leg` timed inputs; it returns
the domain events each consumer must act on::

    >>> from consultfsm import InputKind, Leg
    >>> leg = Leg("L1", agent_a="A", agent_b="B", customer_ani="+923001234567",
    ...           conversation_id="C1", channel_session_id="S1")
    >>> step = leg.handle(InputKind.ALERTING, at=200)
    >>> [(e.to.value, e.kind.value) for e in step.events]
    [('agentdesk_b', 'alert_shown'), ('host', 'timer_started')]
    >>> step = leg.handle(InputKind.ACCEPTED, at=900)
    >>> [e.kind.value for e in step.events if e.to.value == "conversation"]
    ['CALL_LEG_STARTED']

The library does no I/O, reads no clock and starts no timer: inputs carry their
time and timers are deadlines the host arms from ``timer_started`` events.
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
from consultfsm.core.events import (
    EVENT_CLASSES,
    AlertRemoved,
    AlertRestored,
    AlertShown,
    CallLegEnded,
    CallLegStarted,
    CimCallLegEnded,
    CimCallLegStarted,
    CimIntent,
    ConsultEndedForA,
    ConsultEndedForB,
    ConsultRestored,
    ConsultStillRinging,
    Consumer,
    Event,
    EventKind,
    RejoinConversation,
    Reporter,
    TaskAssigned,
    TaskClosed,
    TaskCreated,
    TimerCancelled,
    TimerStarted,
)
from consultfsm.core.guards import Guard
from consultfsm.core.leg import DEFAULT_CONFIG, Leg, LegConfig, LegSnapshot, LegState, Step
from consultfsm.core.states import (
    TIMEOUT_INPUT,
    CallState,
    CimReason,
    DeskState,
    EndReason,
    InputKind,
    Region,
    Timer,
)
from consultfsm.core.table import (
    TABLE,
    Disposition,
    Emit,
    Row,
    check_table,
    inputs_of,
    rows_for,
    states_of,
)

__all__ = [
    "DEFAULT_CONFIG",
    "EVENT_CLASSES",
    "TABLE",
    "TIMEOUT_INPUT",
    "AlertRemoved",
    "AlertRestored",
    "AlertShown",
    "CallLegEnded",
    "CallLegStarted",
    "CallState",
    "CimCallLegEnded",
    "CimCallLegStarted",
    "CimIntent",
    "CimReason",
    "ConfigError",
    "ConsultEndedForA",
    "ConsultEndedForB",
    "ConsultFsmError",
    "ConsultRestored",
    "ConsultStillRinging",
    "Consumer",
    "DeskState",
    "Disposition",
    "Emit",
    "EndReason",
    "Event",
    "EventKind",
    "Guard",
    "IllegalInput",
    "InputKind",
    "InputRejected",
    "InvalidLeg",
    "InvalidTime",
    "Leg",
    "LegConfig",
    "LegSnapshot",
    "LegState",
    "Region",
    "RejoinConversation",
    "Reporter",
    "Row",
    "SnapshotError",
    "Step",
    "TaskAssigned",
    "TaskClosed",
    "TaskCreated",
    "TimeWentBackwards",
    "Timer",
    "TimerCancelled",
    "TimerStarted",
    "check_table",
    "inputs_of",
    "rows_for",
    "states_of",
]
