"""Every case of the design note, as data the machine is checked against.

A :class:`Case` is a list of timed inputs to one leg and what each consumer
must see: AgentDesk A, AgentDesk B, the CCM (CIM messages it receives and
events it publishes on the conversation topic) and the Routing Engine / Agent
Manager. :func:`run_case` feeds the inputs to a real :class:`~consultfsm.core.leg.Leg`
and compares what the *machine* emitted with the expectation; nothing here
decides behaviour.

The sources are the design note's 14 "Cases" bullets (``case 1`` ..
``case 14``), its failover table (``failover 1`` .. ``failover 9``; rows 8 and
9 are cut off in the note and completed as written in ``docs/cases.md``), a
few edge cases from the domain brief (``edge``), and the flows of the real
platform the note leaves out (``real N``, numbered as the items of issue 11;
``docs/cases.md`` cites the vendor documents behind each).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from consultfsm.core import events as ev
from consultfsm.core.events import label
from consultfsm.core.executor import LegState
from consultfsm.core.facts import DEFAULT_CONFIG, DIRECT_CONFIG, LegConfig
from consultfsm.core.leg import Leg
from consultfsm.core.states import CallState, CustomerState, DeskState, InputKind
from consultfsm.core.table import Disposition

# Short names keep each case on a few readable lines.
I = InputKind  # noqa: E741
C = CallState
D = DeskState
Cu = CustomerState
#: One input of a case: ``(at, kind)``, or ``(at, kind, value)`` for an input
#: that carries one, or ``(at, kind, value, source_at)`` with the source's own time.
CaseInput = tuple[Any, ...]

#: The leg every case runs: A consults B about the customer on session S1.
LEG_FACTS: dict[str, Any] = {
    "leg_id": "L1",
    "agent_a": "A",
    "agent_b": "B",
    "customer_ani": "+923001234567",
    "conversation_id": "C1",
    "channel_session_id": "S1",
    "call_id": "D2",
    "service_identifier": "8001",
}


#: Which expectation column each consumer's events belong to (timers: none).
COLUMNS: dict[ev.Consumer, str] = {
    ev.Consumer.AGENTDESK_A: "desk_a",
    ev.Consumer.AGENTDESK_B: "desk_b",
    ev.Consumer.CCM: "ccm",
    ev.Consumer.CONVERSATION: "ccm",
    ev.Consumer.ROUTING_ENGINE: "routing",
    ev.Consumer.AGENT_MANAGER: "routing",
}

_STARTED = ("CIM CALL_LEG_STARTED(CONSULT)", "publish CALL_LEG_STARTED")
_ENDED = ("CIM CALL_LEG_ENDED(CONSULT_ENDED)", "publish CALL_LEG_ENDED(CONSULT_ENDED)")
_TASK = ("task_created", "task_assigned")
_TASK_DONE = (*_TASK, "task_closed")


@attrs.frozen
class Case:
    """One scenario: timed inputs and the expected reaction of every consumer."""

    name: str  # slug used on the command line
    source: str  # where it comes from: "case N", "failover N" or "edge"
    title: str  # the note's wording (completed where the note is cut off)
    steps: tuple[CaseInput, ...]
    final: LegState
    desk_a: tuple[str, ...] = ()
    desk_b: tuple[str, ...] = ()
    ccm: tuple[str, ...] = ()
    routing: tuple[str, ...] = ()
    config: LegConfig = DEFAULT_CONFIG
    completed: bool = False  # the note's text is cut off; we completed it
    queue: bool = False  # a consult to a queue: the leg starts queued, with no agent

    def expected(self) -> dict[str, tuple[str, ...]]:
        """The expected labels per column."""
        return {
            "desk_a": self.desk_a,
            "desk_b": self.desk_b,
            "ccm": self.ccm,
            "routing": self.routing,
        }


@attrs.frozen
class Moment:
    """One input of a run and what it did."""

    at: int
    input: InputKind
    disposition: Disposition | None  # None when the input was rejected
    state: LegState  # after the input
    events: tuple[ev.Event, ...]
    error: str | None = None
    value: str | None = None  # what the input carried, if anything
    source_at: int | None = None  # the source's own time, if given

    @property
    def text(self) -> str:
        """The input as one would say it: ``rekeyed D3``, ``rona (source 1900)``."""
        value = "" if self.value is None else f" {self.value}"
        source = "" if self.source_at is None else f" (source {self.source_at})"
        return f"{self.input.value}{value}{source}"


@attrs.frozen
class CaseResult:
    """A case run against the machine."""

    case: Case
    timeline: tuple[Moment, ...]
    actual: dict[str, tuple[str, ...]]
    final: LegState

    @property
    def mismatches(self) -> list[str]:
        """Human-readable differences from the expectation (empty: passed)."""
        out = [
            f"{column}: expected {list(want)}, got {list(self.actual[column])}"
            for column, want in self.case.expected().items()
            if self.actual[column] != want
        ]
        if self.final != self.case.final:
            out.append(f"final state: expected {self.case.final}, got {self.final}")
        out.extend(
            f"input {m.input} at {m.at} rejected: {m.error}" for m in self.timeline if m.error
        )
        return out

    @property
    def passed(self) -> bool:
        """True when the machine did exactly what the case expects."""
        return not self.mismatches


@attrs.frozen
class CaseStep:
    """One input of a case, spelled out."""

    at: int
    kind: InputKind
    value: str | None = None
    source_at: int | None = None


def inputs_of(case: Case) -> tuple[CaseStep, ...]:
    """A case's inputs, each with its value and source time (None when absent)."""
    return tuple(CaseStep(*step) for step in case.steps)


