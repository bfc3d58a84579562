"""The CCM machine: runs :data:`~consultfsm.ccm.table.CCM_TABLE` for one consult leg.

Sans-I/O like the leg and the desk: every input carries its time (ms), the
machine's one deadline is read with :meth:`CcmLeg.get_timer` and handed back
with :meth:`CcmLeg.handle_timer`, and :meth:`CcmLeg.snapshot` is the whole of
it. A refused input raises :class:`CcmIllegalInput` (or a time error) and
changes nothing. The machine decides *what* is published and whose message it
carries (:class:`~consultfsm.ccm.table.Emit`); the engine
(:mod:`consultfsm.ccm.engine`) turns that into conversation events.

>>> leg = CcmLeg("16777301")
>>> [str(p) for p in leg.handle(CcmInput.A_STARTED, 100).emits]   # B's start is awaited
[]
>>> [str(p) for p in leg.handle(CcmInput.B_STARTED, 105).emits]
['CALL_LEG_STARTED(b)']
>>> leg.handle(CcmInput.A_STARTED, 110).disposition.value        # a copy, or a re-send
'duplicate'
>>> [str(p) for p in leg.handle(CcmInput.B_DOWN, 5_000).emits]    # B's page reloads
[]
>>> [str(p) for p in leg.handle(CcmInput.A_ENDED, 9_000).emits]   # B is down: A's reason
['CALL_LEG_ENDED(a)']
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
from consultfsm.core.table import Disposition

from .table import (
    AWAY_STATES,
    CCM_TABLE,
    DEFAULT_AWAY_MS,
    DEFAULT_END_WAIT_MS,
    DEFAULT_START_WAIT_MS,
    HOLD_REPORTS,
    PRESENCE_MOVES,
    STATE_TIMERS,
    TERMINAL,
    TIMEOUT_INPUT,
    TIMER_OF_INPUT,
    CcmCall,
    CcmInput,
    CcmRow,
    CcmTimer,
    Emit,
    Guard,
    Party,
    Presence,
    index,
)


class CcmIllegalInput(IllegalInput):
    """No row of the CCM table takes this input in this state (rule 2)."""


@attrs.frozen(slots=True)
class CcmConfig:
    """The CCM machine's windows (ms)."""

    start_wait_ms: int = DEFAULT_START_WAIT_MS
    end_wait_ms: int = DEFAULT_END_WAIT_MS
    away_ms: int = DEFAULT_AWAY_MS

    def __attrs_post_init__(self) -> None:
        for name in ("start_wait_ms", "end_wait_ms", "away_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(name, "must be a positive number of ms")

    def window(self, timer: CcmTimer) -> int:
        return {
            CcmTimer.START_WAIT: self.start_wait_ms,
            CcmTimer.END_WAIT: self.end_wait_ms,
            CcmTimer.AWAY: self.away_ms,
        }[timer]


@attrs.frozen(slots=True)
class Publish:
    """One publication the step asks for, at the step's time."""

    leg: str
    at: int
    emit: Emit

    def __str__(self) -> str:
        return str(self.emit)


@attrs.frozen(slots=True)
class CcmStep:
    """What one input did. ``row`` is None for a presence input no row names,
    or a timer that was not due."""

    disposition: Disposition
    row: CcmRow | None
    emits: tuple[Publish, ...] = ()

    @property
    def applied(self) -> bool:
        return self.disposition is Disposition.APPLIED


_NOT_DUE = CcmStep(Disposition.ABSORBED, None)


def timer_of(call: CcmCall, desk_a: Presence, desk_b: Presence) -> CcmTimer | None:
    """The timer the regions arm (rules 3 and 6), or None."""
    timer = STATE_TIMERS.get(call)
    if timer is None and call in AWAY_STATES and Presence.UP not in (desk_a, desk_b):
        return CcmTimer.AWAY
    return timer


@attrs.frozen(slots=True)
class CcmSnapshot:
    """A CCM machine as plain values; JSON-ready through :meth:`to_dict`."""

    VERSION: ClassVar[int] = 1
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"v", "leg", "call", "desk_a", "desk_b", "timer", "deadline", "hold_at", "now"}
    )

    leg: str
    call: CcmCall
    desk_a: Presence
    desk_b: Presence
    timer: CcmTimer | None
    deadline: int | None
    hold_at: int | None
    now: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": self.VERSION, "leg": self.leg, "call": self.call.value,
            "desk_a": self.desk_a.value, "desk_b": self.desk_b.value,
            "timer": None if self.timer is None else self.timer.value,
            "deadline": self.deadline, "hold_at": self.hold_at, "now": self.now,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CcmSnapshot:
        """Read :meth:`to_dict`'s form; :class:`SnapshotError` names a bad field."""
        if not isinstance(data, Mapping):
            raise SnapshotError("$", "must be an object")
        if set(data) != cls.FIELDS:
            raise SnapshotError(sorted(set(data) ^ cls.FIELDS)[0], "unknown or missing field")
        if data["v"] != cls.VERSION:
            raise SnapshotError("v", f"version {data['v']!r} is not {cls.VERSION}")

        def enum(name: str, kind: type[Any], optional: bool = False) -> Any:
            if data[name] is None and optional:
                return None
            try:
                return kind(data[name])
            except ValueError:
                raise SnapshotError(name, f"{data[name]!r} is not a {kind.__name__}") from None

        def number(name: str, optional: bool = False) -> Any:
            value = data[name]
            if value is None and optional:
                return None
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SnapshotError(name, "must be a non-negative integer")
            return value

        leg = data["leg"]
        if not isinstance(leg, str) or not leg:
            raise SnapshotError("leg", "must be a non-empty string")
        hold_at = data["hold_at"]  # a desk's own clock: may be before the CCM's epoch
        if hold_at is not None and (isinstance(hold_at, bool) or not isinstance(hold_at, int)):
            raise SnapshotError("hold_at", "must be an integer or null")
        snap = cls(
            leg, enum("call", CcmCall), enum("desk_a", Presence), enum("desk_b", Presence),
            enum("timer", CcmTimer, True), number("deadline", True), hold_at, number("now"),
        )  # fmt: skip
        _consistent(snap)
        return snap


