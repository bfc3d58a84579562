"""``consultfsm check``: passes on the real table, fails with a replayable
trace on a broken copy."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import edit_table, explorer, row_is, without_event

from consultfsm.cli import check as cli_check
from consultfsm.cli import main
from consultfsm.core import events as ev
from consultfsm.core.table import TABLE, Row
from consultfsm.replay.system import replay
from consultfsm.verify.explore import DEFAULT_DEPTHS, coverable


@pytest.mark.slow  # the whole exhaustive search: ~15-30 s
def test_check_passes_at_the_default_depth(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert out.count("OK:") == 4  # one leg, two legs, the desk machine, the composition
    assert "OK: desk machine" in out and "OK: composition" in out
    assert f"1 leg(s), depth {DEFAULT_DEPTHS[1]}" in out
    assert f"2 leg(s), depth {DEFAULT_DEPTHS[2]}" in out
    # One leg covers every row of the table; two legs every row of the inputs
    # they are fed, from the call states those reach (they meet only through desks).
    assert f"rows covered:     {len(TABLE)} of {len(TABLE)}\n" in out
    two = len(coverable(TABLE, 2))
    assert two < len(TABLE)
    assert f"rows covered:     {two} of {two} (the rows its inputs reach" in out
    assert "rows not covered" not in out.split("OK: desk machine")[0]


def test_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--machine", "leg", "--legs", "1", "--depth", "3", "--jobs", "1",
                 "--format", "json"]) == 0  # fmt: skip
    out, err = capsys.readouterr()
    (report,) = json.loads(out)
    assert "check: config" in err  # progress goes to stderr
    assert report["ok"] and report["counterexample"] is None
    assert report["legs"] == 1 and report["depth"] == 3
    assert report["rows_total"] == len(TABLE) and report["states"] > 0
    assert report["invariant_checks"] > 0


def test_check_rejects_a_bad_depth() -> None:
    with pytest.raises(SystemExit) as info:
        main(["check", "--depth", "0"])
    assert info.value.code == 2


def _broken_table() -> tuple[Row, ...]:
    # B's alert stays up when the CTI reports RONA (a deliberately broken COPY).
    return edit_table(row_is("call:ringing--rona[b_online]"), without_event(ev.AlertRemoved))


def test_check_catches_a_broken_row(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_check, "explore", explorer(_broken_table()))
    monkeypatch.setattr(cli_check, "CCM_DEPTH", 2)
    assert main(["check", "--legs", "1", "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "VIOLATION" in out and "[alert_visible]" in out
    trace = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [t["input"] for t in trace] == [
        "config", "customer_session_started", "consult_initiated", "alerting", "rona",
    ]  # fmt: skip
    # The trace is valid replay input; on the real table the alert is removed.
    result = replay(json.dumps(t) for t in trace)
    assert result.rejected == 0
    assert any(r["event"] == "alert_removed" for r in result.records)


def test_check_json_counterexample(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_check, "explore", explorer(_broken_table()))
    monkeypatch.setattr(cli_check, "CCM_DEPTH", 2)
    assert main(["check", "--legs", "1", "--jobs", "1", "--format", "json"]) == 1
    report, desk, ccm = json.loads(capsys.readouterr().out)
    assert ccm["machine"] == "ccm" and ccm["ok"]
    assert desk["machine"] == "desk" and desk["ok"]  # the desk's own table is sound
    cex = report["counterexample"]
    assert not report["ok"]
    assert cex["violations"][0]["invariant"] == "alert_visible"
    assert cex["trace_exact"] is True
    assert cex["trace"][-1] == {"at": 0, "input": "rona", "leg": "L1"}


@pytest.mark.parametrize(
    ("depth", "message"), [("abc", "'abc' is not a whole number"), ("0", "at least 1")]
)
def test_a_bad_depth_is_a_usage_error(
    depth: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check", "--depth", depth])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_check_explores_the_desk_machine_and_catches_a_broken_desk_row(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import attrs

    from consultfsm.desk.table import DESK_TABLE
    from consultfsm.verify.desk import explore_desk

    assert main(["check", "--machine", "desk", "--format", "json"]) == 0
    (desk,) = json.loads(capsys.readouterr().out)
    assert desk["ok"] and desk["rows_covered"] == desk["rows_total"] == len(DESK_TABLE)
    # The answered consult's end is never sent after the settle window.
    broken = tuple(attrs.evolve(r, emits=()) if r.key == "b:closing--settle_timeout" else r
                   for r in DESK_TABLE)  # fmt: skip
    monkeypatch.setattr(cli_check, "explore_desk", lambda: explore_desk(broken))
    assert main(["check", "--machine", "desk"]) == 1
    out = capsys.readouterr().out
    assert "VIOLATION: desk machine" in out and "without sending it" in out


def test_check_explores_the_composition_and_replays_its_paths(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--machine", "ccm", "--depth", "3", "--format", "json"]) == 0
    (ccm,) = json.loads(capsys.readouterr().out)
    assert ccm["machine"] == "ccm" and ccm["ok"] and ccm["depth"] == 3 and ccm["states"] > 10
    # A path as `check` prints it: B answers, both desks' starts reach the CCM.
    path = tmp_path / "path.jsonl"
    path.write_text('{"action":"cti","arg":"accepted"}\n{"action":"deliver","arg":1}\n'
                    '{"action":"deliver","arg":0}\n', encoding="utf-8")  # fmt: skip
    assert main(["check", "--replay", str(path)]) == 0
    published = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["name"], e["eventEmitter"]["id"]) for e in published] == [
        ("CALL_LEG_STARTED", "1002")]  # fmt: skip
    path.write_text('{"action":"teleport","arg":null}\n', encoding="utf-8")
    assert main(["check", "--replay", str(path)]) == 2
    assert "cannot replay" in capsys.readouterr().err
    # Edited by hand: what cannot happen at that point is refused, naming what could.
    for step in ('{"action":"deliver","arg":5}', '{"action":"settle","arg":"a"}',
                 '{"action":"ccm_timer","arg":null}', '{"action":"deliver","arg":1e308}',
                 '{"action":"deliver","arg":-1}', '{"action":"deliver","arg":true}',
                 # an input the machines refuse (a path saved from another table)
                 '{"action":"cti","arg":"held"}'):  # fmt: skip
        path.write_text(step + "\n", encoding="utf-8")
        assert main(["check", "--replay", str(path)]) == 2
        err = capsys.readouterr().err
        assert "action 1" in err and "cannot happen here" in err, err
    # Was a traceback (an adversarial review): nesting the parser cannot take;
    # an unknown flow was run as "routed".
    for text in ("[" * 100_000, '{"action":"flow","arg":"bogus"}'):
        path.write_text(text + "\n", encoding="utf-8")
        assert main(["check", "--replay", str(path)]) == 2
        err = capsys.readouterr().err
        assert "cannot replay" in err and "Traceback" not in err, err


@pytest.mark.parametrize("options", [
    ["--replay", "x.jsonl", "--format", "json"], ["--replay", "x.jsonl", "--depth", "3"],
    ["--replay", "x.jsonl", "--machine", "ccm"], ["--machine", "desk", "--legs", "1"],
    ["--machine", "ccm", "--jobs", "2"], ["--machine", "desk", "--depth", "3"],
])  # fmt: skip
def test_an_option_that_would_do_nothing_is_a_usage_error(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("consultfsm check: error:")
    assert "do nothing" in err or "takes neither" in err
