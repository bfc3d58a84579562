"""The desk machine: runs :data:`~consultfsm.desk.table.DESK_TABLE` for one
agent's desk and one consult.

Sans-I/O like the leg: every input carries its time (ms), the settle timer is a
deadline the host reads (:meth:`Desk.get_timer`) and hands back
(:meth:`Desk.handle_timer`), and the whole machine is a JSON-ready snapshot
(:meth:`Desk.snapshot`) that a page keeps in ``localStorage`` and restores
after a reload. An input the table refuses raises :class:`DeskIllegalInput`
(or :class:`~consultfsm.core.errors.TimeWentBackwards`) and changes nothing.

>>> desk = Desk(DeskFacts(DeskRole.B, leg="7002:1002:16777301", customer_number="+923001234567"))
>>> [str(e) for e in desk.handle(DeskInput.ALERTING, 100).emits]
['alert_shown']
>>> [str(e) for e in desk.handle(DeskInput.ANSWERED, 2_000).emits]
['alert_removed(accepted)', 'send_started']
>>> desk.handle(DeskInput.SOCKET_DOWN, 3_000).disposition.value   # the page reloads
'applied'
>>> again = Desk.restore(DeskSnapshot.from_dict(desk.snapshot().to_dict()))
>>> _ = again.handle(DeskInput.PAGE_LOADED, 4_000)
>>> [str(e) for e in again.handle(DeskInput.LISTED_TALKING, 4_100).emits]
['consult_restored']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import attrs

from consultfsm.core.errors import (
    ConfigError,
    IllegalInput,
    InvalidTime,
    SnapshotError,
    TimeWentBackwards,
)
from consultfsm.core.events import CimIntent
from consultfsm.core.states import CimReason
from consultfsm.core.table import Disposition

from .table import (
    DEFAULT_SETTLE_MS,
    DESK_TABLE,
    FINESSE_INPUTS,
    LIST_INPUTS,
    PAGE_INPUTS,
    PAGE_MOVES,
    SEND_INTENT,
    SENDS,
    TERMINAL,
    DeskCall,
    DeskInput,
    DeskPage,
    DeskReason,
    DeskRole,
    DeskRow,
    Effect,
    index,
)


class DeskIllegalInput(IllegalInput):
    """No row of the desk table takes this input in this state (rule 2), or
    the page cannot receive it now (rule 3)."""


@attrs.frozen(slots=True)
class DeskFacts:
    """Who the desk is and which consult: set when the desk first sees it."""

    role: DeskRole = attrs.field(converter=DeskRole)
    leg: str  # the wire leg string, <extension>:<agentId>:<dialogId>
    customer_number: str | None = None  # from call data (CustomerNumberSource)
    a_extension: str | None = None  # A's phone: who is who on the consult dialog
    associated_dialog_uri: str | None = None  # UCCE: the customer's dialog


@attrs.frozen(slots=True)
class DeskEffect:
    """One thing the desk must do: show, remove, or send (``effect``)."""

    leg: str
    at: int
    effect: Effect
    reason: DeskReason | CimReason | None = None
    #: For a hold or resume: how many the leg sent before within this ms
    #: (counted by :class:`~consultfsm.desk.AgentDesk`), so each message gets
    #: its own id (:func:`consultfsm.wire.cim.occurrence_of`).
    repeat: int = 0

    def __str__(self) -> str:
        return self.effect.value if self.reason is None else f"{self.effect.value}({self.reason})"

    @property
    def is_send(self) -> bool:
        """True for a CIM message to POST to the CCM."""
        return self.effect in SENDS

    @property
    def cim_intent(self) -> CimIntent | None:
        """The CIM ``header.intent`` of a send, else None."""
        return SEND_INTENT.get(self.effect)

    @property
    def cim_reason(self) -> CimReason | None:
        """The CIM reason of a send: ``CONSULT`` for a start, the end's own."""
        if self.effect is Effect.SEND_STARTED:
            return CimReason.CONSULT
        return self.reason if isinstance(self.reason, CimReason) else None


@attrs.frozen(slots=True)
class DeskStep:
    """What one input did. ``row`` is None for a page move or a timer that was
    not due."""

    disposition: Disposition
    row: DeskRow | None
    emits: tuple[DeskEffect, ...] = ()

    @property
    def sends(self) -> tuple[DeskEffect, ...]:
        """The CIM messages to POST to the CCM."""
        return tuple(e for e in self.emits if e.effect in SENDS)


_NOT_DUE = DeskStep(Disposition.ABSORBED, None)


