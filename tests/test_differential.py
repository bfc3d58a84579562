"""Differential test: the fast path (generated straight-line steps), the plain
path of the same executor, and the ``transitions`` machine built from the
table agree on every generated run, state for state and event for event."""

from __future__ import annotations

from typing import Any

from helpers import attempt
from hypothesis import given
from strategies import Move, configs, moves

from consultfsm.core.errors import InputRejected
from consultfsm.core.executor import Program, apply_plain, compile_table
from consultfsm.core.facts import LegConfig
from consultfsm.core.leg import Leg, leg_class
from consultfsm.core.step import Step
from consultfsm.interop.transitions_machine import new_leg_model
from consultfsm.verify.scenarios import LEG_FACTS

PlainLeg = leg_class(compile_table(fast=False))


def _outcome(result: Step | InputRejected) -> tuple[object, ...]:
    if isinstance(result, InputRejected):
        return ("rejected", type(result).__name__, result.state, result.input)
    key = None if result.row is None else result.row.key
    return ("step", result.disposition, key, result.events)


@given(config=configs(), run=moves())
def test_fast_plain_and_machine_agree(config: LegConfig, run: list[Move]) -> None:
    leg = Leg(**LEG_FACTS, config=config)
    plain = PlainLeg(**LEG_FACTS, config=config)
    model = new_leg_model(**LEG_FACTS, config=config)
    now = 0
    for i, m in enumerate(run):
        at = m.at(now, list(leg.deadlines.values()))
        now = max(now, at)
        results = [
            _outcome(attempt(feed, m.kind, at, m.value))
            for feed in (leg.handle, plain.handle, model.feed)
        ]
        assert results[0] == results[1] == results[2], f"step {i}: {m.kind}@{at}: {results}"
        assert leg.snapshot() == plain.snapshot() == model.leg.snapshot(), f"step {i}"
        assert leg.state == model.leg_state, f"step {i}: {m.kind}@{at}"


def test_the_plain_path_is_plain() -> None:
    """The reference really is the other path: no generated code in its plans."""
    fast, plain = compile_table(), compile_table(fast=False)

    def applies(program: Program) -> set[Any]:
        # A value input's step is kept aside (its plain apply refuses a missing value).
        plans = [p for d in program.dispatch for p in d.values() if p.step is None and p.row]
        return {p.valued_apply if p.valued else p.apply for p in plans} - {None}

    assert applies(fast) and all(
        getattr(a, "__name__", "").startswith("apply_") for a in applies(fast)
    )
    assert all(getattr(a, "func", None) is apply_plain for a in applies(plain))
