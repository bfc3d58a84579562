"""The vocabulary of a consult leg: regions, their states, inputs and timers.

A consult leg (Agent A consults Agent B about a customer call) is three
orthogonal regions that move independently:

* ``call``   -- the consult dialog as the CTI reports it;
* ``desk_a`` -- Agent A's AgentDesk (browser): connected, disconnected, ...;
* ``desk_b`` -- Agent B's AgentDesk, the same states as A's.

Every enum value is the wire string used in traces, snapshots and JSON output.
Nothing here decides behaviour: that is the transition table's job
(:mod:`consultfsm.core.table`). This module only names things, plus the plain data
that says what each terminal call state *means* (accepted or not, which reason
it reports).
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Region(StrEnum):
    """An orthogonal region of the leg. The order here is the order in which
    regions are listed everywhere (state tuples, diagrams, snapshots)."""

    CALL = "call"
    DESK_A = "desk_a"
    DESK_B = "desk_b"
    CUSTOMER = "customer"


class CallState(StrEnum):
    """States of the consult dialog (the call region).

    Live states come first; every other state is terminal and names how the
    leg ended. A terminal state never changes again.
    """

    INITIATED = "initiated"  # A dialled B; B's phone does not ring yet
    QUEUED = "queued"  # a queue consult waits in the queue: no agent chosen yet
    RINGING = "ringing"  # B is alerted (Finesse: B=ALERTING); a routed consult's RONA window runs
    UNANSWERED = "unanswered"  # the leg's own ring window passed: alert withdrawn, the CTI decides
    ACCEPTED = "accepted"  # B answered (B=ACTIVE); the leg is on the conversation
    HELD = "held"  # A or B holds the consult (a participant HELD, the dialog still ACTIVE)
    # Terminal, never accepted: nothing was published, no task exists.
    RONA = "rona"  # the CTI redirected the unanswered call (redirect on no answer)
    CANCELLED_BY_A = "cancelled_by_a"  # A dropped before B accepted (or abandoned the queue)
    DECLINED_BY_B = "declined_by_b"  # B dropped (rejected) while ringing
    NO_AGENT = "no_agent"  # a queue consult found no agent (NO_AGENT_AVAILABLE, or its TTL)
    FAILED = "failed"  # busy / bad destination (Finesse CALL_FAILED)
    # Terminal after acceptance: CALL_LEG_ENDED was published exactly once.
    ENDED_BY_A = "ended_by_a"
    ENDED_BY_B = "ended_by_b"
    ENDED_FAILED = "ended_failed"  # the dialog FAILED after it was active
    TRANSFERRED = "transferred"  # A completed the transfer: B now holds the customer's call
    CONFERENCED = "conferenced"  # A joined the customer, A and B on one dialog


class DeskState(StrEnum):
    """States of one agent's AgentDesk (a browser region)."""

    CONNECTED = "connected"  # the desk has been up since the leg began
    DISCONNECTED = "disconnected"  # browser closed/refreshing; the grace window runs
    RESTORED = "restored"  # came back within the grace window and reconciled
    LOST = "lost"  # grace passed, or the agent was logged out: the leg no longer waits for it


class CustomerState(StrEnum):
    """The customer's call (the dialog A consults about), which is *not* part
    of the consult dialog: the customer leaving does not end the consult."""

    PRESENT = "present"
    LEFT = "left"  # the customer's dialog ended; A and B may still be talking


class Timer(StrEnum):
    """Deadlines a leg can hold. Each belongs to exactly one region."""

    RING = "ring"  # RONA window of a routed consult, started when B is alerted
    QUEUE = "queue"  # time to live of a queue consult waiting for an agent
    GRACE_A = "grace_a"  # how long the leg waits for A's desk to come back
    GRACE_B = "grace_b"  # the same for B's desk


