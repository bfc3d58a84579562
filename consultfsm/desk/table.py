"""THE table of an AgentDesk's consult machine: one per agent's desk and consult.

A desk sees only what Finesse tells its page while the page is up, and what
the dialog list says when the page comes back. This machine turns that into
what the desk shows and the CIM messages it sends to the CCM (the design
note's "Agent Desk" column). The leg model (:mod:`consultfsm.core.table`) is
the truth of the world; this table is one desk's view of it, and the two must
agree (``tests/test_desk.py`` drives both from the same consults).

The rules
---------
1. Two regions: ``call`` (what this desk knows of the consult) and ``page``
   (``up``; ``down``: the socket closed; ``reading``: a new page, or a page
   whose socket came back, that has not yet read its dialog list). Lifecycle
   inputs move only the page; every other input moves only the call, and a
   list input (``listed_*``) also brings the page ``up``, and so does a
   Finesse input reaching a ``reading`` page: it is newer than any list that
   page is still reading, which then no longer concerns this consult.
2. A row is ``(role, call state, input) -> (target, emits, disposition)``;
   ``role`` is ``a`` (the consulting agent's desk) or ``b`` (the consulted
   agent's). At most one row per (role, state, input): no row means the input
   is illegal there (``DeskIllegalInput`` names the desk, state and input, and
   nothing changes).
3. Finesse inputs cannot arrive while the page is ``down`` (a closed page
   receives nothing): illegal. List inputs are legal only while ``reading``.
4. The CIM messages: ``CALL_LEG_STARTED`` exactly on entering ``talking`` or
   ``held`` from a state that was never on the call (``none``, ``ringing``);
   ``CALL_LEG_ENDED`` exactly on leaving the call for a terminal state, and
   never without a ``STARTED`` before it (a consult the desk never saw
   answered ends with nothing sent). ``CALL_HOLD`` / ``CALL_RESUME`` on each
   change of hold. Both desks send them: B's is the note's; A's lets the CCM
   learn the consult's fate while B's page is away. The CCM keeps one of each
   (issue 13).
5. Finesse never says a transfer will follow a hang-up, and in a transfer
   both parties leave the consult dialog milliseconds apart, in either order:
   so when an answered consult's dialog ends, whoever it shows leaving first,
   the desk waits in ``closing`` for a dialog that names the consult as its
   ``secondaryId`` (a transfer or conference). The ``settle`` timer bounds the
   wait: it runs while the call is ``closing`` and the page is ``up`` (a page
   that goes away stops it; the list read on return decides), and its expiry
   ends the consult (``CONSULT_ENDED``).
6. Without a decline in Finesse (an alerting participant's only action is
   ANSWER), B's participant dropping while it rings is the routing's RONA, or
   the phone forwarding the call: both are ``rona``.
7. What the desk shows is what the leg model tells that desk
   (:mod:`consultfsm.core.events`, ``to`` a desk): live, B's alert is shown
   and removed (with the reason), and A's desk is told nothing (A's phone is
   A's own view); a page that comes back is told where the consult is
   (``alert_restored``, ``consult_still_ringing``, ``consult_restored``,
   ``rejoin_conversation``) or how it ended (``alert_removed`` /
   ``consult_ended``). Where the leg model names a cause the list cannot show
   (who hung up while the page was away), the desk says ``gone``.
"""

from __future__ import annotations

from enum import StrEnum

import attrs

from consultfsm.core.events import CimIntent
from consultfsm.core.states import CimReason
from consultfsm.core.table import Disposition

# --- names ---------------------------------------------------------------------------


class DeskRole(StrEnum):
    """Whose desk: the agent who consults (``a``) or the one consulted (``b``)."""

    A = "a"
    B = "b"


class DeskCall(StrEnum):
    """What the desk knows of the consult."""

    NONE = "none"  # nothing seen yet
    RINGING = "ringing"  # B's phone rings (B: the alert is shown)
    TALKING = "talking"  # B answered: the consult is on
    HELD = "held"  # on the consult, held by A or B
    CLOSING = "closing"  # an answered consult's dialog ended; a transfer may follow (rule 5)
    MISSED = "missed"  # ended before B answered (terminal)
    ENDED = "ended"  # ended after B answered (terminal)
    TRANSFERRED = "transferred"  # became the customer's call with B (terminal)
    CONFERENCED = "conferenced"  # joined into one call with the customer (terminal)


