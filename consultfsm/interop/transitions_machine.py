"""A real ``transitions`` machine for the leg model, built from the same table.

Use it when you want the ``transitions`` ecosystem (its callbacks, its
diagrams, its introspection) rather than the compiled runtime. Nothing here
re-states behaviour: every transition, condition and effect comes from a row
of :data:`consultfsm.core.table.TABLE`:

* the three regions become the parallel children of one ``leg`` state of a
  ``HierarchicalMachine`` (orthogonal regions, not a hand-written product);
* each row becomes a transition whose trigger is the input's wire name, whose
  conditions are the row's guards, and whose ``after`` callback applies the
  row's timers and builds its events; duplicate and absorbed rows are internal
  transitions (``dest=None``) so they change nothing.

It is slower than :class:`consultfsm.core.leg.Leg` (one ``transitions`` model per
leg, with the bound-method reference cycles that implies) and exists for
integration and for the differential test that keeps the two in agreement.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from transitions import MachineError
from transitions.extensions import HierarchicalMachine
from transitions.extensions.nesting import NestedState

from consultfsm.core.effects import apply_effects
from consultfsm.core.errors import IllegalInput, TimeWentBackwards
from consultfsm.core.guards import GUARDS
from consultfsm.core.leg import Leg, LegFacts, LegState, Step
from consultfsm.core.states import INITIAL, REGION_STATES, TIMER_OF_INPUT, InputKind, Region, Timer
from consultfsm.core.table import TABLE, Disposition, Row

if TYPE_CHECKING:
    pass

ROOT = "leg"


class _State(NestedState):
    # The default separator "_" clashes with our state names (desk_a, ended_by_a).
    separator = "."


class LegMachine(HierarchicalMachine):
    """A ``HierarchicalMachine`` whose states use ``.`` as the separator."""

    state_cls = _State


def state_name(region: Region, state: StrEnum) -> str:
    """The machine's name for a region state, e.g. ``leg.call.ringing``."""
    return f"{ROOT}.{region.value}.{state.value}"


def _states_config() -> list[dict[str, Any]]:
    return [
        {
            "name": ROOT,
            "parallel": [
                {
                    "name": region.value,
                    "children": [s.value for s in REGION_STATES[region]],
                    "initial": INITIAL[region].value,
                }
                for region in Region
            ],
        }
    ]


class LegModel(LegFacts):
    """The model a :class:`LegMachine` drives: the leg's facts, its deadlines,
    and the last step. Its attributes match :class:`consultfsm.core.leg.Leg`'s, so
    the same event builders serve both."""

    state: list[str]  # set by transitions: one "leg.<region>.<state>" per region

    def __init__(self, facts: Leg) -> None:
        """Copy the identifying facts of ``facts`` (a fresh :class:`Leg`, which
        has validated them); the machine starts in the table's initial state."""
        self.copy_facts(facts)
        self.deadlines: dict[Timer, int] = {}
        self.last_at = facts.last_at
        self.last_step: Step | None = None

    # GuardView: what the table's guards read.
    def _region(self, region: Region) -> StrEnum:
        prefix = f"{ROOT}.{region.value}."
        name = next(s for s in self.state if s.startswith(prefix))
        states = REGION_STATES[region]
        return next(s for s in states if s.value == name[len(prefix) :])

    @property
    def leg_state(self) -> LegState:
        """The state of each region, as the runtime reports it."""
        return LegState(*(self._region(r) for r in Region))  # type: ignore[arg-type]

    @property
    def call(self) -> Any:
        """The call region's state."""
        return self._region(Region.CALL)

    @property
    def desk_a(self) -> Any:
        """A's desk region state."""
        return self._region(Region.DESK_A)

    @property
    def desk_b(self) -> Any:
        """B's desk region state."""
        return self._region(Region.DESK_B)

    def deadline(self, timer: Timer) -> int | None:
        """The pending deadline of ``timer``, or None."""
        return self.deadlines.get(timer)

    def feed(self, kind: InputKind, at: int) -> Step:
        """Drive the machine with one input, with the runtime's contract:
        returns a :class:`Step`; raises ``IllegalInput``/``TimeWentBackwards``
        and changes nothing when the input is refused."""
        if at < self.last_at:
            raise TimeWentBackwards(
                self.leg_id,
                str(self.leg_state),
                kind,
                at,
                f"the leg is already at {self.last_at} ms",
            )
        self.last_step = None
        try:
            trigger = getattr(self, kind.value)
            trigger(at=at)
        except MachineError:
            pass
        if self.last_step is None:
            raise IllegalInput(self.leg_id, str(self.leg_state), kind, at, "no transition for it")
        return self.last_step


def _condition(row: Row) -> Any:
    timer = TIMER_OF_INPUT.get(row.input)

    def check(event: Any) -> bool:
        model: LegModel = event.model
        at: int = event.kwargs["at"]
        return all(GUARDS[g](model, timer, at) for g in row.guards)

    return check


def _effect(row: Row) -> Any:
    def apply(event: Any) -> None:
        model: LegModel = event.model
        if row.disposition is Disposition.APPLIED:
            model.last_step = apply_effects(model, model.deadlines, row, event.kwargs["at"])
        else:
            model.last_step = Step(row.disposition, row)

    return apply


def build_machine(model: LegModel) -> LegMachine:
    """A ``transitions`` machine for ``model``, with one transition per table row."""
    machine = LegMachine(
        model=model,
        states=_states_config(),
        initial=ROOT,
        auto_transitions=False,
        send_event=True,
        queued=False,
    )
    for row in TABLE:
        applied = row.disposition is Disposition.APPLIED
        machine.add_transition(
            trigger=row.input.value,
            source=state_name(row.region, row.source),
            dest=state_name(row.region, row.target) if applied else None,
            conditions=[_condition(row)],
            after=[_effect(row)],
        )
    return machine


def new_leg_model(*args: Any, **kwargs: Any) -> LegModel:
    """A :class:`LegModel` with its machine attached, ready for :meth:`LegModel.feed`.
    Takes :class:`Leg`'s arguments (and its validation)."""
    model = LegModel(Leg(*args, **kwargs))
    build_machine(model)
    return model
