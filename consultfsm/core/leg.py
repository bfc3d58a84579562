"""The runtime: a consult leg that takes inputs and returns the events they emit.

In the style of h2's ``stream.py``: ``(state, input) -> (side effect, next
state)``, where the side effect is the tuple of emitted events. The
transition table (:mod:`consultfsm.core.table`) is compiled once, at import, into a
dispatch array indexed by the leg's packed state and the input. A step is then
one list index, one dict lookup, and the event constructors; it does no work
proportional to the number of legs, allocates no per-leg machine, and keeps
no reference from the leg to anything but shared, immutable data.

Sans-I/O: the leg never reads a clock. Every input carries its time in integer
milliseconds; timers are deadlines stored in the leg and announced in
``timer_started`` events; the host feeds the matching timeout input when a
deadline passes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from enum import StrEnum
from functools import partial
from typing import Any, ClassVar, NamedTuple, TypeVar

import attrs

from . import events as ev
from .errors import (
    ConfigError,
    IllegalInput,
    InvalidLeg,
    InvalidTime,
    SnapshotError,
    TimeWentBackwards,
)
from .events import _fast_constructor, _layout_twin
from .guards import GUARDS, Guard
from .states import (
    INITIAL,
    INPUT_REGION,
    REGION_STATES,
    TERMINAL_CALL_STATES,
    TIMER_OF_INPUT,
    TIMER_REGION,
    CallState,
    DeskState,
    InputKind,
    Region,
    Timer,
)
from .table import TABLE, Disposition, Row, armed_in

# --- configuration -------------------------------------------------------------------


@attrs.frozen
class LegConfig:
    """Timer windows, in milliseconds. Shared by every leg that uses it.

    ``ring_ms`` is the RONA window from the alert; set it to the CTI's own
    ring-no-answer time, or the CTI and the leg race. ``grace_ms`` is how long
    the leg waits for a disconnected desk (the note's "x seconds"); Finesse
    force-logs-out a desk 60 s after it goes unavailable.
    """

    ring_ms: int = 15_000
    grace_ms: int = 60_000

    def __attrs_post_init__(self) -> None:
        for name in ("ring_ms", "grace_ms"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer of ms, got {value!r}")

    def window(self, timer: Timer) -> int:
        """The length of a timer's window."""
        return self.ring_ms if timer is Timer.RING else self.grace_ms


DEFAULT_CONFIG = LegConfig()


class LegState(NamedTuple):
    """The state of a leg: one state per region."""

    call: CallState
    desk_a: DeskState
    desk_b: DeskState

    def __str__(self) -> str:
        return f"{self.call.value}/{self.desk_a.value}/{self.desk_b.value}"


@attrs.frozen
class Step:
    """What one input did: its disposition, the row that decided, the events."""

    disposition: Disposition
    row: Row
    events: tuple[ev.Event, ...] = ()

    @property
    def applied(self) -> bool:
        """True when the input changed the leg."""
        return self.disposition is Disposition.APPLIED


#: Steps are built inline by the compiled code (see _compile_apply) as this
#: twin, then become Steps: no attrs per-field setattr on the hot path.
_STEP_TWIN = _layout_twin(Step)
_make_timer_started = _fast_constructor(ev.TimerStarted)
_make_timer_cancelled = _fast_constructor(ev.TimerCancelled)

# --- compiling the table -------------------------------------------------------------

_CALLS = REGION_STATES[Region.CALL]
_DESKS = REGION_STATES[Region.DESK_A]

#: packed state -> LegState; packed = call * n_desk**2 + desk_a * n_desk + desk_b
_DECODE: tuple[LegState, ...] = tuple(
    LegState(c, a, b)  # type: ignore[arg-type]
    for c in _CALLS
    for a in _DESKS
    for b in _DESKS
)
_ENCODE: dict[LegState, int] = {s: i for i, s in enumerate(_DECODE)}
_DEADLINE_SLOT: dict[Timer, str] = {t: f"{t.value}_deadline" for t in Timer}


def _positional(
    event: type[ev.Event], params: tuple[tuple[str, Any], ...]
) -> tuple[Callable[..., ev.Event], tuple[Any, ...]]:
    """``(call, values)`` with ``call(leg, at, *values)`` == ``event.build(leg, at,
    **params)``: the row's fixed parameters passed positionally when they are
    exactly the next parameters of ``build``, else bound in a partial."""
    if not params:
        return event.build, ()
    names = list(inspect.signature(event.build).parameters)[2:]  # after (leg, at)
    if [name for name, _ in params] != names[: len(params)]:
        return partial(event.build, **dict(params)), ()
    return event.build, tuple(value for _, value in params)


class _Plan:
    """A row compiled for one packed state: everything a step needs, precomputed."""

    __slots__ = (
        "apply", "cancel", "cancel_slot", "fires", "fires_slot", "row", "start",
        "start_slot", "step", "target", "window",
    )  # fmt: skip

    def __init__(self, row: Row, packed: int) -> None:
        self.row = row
        state = _DECODE[packed]
        index = {Region.CALL: 0, Region.DESK_A: 1, Region.DESK_B: 2}[row.region]
        parts: list[Any] = list(state)
        parts[index] = row.target
        self.target = _ENCODE[LegState(*parts)]
        self.start = row.start
        self.cancel = row.cancel
        # An applied row on a timer input consumes that timer (table rule 5).
        timer = TIMER_OF_INPUT.get(row.input)
        self.fires = timer if row.disposition is Disposition.APPLIED else None
        # The leg's slot of each timer, resolved here rather than per step.
        self.start_slot = "" if row.start is None else _DEADLINE_SLOT[row.start]
        self.cancel_slot = "" if row.cancel is None else _DEADLINE_SLOT[row.cancel]
        self.fires_slot = None if self.fires is None else _DEADLINE_SLOT[self.fires]
        # The LegConfig field holding the started timer's window (LegConfig.window).
        self.window = "ring_ms" if row.start is Timer.RING else "grace_ms"
        # Duplicates and absorbed inputs return one shared, immutable Step.
        self.step = None if row.disposition is Disposition.APPLIED else Step(row.disposition, row)
        self.apply = _compile_apply(self)


def _compile_apply(plan: _Plan) -> Callable[[Leg, int], Step]:
    """The applied step of one plan as straight-line code: the generic step
    (cancel, fire, move, build, start) with this row's slots, builders and
    timers written in, so a step runs no loop, no getattr/setattr by name and
    no list. It is :func:`consultfsm.core.effects.apply_effects` specialised to one
    row (same effects, same order); the differential tests hold them equal."""
    lines = ["def apply(leg, at):"]
    names: list[str] = []
    if plan.cancel is not None:
        lines += [f"    e_c = cancelled_(leg.leg_id, at, cancel_, leg.{plan.cancel_slot})",
                  f"    leg.{plan.cancel_slot} = None"]  # fmt: skip
        names.append("e_c")
    if plan.fires_slot is not None:
        lines.append(f"    leg.{plan.fires_slot} = None")
    lines += [f"    leg._state = {plan.target}", "    leg.last_at = at"]
    builders: dict[str, Any] = {}
    for i, emit in enumerate(plan.row.emits):
        call, params = _positional(emit.event, emit.params)
        builders[f"b_{i}"] = call
        builders.update((f"p_{i}_{j}", value) for j, value in enumerate(params))
        extra = "".join(f", p_{i}_{j}" for j in range(len(params)))
        lines.append(f"    e_{i} = b_{i}(leg, at{extra})")
        names.append(f"e_{i}")
    if plan.start is not None:
        lines += [f"    d_ = at + leg.config.{plan.window}",
                  f"    leg.{plan.start_slot} = d_",
                  "    e_s = started_(leg.leg_id, at, start_, d_)"]  # fmt: skip
        names.append("e_s")
    # Step(APPLIED, row, events), built as _fast_constructor(Step) does, inline
    lines += ["    o_ = new_(step_twin_)", "    o_.disposition = applied_", "    o_.row = row_",
              f"    o_.events = ({''.join(n + ', ' for n in names)})",
              "    o_.__class__ = step_", "    return o_"]  # fmt: skip
    scope: dict[str, Any] = {
        "cancelled_": _make_timer_cancelled, "started_": _make_timer_started,
        "cancel_": plan.cancel, "start_": plan.start, "step_": Step, "new_": object.__new__,
        "step_twin_": _STEP_TWIN, "applied_": Disposition.APPLIED, "row_": plan.row,
        **builders,
    }  # fmt: skip
    exec("\n".join(lines), scope)
    apply: Callable[[Leg, int], Step] = scope["apply"]
    return apply


class _TimerBranch:
    """A timer input whose row depends on whether its deadline is due."""

    __slots__ = ("due", "early", "slot")

    def __init__(self, due: _Plan | None, early: _Plan | None, timer: Timer) -> None:
        self.due = due
        self.early = early
        self.slot = _DEADLINE_SLOT[timer]


class _StaticView:
    """A GuardView for compile time: states only, no deadlines."""

    def __init__(self, state: LegState) -> None:
        self.call, self.desk_a, self.desk_b = state

    def deadline(self, timer: Timer) -> int | None:
        raise AssertionError("dynamic guards are resolved per input")


def _compile() -> tuple[dict[InputKind, _Plan | _TimerBranch], ...]:
    index: dict[tuple[Region, StrEnum, InputKind], list[Row]] = {}
    for row in TABLE:
        index.setdefault((row.region, row.source, row.input), []).append(row)
    plans: list[dict[InputKind, _Plan | _TimerBranch]] = []
    for packed, state in enumerate(_DECODE):
        view = _StaticView(state)
        by_input: dict[InputKind, _Plan | _TimerBranch] = {}
        for kind in InputKind:
            region = INPUT_REGION[kind]
            source = state[list(Region).index(region)]
            timer = TIMER_OF_INPUT.get(kind)
            live = [
                row for row in index.get((region, source, kind), ())
                if all(g.dynamic or GUARDS[g](view, timer, 0) for g in row.guards)
            ]  # fmt: skip
            if not live:
                continue  # illegal here
            dynamic = [r for r in live if any(g.dynamic for g in r.guards)]
            if not dynamic:
                if len(live) > 1:
                    raise AssertionError(f"rows overlap in {state}: {[r.key for r in live]}")
                by_input[kind] = _Plan(live[0], packed)
                continue
            assert timer is not None, f"time guard on a non-timer input: {dynamic[0].key}"
            branch: dict[bool, _Plan | None] = {True: None, False: None}
            for row in live:
                due = Guard.EARLY not in row.guards
                if branch[due] is not None:
                    raise AssertionError(f"rows overlap in {state}: {row.key}")
                branch[due] = _Plan(row, packed)
            by_input[kind] = _TimerBranch(branch[True], branch[False], timer)
        plans.append(by_input)
    return tuple(plans)


_PLANS = _compile()
_INITIAL_PACKED = _ENCODE[LegState(*INITIAL.values())]  # type: ignore[arg-type]


# --- the leg -------------------------------------------------------------------------


class LegFacts:
    """What identifies a leg and what its events carry: everything but its
    state and time. Declared once here; :class:`Leg` and the other executors
    of the table (``machine.LegModel``, ``explore.TableLeg``) share it."""

    __slots__ = ()

    leg_id: str
    agent_a: str
    agent_b: str
    customer_ani: str
    conversation_id: str
    channel_session_id: str
    call_id: str | None
    service_identifier: str | None
    associated_dialog_uri: str | None
    config: LegConfig

    def copy_facts(self, leg: LegFacts) -> None:
        """Take every fact from ``leg`` (a :class:`Leg` has validated them)."""
        for name in FACTS:
            setattr(self, name, getattr(leg, name))


#: The names of the facts, in declaration order.
FACTS: tuple[str, ...] = tuple(LegFacts.__annotations__)


def _explain_invalid_leg(facts: Mapping[str, Any]) -> None:
    for name in ("leg_id", "agent_a", "agent_b", "customer_ani", "conversation_id",
                 "channel_session_id"):  # fmt: skip
        value = facts[name]
        if not isinstance(value, str):
            raise InvalidLeg(f"{name} must be a string, got {type(value).__name__}")
        if not value and name != "customer_ani":  # an unknown ANI is allowed: "" is data
            raise InvalidLeg(f"{name} must not be empty")
    if facts["agent_a"] == facts["agent_b"]:
        raise InvalidLeg(f"agent_a and agent_b are both {facts['agent_a']!r}: a consult needs two")
    raise InvalidLeg(f"created_at must be an integer of ms, got {facts['created_at']!r}")


class Leg(LegFacts):
    """One consult leg, A -> B, and everything the system must do about it.

    >>> leg = Leg("L1", agent_a="A", agent_b="B", customer_ani="+923001234567",
    ...           conversation_id="C1", channel_session_id="S1")
    >>> [e.kind.value for e in leg.handle(InputKind.ALERTING, at=200).events]
    ['alert_shown', 'timer_started']
    >>> str(leg.state)
    'ringing/connected/connected'

    The identifying fields are plain, non-empty strings. ``channel_session_id``
    and ``conversation_id`` are required: they are the customer's *existing*
    channel session and conversation (see :mod:`consultfsm.ccm.correlation` for
    finding them), so a consult can never be published in a session of its
    own. Facts that cannot be right raise :class:`InvalidLeg`.
    """

    __slots__ = (
        "_state",
        "agent_a",
        "agent_b",
        "associated_dialog_uri",
        "call_id",
        "channel_session_id",
        "config",
        "conversation_id",
        "customer_ani",
        "grace_a_deadline",
        "grace_b_deadline",
        "last_at",
        "leg_id",
        "ring_deadline",
        "service_identifier",
    )

    SNAPSHOT_VERSION: ClassVar[int] = 1

    def __init__(
        self,
        leg_id: str,
        agent_a: str,
        agent_b: str,
        customer_ani: str,
        *,
        conversation_id: str,
        channel_session_id: str,
        call_id: str | None = None,
        service_identifier: str | None = None,
        associated_dialog_uri: str | None = None,
        config: LegConfig = DEFAULT_CONFIG,
        created_at: int = 0,
    ) -> None:
        # One cheap test on the hot path; the slow one says what is wrong.
        if (
            leg_id.__class__ is not str or agent_a.__class__ is not str
            or agent_b.__class__ is not str or customer_ani.__class__ is not str
            or conversation_id.__class__ is not str
            or channel_session_id.__class__ is not str
            or not (leg_id and agent_a and agent_b and conversation_id and channel_session_id)
            or agent_a == agent_b or created_at.__class__ is not int
        ):  # fmt: skip
            _explain_invalid_leg(locals())
        self.leg_id = leg_id
        self.agent_a = agent_a
        self.agent_b = agent_b
        self.customer_ani = customer_ani
        self.conversation_id = conversation_id
        self.channel_session_id = channel_session_id
        self.call_id = call_id
        self.service_identifier = service_identifier
        self.associated_dialog_uri = associated_dialog_uri
        self.config = config
        self._state = _INITIAL_PACKED
        self.ring_deadline: int | None = None
        self.grace_a_deadline: int | None = None
        self.grace_b_deadline: int | None = None
        self.last_at = created_at

    # -- reading the state ------------------------------------------------------

    @property
    def state(self) -> LegState:
        """The state of each region."""
        return _DECODE[self._state]

    @property
    def call(self) -> CallState:
        """The call region's state."""
        return _DECODE[self._state].call

    @property
    def desk_a(self) -> DeskState:
        """A's desk region state."""
        return _DECODE[self._state].desk_a

    @property
    def desk_b(self) -> DeskState:
        """B's desk region state."""
        return _DECODE[self._state].desk_b

    def deadline(self, timer: Timer) -> int | None:
        """The pending deadline of ``timer`` (absolute ms), or None."""
        value: int | None = getattr(self, _DEADLINE_SLOT[timer])
        return value

    @property
    def deadlines(self) -> dict[Timer, int]:
        """Every pending deadline."""
        return {t: d for t in Timer if (d := self.deadline(t)) is not None}

    @property
    def next_deadline(self) -> tuple[Timer, int] | None:
        """The earliest pending deadline, for a host that keeps one timer per leg."""
        pending = sorted(self.deadlines.items(), key=lambda item: (item[1], item[0]))
        return pending[0] if pending else None

    @property
    def is_finished(self) -> bool:
        """The call has ended and no timer is pending: the leg will emit nothing
        more, whatever it is told, and the host may forget it."""
        return (
            _DECODE[self._state].call in TERMINAL_CALL_STATES
            and self.ring_deadline is None
            and self.grace_a_deadline is None
            and self.grace_b_deadline is None
        )

    def __repr__(self) -> str:
        return f"<Leg {self.leg_id} {self.state} at {self.last_at}>"

    # -- the step ----------------------------------------------------------------

    def handle(self, kind: InputKind, at: int) -> Step:
        """Apply one input at time ``at`` (ms) and return what it did.

        Raises :class:`IllegalInput` when no row accepts the input in this
        state, :class:`TimeWentBackwards` when ``at`` precedes the last
        applied input and :class:`InvalidTime` when ``at`` is not an ``int``;
        in every case the leg is unchanged. A duplicate or a late input
        returns a step with that disposition and no events.
        """
        if at.__class__ is not int:  # not a float (NaN would never be due), not a bool
            raise InvalidTime(
                self.leg_id, str(self.state), kind, at, f"time must be integer ms, got {at!r}"
            )
        plan = _PLANS[self._state].get(kind)
        if plan is None:
            raise IllegalInput(self.leg_id, str(self.state), kind, at, "no transition for it")
        if at < self.last_at:
            raise TimeWentBackwards(
                self.leg_id, str(self.state), kind, at, f"the leg is already at {self.last_at} ms"
            )
        if plan.__class__ is _TimerBranch:
            branch: _TimerBranch = plan
            deadline = getattr(self, branch.slot)
            chosen = branch.due if deadline is not None and at >= deadline else branch.early
            if chosen is None:
                raise IllegalInput(self.leg_id, str(self.state), kind, at, "timer not pending")
            plan = chosen
        done: _Plan = plan  # type: ignore[assignment]
        if done.step is not None:
            return done.step
        # cancel the row's timer, consume a fired one, move, build the events,
        # start the row's timer: compiled per row (see _compile_apply)
        return done.apply(self, at)

    def accepts(self, kind: InputKind, at: int) -> bool:
        """True when :meth:`handle` would not raise for this input."""
        plan = _PLANS[self._state].get(kind)
        if plan is None or at.__class__ is not int or at < self.last_at:
            return False
        if isinstance(plan, _TimerBranch):
            deadline = getattr(self, plan.slot)
            return (plan.due if deadline is not None and at >= deadline else plan.early) is not None
        return True

    # -- snapshots ---------------------------------------------------------------

    def snapshot(self) -> LegSnapshot:
        """Everything needed to rebuild this leg, as plain values."""
        state = _DECODE[self._state]
        return LegSnapshot(
            self.leg_id, self.agent_a, self.agent_b, self.customer_ani,
            self.conversation_id, self.channel_session_id, self.call_id,
            self.service_identifier, self.associated_dialog_uri,
            state.call, state.desk_a, state.desk_b,
            self.ring_deadline, self.grace_a_deadline, self.grace_b_deadline,
            self.last_at, self.config.ring_ms, self.config.grace_ms,
        )  # fmt: skip

    @classmethod
    def restore(cls, snap: LegSnapshot) -> Leg:
        """Rebuild a leg from a snapshot. Pending deadlines keep their absolute
        times, so a restored leg continues exactly as the original would.
        Raises :class:`SnapshotError` when the snapshot's facts cannot be right."""
        config = (
            DEFAULT_CONFIG
            if (snap.ring_ms, snap.grace_ms) == (DEFAULT_CONFIG.ring_ms, DEFAULT_CONFIG.grace_ms)
            else LegConfig(snap.ring_ms, snap.grace_ms)
        )
        try:
            leg = cls(
                snap.leg, snap.agent_a, snap.agent_b, snap.customer_ani,
                conversation_id=snap.conversation_id, channel_session_id=snap.channel_session_id,
                call_id=snap.call_id, service_identifier=snap.service_identifier,
                associated_dialog_uri=snap.associated_dialog_uri, config=config,
                created_at=snap.last_at,
            )  # fmt: skip
        except InvalidLeg as exc:
            raise SnapshotError("<facts>", str(exc)) from None
        leg._state = _ENCODE[LegState(snap.call, snap.desk_a, snap.desk_b)]
        leg.ring_deadline = snap.ring_deadline
        leg.grace_a_deadline = snap.grace_a_deadline
        leg.grace_b_deadline = snap.grace_b_deadline
        return leg

    def reset(self, snap: LegSnapshot) -> None:
        """Put this very leg back into a snapshot's state, in place, so that
        whoever holds the object sees it (a host undoing a rejected batch).
        Raises :class:`SnapshotError`, with the leg untouched, when the
        snapshot's facts cannot be right."""
        restored = Leg.restore(snap)
        for slot in Leg.__slots__:
            setattr(self, slot, getattr(restored, slot))


def _opt_str(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise SnapshotError(name, f"expected a string or null, got {type(value).__name__}")


def _req_str(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    raise SnapshotError(name, f"expected a string, got {type(value).__name__}")


def _opt_int(name: str, value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise SnapshotError(name, f"expected an integer or null, got {type(value).__name__}")


def _req_int(name: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise SnapshotError(name, f"expected an integer, got {type(value).__name__}")


_E = TypeVar("_E", bound=StrEnum)


def _enum(name: str, value: Any, enum: type[_E]) -> _E:
    try:
        return enum(value)
    except ValueError:
        raise SnapshotError(name, f"{value!r} is not one of {[m.value for m in enum]}") from None


_SNAPSHOT_KEYS = (
    "leg", "agent_a", "agent_b", "customer_ani", "conversation_id", "channel_session_id",
    "call_id", "service_identifier", "associated_dialog_uri", "call", "desk_a", "desk_b",
    "ring_deadline", "grace_a_deadline", "grace_b_deadline", "last_at", "ring_ms", "grace_ms",
)  # fmt: skip


#: Per timer: its region's snapshot field, its deadline field, the states that arm it.
_TIMER_CHECKS: tuple[tuple[str, str, frozenset[StrEnum]], ...] = tuple(
    (TIMER_REGION[timer].value, _DEADLINE_SLOT[timer], armed_in(timer)) for timer in Timer
)


@attrs.frozen
class LegSnapshot:
    """A leg's whole state as plain values; JSON-ready through :meth:`to_dict`."""

    leg: str
    agent_a: str
    agent_b: str
    customer_ani: str
    conversation_id: str
    channel_session_id: str
    call_id: str | None
    service_identifier: str | None
    associated_dialog_uri: str | None
    call: CallState
    desk_a: DeskState
    desk_b: DeskState
    ring_deadline: int | None
    grace_a_deadline: int | None
    grace_b_deadline: int | None
    last_at: int
    ring_ms: int
    grace_ms: int

    def to_dict(self) -> dict[str, Any]:
        """A dict of JSON types (enums as their wire strings), with a version."""
        return {
            "v": Leg.SNAPSHOT_VERSION,
            "leg": self.leg,
            "agent_a": self.agent_a,
            "agent_b": self.agent_b,
            "customer_ani": self.customer_ani,
            "conversation_id": self.conversation_id,
            "channel_session_id": self.channel_session_id,
            "call_id": self.call_id,
            "service_identifier": self.service_identifier,
            "associated_dialog_uri": self.associated_dialog_uri,
            "call": self.call.value,
            "desk_a": self.desk_a.value,
            "desk_b": self.desk_b.value,
            "ring_deadline": self.ring_deadline,
            "grace_a_deadline": self.grace_a_deadline,
            "grace_b_deadline": self.grace_b_deadline,
            "last_at": self.last_at,
            "ring_ms": self.ring_ms,
            "grace_ms": self.grace_ms,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LegSnapshot:
        """Read a snapshot dict; a wrong field raises :class:`SnapshotError` naming it."""
        if not isinstance(data, Mapping):
            raise SnapshotError("<root>", f"expected an object, got {type(data).__name__}")
        version = data.get("v")
        if version.__class__ is not int or version != Leg.SNAPSHOT_VERSION:
            raise SnapshotError("v", f"unsupported version {version!r}")
        missing = [k for k in _SNAPSHOT_KEYS if k not in data]
        if missing:
            raise SnapshotError(missing[0], "missing")
        g = data.__getitem__
        snap = cls(
            _req_str("leg", g("leg")), _req_str("agent_a", g("agent_a")),
            _req_str("agent_b", g("agent_b")), _req_str("customer_ani", g("customer_ani")),
            _req_str("conversation_id", g("conversation_id")),
            _req_str("channel_session_id", g("channel_session_id")),
            _opt_str("call_id", g("call_id")),
            _opt_str("service_identifier", g("service_identifier")),
            _opt_str("associated_dialog_uri", g("associated_dialog_uri")),
            _enum("call", g("call"), CallState), _enum("desk_a", g("desk_a"), DeskState),
            _enum("desk_b", g("desk_b"), DeskState),
            _opt_int("ring_deadline", g("ring_deadline")),
            _opt_int("grace_a_deadline", g("grace_a_deadline")),
            _opt_int("grace_b_deadline", g("grace_b_deadline")),
            _req_int("last_at", g("last_at")), _req_int("ring_ms", g("ring_ms")),
            _req_int("grace_ms", g("grace_ms")),
        )  # fmt: skip
        snap._check_timers()
        return snap

    def _check_timers(self) -> None:
        # A deadline is pending exactly when its region is in a state that arms it.
        for region, slot, armed in _TIMER_CHECKS:
            pending = getattr(self, region) in armed
            if (getattr(self, slot) is not None) != pending:
                raise SnapshotError(
                    slot,
                    f"must be {'set' if pending else 'null'} in state "
                    f"{self.call}/{self.desk_a}/{self.desk_b}",
                )
        if self.ring_ms <= 0 or self.grace_ms <= 0:
            raise SnapshotError("ring_ms" if self.ring_ms <= 0 else "grace_ms", "must be positive")