class DeskPage(StrEnum):
    """The page the desk runs in."""

    UP = "up"
    DOWN = "down"  # its socket closed: nothing arrives
    READING = "reading"  # a new page or a new socket, before its dialog list is read


class DeskInput(StrEnum):
    """What the desk is told. Finesse inputs are what the reader
    (:mod:`consultfsm.desk.reading`) concludes from one update; list inputs
    what the dialog list read on return shows of the consult."""

    # Finesse, about the consult dialog (and a dialog naming it as secondaryId)
    ALERTING = "alerting"  # B's participant is alerting
    ANSWERED = "answered"  # B's participant is active, nobody held
    HELD = "held"  # a participant is held; the dialog is still active
    DROPPED_A = "dropped_a"  # A's participant dropped first
    DROPPED_B = "dropped_b"  # B's participant dropped first
    FAILED = "failed"  # the dialog failed (busy, bad destination, other)
    TRANSFERRED = "transferred"  # a dialog names the consult as secondaryId
    CONFERENCED = "conferenced"  # ... and is a CONFERENCE
    # the desk's own deadline (rule 5)
    SETTLE_TIMEOUT = "settle_timeout"
    # the page
    PAGE_LOADED = "page_loaded"  # a fresh page, restored from localStorage
    SOCKET_DOWN = "socket_down"
    SOCKET_UP = "socket_up"
    # the dialog list read on return
    LISTED_RINGING = "listed_ringing"
    LISTED_TALKING = "listed_talking"
    LISTED_HELD = "listed_held"
    LISTED_DIALLING = "listed_dialling"  # still listed (A's desk), nobody offered it yet
    LISTED_WITHOUT_B = "listed_without_b"  # still listed (A's desk), but B left it
    LISTED_ABSENT = "listed_absent"  # the consult is gone; how it ended is unknown
    LISTED_TRANSFERRED = "listed_transferred"  # gone; a listed dialog names it secondaryId
    LISTED_CONFERENCED = "listed_conferenced"


class DeskReason(StrEnum):
    """Why an alert was removed or a consult ended, as the desk shows it."""

    ACCEPTED = "accepted"  # the alert became the call
    RONA = "rona"
    DROPPED_BY_A = "dropped_by_a"
    DROPPED_BY_B = "dropped_by_b"
    FAILED = "failed"
    TRANSFERRED = "transferred"
    CONFERENCED = "conferenced"
    GONE = "gone"  # ended while the page was away; Finesse keeps no record of how


class Effect(StrEnum):
    """What a row tells the desk to do."""

    ALERT_SHOWN = "alert_shown"
    ALERT_RESTORED = "alert_restored"
    ALERT_REMOVED = "alert_removed"  # (reason)
    CONSULT_RESTORED = "consult_restored"  # re-attached; no second STARTED
    CONSULT_STILL_RINGING = "consult_still_ringing"  # A's page back while B still rings
    REJOIN_CONVERSATION = "rejoin_conversation"  # A's page back while the consult is on
    CONSULT_ENDED = "consult_ended"  # (reason)
    SEND_STARTED = "send_started"  # POST CALL_LEG_STARTED / CONSULT to the CCM
    SEND_ENDED = "send_ended"  # POST CALL_LEG_ENDED (cim reason)
    SEND_HOLD = "send_hold"
    SEND_RESUME = "send_resume"


#: The effects that are CIM messages to the CCM, and each one's intent.
SEND_INTENT: dict[Effect, CimIntent] = {
    Effect.SEND_STARTED: CimIntent.CALL_LEG_STARTED,  # reason CONSULT, always
    Effect.SEND_ENDED: CimIntent.CALL_LEG_ENDED,  # the row's reason
    Effect.SEND_HOLD: CimIntent.CALL_HOLD,
    Effect.SEND_RESUME: CimIntent.CALL_RESUME,
}
SENDS = frozenset(SEND_INTENT)


class DeskTimer(StrEnum):
    SETTLE = "settle"