def run_case(case: Case) -> CaseResult:
    """Feed a case's inputs to a fresh leg and collect what it emitted."""
    leg = new_leg(case)
    timeline: list[Moment] = []
    actual: dict[str, list[str]] = {column: [] for column in case.expected()}
    for at, kind, value, source_at in map(attrs.astuple, inputs_of(case)):
        try:
            step = leg.handle(kind, at, value, source_at=source_at)
        except Exception as exc:  # a case must never crash the report
            timeline.append(Moment(at, kind, None, leg.state, (), str(exc), value, source_at))
            continue
        timeline.append(
            Moment(at, kind, step.disposition, leg.state, step.events, None, value, source_at)
        )
        for event in step.events:
            column = COLUMNS.get(event.to)
            if column is not None:
                actual[column].append(label(event))
    return CaseResult(case, tuple(timeline), {k: tuple(v) for k, v in actual.items()}, leg.state)


def new_leg(case: Case) -> Leg:
    """The fresh leg a case starts from."""
    if case.queue:
        facts = {k: v for k, v in LEG_FACTS.items() if k != "agent_b"}
        return Leg.queue_consult(**facts, config=case.config)
    return Leg(**LEG_FACTS, config=case.config)


def _s(*pairs: CaseInput) -> tuple[CaseInput, ...]:
    return pairs


def _final(
    call: CallState, desk_a: DeskState = D.CONNECTED, desk_b: DeskState = D.CONNECTED,
    customer: CustomerState = Cu.PRESENT,
) -> LegState:  # fmt: skip
    return LegState(call, desk_a, desk_b, customer)


ALERT = (200, I.ALERTING)
assert DEFAULT_CONFIG.ring_ms is not None
RING_DEADLINE = 200 + DEFAULT_CONFIG.ring_ms
#: The CTI's own RONA, a moment after the leg's ring deadline withdrew the alert.
CTI_RONA = (RING_DEADLINE + 40, I.RONA)
_QUEUE_CONFIG = LegConfig(queue_ttl_ms=120_000)
_CONVERTED = {
    "transfer": ("CIM CALL_LEG_ENDED(CONSULT_TRANSFER)",
                 "publish CALL_LEG_ENDED(CONSULT_TRANSFER)"),
    "conference": ("CIM CALL_LEG_ENDED(CONSULT_CONFERENCE)",
                   "publish CALL_LEG_ENDED(CONSULT_CONFERENCE)"),
}  # fmt: skip

