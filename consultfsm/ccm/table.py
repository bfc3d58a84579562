"""THE table of the CCM's consult machine: one per consult leg, driven only by
what the AgentDesks send and whether their sockets are up.

The CCM has no CTI feed. It learns of a consult from the CIM messages A's and
B's desks post (both desks report the same consult, each under its own
``leg`` string), and of the desks from its own socket layer. This table turns
those into what the conversation topic is told (the design note's "CCM"
column): ``CALL_LEG_STARTED`` and ``CALL_LEG_ENDED`` exactly once per leg,
whatever arrives twice, late or out of order. The leg model
(:mod:`consultfsm.core.table`) stays the truth of the world; the composition
of Finesse, both desks and this machine is checked against it
(:mod:`consultfsm.verify.ccm`).

The rules
---------
1. Three regions: ``call`` (what the topic has been told, and what the CCM
   waits for), ``desk_a`` and ``desk_b`` (``unknown`` until the CCM learns the
   agent or hears from its socket layer; then ``up`` or ``down``). A presence
   input moves its desk region (:data:`PRESENCE_MOVES`); a row keyed on it may
   also move the call. Every other input moves only the call.
2. A row is ``(call state, input, guard) -> (target, publications,
   disposition)``; at most one row matches. No row: the input is illegal there
   (:class:`CcmIllegalInput` names the leg, the state and the input; nothing
   changes). Every report has a row in every call state, so no desk message is
   ever refused for arriving late, twice, or out of order.
3. B's desk is the note's reporter: a start or an end carries B's own
   message whenever B has sent it. A's desk reports so the CCM learns the consult's
   fate while B's page is away. A's start waits ``answering`` for B's, and
   A's end waits ``ending`` for B's reason, each for a bounded window; when
   B's desk is ``down``, or the window passes, the CCM publishes without B's
   message: the start on its own (sender ``SYSTEM``, as the leg model's
   ``reported_by=ccm``), the end with A's message and reason.
4. A report that implies an earlier one (an end, a hold before any start
   arrived: messages overtake each other) publishes the start first, so the
   topic always reads ``CALL_LEG_STARTED`` before anything else of the leg.
5. Hold and resume are published on each change of the hold state, from
   whichever desk's report says so first (a page that was away may have
   missed a change the other desk saw; the copy that follows is a repeat).
   A report older than the newest hold report taken (``stale``,
   by the message's own time; a repeat of the current state counts as taken)
   is absorbed: a report overtaken by a newer one never flips the state back.
6. The ``away`` deadline is the last resort: it runs while the start is
   published and neither desk is ``up`` (nobody who could see the end is
   connected). Its expiry publishes the end on the CCM's own, with reason
   :data:`UNOBSERVED`. A desk that comes back reports what its dialog list
   shows; a report after the end is absorbed, never re-published.
7. ``ended`` is terminal: every report is absorbed there, and every presence
   input only moves its desk region.
"""

from __future__ import annotations

from enum import StrEnum

import attrs

from consultfsm.core.table import Disposition

# --- names ---------------------------------------------------------------------------


class CcmCall(StrEnum):
    """What the conversation topic has been told of the consult, and what the CCM waits for."""

    UNSEEN = "unseen"  # nothing published: no desk has said B is on the consult
    ANSWERING = "answering"  # A's desk says B answered; B's own start is awaited
    ANSWERING_HELD = "answering_held"  # ... and A's desk says the consult is held
    TALKING = "talking"  # CALL_LEG_STARTED published
    HELD = "held"  # ... and CALL_HOLD
    ENDING_UNSTARTED = "ending_unstarted"  # A says it ended; nothing published; B's awaited
    ENDING = "ending"  # published the start; A says it ended; B's reason is awaited
    ENDED = "ended"  # CALL_LEG_ENDED published (terminal)


class Presence(StrEnum):
    """A desk as the CCM's socket layer sees it."""

    UNKNOWN = "unknown"  # not heard of yet (first connect, a CCM restart)
    UP = "up"
    DOWN = "down"


class Party(StrEnum):
    """Whose desk sent a message: the consulting agent's (``a``) or the consulted one's."""

    A = "a"
    B = "b"


