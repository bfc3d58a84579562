"""The design note's cases driven from Finesse XML through ``consultfsm replay``,
on UCCE and UCCX (``examples/traces/finesse/``, written by
``tools/finesse_traces.py``): the output is what the note's Agent Desk column
says each desk shows, and the CIM messages each desk sends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cim_schemas import check_record, cim_schemas

from consultfsm.cli import main

ROOT = Path(__file__).resolve().parent.parent
TRACES = ROOT / "examples" / "traces" / "finesse"
PLATFORMS = ("ucce", "uccx")

STARTED = "CALL_LEG_STARTED(CONSULT)"
ENDED = "CALL_LEG_ENDED(CONSULT_ENDED)"
#: case -> (what B's desk shows, what A's desk shows, what B sends, what A sends).
#: From the note (its case list and failover table) and the leg model's desk
#: events; "gone" where a page that was away cannot know the cause (docs/desk.md).
EXPECTED: dict[str, tuple[list[str], list[str], list[str], list[str]]] = {
    "a-dropped-before-accept": (["alert_shown", "alert_removed(dropped_by_a)"], [], [], []),
    "a-dropped-after-accept": (
        ["alert_shown", "alert_removed(accepted)"], [], [STARTED, ENDED], [STARTED, ENDED]),
    "b-never-accepted-rona": (["alert_shown", "alert_removed(rona)"], [], [], []),
    "b-dropped-after-accept": (
        ["alert_shown", "alert_removed(accepted)"], [], [STARTED, ENDED], [STARTED, ENDED]),
    # "Browser-A disconnects and restores and the consult call is still ringing on B."
    "a-restored-still-ringing": (["alert_shown"], ["consult_still_ringing"], [], []),
    # "... after restoring, the consult call has ended due to RONA-B."
    "a-restored-after-rona": (["alert_shown", "alert_removed(rona)"], ["consult_ended(rona)"],
                              [], []),
    # "Agent A will rejoin the same conversation."
    "a-restored-b-on-call": (["alert_shown", "alert_removed(accepted)"],
                             ["rejoin_conversation"], [STARTED], [STARTED]),
    # "Browser-A disconnects and after restoration, [the consult ended]": A is
    # told it ended (who hung up is not in A's list: "gone"); both desks
    # report the end, B's live, A's on return (the CCM keeps one).
    "a-restored-after-end": (["alert_shown", "alert_removed(accepted)"], ["consult_ended(gone)"],
                             [STARTED, ENDED], [STARTED, ENDED]),
    # "The alerting will be restored on the agent B interface."
    "b-disconnected-still-ringing": (["alert_shown", "alert_restored"], [], [], []),
    # "The alerting will be removed ... in case of either RONA or the call is
    # dropped by either Agent."
    "b-disconnected-rona": (["alert_shown", "alert_removed(gone)"], [], [], []),
    "b-disconnected-a-dropped": (["alert_shown", "alert_removed(gone)"], [], [], []),
    # "Agent B refreshes the browser and the call remains active": no second STARTED.
    "b-refresh-call-active": (["alert_shown", "alert_removed(accepted)", "consult_restored"],
                              [], [STARTED], [STARTED]),
    # "... and the call is dropped": the end is not lost.
    "b-refresh-call-dropped": (["alert_shown", "alert_removed(accepted)", "consult_ended(gone)"],
                               [], [STARTED, ENDED], [STARTED, ENDED]),
    # A's desk is not on a transfer's surviving call (docs/desk.md).
    "consult-transfer": (["alert_shown", "alert_removed(accepted)"], [],
                         [STARTED, "CALL_LEG_ENDED(CONSULT_TRANSFER)"], [STARTED, ENDED]),
    "consult-conference": (["alert_shown", "alert_removed(accepted)"], [],
                           [STARTED, "CALL_LEG_ENDED(CONSULT_CONFERENCE)"],
                           [STARTED, "CALL_LEG_ENDED(CONSULT_CONFERENCE)"]),
    "consult-hold-retrieve": (["alert_shown", "alert_removed(accepted)"], [],
                              [STARTED, "CALL_HOLD", "CALL_RESUME", ENDED],
                              [STARTED, "CALL_HOLD", "CALL_RESUME", ENDED]),
}  # fmt: skip
CASES = [(p, name) for p in PLATFORMS for name in EXPECTED]


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _view(records: list[dict[str, Any]], agent: str) -> list[str]:
    return [
        r["event"] + (f"({r['reason']})" if "reason" in r else "")
        for r in records if r["to"] == f"agentdesk:{agent}"
    ]  # fmt: skip


def _sent(records: list[dict[str, Any]], agent: str) -> list[str]:
    out = []
    for r in records:
        if r["event"] == "cim_message" and r["from"] == f"agentdesk:{agent}":
            reason = r["message"]["body"].get("reasonCode")
            out.append(r["intent"] + (f"({reason})" if reason else ""))
    return out


def test_every_case_is_shipped_and_current() -> None:
    shipped = {(p.parent.name, p.name.removesuffix(".jsonl")) for p in TRACES.glob("*/*.jsonl")
               if ".expected" not in p.name}  # fmt: skip
    assert shipped == set(CASES)
    done = subprocess.run([sys.executable, "tools/finesse_traces.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("platform", "name"), CASES)
def test_the_replay_prints_the_expected_output(
    platform: str, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(TRACES / platform / f"{name}.jsonl")]) == 0
    out = capsys.readouterr().out
    assert out == (TRACES / platform / f"{name}.expected.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize(("platform", "name"), CASES)
def test_each_desk_does_what_the_note_says(platform: str, name: str) -> None:
    records = _records(TRACES / platform / f"{name}.expected.jsonl")
    b_view, a_view, b_sends, a_sends = EXPECTED[name]
    assert _view(records, "B") == b_view
    assert _view(records, "A") == a_view
    assert _sent(records, "B") == b_sends
    assert _sent(records, "A") == a_sends


@pytest.mark.parametrize(("platform", "name"), CASES)
def test_every_message_a_desk_sends_is_valid_cim_with_the_customer_s_number(
    platform: str, name: str
) -> None:
    schemas = cim_schemas()
    for record in _records(TRACES / platform / f"{name}.expected.jsonl"):
        if check_record(schemas, record):
            message = record["message"]  # a desk's post, or the event it was published in
            channel = message.get("header", message.get("data", {}).get("header"))["channelData"]
            assert channel["channelCustomerIdentifier"] == "+923001234567"


def _lines(*objs: dict[str, Any]) -> list[str]:
    return [json.dumps(o) for o in objs]


DESK_B = {"at": 0, "input": "agent_desk", "agent": "B", "extension": "7002", "agent_id": "1002"}


def test_bad_finesse_inputs_are_rejected_whole_and_change_nothing() -> None:
    from finesse_builder import Consult

    from consultfsm.replay.system import System

    consult = Consult("ucce")
    consult.dial(0)
    (alert,) = consult.ring(100)["b"]
    system = System()
    system.feed_lines(_lines(DESK_B))
    bad = [
        {"at": 100, "input": "finesse", "agent": "C", "xml": alert},  # no such desk
        {"at": 100, "input": "finesse", "agent": "B", "xml": "<Update><data>"},  # not XML
        {"at": 100, "input": "finesse", "agent": "B"},  # no document
        {"at": 100, "input": "dialogs", "agent": "B", "xml": "<Dialogs/>"},  # page not reading
        {"at": 100, "input": "agent_desk", "agent": "B", "extension": "7002"},  # twice
    ]
    for line in bad:
        (record,) = system.feed_line(json.dumps(line))
        assert record["event"] == "input_rejected", line
    assert system.rejected == len(bad)
    # The desk is as it was: the alert is news to it.
    out = system.feed_line(json.dumps({"at": 100, "input": "finesse", "agent": "B",
                                       "xml": alert}))  # fmt: skip
    assert [r["event"] for r in out] == ["alert_shown"]


def test_a_rejected_input_undoes_a_desk_timer_that_fired_before_it() -> None:
    from finesse_builder import A_EXT, CUSTOMER, CUSTOMER_DIALOG, Consult

    from consultfsm.replay.system import System

    consult = Consult("ucce")
    system = System()
    lines = [{"at": 0, "input": "customer_session_started", "session": "S1", "conversation": "C1",
              "customer_ani": CUSTOMER, "dialog": CUSTOMER_DIALOG}, DESK_B]  # fmt: skip
    consult.dial(0)
    for t, event in ((100, consult.ring(100)), (2_000, consult.answer(2_000)),
                     (9_000, consult.hang_up(9_000, A_EXT))):  # fmt: skip
        lines += [{"at": t, "input": "finesse", "agent": "B", "xml": x} for x in event["b"]]
    system.feed_lines(_lines(*lines))
    # Past the settle deadline (11000), a bad line: the settle fires, then the
    # line is refused; both are undone, and the timer fires before the next one.
    (record,) = system.feed_line(json.dumps({"at": 12_000, "input": "dialogs", "agent": "B",
                                             "xml": "<Dialogs/>"}))  # fmt: skip
    assert record["event"] == "input_rejected" and "settle" in record["reason"]
    out = system.feed_line(json.dumps({"at": 12_000, "input": "tick"}))
    assert [(r["at"], r["event"]) for r in out] == [
        (11_000, "timer_fired"), (11_000, "cim_message"), (11_000, "CALL_LEG_ENDED"),
    ]  # fmt: skip


def test_an_agent_desk_reads_the_customer_s_number_where_the_deployment_puts_it() -> None:
    import re

    from finesse_builder import Consult

    from consultfsm.replay.system import replay

    consult = Consult("uccx")
    consult.dial(0)
    ring = consult.ring(100)["b"][0]
    answer = consult.answer(2_000)["b"][0]

    # The captured deployment's format: callVariable4 as <ANI>_<something>.
    def moved(xml: str) -> str:
        return re.sub(r"<name>callVariable1</name><value>[^<]*</value>",
                      "<name>callVariable4</name><value>01042600114_1</value>", xml)  # fmt: skip

    desk = {**DESK_B, "customer_variable": "callVariable4", "customer_separator": "_"}
    lines = _lines(
        desk,
        {"at": 100, "input": "finesse", "agent": "B", "xml": moved(ring)},
        {"at": 2_000, "input": "finesse", "agent": "B", "xml": moved(answer)},
    )
    result = replay(lines)
    (sent,) = [r for r in result.records if r["event"] == "cim_message"]
    assert sent["message"]["header"]["channelData"]["channelCustomerIdentifier"] == "01042600114"
    bad = replay(_lines({**DESK_B, "customer_part": -1}))
    assert bad.rejected == 1