TERMINAL = frozenset({DeskCall.MISSED, DeskCall.ENDED, DeskCall.TRANSFERRED, DeskCall.CONFERENCED})
#: The states in which the desk knows B is (or was just) on the call.
ON_CALL = frozenset({DeskCall.TALKING, DeskCall.HELD})
FINESSE_INPUTS = frozenset({
    DeskInput.ALERTING, DeskInput.ANSWERED, DeskInput.HELD, DeskInput.DROPPED_A,
    DeskInput.DROPPED_B, DeskInput.FAILED, DeskInput.TRANSFERRED, DeskInput.CONFERENCED,
})  # fmt: skip
LIST_INPUTS = frozenset({
    DeskInput.LISTED_RINGING, DeskInput.LISTED_TALKING, DeskInput.LISTED_HELD,
    DeskInput.LISTED_DIALLING, DeskInput.LISTED_WITHOUT_B, DeskInput.LISTED_ABSENT,
    DeskInput.LISTED_TRANSFERRED, DeskInput.LISTED_CONFERENCED,
})  # fmt: skip
#: The list shows the consult with B no longer (or not yet) on it (A's list).
WITHOUT_B = (DeskInput.LISTED_WITHOUT_B, DeskInput.LISTED_DIALLING)
PAGE_INPUTS = frozenset({DeskInput.PAGE_LOADED, DeskInput.SOCKET_DOWN, DeskInput.SOCKET_UP})


@attrs.frozen(slots=True)
class Emit:
    effect: Effect
    reason: DeskReason | CimReason | None = None

    def __str__(self) -> str:
        return self.effect.value if self.reason is None else f"{self.effect.value}({self.reason})"


@attrs.frozen(slots=True)
class DeskRow:
    """One transition of the call region for one role (rule 2)."""

    role: DeskRole
    source: DeskCall
    input: DeskInput
    target: DeskCall
    emits: tuple[Emit, ...] = ()
    disposition: Disposition = Disposition.APPLIED

    @property
    def key(self) -> str:
        return f"{self.role}:{self.source}--{self.input}"


#: Rule 1: the page region's moves: (page, lifecycle input) -> page.
PAGE_MOVES: dict[tuple[DeskPage, DeskInput], tuple[DeskPage, Disposition]] = {
    (DeskPage.UP, DeskInput.SOCKET_DOWN): (DeskPage.DOWN, Disposition.APPLIED),
    (DeskPage.UP, DeskInput.SOCKET_UP): (DeskPage.UP, Disposition.DUPLICATE),
    (DeskPage.DOWN, DeskInput.SOCKET_DOWN): (DeskPage.DOWN, Disposition.DUPLICATE),
    (DeskPage.DOWN, DeskInput.SOCKET_UP): (DeskPage.READING, Disposition.APPLIED),
    (DeskPage.READING, DeskInput.SOCKET_DOWN): (DeskPage.DOWN, Disposition.APPLIED),
    (DeskPage.READING, DeskInput.SOCKET_UP): (DeskPage.READING, Disposition.DUPLICATE),
    **{(page, DeskInput.PAGE_LOADED): (DeskPage.READING, Disposition.APPLIED) for page in DeskPage},
}  # fmt: skip

# --- the rows ---------------------------------------------------------------------------------

C, I, R, E = DeskCall, DeskInput, DeskReason, Effect  # noqa: E741
DUP, ABS = Disposition.DUPLICATE, Disposition.ABSORBED


def _e(effect: Effect, reason: DeskReason | CimReason | None = None) -> Emit:
    return Emit(effect, reason)


def _view(role: DeskRole, b: tuple[Emit, ...], a: tuple[Emit, ...]) -> tuple[Emit, ...]:
    return b if role is DeskRole.B else a


#: What each way of ending an answered consult shows and sends (both roles).
_ENDINGS: dict[DeskCall, dict[DeskReason, CimReason]] = {
    C.ENDED: dict.fromkeys((R.DROPPED_BY_A, R.DROPPED_BY_B, R.GONE), CimReason.CONSULT_ENDED)
    | {R.FAILED: CimReason.DIALOG_ENDED},
    C.TRANSFERRED: {R.TRANSFERRED: CimReason.CONSULT_TRANSFER},
    C.CONFERENCED: {R.CONFERENCED: CimReason.CONSULT_CONFERENCE},
}