CASES: tuple[Case, ...] = (
    # --- the note's "Cases" -------------------------------------------------------
    Case("a-dropped-before-accept", "case 1", "A dropped before B accepted it",
         _s(ALERT, (3_000, I.DROPPED_BY_A)), _final(C.CANCELLED_BY_A),
         desk_b=("alert_shown", "alert_removed(dropped_by_a)")),
    Case("a-dropped-after-accept", "case 2", "A dropped after B accepted it",
         _s(ALERT, (2_000, I.ACCEPTED), (30_000, I.DROPPED_BY_A)), _final(C.ENDED_BY_A),
         desk_b=("alert_shown", "alert_removed(accepted)"), ccm=(*_STARTED, *_ENDED),
         routing=_TASK_DONE),
    Case("b-never-accepted", "case 3", "B never accepted it (RONA)",
         _s(ALERT, (RING_DEADLINE, I.RING_TIMEOUT), CTI_RONA), _final(C.RONA),
         desk_b=("alert_shown", "alert_removed(rona)")),
    Case("b-dropped-after-accept", "case 4", "B dropped after accepting",
         _s(ALERT, (2_000, I.ACCEPTED), (40_000, I.DROPPED_BY_B)), _final(C.ENDED_BY_B),
         desk_b=("alert_shown", "alert_removed(accepted)"), ccm=(*_STARTED, *_ENDED),
         routing=_TASK_DONE),
    Case("browser-a-disconnected", "case 5",
         "Browser-A disconnected: the consult goes on; B and the CCM are unaffected",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_A), (4_000, I.ACCEPTED),
            (20_000, I.DROPPED_BY_B), (61_000, I.GRACE_TIMEOUT_A)),
         _final(C.ENDED_BY_B, D.LOST),
         desk_b=("alert_shown", "alert_removed(accepted)"), ccm=(*_STARTED, *_ENDED),
         routing=_TASK_DONE),
    Case("browser-a-restored-b-didnt-join", "case 6",
         "Browser-A was restored, but B didn't join the call (it went on ringing into RONA)",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_A), (5_000, I.BROWSER_RESTORED_A),
            (RING_DEADLINE, I.RING_TIMEOUT), CTI_RONA),
         _final(C.RONA, D.RESTORED),
         desk_a=("consult_still_ringing",), desk_b=("alert_shown", "alert_removed(rona)")),
    Case("consult-still-ringing", "case 7",
         "Browser-A restored while the consult call is still ringing on B",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_A), (4_000, I.BROWSER_RESTORED_A)),
         _final(C.RINGING, D.RESTORED),
         desk_a=("consult_still_ringing",), desk_b=("alert_shown",)),
    Case("consult-ended-rona-b", "case 8",
         "Browser-A restored after the consult call has ended due to RONA-B",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_A), (RING_DEADLINE, I.RING_TIMEOUT),
            CTI_RONA, (20_000, I.BROWSER_RESTORED_A)),
         _final(C.RONA, D.RESTORED),
         desk_a=("consult_ended(rona)",), desk_b=("alert_shown", "alert_removed(rona)")),
    Case("a-restored-b-on-call", "case 9", "On Browser-A restored, B is already on the call",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_A), (3_000, I.ACCEPTED),
            (5_000, I.BROWSER_RESTORED_A)),
         _final(C.ACCEPTED, D.RESTORED),
         desk_a=("rejoin_conversation",), desk_b=("alert_shown", "alert_removed(accepted)"),
         ccm=_STARTED, routing=_TASK),
    Case("browser-a-restored-b-declined", "case 10",
         "Browser-A was restored, but B didn't join the call (B rejected it meanwhile)",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_A), (3_000, I.DROPPED_BY_B),
            (5_000, I.BROWSER_RESTORED_A)),
         _final(C.DECLINED_BY_B, D.RESTORED),
         desk_a=("consult_ended(dropped_by_b)",),
         desk_b=("alert_shown", "alert_removed(dropped_by_b)")),
    Case("browser-b-disconnected-after-alert", "case 11",
         "Browser-B disconnected after receiving the alert: the alert is gone with the page; "
         "the call rings on and the grace window runs",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_B)),
         _final(C.RINGING, D.CONNECTED, D.DISCONNECTED), desk_b=("alert_shown",)),
    Case("browser-b-restored-within-x", "case 12",
         "Browser-B restored within x seconds: the alert is restored and B can accept",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_B), (4_000, I.BROWSER_RESTORED_B),
            (6_000, I.ACCEPTED), (20_000, I.DROPPED_BY_B)),
         _final(C.ENDED_BY_B, D.CONNECTED, D.RESTORED),
         desk_b=("alert_shown", "alert_restored", "alert_removed(accepted)"),
         ccm=(*_STARTED, *_ENDED), routing=_TASK_DONE),
    Case("browser-b-not-restored-within-x", "case 13",
         "Browser-B didn't restore within x seconds (here x = 10 s < RONA 15 s): the leg stops "
         "waiting for B's desk, RONA ends it, and a late return finds nothing to restore",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_B), (11_000, I.GRACE_TIMEOUT_B),
            (RING_DEADLINE, I.RING_TIMEOUT), CTI_RONA, (20_000, I.BROWSER_RESTORED_B)),
         _final(C.RONA, D.CONNECTED, D.LOST), desk_b=("alert_shown",),
         config=LegConfig(ring_ms=15_000, grace_ms=10_000)),
    Case("browser-b-restored-after-drop", "case 14",
         "Browser-B was restored after the consult call dropped",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_B), (3_000, I.DROPPED_BY_A),
            (5_000, I.BROWSER_RESTORED_B)),
         _final(C.CANCELLED_BY_A, D.CONNECTED, D.RESTORED),
         desk_b=("alert_shown", "alert_removed(dropped_by_a)")),
    # --- the note's failover table ----------------------------------------------------
    Case("b-refresh-after-accept-call-active", "failover 1",
         "After accepting the consult call, Agent B refreshes the browser and the call "
         "remains active",
         _s(ALERT, (2_000, I.ACCEPTED), (5_000, I.BROWSER_DISCONNECTED_B),
            (7_000, I.BROWSER_RESTORED_B)),
         _final(C.ACCEPTED, D.CONNECTED, D.RESTORED),
         desk_b=("alert_shown", "alert_removed(accepted)", "consult_restored"),
         ccm=_STARTED, routing=_TASK),
    Case("b-refresh-after-accept-call-dropped", "failover 2",
         "After accepting the consult call, Agent B refreshes the browser and the call is "
         "dropped",
         _s(ALERT, (2_000, I.ACCEPTED), (5_000, I.BROWSER_DISCONNECTED_B),
            (6_000, I.DROPPED_BY_A), (8_000, I.BROWSER_RESTORED_B)),
         _final(C.ENDED_BY_A, D.CONNECTED, D.RESTORED),
         desk_b=("alert_shown", "alert_removed(accepted)", "consult_ended(dropped_by_a)"),
         ccm=(*_STARTED, "publish CALL_LEG_ENDED(CONSULT_ENDED) by CCM"), routing=_TASK_DONE),
    Case("a-restore-still-ringing", "failover 3",
         "Browser-A disconnects and restores and the consult call is still ringing on B",
         _s(ALERT, (500, I.BROWSER_DISCONNECTED_A), (8_000, I.BROWSER_RESTORED_A)),
         _final(C.RINGING, D.RESTORED),
         desk_a=("consult_still_ringing",), desk_b=("alert_shown",)),
    Case("a-restore-after-rona", "failover 4",
         "Browser-A disconnects and after restoring, the consult call has ended due to RONA-B",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_A), (10_000, I.RONA),
            (12_000, I.BROWSER_RESTORED_A)),
         _final(C.RONA, D.RESTORED),
         desk_a=("consult_ended(rona)",), desk_b=("alert_shown", "alert_removed(rona)")),
    Case("a-restore-b-on-call", "failover 5",
         "Browser-A disconnects and is restored, and B is already on the call",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_A), (2_000, I.ACCEPTED),
            (9_000, I.BROWSER_RESTORED_A)),
         _final(C.ACCEPTED, D.RESTORED),
         desk_a=("rejoin_conversation",), desk_b=("alert_shown", "alert_removed(accepted)"),
         ccm=_STARTED, routing=_TASK),
    Case("b-disconnect-after-alert-still-ringing", "failover 6",
         "Browser-B disconnected after receiving the alert, the call is still ringing",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_B), (5_000, I.BROWSER_RESTORED_B)),
         _final(C.RINGING, D.CONNECTED, D.RESTORED),
         desk_b=("alert_shown", "alert_restored")),
    Case("b-disconnect-after-alert-rona", "failover 7",
         "Browser-B disconnected after receiving the alert, the call ended due to RONA B",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_B), (RING_DEADLINE, I.RING_TIMEOUT),
            CTI_RONA, (20_000, I.BROWSER_RESTORED_B)),
         _final(C.RONA, D.CONNECTED, D.RESTORED),
         desk_b=("alert_shown", "alert_removed(rona)")),
    Case("b-disconnect-after-alert-dropped-by-a", "failover 7",
         "Browser-B disconnected after receiving the alert, the call was dropped by Agent A",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_B), (5_000, I.DROPPED_BY_A),
            (8_000, I.BROWSER_RESTORED_B)),
         _final(C.CANCELLED_BY_A, D.CONNECTED, D.RESTORED),
         desk_b=("alert_shown", "alert_removed(dropped_by_a)")),
    Case("b-disconnect-after-alert-dropped-by-b", "failover 7",
         "Browser-B disconnected after receiving the alert, the call was dropped by Agent B "
         "(rejected on the phone)",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_B), (5_000, I.DROPPED_BY_B),
            (8_000, I.BROWSER_RESTORED_B)),
         _final(C.DECLINED_BY_B, D.CONNECTED, D.RESTORED),
         desk_b=("alert_shown", "alert_removed(dropped_by_b)")),
    Case("a-restore-after-consult-ended", "failover 8",
         "Browser-A disconnects and after restoring, [the consult call B had joined has "
         "already ended]",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_A), (2_000, I.ACCEPTED),
            (6_000, I.DROPPED_BY_B), (9_000, I.BROWSER_RESTORED_A)),
         _final(C.ENDED_BY_B, D.RESTORED),
         desk_a=("consult_ended(dropped_by_b)",),
         desk_b=("alert_shown", "alert_removed(accepted)"), ccm=(*_STARTED, *_ENDED),
         routing=_TASK_DONE, completed=True),
    Case("a-restore-b-never-joined", "failover 9",
         "Browser-A disconnects and after restoration, [B never joined: A had cancelled the "
         "consult from the phone]",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_A), (4_000, I.DROPPED_BY_A),
            (6_000, I.BROWSER_RESTORED_A)),
         _final(C.CANCELLED_BY_A, D.RESTORED),
         desk_a=("consult_ended(dropped_by_a)",),
         desk_b=("alert_shown", "alert_removed(dropped_by_a)"), completed=True),
    # --- edge cases the note omits (domain brief section 5) ----------------------------
    Case("b-accepted-while-desk-away", "edge",
         "B answers on the phone while B's desk is away: the CCM publishes CALL_LEG_STARTED "
         "itself; the restored desk re-attaches and later reports the end",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_B), (4_000, I.ACCEPTED),
            (6_000, I.BROWSER_RESTORED_B), (20_000, I.DROPPED_BY_A)),
         _final(C.ENDED_BY_A, D.CONNECTED, D.RESTORED),
         desk_b=("alert_shown", "consult_restored"),
         ccm=("publish CALL_LEG_STARTED by CCM", *_ENDED), routing=_TASK_DONE),
    Case("cti-rona-races-ring-deadline", "edge",
         "The CTI reports RONA at the instant our ring deadline fires: the first wins, the "
         "other is absorbed",
         _s(ALERT, (RING_DEADLINE, I.RONA), (RING_DEADLINE, I.RING_TIMEOUT)),
         _final(C.RONA), desk_b=("alert_shown", "alert_removed(rona)")),
    Case("duplicated-and-reordered-cti", "edge",
         "Finesse delivers ESTABLISHED before DELIVERED, and both agents' drops twice: one "
         "start, one end",
         _s((1_000, I.ACCEPTED), (1_100, I.ALERTING), (1_200, I.ACCEPTED),
            (5_000, I.DROPPED_BY_A), (5_000, I.DROPPED_BY_B), (5_001, I.DROPPED_BY_A)),
         _final(C.ENDED_BY_A), ccm=(*_STARTED, *_ENDED), routing=_TASK_DONE),
    Case("consult-failed-busy", "edge",
         "The consult fails (busy / bad destination) while alerting",
         _s(ALERT, (500, I.FAILED)), _final(C.FAILED),
         desk_b=("alert_shown", "alert_removed(failed)")),
    Case("ring-deadline-then-cti-rona", "edge",
         "Our ring deadline fires just before the CTI's RONA: the deadline withdraws the "
         "alert, the CTI's RONA ends the leg",
         _s(ALERT, (RING_DEADLINE, I.RING_TIMEOUT), CTI_RONA),
         _final(C.RONA), desk_b=("alert_shown", "alert_removed(rona)")),
    # --- the real platform's flows (issue 11; docs/cases.md gives the sources) ---------
    Case("answer-after-ring-deadline", "real 1",
         "B answers 150 ms after the leg's own ring deadline: the answer is the truth; "
         "B's desk shows the call again and reports it, STARTED once",
         _s(ALERT, (RING_DEADLINE, I.RING_TIMEOUT), (RING_DEADLINE + 150, I.ACCEPTED),
            (RING_DEADLINE + 150, I.ACCEPTED), (60_000, I.DROPPED_BY_A)),
         _final(C.ENDED_BY_A),
         desk_b=("alert_shown", "alert_removed(rona)", "consult_answered"),
         ccm=(*_STARTED, *_ENDED), routing=_TASK_DONE),
    Case("direct-consult-rings-on", "real 2",
         "A consult dialled to B's extension has no RONA: it rings 50 s until A cancels",
         _s(ALERT, (50_000, I.DROPPED_BY_A)), _final(C.CANCELLED_BY_A),
         desk_b=("alert_shown", "alert_removed(dropped_by_a)"), config=DIRECT_CONFIG),
    Case("direct-consult-answered-late", "real 2",
         "A direct consult answered after 40 s, long past any RONA window",
         _s(ALERT, (40_000, I.ACCEPTED), (90_000, I.DROPPED_BY_B)), _final(C.ENDED_BY_B),
         desk_b=("alert_shown", "alert_removed(accepted)"), ccm=(*_STARTED, *_ENDED),
         routing=_TASK_DONE, config=DIRECT_CONFIG),
    Case("customer-left-during-consult", "real 3",
         "The customer hangs up while A and B talk: the consult goes on, B is told, and the "
         "leg ends when A or B hangs up",
         _s(ALERT, (2_000, I.ACCEPTED), (9_000, I.CUSTOMER_LEFT), (9_000, I.CUSTOMER_LEFT),
            (30_000, I.DROPPED_BY_B)),
         _final(C.ENDED_BY_B, customer=Cu.LEFT),
         desk_b=("alert_shown", "alert_removed(accepted)", "customer_left"),
         ccm=(*_STARTED, *_ENDED), routing=_TASK_DONE),
    Case("customer-left-while-ringing", "real 3",
         "The customer hangs up while B's phone rings: B's phone rings on and B may answer",
         _s(ALERT, (3_000, I.CUSTOMER_LEFT), (6_000, I.ACCEPTED)),
         _final(C.ACCEPTED, customer=Cu.LEFT),
         desk_b=("alert_shown", "customer_left", "alert_removed(accepted)"),
         ccm=_STARTED, routing=_TASK),
    Case("consult-transfer", "real 4",
         "A completes the transfer: the consult leg ends CONSULT_TRANSFER, B's task lives on "
         "as the customer's",
         _s(ALERT, (2_000, I.ACCEPTED), (20_000, I.TRANSFERRED), (20_001, I.DROPPED_BY_A)),
         _final(C.TRANSFERRED),
         desk_b=("alert_shown", "alert_removed(accepted)"),
         ccm=(*_STARTED, *_CONVERTED["transfer"]),
         routing=(*_TASK, "task_converted(CONSULT_TRANSFER)")),
    Case("consult-transfer-desk-away", "real 4",
         "A transfers while B's desk is refreshing: the CCM reports CONSULT_TRANSFER itself",
         _s(ALERT, (2_000, I.ACCEPTED), (10_000, I.BROWSER_DISCONNECTED_B),
            (12_000, I.TRANSFERRED), (15_000, I.BROWSER_RESTORED_B)),
         _final(C.TRANSFERRED, D.CONNECTED, D.RESTORED),
         desk_b=("alert_shown", "alert_removed(accepted)", "consult_ended(transferred)"),
         ccm=(*_STARTED, "publish CALL_LEG_ENDED(CONSULT_TRANSFER) by CCM"),
         routing=(*_TASK, "task_converted(CONSULT_TRANSFER)")),
    Case("consult-conference", "real 5",
         "A completes the conference: the leg ends CONSULT_CONFERENCE and B stays on the "
         "conversation",
         _s(ALERT, (2_000, I.ACCEPTED), (20_000, I.CONFERENCED), (20_000, I.CONFERENCED)),
         _final(C.CONFERENCED),
         desk_b=("alert_shown", "alert_removed(accepted)"),
         ccm=(*_STARTED, *_CONVERTED["conference"]),
         routing=(*_TASK, "task_converted(CONSULT_CONFERENCE)")),
    Case("consult-hold-retrieve", "real 6",
         "B holds the consult and takes it back twice: CALL_HOLD / CALL_RESUME each time, "
         "never an end",
         _s(ALERT, (2_000, I.ACCEPTED), (5_000, I.HELD), (5_100, I.HELD),
            (8_000, I.RETRIEVED), (9_000, I.HELD), (9_500, I.RETRIEVED),
            (30_000, I.DROPPED_BY_A)),
         _final(C.ENDED_BY_A),
         desk_b=("alert_shown", "alert_removed(accepted)"),
         ccm=(*_STARTED, "CIM CALL_HOLD", "publish CALL_HOLD", "CIM CALL_RESUME",
              "publish CALL_RESUME", "CIM CALL_HOLD", "publish CALL_HOLD", "CIM CALL_RESUME",
              "publish CALL_RESUME", *_ENDED),
         routing=_TASK_DONE),
    Case("consult-ended-while-held", "real 6",
         "A hangs up while the consult is held: the leg ends from held, CONSULT_ENDED once",
         _s(ALERT, (2_000, I.ACCEPTED), (5_000, I.HELD), (9_000, I.DROPPED_BY_A)),
         _final(C.ENDED_BY_A),
         desk_b=("alert_shown", "alert_removed(accepted)"),
         ccm=(*_STARTED, "CIM CALL_HOLD", "publish CALL_HOLD", *_ENDED), routing=_TASK_DONE),
    Case("rekeyed-cvp-temporary-dialog", "real 7",
         "B is alerted on a temporary CVP dialog and answers on the surviving one: the leg "
         "goes on under the new id, and a late report of the old re-keying is absorbed",
         _s(ALERT, (201, I.REKEYED, "D3"), (201, I.REKEYED, "D3"), (4_000, I.ACCEPTED),
            (4_100, I.REKEYED, "D2"), (20_000, I.DROPPED_BY_B)),
         _final(C.ENDED_BY_B),
         desk_b=("alert_shown", "alert_removed(accepted)"), ccm=(*_STARTED, *_ENDED),
         routing=_TASK_DONE),
    Case("queue-consult-offered", "real 8",
         "A consults a queue: it waits with no agent, the queue offers it to B, B answers",
         _s((3_000, I.OFFERED, "B"), (3_000, I.OFFERED, "B"), (6_000, I.ACCEPTED),
            (30_000, I.DROPPED_BY_A)),
         _final(C.ENDED_BY_A),
         desk_b=("alert_shown", "alert_removed(accepted)"), ccm=(*_STARTED, *_ENDED),
         routing=_TASK_DONE, config=_QUEUE_CONFIG, queue=True),
    Case("queue-consult-rona", "real 8",
         "The queue's agent does not answer: this agent's leg ends RONA (the queue re-offers "
         "the consult as a new leg, for the next agent)",
         _s((3_000, I.OFFERED, "B"), (18_000, I.RONA)), _final(C.RONA),
         desk_b=("alert_shown", "alert_removed(rona)"), config=_QUEUE_CONFIG, queue=True),
    Case("queue-consult-no-agent", "real 8",
         "The queue reports NO_AGENT_AVAILABLE: the consult ends, nothing was published",
         _s((30_000, I.NO_AGENT),), _final(C.NO_AGENT), config=_QUEUE_CONFIG, queue=True),
    Case("queue-consult-ttl", "real 8",
         "No agent within the queue consult's time to live: the leg gives up",
         _s((120_000, I.QUEUE_TIMEOUT),), _final(C.NO_AGENT), config=_QUEUE_CONFIG, queue=True),
    Case("queue-consult-abandoned", "real 8",
         "A abandons the queue consult (hangs up while queued)",
         _s((9_000, I.DROPPED_BY_A),), _final(C.CANCELLED_BY_A), config=_QUEUE_CONFIG,
         queue=True),
    Case("b-logged-out-while-ringing", "real 9",
         "B's desk stayed away and Finesse logged B out (reason 255) while a direct consult "
         "rang; B answers on the phone: the CCM publishes, since no desk of B's can",
         _s(ALERT, (1_000, I.BROWSER_DISCONNECTED_B), (50_000, I.LOGGED_OUT_B),
            (55_000, I.ACCEPTED), (80_000, I.DROPPED_BY_A)),
         _final(C.ENDED_BY_A, D.CONNECTED, D.LOST), desk_b=("alert_shown",),
         ccm=("publish CALL_LEG_STARTED by CCM", "publish CALL_LEG_ENDED(CONSULT_ENDED) by CCM"),
         routing=_TASK_DONE, config=DIRECT_CONFIG),
    Case("b-logged-out-on-call", "real 9",
         "B is logged out during the consult: the phone call goes on, and the CCM reports "
         "its end",
         _s(ALERT, (2_000, I.ACCEPTED), (9_000, I.LOGGED_OUT_B), (9_000, I.LOGGED_OUT_B),
            (40_000, I.DROPPED_BY_B)),
         _final(C.ENDED_BY_B, D.CONNECTED, D.LOST),
         desk_b=("alert_shown", "alert_removed(accepted)"),
         ccm=(*_STARTED, "publish CALL_LEG_ENDED(CONSULT_ENDED) by CCM"), routing=_TASK_DONE),
    Case("stale-cti-report", "real 10",
         "A RONA stamped before B's answer arrives after it: stale, absorbed, not a "
         "contradiction",
         _s((200, I.ALERTING, None, 200), (2_000, I.ACCEPTED, None, 1_990),
            (2_050, I.RONA, None, 1_900), (9_000, I.DROPPED_BY_B, None, 9_000)),
         _final(C.ENDED_BY_B),
         desk_b=("alert_shown", "alert_removed(accepted)"), ccm=(*_STARTED, *_ENDED),
         routing=_TASK_DONE),
)  # fmt: skip


def find_case(name: str) -> Case:
    """The case called ``name``; raises KeyError listing the known names."""
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(f"no case {name!r}; known cases: {', '.join(c.name for c in CASES)}")


def run_all(cases: Iterable[Case] = CASES) -> list[CaseResult]:
    """Run every case."""
    return [run_case(case) for case in cases]
