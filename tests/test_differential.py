"""Differential test: the compiled runtime, the ``transitions`` machine built
from the table, and the row-by-row table interpreter agree on every generated
run, state for state and event for event."""

from __future__ import annotations

from hypothesis import given
from strategies import CUSTOMER_ANI, Move, configs, moves

from consultfsm.core.errors import InputRejected
from consultfsm.core.leg import Leg, LegConfig, Step
from consultfsm.core.table import TABLE
from consultfsm.interop.transitions_machine import new_leg_model
from consultfsm.verify.explore import TableLeg

FACTS = {"conversation_id": "C1", "channel_session_id": "S1", "call_id": "D1"}


def _outcome(result: Step | InputRejected, backwards: bool) -> tuple[object, ...]:
    if isinstance(result, InputRejected):
        # Both illegal and in the past: implementations may name either first.
        return ("rejected",) if backwards else ("rejected", type(result).__name__)
    return ("step", result.disposition, result.row.key, result.events)


@given(config=configs(), run=moves())
def test_runtime_machine_and_table_agree(config: LegConfig, run: list[Move]) -> None:
    leg = Leg("L1", "A", "B", CUSTOMER_ANI, config=config, **FACTS)  # type: ignore[arg-type]
    model = new_leg_model("L1", "A", "B", CUSTOMER_ANI, config=config, **FACTS)
    table_leg = TableLeg(TABLE, Leg("L1", "A", "B", CUSTOMER_ANI, config=config, **FACTS))  # type: ignore[arg-type]
    now = 0
    for i, m in enumerate(run):
        at = m.at(now, list(leg.deadlines.values()))
        now = max(now, at)
        backwards = at < leg.last_at
        results: list[tuple[object, ...]] = []
        for feed in (leg.handle, model.feed, table_leg.handle):
            try:
                results.append(_outcome(feed(m.kind, at), backwards))
            except InputRejected as exc:
                results.append(_outcome(exc, backwards))
        assert results[0] == results[1] == results[2], f"step {i}: {m.kind}@{at}: {results}"
        assert leg.state == model.leg_state == table_leg.state, f"step {i}: {m.kind}@{at}"
        assert leg.deadlines == model.deadlines == table_leg.deadlines, f"step {i}"
