"""The transitions machine built from the table behaves like the runtime."""

from __future__ import annotations

import pytest
from helpers import each_case

from consultfsm import Disposition, IllegalInput, InputKind
from consultfsm.core import TABLE
from consultfsm.interop.transitions_machine import build_machine, model_of, new_leg_model
from consultfsm.verify import scenarios
from consultfsm.verify.scenarios import LEG_FACTS, Case


@each_case
def test_machine_and_runtime_agree_on_every_case(case: Case) -> None:
    leg = scenarios.new_leg(case)
    model = model_of(scenarios.new_leg(case))
    for step in scenarios.inputs_of(case):
        args = (step.kind, step.at, step.value)
        assert model.feed(*args, source_at=step.source_at) == leg.handle(
            *args, source_at=step.source_at
        )
        assert model.leg_state == leg.state
    assert model.leg_state == case.final


def test_the_machine_has_one_transition_per_applied_row() -> None:
    # Duplicates and absorbed inputs change nothing, so they are not transitions.
    applied = [row for row in TABLE if row.disposition is Disposition.APPLIED]
    built = build_machine(new_leg_model(**LEG_FACTS))
    count = sum(len(t) for event in built.events.values() for t in event.transitions.values())
    assert count == len(applied)
    assert set(built.events) == {row.input.value for row in applied}


def test_the_machine_rejects_what_the_runtime_rejects() -> None:
    model = new_leg_model(**LEG_FACTS)
    with pytest.raises(IllegalInput):
        model.feed(InputKind.BROWSER_RESTORED_A, 5)
    assert str(model.leg_state) == "initiated/connected/connected/present"