def _end(target: DeskCall, reason: DeskReason, *, found: bool = False) -> tuple[Emit, ...]:
    # Rule 7: a live desk closes the consult view as it sends the end; a page
    # that comes back to find it over is told how it ended.
    shown = (_e(E.CONSULT_ENDED, reason),) if found else ()
    return (*shown, _e(E.SEND_ENDED, _ENDINGS[target][reason]))


def _rows_for(role: DeskRole) -> list[DeskRow]:
    def row(source: DeskCall, kind: DeskInput, target: DeskCall, *emits: Emit,
            disposition: Disposition = Disposition.APPLIED) -> DeskRow:  # fmt: skip
        return DeskRow(role, source, kind, target, emits, disposition)

    started = (_e(E.SEND_STARTED),)
    answered = _view(role, (_e(E.ALERT_REMOVED, R.ACCEPTED),), ()) + started
    still_ringing = _view(role, (_e(E.ALERT_RESTORED),), (_e(E.CONSULT_STILL_RINGING),))
    # How a ringing consult ends, and what the desk shows (rule 7): B's alert
    # goes either way; A's desk says how only to a page that comes back.
    missed = {reason: _view(role, (_e(E.ALERT_REMOVED, reason),), ()) for reason in R}
    found_missed = {
        reason: _view(role, (_e(E.ALERT_REMOVED, reason),), (_e(E.CONSULT_ENDED, reason),))
        for reason in R
    }
    restored = _view(role, (_e(E.CONSULT_RESTORED),), (_e(E.REJOIN_CONVERSATION),))
    # A page back to find B answered while it was away: B's desk starts the
    # consult view; A's starts nothing of its own but rejoins the conversation.
    unseen_end = {reason: _view(role, (), (_e(E.CONSULT_ENDED, reason),)) for reason in R}
    found_on = _view(role, (_e(E.CONSULT_RESTORED), _e(E.SEND_STARTED)),
                     (_e(E.REJOIN_CONVERSATION), _e(E.SEND_STARTED)))  # fmt: skip
    rows: list[DeskRow] = [
        # --- nothing seen yet: a desk may first learn of the consult at any stage
        row(C.NONE, I.ALERTING, C.RINGING, *_view(role, (_e(E.ALERT_SHOWN),), ())),
        row(C.NONE, I.ANSWERED, C.TALKING, *started),
        row(C.NONE, I.HELD, C.HELD, *started, _e(E.SEND_HOLD)),
        row(C.NONE, I.LISTED_RINGING, C.RINGING, *still_ringing),
        row(C.NONE, I.LISTED_TALKING, C.TALKING, *found_on),
        row(C.NONE, I.LISTED_HELD, C.HELD, *found_on, _e(E.SEND_HOLD)),
        row(C.NONE, I.LISTED_DIALLING, C.NONE),
        # A's page dialled it, then missed all of B's time on it: whether B
        # ever answered is not in the list, so nothing is sent (docs/desk.md).
        # (B's page has no alert to remove: it never showed one.)
        row(C.NONE, I.LISTED_WITHOUT_B, C.MISSED, *unseen_end[R.GONE]),
        row(C.NONE, I.LISTED_ABSENT, C.MISSED, *unseen_end[R.GONE]),
        row(C.NONE, I.LISTED_TRANSFERRED, C.MISSED, *unseen_end[R.TRANSFERRED]),
        row(C.NONE, I.LISTED_CONFERENCED, C.MISSED, *unseen_end[R.CONFERENCED]),
        *(row(C.NONE, k, C.MISSED) for k in (I.DROPPED_A, I.DROPPED_B, I.FAILED)),
        *(row(C.NONE, k, C.NONE, disposition=ABS) for k in (I.TRANSFERRED, I.CONFERENCED)),
        # --- ringing
        row(C.RINGING, I.ALERTING, C.RINGING, disposition=DUP),
        row(C.RINGING, I.ANSWERED, C.TALKING, *answered),
        row(C.RINGING, I.HELD, C.HELD, *answered, _e(E.SEND_HOLD)),
        row(C.RINGING, I.DROPPED_A, C.MISSED, *missed[R.DROPPED_BY_A]),
        row(C.RINGING, I.DROPPED_B, C.MISSED, *missed[R.RONA]),  # rule 6
        row(C.RINGING, I.FAILED, C.MISSED, *missed[R.FAILED]),
        # A completed the transfer (or conference) before B answered: B is now
        # offered the customer's own call, which is not this consult.
        row(C.RINGING, I.TRANSFERRED, C.MISSED, *missed[R.TRANSFERRED]),
        row(C.RINGING, I.CONFERENCED, C.MISSED, *missed[R.CONFERENCED]),
        row(C.RINGING, I.LISTED_RINGING, C.RINGING, *still_ringing),
        row(C.RINGING, I.LISTED_TALKING, C.TALKING, *found_on),  # answered while away
        row(C.RINGING, I.LISTED_HELD, C.HELD, *found_on, _e(E.SEND_HOLD)),
        # B's participant left the dialog, or was taken off it, while it rang.
        *(row(C.RINGING, k, C.MISSED, *found_missed[R.RONA]) for k in WITHOUT_B),  # rule 6
        row(C.RINGING, I.LISTED_ABSENT, C.MISSED, *found_missed[R.GONE]),
        row(C.RINGING, I.LISTED_TRANSFERRED, C.MISSED, *found_missed[R.TRANSFERRED]),
        row(C.RINGING, I.LISTED_CONFERENCED, C.MISSED, *found_missed[R.CONFERENCED]),
    ]
    for on in (C.TALKING, C.HELD):
        other = C.HELD if on is C.TALKING else C.TALKING
        change = _e(E.SEND_HOLD) if on is C.TALKING else _e(E.SEND_RESUME)
        # What the dialog shows now: held, or on the call with nobody held.
        shows_same, shows_other = (I.ANSWERED, I.HELD) if on is C.TALKING else (I.HELD, I.ANSWERED)
        listed_same = I.LISTED_TALKING if on is C.TALKING else I.LISTED_HELD
        listed_other = I.LISTED_HELD if on is C.TALKING else I.LISTED_TALKING
        rows += [
            row(on, I.ALERTING, on, disposition=ABS),
            row(on, shows_same, on, disposition=DUP),
            row(on, shows_other, other, change),
            row(on, I.DROPPED_A, C.CLOSING),  # rule 5: a transfer may follow
            row(on, I.DROPPED_B, C.CLOSING),  # ... whoever shows leaving first
            row(on, I.FAILED, C.ENDED, *_end(C.ENDED, R.FAILED)),
            row(on, I.TRANSFERRED, C.TRANSFERRED, *_end(C.TRANSFERRED, R.TRANSFERRED)),
            row(on, I.CONFERENCED, C.CONFERENCED, *_end(C.CONFERENCED, R.CONFERENCED)),
            row(on, I.LISTED_RINGING, on, restored[0]),  # a list older than what was seen
            row(on, listed_same, on, *restored),
            row(on, listed_other, other, *restored, change),
            *(row(on, k, C.ENDED, *_end(C.ENDED, R.DROPPED_BY_B, found=True)) for k in WITHOUT_B),
            row(on, I.LISTED_ABSENT, C.ENDED, *_end(C.ENDED, R.GONE, found=True)),
            row(
                on,
                I.LISTED_TRANSFERRED,
                C.TRANSFERRED,
                *_end(C.TRANSFERRED, R.TRANSFERRED, found=True),
            ),
            row(
                on,
                I.LISTED_CONFERENCED,
                C.CONFERENCED,
                *_end(C.CONFERENCED, R.CONFERENCED, found=True),
            ),
        ]
    rows += [
        # --- closing: A left; a dialog naming the consult may still come (rule 5)
        row(C.CLOSING, I.TRANSFERRED, C.TRANSFERRED, *_end(C.TRANSFERRED, R.TRANSFERRED)),
        row(C.CLOSING, I.CONFERENCED, C.CONFERENCED, *_end(C.CONFERENCED, R.CONFERENCED)),
        row(C.CLOSING, I.SETTLE_TIMEOUT, C.ENDED, *_end(C.ENDED, R.GONE)),
        *(row(C.CLOSING, k, C.CLOSING, disposition=DUP) for k in (I.DROPPED_A, I.DROPPED_B)),
        *(
            row(C.CLOSING, k, C.CLOSING, disposition=ABS)
            for k in (I.ALERTING, I.ANSWERED, I.HELD, I.FAILED)
        ),
        # Who left is in no list, and a transfer would show as a listed dialog.
        row(C.CLOSING, I.LISTED_ABSENT, C.ENDED, *_end(C.ENDED, R.GONE, found=True)),
        *(row(C.CLOSING, k, C.ENDED, *_end(C.ENDED, R.GONE, found=True)) for k in WITHOUT_B),
        row(
            C.CLOSING,
            I.LISTED_TRANSFERRED,
            C.TRANSFERRED,
            *_end(C.TRANSFERRED, R.TRANSFERRED, found=True),
        ),
        row(
            C.CLOSING,
            I.LISTED_CONFERENCED,
            C.CONFERENCED,
            *_end(C.CONFERENCED, R.CONFERENCED, found=True),
        ),
        # A list that still shows the consult was read before it cleared.
        *(
            row(C.CLOSING, k, C.CLOSING, disposition=ABS)
            for k in (I.LISTED_RINGING, I.LISTED_TALKING, I.LISTED_HELD)
        ),
    ]
    # --- the end: the desk has said all it will; late news is absorbed
    for end in sorted(TERMINAL):
        rows += [row(end, k, end, disposition=ABS) for k in sorted(FINESSE_INPUTS | LIST_INPUTS)]
    return rows


