"""``verify.ccm.case_states``: each case run through the composition, observed.

The states and rows come from the machines' own steps; these tests hold them
against the composed world itself and against the machines' tables."""

from __future__ import annotations

import pytest

from consultfsm.ccm.table import CCM_TABLE, TERMINAL
from consultfsm.desk.table import DESK_TABLE, DeskRole
from consultfsm.verify.ccm import SETTLED, case_states, ccm_state, run_case_through_ccm
from consultfsm.verify.scenarios import CASES, Case, inputs_of

DESK_ROWS = {r.key: r for r in DESK_TABLE}
CCM_ROWS = {r.key: r for r in CCM_TABLE}
IDS = [c.name for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_last_states_are_the_composed_world_s_own(case: Case) -> None:
    steps, world = case_states(case)
    assert [s.input for s in steps] == [*(i.kind.value for i in inputs_of(case)), SETTLED]
    last = steps[-1]
    for role in DeskRole:
        desk = world.desks[role]
        want = None if desk is None else {"call": desk.call.value, "page": desk.page.value}
        assert last.desks[role].state == want, role
    machine = world.ccm_leg()
    if machine is not None:
        assert last.ccm.state == ccm_state(machine)
    else:  # the CCM has let go of a finished leg: its last state was a terminal one
        assert last.ccm.state is None or last.ccm.state["call"] in {c.value for c in TERMINAL}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_row_is_a_row_of_its_machine_s_table_and_leads_to_the_state(case: Case) -> None:
    steps, _ = case_states(case)
    for step in steps:
        for role, desk in step.desks.items():
            for key in desk.rows:
                assert key in DESK_ROWS and DESK_ROWS[key].role is role, key
            if desk.rows:  # the last row taken put the desk where it is
                assert desk.state is not None
                assert DESK_ROWS[desk.rows[-1]].target.value == desk.state["call"]
        for key in step.ccm.rows:
            assert key in CCM_ROWS, key
        if step.ccm.rows:
            assert step.ccm.state is not None
            assert CCM_ROWS[step.ccm.rows[-1]].target.value == step.ccm.state["call"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_observing_the_run_changes_nothing_it_publishes(case: Case) -> None:
    steps, world = case_states(case)
    got, _ = run_case_through_ccm(case)
    published = [p.rpartition(" by ")[0] for s in steps for p in s.published]
    assert tuple(published) == got
    assert len(world.published) == len(published)


def test_some_case_takes_rows_of_every_machine() -> None:
    runs = [case_states(c)[0] for c in CASES]
    assert any(d.rows for steps in runs for s in steps for d in s.desks.values())
    assert any(s.ccm.rows for steps in runs for s in steps)


def _posted(name: str) -> list[str]:
    steps, _ = case_states(next(c for c in CASES if c.name == name))
    return [f"{m.role.value}:{m.intent.value}" for s in steps for m in s.posted]


def test_what_the_desks_posted_is_what_the_design_note_s_cases_say() -> None:
    # The design note: B's desk posts the start when B accepts and the end
    # when the leg ends; a consult B never accepted posts nothing at all.
    posted = _posted("b-dropped-after-accept")
    assert [p for p in posted if p.startswith("b:")] == ["b:CALL_LEG_STARTED", "b:CALL_LEG_ENDED"]
    assert _posted("b-never-accepted") == []
    assert _posted("a-dropped-before-accept") == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_message_a_desk_posted_is_in_one_step_in_order(case: Case) -> None:
    steps, world = case_states(case)
    assert [m for s in steps for m in s.posted] == world.posted
    assert all(a.at <= b.at for a, b in zip(world.posted, world.posted[1:], strict=False))