class CcmInput(StrEnum):
    """What the CCM machine is told."""

    A_STARTED = "a_started"  # CALL_LEG_STARTED from A's desk
    B_STARTED = "b_started"
    A_HELD = "a_held"  # CALL_HOLD
    B_HELD = "b_held"
    A_RESUMED = "a_resumed"  # CALL_RESUME
    B_RESUMED = "b_resumed"
    A_ENDED = "a_ended"  # CALL_LEG_ENDED (with its reason)
    B_ENDED = "b_ended"
    A_UP = "a_up"  # the socket layer: A's desk connected
    A_DOWN = "a_down"
    B_UP = "b_up"
    B_DOWN = "b_down"
    START_WAIT_TIMEOUT = "start_wait_timeout"
    END_WAIT_TIMEOUT = "end_wait_timeout"
    AWAY_TIMEOUT = "away_timeout"


class CcmTimer(StrEnum):
    START_WAIT = "start_wait"  # how long A's start waits for B's (rule 3)
    END_WAIT = "end_wait"  # how long A's end waits for B's reason (rule 3)
    AWAY = "away"  # how long a started consult may have no desk up (rule 6)


class Intent(StrEnum):
    """What is published (the CIM intents of a consult leg)."""

    STARTED = "CALL_LEG_STARTED"
    ENDED = "CALL_LEG_ENDED"
    HOLD = "CALL_HOLD"
    RESUME = "CALL_RESUME"


class Source(StrEnum):
    """Whose message a publication carries: a desk's, or the CCM's own (``SYSTEM``)."""

    A = "a"
    B = "b"
    CCM = "ccm"


class Guard(StrEnum):
    B_DOWN = "b_down"  # B's desk is down: nobody else will report B's side
    B_NOT_DOWN = "b_not_down"  # up, or not heard of yet: B's report may still come
    NEWER = "newer"  # a hold report newer than the last hold change taken
    STALE = "stale"  # ... older than it (rule 5)


#: The reasonCode of an end the CCM publishes on its own (rule 6).
UNOBSERVED = "CONSULT_UNOBSERVED"

#: Reports, by party and intent (the engine's one mapping from a message to an input).
REPORT_INPUT: dict[tuple[Party, Intent], CcmInput] = {
    (Party.A, Intent.STARTED): CcmInput.A_STARTED,
    (Party.B, Intent.STARTED): CcmInput.B_STARTED,
    (Party.A, Intent.HOLD): CcmInput.A_HELD,
    (Party.B, Intent.HOLD): CcmInput.B_HELD,
    (Party.A, Intent.RESUME): CcmInput.A_RESUMED,
    (Party.B, Intent.RESUME): CcmInput.B_RESUMED,
    (Party.A, Intent.ENDED): CcmInput.A_ENDED,
    (Party.B, Intent.ENDED): CcmInput.B_ENDED,
}
REPORTS = frozenset(REPORT_INPUT.values())
HOLD_REPORTS = frozenset({CcmInput.A_HELD, CcmInput.B_HELD, CcmInput.A_RESUMED, CcmInput.B_RESUMED})
#: Presence inputs, by party and whether the desk is up.
PRESENCE_INPUT: dict[tuple[Party, bool], CcmInput] = {
    (Party.A, True): CcmInput.A_UP,
    (Party.A, False): CcmInput.A_DOWN,
    (Party.B, True): CcmInput.B_UP,
    (Party.B, False): CcmInput.B_DOWN,
}
#: Rule 1: the desk region each presence input moves, and where to.
PRESENCE_MOVES: dict[CcmInput, tuple[Party, Presence]] = {
    kind: (party, Presence.UP if up else Presence.DOWN)
    for (party, up), kind in PRESENCE_INPUT.items()
}
TIMEOUT_INPUT: dict[CcmTimer, CcmInput] = {
    CcmTimer.START_WAIT: CcmInput.START_WAIT_TIMEOUT,
    CcmTimer.END_WAIT: CcmInput.END_WAIT_TIMEOUT,
    CcmTimer.AWAY: CcmInput.AWAY_TIMEOUT,
}
TIMER_OF_INPUT: dict[CcmInput, CcmTimer] = {k: t for t, k in TIMEOUT_INPUT.items()}

#: Rule 3: the timer each call state arms, counted from entering the state.
STATE_TIMERS: dict[CcmCall, CcmTimer] = {
    CcmCall.ANSWERING: CcmTimer.START_WAIT,
    CcmCall.ANSWERING_HELD: CcmTimer.START_WAIT,
    CcmCall.ENDING_UNSTARTED: CcmTimer.END_WAIT,
    CcmCall.ENDING: CcmTimer.END_WAIT,
}
#: Rule 6: the states in which ``away`` runs while no desk is ``up``.
AWAY_STATES = frozenset({CcmCall.TALKING, CcmCall.HELD})
TERMINAL = frozenset({CcmCall.ENDED})


