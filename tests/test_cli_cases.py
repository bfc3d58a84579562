"""``consultfsm cases``: the failover table, JSON, one case's timeline, exit codes."""

from __future__ import annotations

import json

import pytest
from helpers import run_python

from consultfsm.cli import main
from consultfsm.verify import scenarios
from consultfsm.verify.scenarios import CASES, Case


def test_table_lists_every_case_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cases"]) == 0
    out = capsys.readouterr().out
    for case in CASES:
        assert case.name in out
    assert f"{len(CASES)} cases: {len(CASES)} pass, 0 fail" in out
    row = next(line for line in out.splitlines() if "b-refresh-after-accept-call-dropped" in line)
    assert "publish CALL_LEG_ENDED(CONSULT_ENDED) by CCM" in row and row.rstrip().endswith("pass")


def test_json_has_one_entry_per_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cases", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == [c.name for c in CASES]
    rona = next(d for d in data if d["name"] == "b-never-accepted")
    assert rona["agentdesk_b"] == ["alert_shown", "alert_removed(rona)"] and rona["ccm"] == []
    assert all(d["passed"] for d in data)


def test_one_case_prints_its_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cases", "a-restored-b-on-call"]) == 0
    out = capsys.readouterr().out
    assert "browser_restored_a" in out and "rejoin_conversation" in out
    assert "final state: accepted/restored/connected" in out


def test_one_case_as_json_has_every_event(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cases", "b-never-accepted", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    events = [e["event"] for m in data["timeline"] for e in m["events"]]
    assert events == ["alert_shown", "timer_started", "alert_removed"]


def test_unknown_case_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cases", "no-such-case"]) == 2
    assert "no case 'no-such-case'" in capsys.readouterr().err


def test_a_failing_case_makes_the_command_fail(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = CASES[0]
    bad = Case(good.name, good.source, good.title, good.steps, good.final, desk_b=("nope",))
    monkeypatch.setattr(scenarios, "CASES", (bad,))
    monkeypatch.setattr("consultfsm.cli.cases.CASES", (bad,))
    assert main(["cases"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "desk_b: expected ['nope']" in out


def test_console_script_runs() -> None:
    assert "a-dropped-before-accept" in run_python("-m", "consultfsm.cli", "cases")