def _table() -> tuple[DeskRow, ...]:
    return tuple(r for role in DeskRole for r in _rows_for(role))


#: Every row, both roles. The runtime, the docs and the tests read this.
DESK_TABLE: tuple[DeskRow, ...] = _table()
#: Rule 5: the window of the settle timer, by default (ms).
DEFAULT_SETTLE_MS = 2_000


def index(
    table: tuple[DeskRow, ...] = DESK_TABLE,
) -> dict[tuple[DeskRole, DeskCall, DeskInput], DeskRow]:
    """The rows by (role, state, input); raises ValueError on two rows for one
    key (rule 2)."""
    out: dict[tuple[DeskRole, DeskCall, DeskInput], DeskRow] = {}
    for r in table:
        key = (r.role, r.source, r.input)
        if key in out:
            raise ValueError(f"two desk rows for {r.key}")
        out[key] = r
    return out


def check_desk_table(table: tuple[DeskRow, ...] = DESK_TABLE) -> list[str]:
    """Static checks of rules 2 and 4; the problems found (none is good)."""
    problems: list[str] = []
    try:
        index(table)
    except ValueError as e:
        problems.append(str(e))
    for r in table:
        sends = [e.effect for e in r.emits if e.effect in SENDS]
        entering = r.target in ON_CALL and r.source in (C.NONE, C.RINGING)
        if (E.SEND_STARTED in sends) != entering:
            problems.append(f"{r.key}: STARTED must be sent exactly on entering the call")
        leaving = r.source in ON_CALL | {C.CLOSING} and r.target in TERMINAL
        if (E.SEND_ENDED in sends) != leaving:
            problems.append(f"{r.key}: ENDED must be sent exactly on leaving the call")
        if r.disposition is not Disposition.APPLIED and (r.emits or r.target != r.source):
            problems.append(f"{r.key}: only applied rows move or emit")
        if r.source in TERMINAL and r.target != r.source:
            problems.append(f"{r.key}: a terminal state is never left")
    return problems


__all__ = [
    "DEFAULT_SETTLE_MS",
    "DESK_TABLE",
    "FINESSE_INPUTS",
    "LIST_INPUTS",
    "ON_CALL",
    "PAGE_INPUTS",
    "PAGE_MOVES",
    "SENDS",
    "SEND_INTENT",
    "TERMINAL",
    "DeskCall",
    "DeskInput",
    "DeskPage",
    "DeskReason",
    "DeskRole",
    "DeskRow",
    "DeskTimer",
    "Effect",
    "Emit",
    "check_desk_table",
    "index",
]  # fmt: skip