@attrs.frozen(slots=True)
class Emit:
    """One publication on the conversation topic, and whose message it carries."""

    intent: Intent
    source: Source

    def __str__(self) -> str:
        return f"{self.intent.value}({self.source.value})"


@attrs.frozen(slots=True)
class CcmRow:
    """One transition of the call region (rule 2)."""

    source: CcmCall
    input: CcmInput
    target: CcmCall
    emits: tuple[Emit, ...] = ()
    guard: Guard | None = None
    disposition: Disposition = Disposition.APPLIED

    @property
    def key(self) -> str:
        guard = "" if self.guard is None else f"[{self.guard.value}]"
        return f"{self.source.value}--{self.input.value}{guard}"


# --- the rows --------------------------------------------------------------------------

C, I = CcmCall, CcmInput  # noqa: E741
DUP, ABS = Disposition.DUPLICATE, Disposition.ABSORBED
_STARTED = {
    Source.A: Emit(Intent.STARTED, Source.A),
    Source.B: Emit(Intent.STARTED, Source.B),
    Source.CCM: Emit(Intent.STARTED, Source.CCM),
}


def _pub(intent: Intent, source: Source) -> Emit:
    return Emit(intent, source)


_Rows = list[CcmRow]
_BY_B, _BY_CCM = _STARTED[Source.B], _STARTED[Source.CCM]
_HOLD_B, _HOLD_CCM = _pub(Intent.HOLD, Source.B), _pub(Intent.HOLD, Source.CCM)
_END_B, _END_A = _pub(Intent.ENDED, Source.B), _pub(Intent.ENDED, Source.A)


def _row(
    rows: _Rows, source: CcmCall, kind: CcmInput, target: CcmCall, *emits: Emit,
    guard: Guard | None = None, disposition: Disposition = Disposition.APPLIED,
) -> None:  # fmt: skip
    rows.append(CcmRow(source, kind, target, emits, guard, disposition))


def _unseen(rows: _Rows) -> None:
    # Any report may be the first to arrive (rule 4).
    _row(rows, C.UNSEEN, I.B_STARTED, C.TALKING, _BY_B)
    _row(rows, C.UNSEEN, I.B_HELD, C.HELD, _BY_B, _HOLD_B)
    _row(rows, C.UNSEEN, I.B_RESUMED, C.TALKING, _BY_B)
    _row(rows, C.UNSEEN, I.B_ENDED, C.ENDED, _BY_B, _END_B)
    _row(rows, C.UNSEEN, I.A_STARTED, C.TALKING, _BY_CCM, guard=Guard.B_DOWN)
    _row(rows, C.UNSEEN, I.A_STARTED, C.ANSWERING, guard=Guard.B_NOT_DOWN)
    _row(rows, C.UNSEEN, I.A_RESUMED, C.TALKING, _BY_CCM, guard=Guard.B_DOWN)
    _row(rows, C.UNSEEN, I.A_RESUMED, C.ANSWERING, guard=Guard.B_NOT_DOWN)
    _row(rows, C.UNSEEN, I.A_HELD, C.HELD, _BY_CCM, _HOLD_CCM, guard=Guard.B_DOWN)
    _row(rows, C.UNSEEN, I.A_HELD, C.ANSWERING_HELD, guard=Guard.B_NOT_DOWN)
    _row(rows, C.UNSEEN, I.A_ENDED, C.ENDED, _BY_CCM, _END_A, guard=Guard.B_DOWN)
    _row(rows, C.UNSEEN, I.A_ENDED, C.ENDING_UNSTARTED, guard=Guard.B_NOT_DOWN)


