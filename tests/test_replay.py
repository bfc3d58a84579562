"""``consultfsm replay`` on every shipped example trace, and its CLI contract."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cim_schemas import check_record, cim_schemas

from consultfsm.cli import main
from consultfsm.replay.system import System, replay

TRACES = Path(__file__).resolve().parent.parent / "examples" / "traces"
NAMES = sorted(
    p.name.removesuffix(".jsonl") for p in TRACES.glob("*.jsonl") if ".expected" not in p.name
)
#: Traces that contain deliberately bad inputs (exit status 1).
WITH_REJECTIONS = {"rejected-inputs"}


def _run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["replay", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def _records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


#: The platform's consult flows, and what the conversation topic and the
#: Routing Engine must see of each, per leg, in order: (leg, event, reason,
#: reported_by) and (leg, event, reason or direction). Written from the
#: domain, not from the replay's output.
FLOWS: dict[str, tuple[list[tuple[str, str, str | None, str]], list[tuple[str, str, str | None]]]]
FLOWS = {
    # B answers 150 ms after the leg's own ring deadline: the CTI's answer wins.
    "answer-after-ring-deadline": (
        [("L1", "CALL_LEG_STARTED", "CONSULT", "agentdesk:B"),
         ("L1", "CALL_LEG_ENDED", "CONSULT_ENDED", "agentdesk:B")],
        [("L1", "task_created", None), ("L1", "task_closed", "dropped_by_b")],
    ),
    # Dialled to B's extension: no RONA window, it rings 50 s and is answered.
    "direct-consult": (
        [("L1", "CALL_LEG_STARTED", "CONSULT", "agentdesk:B"),
         ("L1", "CALL_LEG_ENDED", "CONSULT_ENDED", "agentdesk:B")],
        [("L1", "task_created", None), ("L1", "task_closed", "dropped_by_a")],
    ),
    # The customer hangs up: the consult goes on until B hangs up.
    "customer-left-consult-goes-on": (
        [("L1", "CALL_LEG_STARTED", "CONSULT", "agentdesk:B"),
         ("L1", "CALL_LEG_ENDED", "CONSULT_ENDED", "agentdesk:B")],
        [("L1", "task_created", None), ("L1", "task_closed", "dropped_by_b")],
    ),
    # A transfers: the leg ends as a transfer, B's task carries on as one.
    "consult-transfer": (
        [("L1", "CALL_LEG_STARTED", "CONSULT", "agentdesk:B"),
         ("L1", "CALL_LEG_ENDED", "CONSULT_TRANSFER", "agentdesk:B")],
        [("L1", "task_created", None), ("L1", "task_converted", "CONSULT_TRANSFER")],
    ),
    # A conferences while B's browser is away: A's desk, which sees the
    # consult dialog too, tells the CCM.
    "consult-conference": (
        [("L1", "CALL_LEG_STARTED", "CONSULT", "agentdesk:B"),
         ("L1", "CALL_LEG_ENDED", "CONSULT_CONFERENCE", "agentdesk:A")],
        [("L1", "task_created", None), ("L1", "task_converted", "CONSULT_CONFERENCE")],
    ),
    # Two holds, each published once; the duplicates and re-sends are not.
    "consult-hold-retrieve": (
        [("L1", "CALL_LEG_STARTED", "CONSULT", "agentdesk:B"),
         ("L1", "CALL_HOLD", None, "agentdesk:B"), ("L1", "CALL_RESUME", None, "agentdesk:B"),
         ("L1", "CALL_HOLD", None, "agentdesk:B"), ("L1", "CALL_RESUME", None, "agentdesk:B"),
         ("L1", "CALL_LEG_ENDED", "CONSULT_ENDED", "agentdesk:B")],
        [("L1", "task_created", None), ("L1", "task_closed", "dropped_by_a")],
    ),
    # A new dialog id changes nothing of the leg's life.
    "rekeyed-dialog": (
        [("L1", "CALL_LEG_STARTED", "CONSULT", "agentdesk:B"),
         ("L1", "CALL_LEG_ENDED", "CONSULT_ENDED", "agentdesk:B")],
        [("L1", "task_created", None), ("L1", "task_closed", "dropped_by_b")],
    ),
    # Offered to B, who lets it ring out; re-offered as a new leg to C, who answers.
    "queue-consult-reoffered": (
        [("Q2", "CALL_LEG_STARTED", "CONSULT", "agentdesk:C"),
         ("Q2", "CALL_LEG_ENDED", "CONSULT_ENDED", "agentdesk:C")],
        [("Q2", "task_created", None), ("Q2", "task_closed", "dropped_by_a")],
    ),
    # B is logged out mid-call (A's desk reports L1's end), then answers L2
    # while still logged out: A's desk reports it, and the CCM, which has
    # never heard from B's desk on L2, waits for B's report before it
    # publishes the start itself; B logs back in before hanging up.
    "agent-logged-out": (
        [("L1", "CALL_LEG_STARTED", "CONSULT", "agentdesk:B"),
         ("L1", "CALL_LEG_ENDED", "CONSULT_ENDED", "agentdesk:A"),
         ("L2", "CALL_LEG_STARTED", "CONSULT", "ccm"),
         ("L2", "CALL_LEG_ENDED", "CONSULT_ENDED", "agentdesk:B")],
        [("L1", "task_created", None), ("L1", "task_closed", "dropped_by_a"),
         ("L2", "task_created", None), ("L2", "task_closed", "dropped_by_b")],
    ),
    # A hold re-delivered after the retrieve is old news: one hold.
    "stale-cti-report": (
        [("L1", "CALL_LEG_STARTED", "CONSULT", "agentdesk:B"),
         ("L1", "CALL_HOLD", None, "agentdesk:B"), ("L1", "CALL_RESUME", None, "agentdesk:B"),
         ("L1", "CALL_LEG_ENDED", "CONSULT_ENDED", "agentdesk:B")],
        [("L1", "task_created", None), ("L1", "task_closed", "dropped_by_a")],
    ),
}  # fmt: skip


def test_the_note_cases_are_all_shipped() -> None:
    expected = {
        "issue-sample", "rona", "a-dropped-before-accept", "b-refresh-call-dropped",
        "a-restored-b-on-call", "ccx-ani", "ucce-dialog-uri", "two-desks-duplicates",
    }  # fmt: skip
    assert expected <= set(NAMES)
    assert set(FLOWS) <= set(NAMES)
    for name in NAMES:
        assert (TRACES / f"{name}.expected.jsonl").is_file(), name


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_each_flow_publishes_what_the_domain_says(name: str) -> None:
    records = _records((TRACES / f"{name}.expected.jsonl").read_text(encoding="utf-8"))
    conversation, tasks = FLOWS[name]
    assert [
        (r["leg"], r["event"], r.get("reason"), r["reported_by"])
        for r in records if r["to"] == "conversation"
    ] == conversation  # fmt: skip
    assert [
        (r["leg"], r["event"], r.get("reason", r.get("direction")))
        for r in records if r["to"] == "routing_engine"
    ] == tasks  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_replay_matches_the_expected_output(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run_cli(capsys, str(TRACES / f"{name}.jsonl"))
    assert out == (TRACES / f"{name}.expected.jsonl").read_text(encoding="utf-8")
    assert status == (1 if name in WITH_REJECTIONS else 0), err


@pytest.mark.parametrize("name", NAMES)
def test_exactly_once_on_the_conversation_per_accepted_leg(name: str) -> None:
    records = replay((TRACES / f"{name}.jsonl").read_text(encoding="utf-8").split("\n")).records
    accepted = {
        r["leg"] for r in records if r["event"] == "alert_removed" and r["reason"] == "accepted"
    }
    accepted |= {r["leg"] for r in records if r["event"] == "task_created"}
    published = Counter((r["leg"], r["event"]) for r in records if r["to"] == "conversation")
    tasks = Counter((r["leg"], r["event"]) for r in records if r["to"] == "routing_engine")
    legs = {r["leg"] for r in records if r["event"] == "session_resolved"}
    for leg in legs:
        if leg in accepted:
            assert published[(leg, "CALL_LEG_STARTED")] == 1, (name, leg)
            assert published[(leg, "CALL_LEG_ENDED")] == 1, (name, leg)
            # B's task: created once, then closed, or converted (transfer, conference).
            assert tasks[(leg, "task_created")] == 1, (name, leg)
            assert tasks[(leg, "task_closed")] + tasks[(leg, "task_converted")] == 1, (name, leg)
            on_topic = [
                r["event"] for r in records if r["leg"] == leg and r["to"] == "conversation"
            ]
            assert on_topic[0] == "CALL_LEG_STARTED" and on_topic[-1] == "CALL_LEG_ENDED"
            holds = on_topic[1:-1]  # CALL_HOLD, CALL_RESUME, ... in between, alternating
            assert holds == ["CALL_HOLD", "CALL_RESUME"] * (len(holds) // 2) + (
                ["CALL_HOLD"] if len(holds) % 2 else []
            ), (name, leg)
        else:  # never accepted: nothing published, no task
            assert not any(r["leg"] == leg and r["to"] in ("conversation", "routing_engine")
                           for r in records), (name, leg)  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_every_emitted_cim_object_validates(name: str) -> None:
    schemas = cim_schemas()
    records = replay((TRACES / f"{name}.jsonl").read_text(encoding="utf-8").split("\n")).records
    checked = sum(check_record(schemas, r) for r in records)
    assert checked == sum(
        1 for r in records if r["event"] == "cim_message" or r["to"] == "conversation"
    )


@pytest.mark.parametrize("name", NAMES)
def test_every_line_has_the_documented_keys(name: str) -> None:
    text = (TRACES / f"{name}.expected.jsonl").read_text(encoding="utf-8")
    for record in _records(text):
        assert list(record)[:4] == ["at", "leg", "to", "event"]
        assert record["to"] in {
            "ccm",
            "conversation",
            "routing_engine",
            "agent_manager",
            "host",
        } or (record["to"].startswith("agentdesk:"))


def test_the_timers_of_the_flows_are_what_the_domain_says() -> None:
    def host(name: str) -> list[tuple[int, str, str | None]]:
        text = (TRACES / f"{name}.expected.jsonl").read_text(encoding="utf-8")
        return [(r["at"], r["event"], r.get("timer")) for r in _records(text) if r["to"] == "host"]

    # A direct consult has no RONA window: nothing to arm, fire or cancel.
    assert host("direct-consult") == []
    # The ring window passes 150 ms before the answer: the alert goes, the
    # answer brings the consult back on B's desk, STARTED as on any answer.
    late = _records((TRACES / "answer-after-ring-deadline.expected.jsonl").read_text("utf-8"))
    assert [(r["at"], r["event"], r.get("reason")) for r in late[3:7]] == [
        (15200, "timer_fired", None), (15200, "alert_removed", "rona"),
        (15350, "consult_answered", None), (15350, "cim_message", None),
    ]  # fmt: skip
    # A queue consult's time to live runs from its creation until it is offered.
    assert host("queue-consult-reoffered")[:2] == [
        (100, "timer_started", "queue"), (2000, "timer_cancelled", "queue")
    ]  # fmt: skip


def test_every_conversation_event_and_cim_message_has_its_own_id() -> None:
    """Message ids are idempotency keys: never one id for two different
    reports (two holds of one leg included) in any shipped trace."""
    for name in NAMES:
        records = replay((TRACES / f"{name}.jsonl").read_text(encoding="utf-8").split("\n")).records
        sent = [r for r in records if r["event"] == "cim_message" or r["to"] == "conversation"]
        ids = Counter(r["message"]["id"] for r in sent)
        assert all(n == 1 for n in ids.values()), (name, ids)


def test_the_issue_sample_publishes_started_then_ended_from_b(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = _run_cli(capsys, str(TRACES / "issue-sample.jsonl"))
    conversation = [r for r in _records(out) if r["to"] == "conversation"]
    assert [(r["at"], r["event"], r["reported_by"]) for r in conversation] == [
        (900, "CALL_LEG_STARTED", "agentdesk:B"),
        (5000, "CALL_LEG_ENDED", "agentdesk:B"),
    ]
    assert conversation[0]["channel_session"]["id"] == "S1"


def test_stdin_is_read_with_a_dash(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (TRACES / "rona.jsonl").read_text(encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    status, out, _ = _run_cli(capsys, "-")
    assert status == 0
    assert out == (TRACES / "rona.expected.jsonl").read_text(encoding="utf-8")


def test_rejections_give_exit_status_1_and_a_note_on_stderr(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trace = tmp_path / "bad.jsonl"
    trace.write_text('{"at": 0, "input": "alerting", "leg": "L1"}\n\n{"at": 1, "input": "tick"}\n')
    status, out, err = _run_cli(capsys, str(trace))
    assert status == 1
    (rejected,) = _records(out)
    assert rejected["event"] == "input_rejected" and rejected["line"] == 1
    assert "1 input(s) rejected" in err


def test_unreadable_trace_is_exit_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, err = _run_cli(capsys, str(tmp_path / "missing.jsonl"))
    assert (status, out) == (2, "")
    assert "cannot read" in err
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    status, out, err = _run_cli(capsys, str(binary))
    assert (status, out) == (2, "")


def test_bad_options_are_exit_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run_cli(capsys, "--region", "XX", str(TRACES / "rona.jsonl"))
    assert status == 2 and "XX" in err
    status, _, err = _run_cli(capsys, "--service-identifier", " ", str(TRACES / "rona.jsonl"))
    assert status == 2 and "serviceIdentifier" in err
    # Was exit 1 with every message refused (an adversarial review): what a
    # shell's byte \xff becomes in argv, a lone surrogate, can be written nowhere.
    status, out, err = _run_cli(capsys, "--service-identifier", "\udcff",
                                str(TRACES / "rona.jsonl"))  # fmt: skip
    assert status == 2 and "serviceIdentifier" in err and out == ""
    with pytest.raises(SystemExit) as info:
        main(["replay"])
    assert info.value.code == 2


def test_help_documents_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    out = capsys.readouterr().out
    for line in ("0  every input was accepted", "1  at least one input was rejected", "2  usage"):
        assert line in out


def test_options_change_the_wire_form(capsys: pytest.CaptureFixture[str]) -> None:
    trace = str(TRACES / "issue-sample.jsonl")
    _, out, _ = _run_cli(capsys, "--timestamps", "epoch_ms", "--service-identifier", "8001", trace)
    (cim, *_) = [r for r in _records(out) if r["event"] == "cim_message"]
    assert cim["message"]["header"]["timestamp"] == 900
    assert cim["message"]["header"]["channelData"]["serviceIdentifier"] == "8001"


def test_replay_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    trace = str(TRACES / "two-desks-duplicates.jsonl")
    first = _run_cli(capsys, trace)
    assert _run_cli(capsys, trace) == first


@pytest.mark.parametrize(
    "last",
    [
        '{"at":400000000000000,"input":"accepted","leg":"L1"}',
        '{"at":10000000000000000000000000,"input":"tick"}',
        '{"at":150,"input":"config","epoch_ms":253402300799900}',
    ],
)
def test_no_input_gives_a_traceback_only_a_rejection(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, last: str
) -> None:
    trace = tmp_path / "late.jsonl"
    trace.write_text(
        '{"at":0,"input":"customer_session_started","session":"S1","conversation":"C1",'
        '"customer_ani":"+923001234567"}\n'
        '{"at":100,"input":"consult_initiated","leg":"L1","agent_a":"A","agent_b":"B",'
        '"customer_ani":"+923001234567"}\n'
        f"{last}\n"
        '{"at":900,"input":"accepted","leg":"L1"}\n'
    )
    status, out, err = _run_cli(capsys, str(trace))
    assert status == 1 and "Traceback" not in err
    records = _records(out)
    (rejected,) = [r for r in records if r["event"] == "input_rejected"]
    assert rejected["line"] == 3 and "9999" in rejected["reason"]
    # ... and the replay went on, from where it was: the leg is accepted at 900.
    assert [r["event"] for r in records if r["to"] == "conversation"] == ["CALL_LEG_STARTED"]


def test_the_replay_streams_each_line_s_records_as_it_goes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Line 1's record is written before line 2 is read: a trace that stops
    # being UTF-8 on line 2 still shows what line 1 did, then exit status 2.
    trace = tmp_path / "half.jsonl"
    trace.write_bytes(b'{"at": 0, "input": "alerting", "leg": "L1"}\n\xff\xfe\n')
    status, out, err = _run_cli(capsys, str(trace))
    assert status == 2 and "cannot read" in err
    (rejected,) = _records(out)
    assert rejected["event"] == "input_rejected" and rejected["line"] == 1


# --- the CLI's own faults (issue 15, defect 8) ------------------------------------------


def _cli(*args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "consultfsm", "replay", *args],
                          capture_output="stdout" not in kw, timeout=120, check=False,
                          **kw)  # fmt: skip


def test_a_trace_saved_with_a_utf8_bom_is_read_from_its_first_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = (TRACES / "issue-sample.jsonl").read_text(encoding="utf-8")
    with_bom = tmp_path / "bom.jsonl"
    with_bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    status, out, _ = _run_cli(capsys, str(with_bom))
    assert status == 0
    assert out == (TRACES / "issue-sample.expected.jsonl").read_text(encoding="utf-8")


def test_the_same_bad_bytes_are_exit_2_from_stdin_as_from_a_file(tmp_path: Path) -> None:
    data = b'{"at": 0, "input": "tick"}\n\xff\n'
    trace = tmp_path / "bad.jsonl"
    trace.write_bytes(data)
    from_file = _cli(str(trace))
    from_stdin = _cli("-", input=data)
    assert from_file.returncode == from_stdin.returncode == 2
    assert b"line 2 is not UTF-8" in from_file.stderr and b"line 2" in from_stdin.stderr
    assert b"Traceback" not in from_file.stderr + from_stdin.stderr


def test_a_closed_stdin_is_exit_2_not_a_traceback() -> None:
    done = _cli("-", preexec_fn=lambda: os.close(0))
    assert done.returncode == 2, done.stderr
    assert b"stdin is closed" in done.stderr and b"Traceback" not in done.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_is_exit_2_not_a_traceback() -> None:
    with open("/dev/full", "wb") as full:
        done = _cli(str(TRACES / "issue-sample.jsonl"), stdout=full, stderr=subprocess.PIPE)
    assert done.returncode == 2
    assert b"cannot write the output" in done.stderr and b"Traceback" not in done.stderr


def test_a_reader_that_goes_away_is_no_traceback_and_exit_0(tmp_path: Path) -> None:
    """A reader that goes away (``| head``) ends the replay as it ends every
    other command: quietly, status 0 (it was 2, the status of a full disk)."""
    trace = tmp_path / "long.jsonl"
    lines = [(TRACES / "issue-sample.jsonl").read_text(encoding="utf-8")]
    trace.write_text(
        "".join(lines) + "".join(f'{{"at": {10_000 + i}, "input": "tick"}}\n' for i in range(10)),
        encoding="utf-8",
    )
    proc = subprocess.Popen([sys.executable, "-m", "consultfsm", "replay", str(trace)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()  # like `| head -c 10`
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0
    assert b"Traceback" not in err and not err


def test_a_session_started_again_while_its_end_is_remembered_is_a_rejected_input() -> None:
    """Was a traceback (a review of the change that made the CCM refuse it)."""
    system = System()
    start = ('{"at":%d,"input":"customer_session_started","session":"S1","conversation":"%s",'
             '"customer_ani":"+923001234567"}')  # fmt: skip
    system.feed_line(start % (0, "C1"))
    system.feed_line('{"at":50,"input":"customer_session_ended","session":"S1"}')
    (rejected,) = system.feed_line(start % (100, "C2"))
    assert rejected["event"] == "input_rejected" and "S1" in rejected["reason"]


def test_a_consult_naming_an_ended_call_more_strongly_than_a_live_one_is_rejected() -> None:
    """The CCM publishes a consult whose dialog URI names an ended call there,
    whatever live call its ANI finds: the replay must not file the leg under
    the live one (its records said C2, its publications C1). A consult begun
    for a call whose customer left is refused, naming both."""
    system = System()
    for line in (
        '{"at":0,"input":"customer_session_started","session":"S1","conversation":"C1",'
        '"customer_ani":"+923001234567","dialog":"D1"}',
        '{"at":50,"input":"customer_session_ended","session":"S1"}',
        '{"at":60,"input":"customer_session_started","session":"S2","conversation":"C2",'
        '"customer_ani":"+923001234567","dialog":"D5"}',
    ):
        system.feed_line(line)
    (rejected,) = system.feed_line(
        '{"at":100,"input":"consult_initiated","leg":"L1","agent_a":"A","agent_b":"B",'
        '"customer_ani":"+923001234567","associated_dialog_uri":"/finesse/api/Dialog/D1"}'
    )
    assert rejected["event"] == "input_rejected"
    assert "'S1'" in rejected["reason"] and "'S2'" in rejected["reason"]


def test_a_null_agents_list_counts_as_absent() -> None:
    """Was a rejected line (an adversarial review): the format says a null
    value counts as absent, and ``"agents": null`` was no list of agents."""
    line = ('{"at":0,"input":"customer_session_started","session":"S1","conversation":"C1",'
            '"customer_ani":"+923001234567","agents":%s}')  # fmt: skip
    records = [System().feed_line(line % value) for value in ("null", "[]")]
    assert records[0] == records[1]
    assert all(r["event"] != "input_rejected" for r in records[0])
    # A line naming a known input with a bad field says which input it was
    # (it said null, as for a line naming none).
    (rejected,) = System().feed_line(line % '"A"')
    assert (rejected["event"], rejected["input"]) == ("input_rejected", "customer_session_started")
    (rejected,) = System().feed_line('{"at": 0, "input": "teleport"}')
    assert rejected["input"] is None


def test_a_repeated_key_is_a_rejected_line_in_a_trace_and_in_a_cim_message() -> None:
    """Was a defect (issue 15, 8): the last of two equal keys won silently."""
    system = System()
    (rejected,) = system.feed_line('{"at": 0, "at": 5, "input": "tick"}')
    assert rejected["event"] == "input_rejected" and "duplicate key 'at'" in rejected["reason"]
    message = ('{"id": "m", "header": {"sender": {"id": "B", "type": "AGENT"}, "intent": '
               '"CALL_LEG_STARTED", "intent": "CALL_LEG_ENDED", "channelData": '
               '{"channelCustomerIdentifier": "+923001234567", "serviceIdentifier": "1"}}, '
               '"body": {"type": "VOICE", "callId": "D1"}}')  # fmt: skip
    line = json.dumps({"at": 1, "input": "cim_message", "from": "B", "message": message})
    (rejected,) = system.feed_line(line)
    assert rejected["event"] == "input_rejected" and "duplicate key 'intent'" in rejected["reason"]