class InputKind(StrEnum):
    """Everything a leg can be told. Each input belongs to exactly one region."""

    # call region: CTI events about the consult dialog
    ALERTING = "alerting"
    OFFERED = "offered"  # a queue consult is offered to an agent (carries agent_b)
    ACCEPTED = "accepted"
    RONA = "rona"  # the CTI reports redirect-on-no-answer
    NO_AGENT = "no_agent"  # the queue reports NO_AGENT_AVAILABLE
    HELD = "held"  # A or B put the consult on hold
    RETRIEVED = "retrieved"  # ... and took it back
    TRANSFERRED = "transferred"  # A completed the transfer to B
    CONFERENCED = "conferenced"  # A completed the conference with B
    REKEYED = "rekeyed"  # the consult continues under a new dialog id (carries call_id)
    DROPPED_BY_A = "dropped_by_a"
    DROPPED_BY_B = "dropped_by_b"
    FAILED = "failed"
    RING_TIMEOUT = "ring_timeout"  # the host's timer for Timer.RING went off
    QUEUE_TIMEOUT = "queue_timeout"  # the host's timer for Timer.QUEUE went off
    # desk regions: browser presence, logout, and the grace timers
    BROWSER_DISCONNECTED_A = "browser_disconnected_a"
    BROWSER_RESTORED_A = "browser_restored_a"
    LOGGED_OUT_A = "logged_out_a"  # Finesse logged A out (forced after 60 s away: reason 255)
    GRACE_TIMEOUT_A = "grace_timeout_a"
    BROWSER_DISCONNECTED_B = "browser_disconnected_b"
    BROWSER_RESTORED_B = "browser_restored_b"
    LOGGED_OUT_B = "logged_out_b"
    GRACE_TIMEOUT_B = "grace_timeout_b"
    # customer region: the customer's own dialog
    CUSTOMER_LEFT = "customer_left"  # the customer hung up (their dialog ended)


#: The state of each region when a leg is created.
INITIAL: dict[Region, StrEnum] = {
    Region.CALL: CallState.INITIATED,
    Region.DESK_A: DeskState.CONNECTED,
    Region.DESK_B: DeskState.CONNECTED,
    Region.CUSTOMER: CustomerState.PRESENT,
}

#: The states of each region, in a fixed order (their index is their code).
REGION_STATES: dict[Region, tuple[StrEnum, ...]] = {
    Region.CALL: tuple(CallState),
    Region.DESK_A: tuple(DeskState),
    Region.DESK_B: tuple(DeskState),
    Region.CUSTOMER: tuple(CustomerState),
}

#: Which region owns which timer. A row may only start or cancel its own region's timers.
TIMER_REGION: dict[Timer, Region] = {
    Timer.RING: Region.CALL,
    Timer.QUEUE: Region.CALL,
    Timer.GRACE_A: Region.DESK_A,
    Timer.GRACE_B: Region.DESK_B,
}

#: The timer whose expiry each timer input reports.
TIMER_OF_INPUT: dict[InputKind, Timer] = {
    InputKind.RING_TIMEOUT: Timer.RING,
    InputKind.QUEUE_TIMEOUT: Timer.QUEUE,
    InputKind.GRACE_TIMEOUT_A: Timer.GRACE_A,
    InputKind.GRACE_TIMEOUT_B: Timer.GRACE_B,
}

#: The timeout input that reports each timer's expiry (the inverse of TIMER_OF_INPUT).
TIMEOUT_INPUT: dict[Timer, InputKind] = {timer: kind for kind, timer in TIMER_OF_INPUT.items()}

_DESK_A_INPUTS = ("browser_disconnected_a", "browser_restored_a", "logged_out_a", "grace_timeout_a")
_DESK_B_INPUTS = ("browser_disconnected_b", "browser_restored_b", "logged_out_b", "grace_timeout_b")

#: Which region each input is addressed to.
INPUT_REGION: dict[InputKind, Region] = {
    kind: (
        Region.DESK_A if kind.value in _DESK_A_INPUTS
        else Region.DESK_B if kind.value in _DESK_B_INPUTS
        else Region.CUSTOMER if kind is InputKind.CUSTOMER_LEFT
        else Region.CALL
    )
    for kind in InputKind
}  # fmt: skip

#: Inputs that carry a value, and the fact it sets (``Leg.handle(kind, at, value)``):
#: the agent a queue consult is offered to, the dialog id a consult continues under.
VALUE_OF_INPUT: dict[InputKind, str] = {
    InputKind.OFFERED: "agent_b",
    InputKind.REKEYED: "call_id",
}


class EndReason(StrEnum):
    """Why a leg ended, as reported to desks (alert removed, consult ended)."""

    ACCEPTED = "accepted"  # only for alert_removed: the alert became the call
    RONA = "rona"
    DROPPED_BY_A = "dropped_by_a"
    DROPPED_BY_B = "dropped_by_b"
    NO_AGENT = "no_agent"
    FAILED = "failed"
    TRANSFERRED = "transferred"
    CONFERENCED = "conferenced"


