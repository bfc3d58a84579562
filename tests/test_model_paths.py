"""Model-based coverage: a shortest path to every row of the table, run as a
test, and every (region state configuration, input) pair enumerated."""

from __future__ import annotations

import itertools

import attrs
import pytest
from helpers import feed, new_leg, unchanged

from consultfsm.core.errors import IllegalInput
from consultfsm.core.executor import LegState
from consultfsm.core.facts import LegConfig, LegFacts
from consultfsm.core.guards import Guard, holds
from consultfsm.core.leg import Leg, leg_class
from consultfsm.core.snapshot import LegSnapshot
from consultfsm.core.states import (
    INPUT_REGION,
    REGION_STATES,
    TIMER_OF_INPUT,
    InputKind,
    Region,
    Timer,
)
from consultfsm.core.step import EXPIRY_ABSORBED
from consultfsm.core.table import STATE_TIMERS, TABLE, Row, armed_in
from consultfsm.verify.paths import CONFIGS, expected_events, shortest_paths, target_of, unreachable
from consultfsm.verify.scenarios import LEG_FACTS

PATHS = shortest_paths()


def test_every_row_is_reachable() -> None:
    # Adding a row no input sequence can reach makes this fail.
    assert unreachable() == []
    assert set(PATHS) == {r.key for r in TABLE}


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.key)
def test_shortest_path_reaches_row(row: Row) -> None:
    path = PATHS.get(row.key)
    assert path is not None, f"no input path reaches {row.key}"
    leg = new_leg(config=path.config)
    feed(leg, path.steps[:-1])
    before = leg.state
    at, kind = path.steps[-1]
    step = leg.handle(kind, at)
    assert step.row is not None and step.row.key == row.key, str(path)
    assert step.disposition is row.disposition
    assert leg.state == target_of(row, before)
    assert tuple(type(e) for e in step.events) == expected_events(row), str(path)


def test_an_unreachable_row_is_reported() -> None:
    # B's desk cannot be both online and offline: this row can never apply.
    bogus = attrs.evolve(TABLE[0], guards=(Guard.B_ONLINE, Guard.B_OFFLINE))
    table = (*TABLE, bogus)

    bogus_leg = leg_class(table)

    def new_leg(config: LegConfig) -> Leg:
        return bogus_leg(**LEG_FACTS, config=config)

    assert unreachable(table, new_leg=new_leg, configs=CONFIGS[:1]) == [bogus.key]


class _View:
    def __init__(self, state: LegState) -> None:
        self.call, self.desk_a, self.desk_b = state


DEADLINE = 1_000
ALL_STATES = [
    LegState(c, a, b)  # type: ignore[arg-type]
    for c, a, b in itertools.product(*(REGION_STATES[r] for r in Region))
]


def _leg_in(state: LegState) -> Leg:
    # A deadline is pending exactly in a state that arms it (snapshot rule).
    def pending(timer: Timer, region_state: object) -> int | None:
        return DEADLINE if region_state in armed_in(timer) else None

    facts = LegFacts(**LEG_FACTS)
    snap = LegSnapshot(
        facts, state.call, state.desk_a, state.desk_b,
        pending(Timer.RING, state.call), pending(Timer.GRACE_A, state.desk_a),
        pending(Timer.GRACE_B, state.desk_b), 0, LegConfig(),
    )  # fmt: skip
    return Leg.restore(snap)


@pytest.mark.parametrize("state", ALL_STATES, ids=str)
def test_every_state_input_pair_is_a_row_or_rejected(state: LegState) -> None:
    for kind in InputKind:
        region = INPUT_REGION_INDEX[kind]
        timer = TIMER_OF_INPUT.get(kind)
        for at in (DEADLINE - 1, DEADLINE) if timer is not None else (0,):
            leg = _leg_in(state)
            rows = [
                r for r in TABLE
                if r.input is kind and r.source is state[region] and holds(r.guards, _View(state))
            ]  # fmt: skip
            assert len(rows) <= 1, f"{state} {kind}@{at}: rows overlap {[r.key for r in rows]}"
            armed = STATE_TIMERS.get((INPUT_REGION[kind], state[region])) is timer
            if timer is not None and not (armed and at >= DEADLINE):
                # Rule 5: not pending, or not yet due: absorbed, with no row.
                assert leg.accepts(kind, at), f"{state} {kind}@{at}"
                assert leg.handle(kind, at) is EXPIRY_ABSORBED, f"{state} {kind}@{at}"
                continue
            assert leg.accepts(kind, at) == bool(rows), f"{state} {kind}@{at}"
            if rows:
                assert leg.handle(kind, at).row == rows[0]
            else:
                with unchanged(leg), pytest.raises(IllegalInput) as info:
                    leg.handle(kind, at)
                assert info.value.state == str(state) and info.value.input == kind.value


INPUT_REGION_INDEX = {kind: list(Region).index(region) for kind, region in INPUT_REGION.items()}