def _consistent(snap: CcmSnapshot) -> None:
    if snap.timer != timer_of(snap.call, snap.desk_a, snap.desk_b):
        raise SnapshotError("timer", f"must be {timer_of(snap.call, snap.desk_a, snap.desk_b)} in "
                            f"{snap.call}/{snap.desk_a}/{snap.desk_b}")  # fmt: skip
    if (snap.timer is None) != (snap.deadline is None):
        raise SnapshotError("deadline", "is set exactly when a timer is armed")
    # An overdue deadline is a real state: the host has not called handle_timer
    # yet, and a later input does not fire it (it fires at its own time).


class CcmLeg:
    """The CCM's view of one consult leg."""

    __slots__ = ("call", "config", "deadline", "desk_a", "desk_b", "hold_at", "leg", "now",
                 "timer")  # fmt: skip
    #: The table this class runs; :func:`ccm_class` makes one running another.
    ROWS: ClassVar[dict[tuple[CcmCall, CcmInput], tuple[CcmRow, ...]]] = index(CCM_TABLE)

    def __init__(self, leg: str, *, config: CcmConfig | None = None, created_at: int = 0) -> None:
        if not isinstance(leg, str) or not leg:
            raise ConfigError("leg", "a CCM leg needs a non-empty id")
        config = CcmConfig() if config is None else config
        if not isinstance(config, CcmConfig):
            raise ConfigError("config", f"must be a CcmConfig, got {type(config).__name__}")
        self.leg = leg
        self.config = config
        self.call = CcmCall.UNSEEN
        self.desk_a = Presence.UNKNOWN
        self.desk_b = Presence.UNKNOWN
        self.timer: CcmTimer | None = None
        self.deadline: int | None = None
        self.hold_at: int | None = None  # the time of the newest hold report taken (rule 5)
        self.now = created_at

    @property
    def state(self) -> str:
        return f"{self.call}/{self.desk_a}/{self.desk_b}"

    @property
    def is_finished(self) -> bool:
        return self.call in TERMINAL

    # --- inputs -------------------------------------------------------------------------

    def handle(self, kind: CcmInput, at: int, occurred: int | None = None) -> CcmStep:
        """Apply one input at ``at`` (ms). ``occurred`` is a hold report's own
        time (the message's timestamp), compared for rule 5; it defaults to ``at``."""
        kind = self._checked(kind, at)
        timer = TIMER_OF_INPUT.get(kind)
        if timer is not None and (self.timer is not timer or self.deadline is None
                                  or at < self.deadline):  # fmt: skip
            return _NOT_DUE  # a timer not pending, or not yet due, is absorbed
        desk_a, desk_b = self.desk_a, self.desk_b
        move = PRESENCE_MOVES.get(kind)
        if move is not None:
            party, presence = move
            if party is Party.A:
                desk_a = presence
            else:
                desk_b = presence
        rows = self.ROWS.get((self.call, kind), ())
        row = next((r for r in rows if self._holds(r.guard, kind, at, occurred, desk_b)), None)
        if row is None and move is None:
            why = "no row of the CCM table takes it"
            raise CcmIllegalInput(self.leg, self.state, kind, at, why)
        if row is None:
            same = (desk_a, desk_b) == (self.desk_a, self.desk_b)
            self._move(self.call, desk_a, desk_b, at)
            return CcmStep(Disposition.DUPLICATE if same else Disposition.APPLIED, None)
        if kind in HOLD_REPORTS and row.disposition is not Disposition.ABSORBED:
            # Taken, or a repeat of the state it says: either way the newest word on it.
            when = at if occurred is None else occurred
            self.hold_at = when if self.hold_at is None else max(self.hold_at, when)
        self._move(row.target, desk_a, desk_b, at)
        return CcmStep(row.disposition, row, tuple(Publish(self.leg, at, e) for e in row.emits))

    def get_timer(self) -> tuple[CcmTimer, int] | None:
        """The armed timer and its deadline (ms), or None."""
        if self.timer is None or self.deadline is None:
            return None
        return self.timer, self.deadline

    def handle_timer(self, now: int) -> CcmStep:
        """Fire the armed timer if it is due at ``now``, at its own deadline."""
        if isinstance(now, bool) or not isinstance(now, int):
            raise InvalidTime(self.leg, self.state, "timer", 0, f"time {now!r} is not an int")
        if self.timer is None or self.deadline is None or now < self.deadline:
            return _NOT_DUE
        return self.handle(TIMEOUT_INPUT[self.timer], max(self.deadline, self.now))

    def accepts(self, kind: CcmInput, at: int, occurred: int | None = None) -> bool:
        """True when :meth:`handle` would take the input (without taking it)."""
        saved = self.snapshot()
        try:
            self.handle(kind, at, occurred)
        except (IllegalInput, InvalidTime, TimeWentBackwards):
            return False
        finally:
            self._reset(saved)
        return True

    def _holds(self, guard: Guard | None, kind: CcmInput, at: int, occurred: int | None,
               desk_b: Presence) -> bool:  # fmt: skip
        if guard is None:
            return True
        if guard is Guard.B_DOWN:
            return desk_b is Presence.DOWN
        if guard is Guard.B_NOT_DOWN:
            return desk_b is not Presence.DOWN
        when = at if occurred is None else occurred
        newer = self.hold_at is None or when >= self.hold_at
        return newer if guard is Guard.NEWER else not newer

    def _checked(self, kind: CcmInput, at: int) -> CcmInput:
        if isinstance(at, bool) or not isinstance(at, int):
            raise InvalidTime(self.leg, self.state, str(kind), 0, f"time {at!r} is not an int")
        try:
            kind = CcmInput(kind)
        except ValueError:
            raise CcmIllegalInput(self.leg, self.state, str(kind), at, "not a CCM input") from None
        if at < self.now:
            raise TimeWentBackwards(self.leg, self.state, kind, at,
                                    f"the leg's last input was at {self.now} ms")  # fmt: skip
        return kind

    def _move(self, call: CcmCall, desk_a: Presence, desk_b: Presence, at: int) -> None:
        timer = timer_of(call, desk_a, desk_b)
        if timer is None:
            self.deadline = None
        elif timer is not self.timer or self.deadline is None:
            self.deadline = at + self.config.window(timer)
        self.timer = timer
        self.call, self.desk_a, self.desk_b, self.now = call, desk_a, desk_b, at

    # --- snapshots ----------------------------------------------------------------------

    def snapshot(self) -> CcmSnapshot:
        return CcmSnapshot(self.leg, self.call, self.desk_a, self.desk_b, self.timer,
                           self.deadline, self.hold_at, self.now)  # fmt: skip

    @classmethod
    def restore(cls, snap: CcmSnapshot, config: CcmConfig | None = None) -> CcmLeg:
        """The machine a snapshot describes (checked)."""
        if not isinstance(snap, CcmSnapshot):
            raise SnapshotError("$", f"must be a CcmSnapshot, got {type(snap).__name__}")
        _consistent(snap)
        leg = cls(snap.leg, config=config, created_at=snap.now)
        leg._reset(snap)
        return leg

    def _reset(self, snap: CcmSnapshot) -> None:
        self.call, self.desk_a, self.desk_b = snap.call, snap.desk_a, snap.desk_b
        self.timer, self.deadline, self.hold_at, self.now = (
            snap.timer, snap.deadline, snap.hold_at, snap.now)  # fmt: skip


def ccm_class(rows: tuple[CcmRow, ...]) -> type[CcmLeg]:
    """A :class:`CcmLeg` subclass that runs ``rows`` instead of the CCM table."""
    return type("CustomCcmLeg", (CcmLeg,), {"__slots__": (), "ROWS": index(rows)})


def observed_ccm_leg(note: Callable[[CcmLeg, CcmStep], None]) -> type[CcmLeg]:
    """A :class:`CcmLeg` (the CCM table, unchanged) that reports each step it
    takes to ``note``: how a reader learns which CCM leg took which row (the
    engine's ``on_step`` does not name the leg). ``replay --states`` and the
    composed run of a case (:mod:`consultfsm.verify.ccm`) both use it."""

    class ObservedCcmLeg(CcmLeg):
        __slots__ = ()

        def handle(self, kind: CcmInput, at: int, occurred: int | None = None) -> CcmStep:
            step = super().handle(kind, at, occurred)
            note(self, step)
            return step

    return ObservedCcmLeg


__all__ = [
    "CcmConfig",
    "CcmIllegalInput",
    "CcmLeg",
    "CcmSnapshot",
    "CcmStep",
    "Publish",
    "ccm_class",
    "observed_ccm_leg",
    "timer_of",
]
