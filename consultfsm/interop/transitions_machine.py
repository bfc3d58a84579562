"""A real ``transitions`` machine for the leg model, built from the same table.

Use it when you want the ``transitions`` ecosystem (its callbacks, its
diagrams, its introspection) around a leg. It is a view of the one executor,
not a second one:

* the regions become the parallel children of one ``leg`` state of a
  ``HierarchicalMachine`` (orthogonal regions, not a hand-written product);
* each applied row becomes a transition whose trigger is the input's wire
  name and whose conditions are the row's guards (duplicates and absorbed
  inputs change nothing, so they are not transitions);
* :meth:`LegModel.feed` lets the model's :class:`~consultfsm.core.leg.Leg`
  decide (the same checks in the same order, the same effects), then fires the
  transition, and checks that ``transitions`` picked the row the leg applied.

It is slower than a bare :class:`~consultfsm.core.leg.Leg` (one
``transitions`` model per leg, with the bound-method reference cycles that
implies) and exists for integration and for the test that keeps the machine's
shape equal to the table's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from transitions.extensions import HierarchicalMachine
from transitions.extensions.nesting import NestedState

from consultfsm.core.executor import LegState
from consultfsm.core.guards import GUARDS
from consultfsm.core.leg import Leg
from consultfsm.core.states import REGION_STATES, InputKind, Region, Timer
from consultfsm.core.step import Step
from consultfsm.core.table import Disposition, Row

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


def _states_config(start: LegState) -> list[dict[str, Any]]:
    return [
        {
            "name": ROOT,
            "parallel": [
                {
                    "name": region.value,
                    "children": [s.value for s in REGION_STATES[region]],
                    "initial": start[i].value,
                }
                for i, region in enumerate(Region)
            ],
        }
    ]


class LegModel:
    """The model a :class:`LegMachine` drives: a :class:`Leg` that decides, and
    the machine's own view of the region states."""

    state: list[str]  # set by transitions: one "leg.<region>.<state>" per region

    def __init__(self, leg: Leg) -> None:
        """Drive ``leg`` (the machine starts in the leg's current state: a
        fresh leg's, or a queue consult's ``queued``)."""
        self.leg = leg
        self._applied: Row | None = None

    # GuardView: what the table's guards read, from the machine's own states.
    def _region(self, region: Region) -> StrEnum:
        prefix = f"{ROOT}.{region.value}."
        name = next(s for s in self.state if s.startswith(prefix))
        states = REGION_STATES[region]
        return next(s for s in states if s.value == name[len(prefix) :])

    @property
    def leg_state(self) -> LegState:
        """The state of each region, as the machine holds it."""
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

    @property
    def customer(self) -> Any:
        """The customer region's state."""
        return self._region(Region.CUSTOMER)

    @property
    def deadlines(self) -> dict[Timer, int]:
        """The leg's pending deadlines."""
        return self.leg.deadlines

    def feed(
        self, kind: InputKind, at: int, value: str | None = None, *, source_at: int | None = None
    ) -> Step:
        """Drive the leg and the machine with one input: the leg's contract
        (a :class:`Step`; typed errors that change nothing)."""
        step = self.leg.handle(kind, at, value, source_at=source_at)
        if step.applied:
            self._applied = None
            getattr(self, kind.value)(row=step.row)
            if self._applied is not step.row or self.leg_state != self.leg.state:
                raise AssertionError(
                    f"transitions took {self._applied} for {kind} in {self.leg_state}; "
                    f"the leg applied {step.row}"
                )
        return step


def _condition(row: Row) -> Any:
    def check(event: Any) -> bool:
        return all(GUARDS[g](event.model) for g in row.guards)

    return check


def _taken(row: Row) -> Any:
    def record(event: Any) -> None:
        event.model._applied = row

    return record


def build_machine(model: LegModel) -> LegMachine:
    """A ``transitions`` machine for ``model``, with one transition per applied
    row of the table its leg runs (the real one, or a ``leg_class`` table)."""
    machine = LegMachine(
        model=model,
        states=_states_config(model.leg.state),
        initial=ROOT,
        auto_transitions=False,
        send_event=True,
        queued=False,
    )
    for row in type(model.leg).program.table:
        if row.disposition is Disposition.APPLIED:
            machine.add_transition(
                trigger=row.input.value,
                source=state_name(row.region, row.source),
                dest=state_name(row.region, row.target),
                conditions=[_condition(row)],
                after=[_taken(row)],
            )
    return machine


def new_leg_model(*args: Any, **kwargs: Any) -> LegModel:
    """A :class:`LegModel` with its machine attached, ready for :meth:`LegModel.feed`.
    Takes :class:`Leg`'s arguments (and its validation)."""
    return model_of(Leg(*args, **kwargs))


def model_of(leg: Leg) -> LegModel:
    """A :class:`LegModel` driving ``leg`` (any leg, e.g. ``Leg.queue_consult``)."""
    model = LegModel(leg)
    build_machine(model)
    return model
