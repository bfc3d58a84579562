"""``consultfsm replay --states``: the states records, against the System's own machines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from consultfsm.ccm.table import CCM_TABLE
from consultfsm.cli import main
from consultfsm.core.states import Region
from consultfsm.core.table import TABLE
from consultfsm.desk.table import DESK_TABLE
from consultfsm.replay.system import System, replay

TRACES = Path(__file__).resolve().parent.parent / "examples" / "traces"
ALL = sorted(p for p in TRACES.rglob("*.jsonl") if ".expected" not in p.name)
IDS = [str(p.relative_to(TRACES)).removesuffix(".jsonl") for p in ALL]
STATE_KEYS = ["at", "leg", "to", "event", "line", "input", "leg_model", "ccm", "desks"]


def _lines(trace: Path) -> list[str]:
    return trace.read_text("utf-8").splitlines()


def _states(records: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["to"] == "review"]


@pytest.mark.parametrize("trace", ALL, ids=IDS)
def test_without_the_states_records_the_output_is_the_plain_one(trace: Path) -> None:
    plain = replay(_lines(trace))
    stated = replay(_lines(trace), states=True)
    assert [r for r in stated.records if r["to"] != "review"] == list(plain.records)
    assert stated.rejected == plain.rejected
    states = _states(stated.records)
    assert states, "every shipped trace moves some machine"
    for r in states:
        assert list(r) == STATE_KEYS and r["event"] == "states"


@pytest.mark.parametrize("trace", ALL, ids=IDS)
def test_the_last_states_of_each_leg_are_the_system_s_own(trace: Path) -> None:
    system = System(states=True)
    records = system.feed_lines(_lines(trace))
    last: dict[str, dict[str, Any]] = {}
    for r in _states(records):
        last[r["leg"]] = r
    legs = {leg.leg_id: leg for leg in system.legs}
    for leg_id, leg in legs.items():  # every leg the replay still holds was reported
        shown = last[leg_id]["leg_model"]["state"]
        assert shown == {r.value: getattr(leg.state, r.value).value for r in Region}
    for leg_id, r in last.items():
        machine = system.ccm.leg(leg_id)
        if machine is not None and r["ccm"] is not None:  # the CCM evicts finished legs
            want = {"call": machine.call.value, "desk_a": machine.desk_a.value,
                    "desk_b": machine.desk_b.value}  # fmt: skip
            assert r["ccm"]["state"] == want


@pytest.mark.parametrize("trace", ALL, ids=IDS)
def test_the_rows_named_are_rows_of_each_machine_s_own_table(trace: Path) -> None:
    leg_keys, ccm_keys = {r.key for r in TABLE}, {r.key for r in CCM_TABLE}
    desk_keys = {r.key for r in DESK_TABLE}
    for r in _states(replay(_lines(trace), states=True).records):
        if r["leg_model"] is not None:
            assert set(r["leg_model"]["rows"]) <= leg_keys
        if r["ccm"] is not None:
            assert set(r["ccm"]["rows"]) <= ccm_keys
        for desk in r["desks"]:
            assert set(desk["rows"]) <= desk_keys


def test_the_rows_are_the_leg_s_own_steps() -> None:
    """issue-sample, by hand from the leg table: each input's row, in order."""
    records = replay(_lines(TRACES / "issue-sample.jsonl"), states=True).records
    got = [(r["line"], r["input"], r["leg_model"]["rows"]) for r in _states(records)]
    assert got == [
        (2, "consult_initiated", []),
        (3, "alerting", ["call:initiated--alerting[b_online]"]),
        (4, "accepted", ["call:ringing--accepted[b_online]"]),
        (5, "browser_disconnected", ["desk_b:connected--browser_disconnected_b[call_live]"]),
        (6, "browser_restored", ["desk_b:disconnected--browser_restored_b[call_on_call]"]),
        (7, "dropped", ["call:accepted--dropped_by_a[b_online]"]),
        (8, "rona", ["call:ended_by_a--rona"]),
    ]
    ccm = [r["ccm"] and r["ccm"]["rows"] for r in _states(records)]
    assert ccm == [None, None, ["unseen--b_started"], [], [], ["talking--b_ended"], None]


def test_a_rejected_input_has_no_states_record() -> None:
    records = replay(_lines(TRACES / "rejected-inputs.jsonl"), states=True).records
    rejected = {r["line"] for r in records if r["event"] == "input_rejected"}
    assert rejected
    assert not rejected & {r["line"] for r in _states(records)}


def test_agent_desks_report_their_own_machines() -> None:
    trace = TRACES / "finesse" / "ucce" / "b-refresh-call-dropped.jsonl"
    desks = [d for r in _states(replay(_lines(trace), states=True).records) for d in r["desks"]]
    assert {d["agent"] for d in desks} == {"A", "B"}
    assert {d["role"] for d in desks if d["agent"] == "B"} == {"b"}
    assert any(d["rows"] for d in desks)
    assert "reading" in {d["state"]["page"] for d in desks}  # B's page came back


def test_the_cli_flag_adds_only_states_lines(capsys: pytest.CaptureFixture[str]) -> None:
    trace = str(TRACES / "rejected-inputs.jsonl")
    assert main(["replay", trace]) == 1
    plain = capsys.readouterr().out.splitlines()
    assert main(["replay", "--states", trace]) == 1  # the exit status is the same
    stated = capsys.readouterr().out.splitlines()
    assert [line for line in stated if '"to":"review"' not in line] == plain
    assert all(json.loads(line)["event"] == "states" for line in stated if line not in plain)
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    assert "--states" in capsys.readouterr().out
