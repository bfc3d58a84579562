"""Compiling a transition table: ``compile_table(rows) -> Program``.

The one executor of any table (the real :data:`~consultfsm.core.table.TABLE`
or a modified copy a test builds). :class:`~consultfsm.core.leg.Leg` runs a
:class:`Program`; the verification code and the ``transitions`` adapter run
legs too, so no second interpreter of the rules exists.

A leg's state is packed into one int, a mixed-radix number with one digit
per region (``call``, ``desk_a``, ``desk_b``, ``customer``, most significant
first). A row moves one region from its source to its target whatever the
other regions are, so its effect on the packed state is one constant
``delta``, and a row compiles to one :class:`Plan`, shared by every packed
state in which its guards hold. Guards read states only, so they are resolved
here, once: the dispatch is a list indexed by packed state of dicts from input
to plan, and a step evaluates no guard.

The order of checks for bad input, the same for every input (see
``Leg.handle``): a time that is not an int (``InvalidTime``), then no row
(``IllegalInput``), then a time before the leg's last input
(``TimeWentBackwards``); then rule 5 for timer inputs (absorbed unless
pending and due).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from functools import partial
from itertools import product
from math import prod
from typing import NamedTuple, Protocol

from . import _speed
from .errors import IllegalInput
from .events import Event, TimerCancelled, TimerStarted, build_event
from .facts import WINDOW_FIELD, LegConfig, LegFacts
from .guards import GUARDS
from .states import (
    INPUT_REGION,
    REGION_STATES,
    TIMEOUT_INPUT,
    TIMER_OF_INPUT,
    VALUE_OF_INPUT,
    CallState,
    CustomerState,
    DeskState,
    InputKind,
    Region,
    Timer,
)
from .step import EXPIRY_ABSORBED, Step
from .table import STATE_TIMERS, TABLE, Disposition, Row


class Steppable(Protocol):
    """What a plan steps: a :class:`~consultfsm.core.leg.Leg` (which imports
    this module, so it is named here by shape)."""

    facts: LegFacts
    config: LegConfig
    _state: int
    last_at: int

    @property
    def leg_id(self) -> str: ...
    @property
    def state(self) -> LegState: ...


class LegState(NamedTuple):
    """The state of a leg: one state per region, in :class:`Region` order."""

    call: CallState
    desk_a: DeskState
    desk_b: DeskState
    customer: CustomerState = CustomerState.PRESENT

    def __str__(self) -> str:
        return "/".join(s.value for s in self)


_REGIONS = tuple(Region)
assert LegState._fields == tuple(r.value for r in _REGIONS)

#: packed state -> LegState, and back
DECODE: tuple[LegState, ...] = tuple(
    LegState(*states)  # type: ignore[arg-type]
    for states in product(*(REGION_STATES[r] for r in _REGIONS))
)
ENCODE: dict[LegState, int] = {s: i for i, s in enumerate(DECODE)}
#: How much one step of each region's state index moves the packed state.
_WEIGHT: dict[Region, int] = {
    r: prod(len(REGION_STATES[later]) for later in _REGIONS[i + 1 :])
    for i, r in enumerate(_REGIONS)
}
#: The leg's slot holding each timer's deadline.
DEADLINE_SLOT: dict[Timer, str] = {t: f"{t.value}_deadline" for t in Timer}
_CALL_OF: tuple[CallState, ...] = tuple(s.call for s in DECODE)


class Plan:
    """What one input does in the states where one row (or rule 5) decides it."""

    __slots__ = (
        "apply", "cancel", "cancel_slot", "delta", "due_slot", "fires_slot", "row", "start",
        "start_slot", "step", "valued", "valued_apply", "window_field",
    )  # fmt: skip

    def __init__(self, row: Row | None, due: Timer | None = None) -> None:
        self.row = row
        # A timer input in a state that arms its timer: the row applies only
        # when the deadline is due; otherwise rule 5 absorbs the expiry.
        self.due_slot = None if due is None else DEADLINE_SLOT[due]
        self.step: Step | None = None
        self.apply: Callable[[Steppable, int], Step] = _unreachable
        self.delta = 0
        self.cancel = self.start = None
        self.cancel_slot = self.start_slot = self.fires_slot = self.window_field = ""
        #: An input that carries a value (``VALUE_OF_INPUT``) only steps with
        #: it (``Leg.handle(kind, at, value)``): without, ``apply`` refuses.
        self.valued = row is not None and row.input in VALUE_OF_INPUT
        self.valued_apply: Callable[[Steppable, int], Step] | None = None
        if row is None:
            if due is None:
                self.step = EXPIRY_ABSORBED
            else:
                self.apply = partial(_no_row, TIMEOUT_INPUT[due])
            return
        if row.disposition is not Disposition.APPLIED:
            self.step = Step(row.disposition, row)  # one shared, immutable answer
            return
        source, target = (REGION_STATES[row.region].index(s) for s in (row.source, row.target))
        self.delta = (target - source) * _WEIGHT[row.region]
        self.cancel, self.start = row.cancel, row.start
        self.cancel_slot = "" if row.cancel is None else DEADLINE_SLOT[row.cancel]
        self.start_slot = "" if row.start is None else DEADLINE_SLOT[row.start]
        self.fires_slot = "" if row.fires is None else DEADLINE_SLOT[row.fires]
        self.window_field = "" if row.start is None else WINDOW_FIELD[row.start]
        self.apply = partial(apply_plain, self)


def _unreachable(leg: Steppable, at: int) -> Step:
    raise AssertionError("a plan with a fixed step is never applied")


def missing_value(kind: InputKind, leg: Steppable, at: int) -> Step:
    """The step of a value input given no value: refused, nothing changes."""
    why = f"{kind.value} carries {VALUE_OF_INPUT[kind]}, and none was given"
    raise IllegalInput(leg.leg_id, str(leg.state), kind, at, why)


def _no_row(kind: InputKind, leg: Steppable, at: int) -> Step:
    # A state arms a timer but no row takes its expiry: a broken table.
    raise IllegalInput(leg.leg_id, str(leg.state), kind, at, "the timer is due but no row fires it")


def apply_plain(plan: Plan, leg: Steppable, at: int) -> Step:
    """The applied step of ``plan`` on ``leg``, the plain way (rule 5, then the
    row): cancel the left state's timer, consume a fired one, move, build the
    events from the leg *after* the move, start the entered state's timer.
    :func:`consultfsm.core._speed.compile_applies` generates the same steps."""
    row = plan.row
    assert row is not None
    facts = leg.facts
    events: list[Event] = []
    armed = None if plan.cancel is None else getattr(leg, plan.cancel_slot)
    if armed is not None:  # (a window of None never armed it)
        events.append(TimerCancelled(facts.leg_id, at, plan.cancel, armed))  # type: ignore[arg-type]
        setattr(leg, plan.cancel_slot, None)
    if plan.fires_slot:
        setattr(leg, plan.fires_slot, None)
    leg._state += plan.delta
    leg.last_at = at
    call = _CALL_OF[leg._state]
    for emit in row.emits:
        events.append(build_event(emit.event, facts, call, at, dict(emit.params)))
    window = None if plan.start is None else leg.config.window(plan.start)
    if plan.start is not None and window is not None:  # a window of None: not used
        deadline = at + window
        setattr(leg, plan.start_slot, deadline)
        events.append(TimerStarted(facts.leg_id, at, plan.start, deadline))
    return Step(Disposition.APPLIED, row, tuple(events))


class _StaticView:
    """A GuardView of one packed state (guards read states only)."""

    def __init__(self, state: LegState) -> None:
        self.call, self.desk_a, self.desk_b, self.customer = state


class Program:
    """A table compiled for execution: ``dispatch[packed][input] -> Plan``."""

    def __init__(self, table: tuple[Row, ...], dispatch: tuple[dict[InputKind, Plan], ...]):
        self.table = table
        self.dispatch = dispatch


def compile_table(table: Iterable[Row] = TABLE, *, fast: bool = True) -> Program:
    """Compile ``table`` (rule 3: at most one row per state and input, else
    ``AssertionError`` naming the rows). ``fast=False`` keeps the plain path
    (:func:`apply_plain`) that the differential tests hold the fast one to."""
    rows = tuple(table)
    index: dict[tuple[Region, StrEnum, InputKind], list[Row]] = {}
    for row in rows:
        index.setdefault((row.region, row.source, row.input), []).append(row)
    plans: dict[int, Plan] = {}  # id(row) -> its one plan
    absorbed = Plan(None)
    dispatch: list[dict[InputKind, Plan]] = []
    for state in DECODE:
        view = _StaticView(state)
        by_input: dict[InputKind, Plan] = {}
        for kind in InputKind:
            region = INPUT_REGION[kind]
            source = state[_REGIONS.index(region)]
            timer = TIMER_OF_INPUT.get(kind)
            armed = timer is not None and STATE_TIMERS.get((region, source)) is timer
            if timer is not None and not armed:
                by_input[kind] = absorbed  # rule 5: that timer cannot be pending here
                continue
            live = [
                r for r in index.get((region, source, kind), ())
                if all(GUARDS[g](view) for g in r.guards)
            ]  # fmt: skip
            if len(live) > 1:
                raise AssertionError(f"rows overlap in {state}: {[r.key for r in live]}")
            if live:
                row = live[0]
                if id(row) not in plans:
                    plans[id(row)] = Plan(row, timer)
                by_input[kind] = plans[id(row)]
            elif armed:
                by_input[kind] = Plan(None, timer)  # due and no row: IllegalInput
        dispatch.append(by_input)
    if fast:
        applied = [p for p in plans.values() if p.step is None]
        _speed.compile_applies(applied, _CALL_OF)
    for plan in plans.values():
        if plan.valued:  # the real step is kept for Leg's value path
            plan.valued_apply = plan.apply if plan.step is None else None
            plan.apply, plan.step = partial(missing_value, plan.row.input), None  # type: ignore[union-attr]
    return Program(rows, tuple(dispatch))
