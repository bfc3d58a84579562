"""Every case of the design note runs against the machine and passes."""

from __future__ import annotations

import re

import pytest
from helpers import design_note, each_case

from consultfsm.core.states import InputKind
from consultfsm.verify.scenarios import CASES, Case, find_case, run_case


@each_case
def test_case_passes(case: Case) -> None:
    result = run_case(case)
    assert result.mismatches == []


def test_every_bullet_and_failover_row_of_the_note_has_a_case() -> None:
    sources = {c.source for c in CASES}
    assert {f"case {n}" for n in range(1, 15)} <= sources
    assert {f"failover {n}" for n in range(1, 10)} <= sources


def test_case_count_matches_the_note() -> None:
    text = design_note()
    cases = text.split("Cases", 1)[1].split("Failover Scenarios", 1)[0]
    bullets = [line for line in cases.splitlines() if line.startswith("- ")]
    assert len(bullets) == 14
    failover = text.split("---|---|---|", 1)[1]
    rows = re.findall(r"^(?:After|Browser)", failover, flags=re.MULTILINE)
    assert len(rows) == 9


def test_a_wrong_expectation_is_reported_as_a_mismatch() -> None:
    case = find_case("b-never-accepted")
    wrong = Case(case.name, case.source, case.title, case.steps, case.final,
                 desk_b=("alert_shown",), ccm=("publish CALL_LEG_STARTED",))  # fmt: skip
    result = run_case(wrong)
    assert not result.passed
    assert any(m.startswith("desk_b: expected") for m in result.mismatches)
    assert any(m.startswith("ccm: expected") for m in result.mismatches)


def test_a_rejected_input_fails_the_case() -> None:
    case = find_case("consult-still-ringing")  # still ringing; B's desk never went away
    broken = Case(case.name, case.source, case.title,
                  (*case.steps, (9_000, InputKind.BROWSER_RESTORED_B)), case.final,
                  desk_a=case.desk_a, desk_b=case.desk_b)  # fmt: skip
    result = run_case(broken)
    assert not result.passed
    assert any("rejected" in m for m in result.mismatches)


def test_find_case_lists_known_names() -> None:
    with pytest.raises(KeyError, match="b-never-accepted"):
        find_case("nope")