def _answering(rows: _Rows) -> None:
    # A's start waits for B's (rule 3).
    for waiting, held in ((C.ANSWERING, False), (C.ANSWERING_HELD, True)):
        # B's start: A's word on the hold stands until B's own reports say
        # more; B's hold report against A's, the newest wins (rule 5).
        if held:
            _row(rows, waiting, I.B_STARTED, C.HELD, _BY_B, _HOLD_CCM)
            _row(rows, waiting, I.B_HELD, C.HELD, _BY_B, _HOLD_B)
            _row(rows, waiting, I.B_RESUMED, C.TALKING, _BY_B, guard=Guard.NEWER)
            _row(rows, waiting, I.B_RESUMED, C.HELD, _BY_B, _HOLD_CCM, guard=Guard.STALE)
        else:
            _row(rows, waiting, I.B_STARTED, C.TALKING, _BY_B)
            _row(rows, waiting, I.B_HELD, C.HELD, _BY_B, _HOLD_B, guard=Guard.NEWER)
            _row(rows, waiting, I.B_HELD, C.TALKING, _BY_B, guard=Guard.STALE)
            _row(rows, waiting, I.B_RESUMED, C.TALKING, _BY_B)
        _row(rows, waiting, I.B_ENDED, C.ENDED, _BY_B, _END_B)
        _row(rows, waiting, I.A_STARTED, waiting, disposition=DUP)
        _row(rows, waiting, I.A_ENDED, C.ENDING_UNSTARTED)
        # What A's desk says of the hold while B's start is awaited is kept in
        # the state, so a start published without B carries it (rule 3).
        same, change = (I.A_HELD, I.A_RESUMED) if held else (I.A_RESUMED, I.A_HELD)
        other = C.ANSWERING if held else C.ANSWERING_HELD
        _row(rows, waiting, same, waiting, disposition=DUP)
        _row(rows, waiting, change, other, guard=Guard.NEWER)
        _row(rows, waiting, change, waiting, guard=Guard.STALE, disposition=ABS)
        alone = (_BY_CCM, _HOLD_CCM) if held else (_BY_CCM,)
        on = C.HELD if held else C.TALKING
        _row(rows, waiting, I.B_DOWN, on, *alone)
        _row(rows, waiting, I.START_WAIT_TIMEOUT, on, *alone)


def _on_the_call(rows: _Rows) -> None:
    # The start is out; hold changes and the end follow.
    for on, other in ((C.TALKING, C.HELD), (C.HELD, C.TALKING)):
        change = Intent.HOLD if on is C.TALKING else Intent.RESUME
        to_other = (I.A_HELD, I.B_HELD) if on is C.TALKING else (I.A_RESUMED, I.B_RESUMED)
        same = (I.A_RESUMED, I.B_RESUMED) if on is C.TALKING else (I.A_HELD, I.B_HELD)
        # Either desk's word counts, the newest first: a page that was away
        # may have missed a change that the other desk saw (rule 5).
        for party, kind in zip((Source.A, Source.B), to_other, strict=True):
            _row(rows, on, kind, other, _pub(change, party), guard=Guard.NEWER)
            _row(rows, on, kind, on, guard=Guard.STALE, disposition=ABS)
        for kind in (*same, I.A_STARTED, I.B_STARTED):
            _row(rows, on, kind, on, disposition=DUP)
        _row(rows, on, I.B_ENDED, C.ENDED, _END_B)
        _row(rows, on, I.A_ENDED, C.ENDED, _END_A, guard=Guard.B_DOWN)
        _row(rows, on, I.A_ENDED, C.ENDING, guard=Guard.B_NOT_DOWN)
        _row(rows, on, I.AWAY_TIMEOUT, C.ENDED, _pub(Intent.ENDED, Source.CCM))


def _ending(rows: _Rows) -> None:
    # A's end waits for B's reason (rule 3).
    _row(rows, C.ENDING_UNSTARTED, I.B_ENDED, C.ENDED, _BY_B, _END_B)
    _row(rows, C.ENDING_UNSTARTED, I.B_STARTED, C.ENDING, _BY_B)
    # B's hold or resume was sent before the end: B was on the call.
    _row(rows, C.ENDING_UNSTARTED, I.B_HELD, C.ENDING, _BY_B)
    _row(rows, C.ENDING_UNSTARTED, I.B_RESUMED, C.ENDING, _BY_B)
    _row(rows, C.ENDING_UNSTARTED, I.B_DOWN, C.ENDED, _BY_CCM, _END_A)
    _row(rows, C.ENDING_UNSTARTED, I.END_WAIT_TIMEOUT, C.ENDED, _BY_CCM, _END_A)
    for kind in (I.A_STARTED, I.A_HELD, I.A_RESUMED):
        _row(rows, C.ENDING_UNSTARTED, kind, C.ENDING_UNSTARTED, disposition=ABS)
    _row(rows, C.ENDING_UNSTARTED, I.A_ENDED, C.ENDING_UNSTARTED, disposition=DUP)

    _row(rows, C.ENDING, I.B_ENDED, C.ENDED, _END_B)
    _row(rows, C.ENDING, I.B_DOWN, C.ENDED, _END_A)
    _row(rows, C.ENDING, I.END_WAIT_TIMEOUT, C.ENDED, _END_A)
    _row(rows, C.ENDING, I.A_ENDED, C.ENDING, disposition=DUP)
    for kind in (I.A_STARTED, I.B_STARTED, I.A_HELD, I.B_HELD, I.A_RESUMED, I.B_RESUMED):
        _row(rows, C.ENDING, kind, C.ENDING, disposition=ABS)