@attrs.frozen(slots=True)
class DeskSnapshot:
    """A desk machine as plain values; JSON-ready through :meth:`to_dict`."""

    VERSION: ClassVar[int] = 1

    facts: DeskFacts
    call: DeskCall
    page: DeskPage
    settle_deadline: int | None
    now: int
    settle_ms: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": self.VERSION, "role": self.facts.role.value, "leg": self.facts.leg,
            "customer_number": self.facts.customer_number, "a_extension": self.facts.a_extension,
            "associated_dialog_uri": self.facts.associated_dialog_uri, "call": self.call.value,
            "page": self.page.value, "settle_deadline": self.settle_deadline, "now": self.now,
            "settle_ms": self.settle_ms,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeskSnapshot:
        """Read :meth:`to_dict`'s form; :class:`SnapshotError` names a bad field."""
        if not isinstance(data, Mapping):
            raise SnapshotError("$", "must be an object")
        expected = {"v", "role", "leg", "customer_number", "a_extension", "associated_dialog_uri",
                    "call", "page", "settle_deadline", "now", "settle_ms"}  # fmt: skip
        if set(data) != expected:
            wrong = sorted(set(data) ^ expected)
            raise SnapshotError(wrong[0], "unknown or missing field")
        if data["v"] != cls.VERSION:
            raise SnapshotError("v", f"version {data['v']!r} is not {cls.VERSION}")

        def enum(name: str, kind: type[Any]) -> Any:
            try:
                return kind(data[name])
            except ValueError:
                raise SnapshotError(name, f"{data[name]!r} is not a {kind.__name__}") from None

        def text(name: str, optional: bool = False) -> Any:
            value = data[name]
            if (value is None and optional) or (isinstance(value, str) and value):
                return value
            raise SnapshotError(name, "must be a non-empty string" + (" or null" * optional))

        def number(name: str, optional: bool = False) -> Any:
            value = data[name]
            if value is None and optional:
                return None
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SnapshotError(name, "must be a non-negative integer")
            return value

        snap = cls(
            DeskFacts(enum("role", DeskRole), text("leg"), text("customer_number", True),
                      text("a_extension", True), text("associated_dialog_uri", True)),
            enum("call", DeskCall), enum("page", DeskPage), number("settle_deadline", True),
            number("now"), number("settle_ms"),
        )  # fmt: skip
        _consistent(snap)
        return snap


def check_time(name: str, state: str, what: str, at: object, now: int) -> None:
    """The time checks of every desk entry point: an int, not before ``now``."""
    if isinstance(at, bool) or not isinstance(at, int):
        raise InvalidTime(name, state, what, 0, f"time {at!r} is not an int")
    if at < now:
        raise TimeWentBackwards(name, state, what, at, f"the desk's last input was at {now} ms")


def check_settle_ms(settle_ms: object) -> None:
    """The settle window (rule 5) must be a positive number of ms."""
    if isinstance(settle_ms, bool) or not isinstance(settle_ms, int) or settle_ms <= 0:
        raise ConfigError("settle_ms", "the settle window must be a positive number of ms")


def _settles(call: DeskCall, page: DeskPage) -> bool:
    # Rule 5: the settle timer runs exactly while closing with the page up.
    return call is DeskCall.CLOSING and page is DeskPage.UP


def _consistent(snap: DeskSnapshot) -> None:
    armed = snap.settle_deadline is not None
    if armed != _settles(snap.call, snap.page):
        raise SnapshotError("settle_deadline", f"must be {'set' if not armed else 'null'} in "
                            f"{snap.call}/{snap.page}")  # fmt: skip
    # An overdue deadline is a real state (the host has not called
    # handle_timer yet, and a later input does not fire it); one further than
    # a window past the last input was never armed.
    if snap.settle_deadline is not None and snap.settle_deadline > snap.now + snap.settle_ms:
        raise SnapshotError("settle_deadline", "is more than settle_ms after the desk's last input")
    if snap.settle_ms <= 0:
        raise SnapshotError("settle_ms", "must be positive")


