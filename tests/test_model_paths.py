"""Model-based coverage: a shortest path to every row of the table, run as a
test, and every (region state configuration, input) pair enumerated."""

from __future__ import annotations

import functools
import itertools

import attrs
import pytest
from helpers import unchanged

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
    CallState,
    InputKind,
    Region,
    Timer,
)
from consultfsm.core.step import EXPIRY_ABSORBED
from consultfsm.core.table import STATE_TIMERS, TABLE, Row, armed_in
from consultfsm.verify.explore import LegSpec, runtime_leg
from consultfsm.verify.paths import (
    CONFIGS,
    Path,
    expected_events,
    shortest_paths,
    target_of,
    unreachable,
)
from consultfsm.verify.scenarios import LEG_FACTS


@functools.cache
def paths() -> dict[str, Path]:
    # Computed on first use, not at import: the search takes seconds, and
    # collecting this module (as tools/mutation.py does per mutant) should not.
    return shortest_paths()


def test_every_row_is_reachable() -> None:
    # Adding a row no input sequence can reach makes this fail.
    assert unreachable() == []
    assert set(paths()) == {r.key for r in TABLE}


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.key)
def test_shortest_path_reaches_row(row: Row) -> None:
    path = paths().get(row.key)
    assert path is not None, f"no input path reaches {row.key}"
    leg = path.new_leg()
    for at, kind in path.steps[:-1]:
        leg.handle(kind, at, path.value(kind))
    before = leg.state
    at, kind = path.steps[-1]
    step = leg.handle(kind, at, path.value(kind))
    assert step.row is not None and step.row.key == row.key, str(path)
    assert step.disposition is row.disposition
    assert leg.state == target_of(row, before)
    assert tuple(type(e) for e in step.events) == expected_events(row, path.config), str(path)


def test_an_unreachable_row_is_reported() -> None:
    # B's desk cannot be both online and offline: this row can never apply.
    bogus = attrs.evolve(TABLE[0], guards=(Guard.B_ONLINE, Guard.B_OFFLINE))
    table = (*TABLE, bogus)

    bogus_leg = leg_class(table)

    def new_leg(config: LegConfig, spec: LegSpec) -> Leg:
        return bogus_leg.restore(runtime_leg(spec, config).snapshot())

    configs = (CONFIGS[0], CONFIGS[-1])  # a ring window; a queue time to live
    assert unreachable(table, new_leg=new_leg, configs=configs) == [bogus.key]


class _View:
    def __init__(self, state: LegState) -> None:
        self.call, self.desk_a, self.desk_b, self.customer = state


DEADLINE = 1_000
ALL_STATES = [
    LegState(*states)  # type: ignore[arg-type]
    for states in itertools.product(*(REGION_STATES[r] for r in Region))
]
#: A value for each input that carries one: the leg's own agent, a new dialog.
VALUES = {InputKind.OFFERED: "B", InputKind.REKEYED: "D9"}


def _leg_in(state: LegState) -> Leg:
    # A deadline is pending exactly in a state that arms it (snapshot rule).
    def pending(timer: Timer, region_state: object) -> int | None:
        return DEADLINE if region_state in armed_in(timer) else None

    facts = LegFacts(**LEG_FACTS)
    snap = LegSnapshot(
        facts, state.call, state.desk_a, state.desk_b, state.customer,
        pending(Timer.RING, state.call), pending(Timer.QUEUE, state.call),
        pending(Timer.GRACE_A, state.desk_a), pending(Timer.GRACE_B, state.desk_b),
        0, None, (), LegConfig(queue_ttl_ms=DEADLINE),
    )  # fmt: skip
    return Leg.restore(snap)


@pytest.mark.parametrize("call", REGION_STATES[Region.CALL], ids=str)
def test_every_state_input_pair_is_a_row_or_rejected(call: CallState) -> None:
    # One test per call state (each covers every desk and customer state).
    for state in (s for s in ALL_STATES if s.call is call):
        _check_every_input(state)


def _check_every_input(state: LegState) -> None:
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
            value = VALUES.get(kind)
            # A value input is refused without its value (accepts cannot give it one).
            assert leg.accepts(kind, at) == (bool(rows) and value is None), f"{state} {kind}@{at}"
            if rows:
                assert leg.handle(kind, at, value).row == rows[0]
            else:
                with unchanged(leg), pytest.raises(IllegalInput) as info:
                    leg.handle(kind, at, value)
                assert info.value.state == str(state) and info.value.input == kind.value


INPUT_REGION_INDEX = {kind: list(Region).index(region) for kind, region in INPUT_REGION.items()}
