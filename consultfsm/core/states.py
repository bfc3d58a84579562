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


class CallState(StrEnum):
    """States of the consult dialog (the call region).

    Live states come first; every other state is terminal and names how the
    leg ended. A terminal state never changes again.
    """

    INITIATED = "initiated"  # A dialled B; B's phone does not ring yet
    RINGING = "ringing"  # B is alerted (Finesse: B=ALERTING); the RONA window runs
    ACCEPTED = "accepted"  # B answered (B=ACTIVE); the leg is on the conversation
    # Terminal, never accepted: nothing was published, no task exists.
    RONA = "rona"  # B did not answer in time (redirect on no answer)
    CANCELLED_BY_A = "cancelled_by_a"  # A dropped before B accepted
    DECLINED_BY_B = "declined_by_b"  # B dropped (rejected) while ringing
    CUSTOMER_LEFT = "customer_left"  # the customer hung up before B accepted
    FAILED = "failed"  # busy / bad destination (Finesse CALL_FAILED)
    # Terminal after acceptance: CALL_LEG_ENDED was published exactly once.
    ENDED_BY_A = "ended_by_a"
    ENDED_BY_B = "ended_by_b"
    ENDED_BY_CUSTOMER = "ended_by_customer"
    ENDED_FAILED = "ended_failed"  # the dialog FAILED after it was active


class DeskState(StrEnum):
    """States of one agent's AgentDesk (a browser region)."""

    CONNECTED = "connected"  # the desk has been up since the leg began
    DISCONNECTED = "disconnected"  # browser closed/refreshing; the grace window runs
    RESTORED = "restored"  # came back within the grace window and reconciled
    LOST = "lost"  # the grace window passed; the leg no longer waits for this desk


class Timer(StrEnum):
    """Deadlines a leg can hold. Each belongs to exactly one region."""

    RING = "ring"  # RONA window, started when B is alerted
    GRACE_A = "grace_a"  # how long the leg waits for A's desk to come back
    GRACE_B = "grace_b"  # the same for B's desk


class InputKind(StrEnum):
    """Everything a leg can be told. Each input belongs to exactly one region."""

    # call region: CTI events about the consult dialog
    ALERTING = "alerting"
    ACCEPTED = "accepted"
    RONA = "rona"  # the CTI reports redirect-on-no-answer
    DROPPED_BY_A = "dropped_by_a"
    DROPPED_BY_B = "dropped_by_b"
    DROPPED_BY_CUSTOMER = "dropped_by_customer"
    FAILED = "failed"
    RING_TIMEOUT = "ring_timeout"  # the host's timer for Timer.RING went off
    # desk regions: browser presence, and the grace timers
    BROWSER_DISCONNECTED_A = "browser_disconnected_a"
    BROWSER_RESTORED_A = "browser_restored_a"
    GRACE_TIMEOUT_A = "grace_timeout_a"
    BROWSER_DISCONNECTED_B = "browser_disconnected_b"
    BROWSER_RESTORED_B = "browser_restored_b"
    GRACE_TIMEOUT_B = "grace_timeout_b"


#: The state of each region when a leg is created.
INITIAL: dict[Region, StrEnum] = {
    Region.CALL: CallState.INITIATED,
    Region.DESK_A: DeskState.CONNECTED,
    Region.DESK_B: DeskState.CONNECTED,
}

#: The states of each region, in a fixed order (their index is their code).
REGION_STATES: dict[Region, tuple[StrEnum, ...]] = {
    Region.CALL: tuple(CallState),
    Region.DESK_A: tuple(DeskState),
    Region.DESK_B: tuple(DeskState),
}

#: Which region owns which timer. A row may only start or cancel its own region's timers.
TIMER_REGION: dict[Timer, Region] = {
    Timer.RING: Region.CALL,
    Timer.GRACE_A: Region.DESK_A,
    Timer.GRACE_B: Region.DESK_B,
}

#: The timer whose expiry each timer input reports.
TIMER_OF_INPUT: dict[InputKind, Timer] = {
    InputKind.RING_TIMEOUT: Timer.RING,
    InputKind.GRACE_TIMEOUT_A: Timer.GRACE_A,
    InputKind.GRACE_TIMEOUT_B: Timer.GRACE_B,
}