def _ended(rows: _Rows) -> None:
    # Everything after the end is late news (rule 7).
    for kind in sorted(REPORTS):
        dup = kind in (I.A_ENDED, I.B_ENDED)
        _row(rows, C.ENDED, kind, C.ENDED, disposition=DUP if dup else ABS)


def _rows() -> _Rows:
    rows: _Rows = []
    for phase in (_unseen, _answering, _on_the_call, _ending, _ended):
        phase(rows)
    return rows


#: Every row. The runtime, the docs, the diagrams and the checks read this.
CCM_TABLE: tuple[CcmRow, ...] = tuple(_rows())

#: Default windows (ms): B's desk reports within milliseconds of A's; the away
#: window must outlast any delivery delay and a page reload.
DEFAULT_START_WAIT_MS = 2_000
DEFAULT_END_WAIT_MS = 2_000
DEFAULT_AWAY_MS = 600_000


def index(
    table: tuple[CcmRow, ...] = CCM_TABLE,
) -> dict[tuple[CcmCall, CcmInput], tuple[CcmRow, ...]]:
    """The rows by (state, input), guarded ones together."""
    out: dict[tuple[CcmCall, CcmInput], tuple[CcmRow, ...]] = {}
    for r in table:
        out[(r.source, r.input)] = (*out.get((r.source, r.input), ()), r)
    return out


#: Guards that exclude each other (exactly one of a pair holds).
_PAIRS = (
    {Guard.B_DOWN, Guard.B_NOT_DOWN},
    {Guard.NEWER, Guard.STALE},
)


def check_ccm_table(table: tuple[CcmRow, ...] = CCM_TABLE) -> list[str]:
    """Static checks of rules 2, 4 and 7; the problems found (none is good)."""
    problems: list[str] = []
    for (state, kind), rows in index(table).items():
        guards = {r.guard for r in rows}
        if len(rows) > 1 and not (len(rows) == len(guards) and guards in _PAIRS):
            problems.append(f"{state}--{kind}: rows overlap ({', '.join(r.key for r in rows)})")
    keys = {(r.source, r.input) for r in table}
    for state in CcmCall:
        for kind in REPORTS:
            if (state, kind) not in keys:
                problems.append(f"{state}--{kind}: a report has no row (rule 2)")
    for r in table:
        intents = [e.intent for e in r.emits]
        if r.source in TERMINAL and (r.target is not r.source or r.emits):
            problems.append(f"{r.key}: the end is terminal (rule 7)")
        if r.disposition is not Disposition.APPLIED and (r.emits or r.target is not r.source):
            problems.append(f"{r.key}: only applied rows move or publish")
        published = r.source in (C.TALKING, C.HELD, C.ENDING)
        if Intent.STARTED in intents and (published or intents[0] is not Intent.STARTED):
            problems.append(f"{r.key}: the start is published once, first (rule 4)")
        if not published and intents and Intent.STARTED not in intents:
            problems.append(f"{r.key}: publishes before the start (rule 4)")
        ends = r.target is C.ENDED and r.source is not C.ENDED
        if (Intent.ENDED in intents) != ends:
            problems.append(f"{r.key}: the end is published exactly on reaching ended")
    return problems


__all__ = [
    "AWAY_STATES",
    "CCM_TABLE",
    "DEFAULT_AWAY_MS",
    "DEFAULT_END_WAIT_MS",
    "DEFAULT_START_WAIT_MS",
    "HOLD_REPORTS",
    "PRESENCE_INPUT",
    "PRESENCE_MOVES",
    "REPORTS",
    "REPORT_INPUT",
    "STATE_TIMERS",
    "TERMINAL",
    "TIMEOUT_INPUT",
    "TIMER_OF_INPUT",
    "UNOBSERVED",
    "CcmCall",
    "CcmInput",
    "CcmRow",
    "CcmTimer",
    "Emit",
    "Guard",
    "Intent",
    "Party",
    "Presence",
    "Source",
    "check_ccm_table",
    "index",
]