class Desk:
    """One agent's desk, for one consult."""

    __slots__ = ("call", "facts", "now", "page", "settle_deadline", "settle_ms")
    #: The table this class runs, by (role, state, input); :func:`desk_class`
    #: makes a class that runs another (how the checks run a broken copy).
    ROWS: ClassVar[dict[tuple[DeskRole, DeskCall, DeskInput], DeskRow]] = index(DESK_TABLE)

    def __init__(self, facts: DeskFacts, *, settle_ms: int = DEFAULT_SETTLE_MS,
                 created_at: int = 0) -> None:  # fmt: skip
        if not isinstance(facts, DeskFacts):
            raise ConfigError("facts", f"facts must be DeskFacts, got {type(facts).__name__}")
        check_settle_ms(settle_ms)
        self.facts = facts
        self.call = DeskCall.NONE
        self.page = DeskPage.UP
        self.settle_deadline: int | None = None
        self.now = created_at
        self.settle_ms = settle_ms

    @property
    def state(self) -> str:
        return f"{self.call}/{self.page}"

    @property
    def is_finished(self) -> bool:
        """True when the desk has said all it will about this consult."""
        return self.call in TERMINAL

    # --- inputs ------------------------------------------------------------------------------

    def handle(self, kind: DeskInput, at: int) -> DeskStep:
        """Apply one input at time ``at`` (ms)."""
        kind = self._checked(kind, at)
        if kind is DeskInput.SETTLE_TIMEOUT and (
            self.settle_deadline is None or at < self.settle_deadline
        ):
            return _NOT_DUE  # rule 5: a timer not pending or not yet due is absorbed
        if kind in PAGE_INPUTS:
            page, disposition = PAGE_MOVES[(self.page, kind)]
            self._move(self.call, page, at)
            return DeskStep(disposition, None)
        if kind in FINESSE_INPUTS and self.page is DeskPage.DOWN:
            raise self._illegal(kind, at, "the page is down: Finesse cannot reach it (rule 3)")
        if kind in LIST_INPUTS and self.page is not DeskPage.READING:
            raise self._illegal(kind, at, "a dialog list is read only by a page coming back")
        row = self.ROWS.get((self.facts.role, self.call, kind))
        if row is None:
            raise self._illegal(kind, at, "no row of the desk table takes it")
        # Rule 1: a list brings the page up, and so does live news reaching a
        # page still reading (the list it reads is older for this consult).
        reading = self.page is DeskPage.READING
        page = DeskPage.UP if kind in LIST_INPUTS or (reading and kind in FINESSE_INPUTS) else (
            self.page)  # fmt: skip
        self._move(row.target, page, at)
        emits = tuple(DeskEffect(self.facts.leg, at, e.effect, e.reason) for e in row.emits)
        return DeskStep(row.disposition, row, emits)

    def get_timer(self) -> int | None:
        """The settle deadline (ms), or None."""
        return self.settle_deadline

    def handle_timer(self, now: int) -> DeskStep:
        """Fire the settle timer if it is due at ``now``, at its own deadline
        (like the leg's timers); a timer not due changes nothing, not even
        the desk's clock."""
        self._checked(DeskInput.SETTLE_TIMEOUT, now)
        due = self.settle_deadline
        if due is None or now < due:
            return _NOT_DUE
        return self.handle(DeskInput.SETTLE_TIMEOUT, max(due, self.now))

    def _checked(self, kind: DeskInput, at: int) -> DeskInput:
        try:
            kind = DeskInput(kind)
        except ValueError:
            raise DeskIllegalInput(self.facts.leg, self.state, str(kind), at if isinstance(
                at, int) else 0, "not a desk input") from None  # fmt: skip
        check_time(self.facts.leg, self.state, kind, at, self.now)
        return kind

    def _move(self, call: DeskCall, page: DeskPage, at: int) -> None:
        was = _settles(self.call, self.page)
        self.call, self.page, self.now = call, page, at
        if not _settles(call, page):
            self.settle_deadline = None
        elif not was:
            self.settle_deadline = at + self.settle_ms

    def _illegal(self, kind: DeskInput, at: int, why: str) -> DeskIllegalInput:
        return DeskIllegalInput(self.facts.leg, self.state, kind, at, why)

    # --- snapshots ----------------------------------------------------------------------------

    def snapshot(self) -> DeskSnapshot:
        return DeskSnapshot(self.facts, self.call, self.page, self.settle_deadline, self.now,
                            self.settle_ms)  # fmt: skip

    @classmethod
    def restore(cls, snap: DeskSnapshot) -> Desk:
        """The desk a snapshot describes (checked: a desk that exists can step)."""
        if not isinstance(snap, DeskSnapshot):
            raise SnapshotError("$", f"must be a DeskSnapshot, got {type(snap).__name__}")
        _consistent(snap)
        desk = cls(snap.facts, settle_ms=snap.settle_ms, created_at=snap.now)
        desk.call, desk.page, desk.settle_deadline = snap.call, snap.page, snap.settle_deadline
        return desk


def desk_class(rows: tuple[DeskRow, ...]) -> type[Desk]:
    """A :class:`Desk` subclass that runs ``rows`` instead of the desk table,
    with the same checks; ValueError when two rows share a key."""
    return type("CustomDesk", (Desk,), {"__slots__": (), "ROWS": index(rows)})


def observed_desk_class(note: Callable[[Desk, DeskStep], None]) -> type[Desk]:
    """A :class:`Desk` (the desk table, unchanged) that reports each step it
    takes to ``note`` (a settle timer's too: :meth:`Desk.handle_timer` goes
    through :meth:`Desk.handle`): how the composed run of a case
    (:mod:`consultfsm.verify.ccm`) learns which row each desk took, as
    :func:`~consultfsm.ccm.machine.observed_ccm_leg` does for the CCM."""

    class ObservedDesk(Desk):
        __slots__ = ()

        def handle(self, kind: DeskInput, at: int) -> DeskStep:
            step = super().handle(kind, at)
            note(self, step)
            return step

    return ObservedDesk