#: The timeout input that reports each timer's expiry (the inverse of TIMER_OF_INPUT).
TIMEOUT_INPUT: dict[Timer, InputKind] = {timer: kind for kind, timer in TIMER_OF_INPUT.items()}

#: Which region each input is addressed to.
INPUT_REGION: dict[InputKind, Region] = {
    **dict.fromkeys(
        (
            InputKind.ALERTING,
            InputKind.ACCEPTED,
            InputKind.RONA,
            InputKind.DROPPED_BY_A,
            InputKind.DROPPED_BY_B,
            InputKind.DROPPED_BY_CUSTOMER,
            InputKind.FAILED,
            InputKind.RING_TIMEOUT,
        ),
        Region.CALL,
    ),
    InputKind.BROWSER_DISCONNECTED_A: Region.DESK_A,
    InputKind.BROWSER_RESTORED_A: Region.DESK_A,
    InputKind.GRACE_TIMEOUT_A: Region.DESK_A,
    InputKind.BROWSER_DISCONNECTED_B: Region.DESK_B,
    InputKind.BROWSER_RESTORED_B: Region.DESK_B,
    InputKind.GRACE_TIMEOUT_B: Region.DESK_B,
}


class EndReason(StrEnum):
    """Why a leg ended, as reported to desks (alert removed, consult ended)."""

    ACCEPTED = "accepted"  # only for alert_removed: the alert became the call
    RONA = "rona"
    DROPPED_BY_A = "dropped_by_a"
    DROPPED_BY_B = "dropped_by_b"
    CUSTOMER_LEFT = "customer_left"
    FAILED = "failed"


class CimReason(StrEnum):
    """``body.reasonCode`` values of the CIM call-leg messages we emit."""

    CONSULT = "CONSULT"  # CALL_LEG_STARTED of an accepted consult leg
    CONSULT_ENDED = "CONSULT_ENDED"  # CALL_LEG_ENDED of a consult leg
    DIALOG_ENDED = "DIALOG_ENDED"  # CALL_LEG_ENDED when the dialog FAILED after active


class Outcome(NamedTuple):
    """What a terminal call state means. Data, not behaviour: the table's rows
    decide *when* a leg gets here; this says what the state reports."""

    accepted: bool  # was the leg ever on the conversation (STARTED published)?
    reason: EndReason  # why, for the desks
    cim_reason: CimReason | None  # reasonCode of CALL_LEG_ENDED, None when never accepted


#: Every terminal call state and what it reports. Live states are absent.
OUTCOMES: dict[CallState, Outcome] = {
    CallState.RONA: Outcome(False, EndReason.RONA, None),
    CallState.CANCELLED_BY_A: Outcome(False, EndReason.DROPPED_BY_A, None),
    CallState.DECLINED_BY_B: Outcome(False, EndReason.DROPPED_BY_B, None),
    CallState.CUSTOMER_LEFT: Outcome(False, EndReason.CUSTOMER_LEFT, None),
    CallState.FAILED: Outcome(False, EndReason.FAILED, None),
    CallState.ENDED_BY_A: Outcome(True, EndReason.DROPPED_BY_A, CimReason.CONSULT_ENDED),
    CallState.ENDED_BY_B: Outcome(True, EndReason.DROPPED_BY_B, CimReason.CONSULT_ENDED),
    CallState.ENDED_BY_CUSTOMER: Outcome(True, EndReason.CUSTOMER_LEFT, CimReason.CONSULT_ENDED),
    CallState.ENDED_FAILED: Outcome(True, EndReason.FAILED, CimReason.DIALOG_ENDED),
}

LIVE_CALL_STATES: frozenset[CallState] = frozenset(s for s in CallState if s not in OUTCOMES)
TERMINAL_CALL_STATES: frozenset[CallState] = frozenset(OUTCOMES)
UNACCEPTED_ENDINGS: frozenset[CallState] = frozenset(
    s for s, o in OUTCOMES.items() if not o.accepted
)
ACCEPTED_ENDINGS: frozenset[CallState] = frozenset(s for s, o in OUTCOMES.items() if o.accepted)
ONLINE_DESK_STATES: frozenset[DeskState] = frozenset({DeskState.CONNECTED, DeskState.RESTORED})
OFFLINE_DESK_STATES: frozenset[DeskState] = frozenset({DeskState.DISCONNECTED, DeskState.LOST})