class CimReason(StrEnum):
    """``body.reasonCode`` values of the CIM call-leg messages we emit."""

    CONSULT = "CONSULT"  # CALL_LEG_STARTED of an accepted consult leg
    CONSULT_ENDED = "CONSULT_ENDED"  # CALL_LEG_ENDED of a consult leg
    DIALOG_ENDED = "DIALOG_ENDED"  # CALL_LEG_ENDED when the dialog FAILED after active
    CONSULT_TRANSFER = "CONSULT_TRANSFER"  # CALL_LEG_ENDED: the consult became a transfer
    CONSULT_CONFERENCE = "CONSULT_CONFERENCE"  # CALL_LEG_ENDED: ... a conference


class TaskDirection(StrEnum):
    """``TaskTypeDirection`` of B's task (schema v1 ``task-type-direction.json``)."""

    CONSULT = "CONSULT"
    CONSULT_TRANSFER = "CONSULT_TRANSFER"
    CONSULT_CONFERENCE = "CONSULT_CONFERENCE"


class Outcome(NamedTuple):
    """What a terminal call state means. Data, not behaviour: the table's rows
    decide *when* a leg gets here; this says what the state reports."""

    accepted: bool  # was the leg ever on the conversation (STARTED published)?
    reason: EndReason  # why, for the desks
    cim_reason: CimReason | None  # reasonCode of CALL_LEG_ENDED, None when never accepted
    #: B's task afterwards: None when it is closed (or never existed), else the
    #: direction it continues with (B now serves the customer).
    task_becomes: TaskDirection | None = None


#: Every terminal call state and what it reports. Live states are absent.
OUTCOMES: dict[CallState, Outcome] = {
    CallState.RONA: Outcome(False, EndReason.RONA, None),
    CallState.CANCELLED_BY_A: Outcome(False, EndReason.DROPPED_BY_A, None),
    CallState.DECLINED_BY_B: Outcome(False, EndReason.DROPPED_BY_B, None),
    CallState.NO_AGENT: Outcome(False, EndReason.NO_AGENT, None),
    CallState.FAILED: Outcome(False, EndReason.FAILED, None),
    CallState.ENDED_BY_A: Outcome(True, EndReason.DROPPED_BY_A, CimReason.CONSULT_ENDED),
    CallState.ENDED_BY_B: Outcome(True, EndReason.DROPPED_BY_B, CimReason.CONSULT_ENDED),
    CallState.ENDED_FAILED: Outcome(True, EndReason.FAILED, CimReason.DIALOG_ENDED),
    CallState.TRANSFERRED: Outcome(
        True, EndReason.TRANSFERRED, CimReason.CONSULT_TRANSFER, TaskDirection.CONSULT_TRANSFER
    ),
    CallState.CONFERENCED: Outcome(
        True, EndReason.CONFERENCED, CimReason.CONSULT_CONFERENCE, TaskDirection.CONSULT_CONFERENCE
    ),
}

#: What a live call state that has given up on B reports to desks: the leg's
#: own ring window withdrew the alert, as a RONA would.
GAVE_UP_REASON: dict[CallState, EndReason] = {CallState.UNANSWERED: EndReason.RONA}

LIVE_CALL_STATES: frozenset[CallState] = frozenset(s for s in CallState if s not in OUTCOMES)
TERMINAL_CALL_STATES: frozenset[CallState] = frozenset(OUTCOMES)
UNACCEPTED_ENDINGS: frozenset[CallState] = frozenset(
    s for s, o in OUTCOMES.items() if not o.accepted
)
ACCEPTED_ENDINGS: frozenset[CallState] = frozenset(s for s, o in OUTCOMES.items() if o.accepted)
#: B has not answered and the leg still tries to reach B (or an agent).
PENDING_CALL_STATES: frozenset[CallState] = frozenset(
    {CallState.INITIATED, CallState.QUEUED, CallState.RINGING}
)
#: B is on the consult (answered; held or not).
ON_CALL_STATES: frozenset[CallState] = frozenset({CallState.ACCEPTED, CallState.HELD})
ONLINE_DESK_STATES: frozenset[DeskState] = frozenset({DeskState.CONNECTED, DeskState.RESTORED})
OFFLINE_DESK_STATES: frozenset[DeskState] = frozenset({DeskState.DISCONNECTED, DeskState.LOST})
