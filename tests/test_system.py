"""The replay system: virtual clock, exactly-once publication, desks, rejections."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from cim_schemas import check_record, cim_schemas
from hypothesis import given, settings
from hypothesis import strategies as st

from consultfsm.core import events as ev
from consultfsm.core import facts as leg_module
from consultfsm.core.facts import LegConfig
from consultfsm.core.leg import Leg, leg_class
from consultfsm.core.states import CallState, DeskState
from consultfsm.core.table import TABLE, Emit, Row
from consultfsm.replay.system import System, SystemConfig, dumps_record, replay
from consultfsm.wire.cim import MAX_TIMESTAMP_MS, CimCodec, CimEncodeError

SESSION = {
    "at": 0, "input": "customer_session_started", "session": "S1", "conversation": "C1",
    "customer_ani": "+923001234567", "dialog": "D1",
}  # fmt: skip
CONSULT = {
    "at": 100, "input": "consult_initiated", "leg": "L1", "agent_a": "A", "agent_b": "B",
    "customer_ani": "+923001234567",
}  # fmt: skip


class Run:
    """A system after a replay, and the records it produced."""

    def __init__(self, *inputs: dict[str, Any], config: SystemConfig | None = None) -> None:
        self.system = System(config)
        self.records = self.system.feed_lines(json.dumps(i) for i in inputs)

    def leg(self, leg_id: str) -> Leg:
        return self.system.leg(leg_id)

    @property
    def rejected(self) -> int:
        return self.system.rejected


def _run(*inputs: dict[str, Any], config: SystemConfig | None = None) -> Run:
    return Run(*inputs, config=config)


def _events(run: Run, **match: Any) -> list[dict[str, Any]]:
    return [r for r in run.records if all(r.get(k) == v for k, v in match.items())]


def _on_conversation(system: Run) -> list[str]:
    return [r["event"] for r in _events(system, to="conversation")]


def test_ring_timer_fires_before_an_input_at_its_deadline() -> None:
    system = _run(
        {"at": 0, "input": "config", "ring_ms": 1000},
        SESSION,
        CONSULT,
        {"at": 200, "input": "alerting", "leg": "L1"},
        {"at": 1199, "input": "tick"},
        {"at": 1200, "input": "dropped", "leg": "L1", "by": "A"},  # exactly at the deadline
    )
    fired = _events(system, event="timer_fired")
    assert [(r["at"], r["timer"]) for r in fired] == [(1200, "ring")]
    # The ring window only withdrew B's alert; A hanging up then ends the leg,
    # and with the alert already gone there is nothing more to tell anyone.
    assert system.leg("L1").call is CallState.CANCELLED_BY_A
    assert [(r["event"], r.get("reason")) for r in system.records[-2:]] == [
        ("timer_fired", None), ("alert_removed", "rona")
    ]  # fmt: skip
    assert _on_conversation(system) == []


def test_an_answer_just_after_the_ring_deadline_still_starts_the_leg() -> None:
    """The leg's own ring window gives up on the alert, not on the call: the
    CTI's answer is the truth, so B answering 1 ms later is a started leg."""
    system = _run(
        {"at": 0, "input": "config", "ring_ms": 1000},
        SESSION,
        CONSULT,
        {"at": 200, "input": "alerting", "leg": "L1"},
        {"at": 1201, "input": "accepted", "leg": "L1"},
    )
    assert system.rejected == 0
    assert [(r["at"], r["to"], r["event"]) for r in system.records[3:]] == [
        (1200, "host", "timer_fired"), (1200, "agentdesk:B", "alert_removed"),
        (1201, "agentdesk:B", "consult_answered"), (1201, "ccm", "cim_message"),
        (1201, "conversation", "CALL_LEG_STARTED"), (1201, "routing_engine", "task_created"),
        (1201, "agent_manager", "task_assigned"),
    ]  # fmt: skip
    (started,) = _events(system, to="conversation")
    assert (started["event"], started["reported_by"]) == ("CALL_LEG_STARTED", "agentdesk:B")
    assert system.leg("L1").call is CallState.ACCEPTED


def test_an_input_rejected_after_due_timers_undoes_them_too() -> None:
    system = _run(
        {"at": 0, "input": "config", "ring_ms": 1000},
        SESSION,
        CONSULT,
        {"at": 200, "input": "alerting", "leg": "L1"},
        {"at": 1200, "input": "held", "leg": "L1"},  # the ring timer fires first; no call to hold
    )
    # A hold of a consult nobody answered is illegal, and the input is all or
    # nothing: the timer it fired is undone with it.
    (rejected,) = _events(system, event="input_rejected", input="held")
    assert "IllegalInput" in rejected["reason"] and "unanswered/" in rejected["reason"]
    assert "L1 ring" in rejected["reason"] and "undone" in rejected["reason"]
    assert not _events(system, event="timer_fired")
    assert system.leg("L1").call is CallState.RINGING
    assert system.system.now == 200
    assert _on_conversation(system) == []
    # The timer fires before the next input instead, at its own deadline.
    records = system.system.feed_line('{"at": 1300, "input": "tick"}')
    assert [(r["at"], r["event"]) for r in records][:2] == [(1200, "timer_fired"),
                                                            (1200, "alert_removed")]  # fmt: skip
    assert system.leg("L1").call is CallState.UNANSWERED
    # Only the CTI's RONA ends the leg; an answer after it is a contradiction.
    system.system.feed_line('{"at": 1400, "input": "rona", "leg": "L1"}')
    assert system.leg("L1").call is CallState.RONA
    (late,) = system.system.feed_line('{"at": 1500, "input": "accepted", "leg": "L1"}')
    assert late["event"] == "input_rejected" and "rona/" in late["reason"]


def test_a_timer_does_not_fire_before_its_deadline() -> None:
    system = _run(
        {"at": 0, "input": "config", "ring_ms": 1000},
        SESSION,
        CONSULT,
        {"at": 200, "input": "alerting", "leg": "L1"},
        {"at": 1199, "input": "accepted", "leg": "L1"},
    )
    assert not _events(system, event="timer_fired")
    assert _on_conversation(system) == ["CALL_LEG_STARTED"]


def test_tick_fires_due_timers_in_deadline_order_across_legs() -> None:
    other = dict(CONSULT, leg="L2", agent_a="C", agent_b="D")
    system = _run(
        {"at": 0, "input": "config", "ring_ms": 1000, "grace_ms": 500},
        SESSION,
        CONSULT,
        other,
        {"at": 200, "input": "alerting", "leg": "L2"},
        {"at": 300, "input": "alerting", "leg": "L1"},
        {"at": 400, "input": "browser_disconnected", "agent": "B"},
        {"at": 5000, "input": "tick"},
    )
    fired = [(r["at"], r["leg"], r["timer"]) for r in _events(system, event="timer_fired")]
    assert fired == [(900, "L1", "grace_b"), (1200, "L2", "ring"), (1300, "L1", "ring")]
    assert system.leg("L1").desk_b is DeskState.LOST


B_AWAY_AT_1000 = (
    SESSION,
    CONSULT,
    {"at": 200, "input": "alerting", "leg": "L1"},
    {"at": 900, "input": "accepted", "leg": "L1"},
    {"at": 1000, "input": "browser_disconnected", "agent": "B"},
    {"at": 2000, "input": "dropped", "leg": "L1", "by": "A"},
)


def test_as_desk_reports_the_end_when_bs_desk_is_away() -> None:
    """The CCM has no CTI: with B's page gone, A's desk, which sees the
    consult dialog too, is who tells it the consult ended (at once: the CCM
    knows B's socket is down, so it does not wait for B's reason)."""
    system = _run(*B_AWAY_AT_1000, {"at": 3000, "input": "browser_restored", "agent": "B"})
    (ended,) = _events(system, to="conversation", event="CALL_LEG_ENDED")
    assert (ended["at"], ended["reported_by"], ended["reason"]) == (
        2000, "agentdesk:A", "CONSULT_ENDED")  # fmt: skip
    assert ended["message"]["eventEmitter"] == {"id": "A", "type": "AGENT"}
    assert [(r["from"], r["intent"]) for r in _events(system, event="cim_message")] == [
        ("agentdesk:B", "CALL_LEG_STARTED"), ("agentdesk:A", "CALL_LEG_ENDED")]  # fmt: skip
    assert _events(system, to="agentdesk:B", event="consult_ended")


def test_the_first_desk_back_reports_what_no_desk_could_while_both_were_away() -> None:
    """Both pages gone when the consult ends: the CCM hears nothing, until a
    page comes back, reads its dialogs and reports the end."""
    both = _run(
        *B_AWAY_AT_1000[:-1], {"at": 1500, "input": "browser_disconnected", "agent": "A"},
        B_AWAY_AT_1000[-1], {"at": 9000, "input": "browser_restored", "agent": "B"},
    )  # fmt: skip
    (ended,) = _events(both, to="conversation", event="CALL_LEG_ENDED")
    assert (ended["at"], ended["reported_by"], ended["reason"]) == (
        9000, "agentdesk:B", "CONSULT_ENDED")  # fmt: skip


def test_news_owed_while_both_were_away_is_posted_as_that_many_messages() -> None:
    """A hold, a resume and a hold while neither page was there, posted at
    once when B's comes back: two holds in one ms had one message id, so
    their two conversation events had one event id too (a consumer dropping
    repeated ids lost one, and a durable CCM's inbox dropped the message)."""
    both = _run(
        *B_AWAY_AT_1000[:-1], {"at": 1500, "input": "browser_disconnected", "agent": "A"},
        {"at": 2000, "input": "held", "leg": "L1"}, {"at": 2100, "input": "retrieved", "leg": "L1"},
        {"at": 2200, "input": "held", "leg": "L1"},
        {"at": 9000, "input": "browser_restored", "agent": "B"},
    )  # fmt: skip
    posted = _events(both, event="cim_message")
    assert [r["intent"] for r in posted] == [
        "CALL_LEG_STARTED", "CALL_HOLD", "CALL_RESUME", "CALL_HOLD"]  # fmt: skip
    assert len({r["message"]["id"] for r in posted}) == 4
    events = _events(both, to="conversation")
    assert [(r["event"], r["at"]) for r in events[1:]] == [
        ("CALL_HOLD", 9000), ("CALL_RESUME", 9000), ("CALL_HOLD", 9000)]  # fmt: skip
    assert len({r["message"]["id"] for r in events}) == 4


def test_the_ccm_ends_a_consult_no_desk_will_report_with_its_own_reason() -> None:
    """Neither page comes back: the CCM's last resort, after its ``away``
    wait, publishes the end itself, as SYSTEM, saying it did not see it."""
    from consultfsm.ccm.machine import CcmConfig

    away = CcmConfig().away_ms
    both = _run(
        *B_AWAY_AT_1000[:-1], {"at": 1500, "input": "browser_disconnected", "agent": "A"},
        B_AWAY_AT_1000[-1], {"at": 1500 + away, "input": "tick"},
    )  # fmt: skip
    (ended,) = _events(both, to="conversation", event="CALL_LEG_ENDED")
    # The CCM knows B's desk on this consult (B posted the start), not A's
    # (A never posted): its wait runs from B's page going, at 1000.
    assert (ended["at"], ended["reported_by"], ended["reason"]) == (
        1000 + away, "ccm", "CONSULT_UNOBSERVED")  # fmt: skip
    assert ended["message"]["eventEmitter"] == {"id": "ccm", "type": "SYSTEM"}


def _desk_copy(intent: str, sender: str = "A") -> dict[str, Any]:
    return {
        "id": f"copy-{intent}-{sender}",
        "header": {
            "sender": {"id": sender, "type": "AGENT"},
            "channelData": {"customerChannelIdentifier": "+923001234567", "serviceIdentifier": "1"},
            "intent": intent,
            "timestamp": 1739455031000,
        },
        "body": {"type": "VOICE", "markdownText": None, "leg": f"-:{sender}:L1"},
    }


def _report(at: int, sender: str, intent: str) -> dict[str, Any]:
    return {"at": at, "input": "cim_message", "from": sender, "message": _desk_copy(intent, sender)}


def test_desk_reports_of_a_published_leg_are_suppressed_not_republished() -> None:
    system = _run(
        SESSION,
        CONSULT,
        {"at": 900, "input": "accepted", "leg": "L1"},
        {"at": 900, "input": "accepted", "leg": "L1"},
        _report(950, "A", "CALL_LEG_STARTED"),
        _report(960, "B", "CALL_LEG_STARTED"),
        {"at": 2000, "input": "dropped", "leg": "L1", "by": "B"},
        {"at": 2000, "input": "dropped", "leg": "L1", "by": "B"},
        _report(2100, "A", "CALL_LEG_ENDED"),
    )  # fmt: skip
    assert _on_conversation(system) == ["CALL_LEG_STARTED", "CALL_LEG_ENDED"]
    assert len(_events(system, event="duplicate_suppressed")) == 3
    assert len(_events(system, event="task_created")) == 1
    assert len(_events(system, event="task_closed")) == 1
    assert system.rejected == 0


def test_a_desk_report_ahead_of_the_cti_is_published_the_ccm_has_no_cti() -> None:
    """The CCM learns only from desks: B's report is the news, whatever the
    CTI feed of the replay's world says later (B's own copy then is a repeat)."""
    system = _run(
        SESSION,
        CONSULT,
        _report(950, "B", "CALL_LEG_STARTED"),
        {"at": 1000, "input": "accepted", "leg": "L1"},
    )  # fmt: skip
    assert system.rejected == 0
    (started,) = _events(system, to="conversation")
    assert (started["at"], started["event"], started["reported_by"]) == (
        950, "CALL_LEG_STARTED", "agentdesk:B")  # fmt: skip
    (repeat,) = _events(system, event="duplicate_suppressed")
    assert (repeat["at"], repeat["disposition"]) == (1000, "duplicate")


def test_a_desk_report_the_ccm_cannot_place_is_its_refusal_not_a_rejected_line() -> None:
    """A well-formed post the CCM refuses (no session for its customer) is
    the CCM's answer, recorded; the trace line itself was fine."""
    message = _desk_copy("CALL_LEG_STARTED", "Z")
    message["header"]["channelData"]["customerChannelIdentifier"] = "+923339999999"
    system = _run(SESSION, {"at": 950, "input": "cim_message", "from": "Z", "message": message})
    assert system.rejected == 0 and _on_conversation(system) == []
    (refused,) = _events(system, event="ccm_refused")
    assert refused["reason"].startswith("SessionNotFound")


@pytest.mark.parametrize("late", [False, True])
def test_a_consult_first_heard_of_past_the_ended_sessions_horizon_is_refused(late: bool) -> None:
    """Found by the stateful system test: the customer hangs up while a
    consult is only initiated, and B answers much later. B's start is the
    CCM's first word of the leg; the ended session takes it for
    ``ended_session_ms`` after the hang-up (docs/ccm.md), not a moment
    longer, whatever the world did."""
    from consultfsm.ccm.engine import DEFAULT_ENDED_SESSION_MS

    answered = 200 + DEFAULT_ENDED_SESSION_MS + int(late)
    run = _run(SESSION, CONSULT,
               {"at": 200, "input": "customer_session_ended", "session": "S1"},
               {"at": answered, "input": "accepted", "leg": "L1"})  # fmt: skip
    assert run.rejected == 0 and run.leg("L1").call is CallState.ACCEPTED
    if late:
        assert _on_conversation(run) == []
        (refused,) = _events(run, event="ccm_refused")
        assert refused["at"] == answered and refused["reason"].startswith("SessionNotFound")
    else:
        (start,) = _events(run, to="conversation")
        assert start["event"] == "CALL_LEG_STARTED"
        assert start["message"]["channelSession"]["isActive"] is False


def test_malformed_desk_report_names_the_field() -> None:
    message = _desk_copy("CALL_LEG_STARTED")
    del message["header"]["channelData"]["serviceIdentifier"]
    system = _run(
        SESSION,
        CONSULT,
        {"at": 900, "input": "accepted", "leg": "L1"},
        {"at": 950, "input": "cim_message", "from": "A", "message": message},
    )
    (rejected,) = _events(system, event="input_rejected")
    assert "header.channelData.serviceIdentifier" in rejected["reason"]


def test_an_agent_offline_before_the_leg_starts_is_offline_in_the_leg() -> None:
    system = _run(
        SESSION,
        {"at": 50, "input": "browser_disconnected", "agent": "B"},
        CONSULT,
        {"at": 200, "input": "alerting", "leg": "L1"},
        {"at": 900, "input": "accepted", "leg": "L1"},
        {"at": 5000, "input": "tick"},
    )
    assert system.leg("L1").desk_b is DeskState.DISCONNECTED
    assert not _events(system, event="alert_shown")  # nobody to show it to
    # A's desk reports the start; the CCM has never heard from B's desk on
    # this consult (it does not know which agent B is), so it waits for B's
    # report, then publishes on its own.
    from consultfsm.ccm.machine import CcmConfig

    (started,) = _events(system, to="conversation")
    assert (started["at"], started["reported_by"]) == (900 + CcmConfig().start_wait_ms, "ccm")


def test_browser_inputs_reach_every_live_leg_of_the_agent() -> None:
    second = {"at": 0, "input": "customer_session_started", "session": "S2", "conversation": "C2",
              "customer_ani": "+923337654321"}  # fmt: skip
    system = _run(
        SESSION,
        second,
        CONSULT,
        {"at": 150, "input": "consult_initiated", "leg": "L2", "agent_a": "B", "agent_b": "D",
         "channel_session_id": "S2"},
        {"at": 300, "input": "browser_disconnected", "agent": "B"},
    )  # fmt: skip
    assert system.leg("L1").desk_b is DeskState.DISCONNECTED
    assert system.leg("L2").desk_a is DeskState.DISCONNECTED


def test_restoring_a_desk_that_is_up_is_rejected_and_changes_nothing() -> None:
    system = _run(SESSION, CONSULT, {"at": 300, "input": "browser_restored", "agent": "B"})
    assert system.rejected == 1
    assert system.leg("L1").desk_b is DeskState.CONNECTED


def test_an_illegal_input_is_rejected_and_the_replay_goes_on() -> None:
    system = _run(
        SESSION,
        CONSULT,
        {"at": 900, "input": "accepted", "leg": "L1"},
        {"at": 950, "input": "rona", "leg": "L1"},
        {"at": 990, "input": "dropped", "leg": "L1", "by": "B"},
    )
    (rejected,) = _events(system, event="input_rejected")
    assert rejected["leg"] == "L1" and "IllegalInput" in rejected["reason"]
    assert _on_conversation(system) == ["CALL_LEG_STARTED", "CALL_LEG_ENDED"]


def test_time_going_backwards_is_rejected() -> None:
    system = _run(SESSION, CONSULT, {"at": 50, "input": "alerting", "leg": "L1"})
    (rejected,) = _events(system, event="input_rejected")
    assert "backwards" in rejected["reason"]
    assert system.leg("L1").call is CallState.INITIATED


def test_unresolvable_consult_creates_no_leg_and_no_session() -> None:
    system = _run(SESSION, dict(CONSULT, customer_ani="anonymous"))
    assert system.rejected == 1
    assert system.system.legs == ()
    assert list(system.system.sessions) == ["S1"]


def test_consult_is_attached_to_the_existing_session() -> None:
    system = _run(SESSION, CONSULT, {"at": 900, "input": "accepted", "leg": "L1"})
    (started,) = _events(system, to="conversation")
    assert started["channel_session"]["id"] == "S1"
    assert started["message"]["data"]["header"]["channelSessionId"] == "S1"
    assert list(system.system.sessions) == ["S1"]


def test_ended_customer_session_no_longer_resolves() -> None:
    system = _run(SESSION, {"at": 50, "input": "customer_session_ended", "session": "S1"}, CONSULT)
    assert system.rejected == 1 and "SessionNotFound" in _events(system)[0]["reason"]


def test_bad_config_is_rejected_and_the_old_config_stays() -> None:
    system = _run({"at": 0, "input": "config", "default_region": "XX"})
    assert system.rejected == 1
    assert system.system.config.default_region is None


def test_config_input_changes_the_cim_output() -> None:
    system = _run(
        {"at": 0, "input": "config", "timestamp_form": "epoch_ms", "epoch_ms": 1000000,
         "service_identifier": "7001"},
        SESSION,
        CONSULT,
        {"at": 900, "input": "accepted", "leg": "L1"},
    )  # fmt: skip
    (cim,) = _events(system, event="cim_message")
    assert cim["message"]["header"]["timestamp"] == 1000900
    assert cim["message"]["header"]["channelData"]["serviceIdentifier"] == "7001"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                {"input": "alerting", "leg": "L1"},
                {"input": "accepted", "leg": "L1"},
                {"input": "rona", "leg": "L1"},
                {"input": "failed", "leg": "L1"},
                {"input": "dropped", "leg": "L1", "by": "A"},
                {"input": "dropped", "leg": "L1", "by": "B"},
                {"input": "dropped", "leg": "L1", "by": "customer"},
                {"input": "held", "leg": "L1"},
                {"input": "retrieved", "leg": "L1"},
                {"input": "transferred", "leg": "L1"},
                {"input": "conferenced", "leg": "L1"},
                {"input": "rekeyed", "leg": "L1", "dialog": "D9"},
                {"input": "accepted", "leg": "L1", "source_at": 5_000},
                {"input": "held", "leg": "L1", "source_at": 10_000},
                {"input": "retrieved", "leg": "L1", "source_at": 20_000},
                {"input": "customer_session_ended", "session": "S1"},
                {"input": "browser_disconnected", "agent": "A"},
                {"input": "browser_disconnected", "agent": "B"},
                {"input": "browser_restored", "agent": "A"},
                {"input": "browser_restored", "agent": "B"},
                {"input": "logged_out", "agent": "B"},
                {"input": "cim_message", "from": "A", "message": _desk_copy("CALL_LEG_STARTED")},
                {"input": "cim_message", "from": "B", "message": _desk_copy("CALL_LEG_ENDED", "B")},
                {"input": "cim_message", "from": "A", "message": _desk_copy("CALL_HOLD")},
                {"input": "tick"},
            ]
        ),
        max_size=25,
    ),
    st.lists(st.integers(min_value=0, max_value=40_000), min_size=25, max_size=25),
)
def test_any_trace_publishes_at_most_once_and_only_valid_cim(
    inputs: list[dict[str, Any]], gaps: list[int]
) -> None:
    """Exactly-once, whatever the order: the CCM publishes STARTED at most
    once, ENDED at most once and only after STARTED, holds and resumes
    alternating in between; B's task created and then closed or converted at
    most once; every emitted CIM object validates; replay is deterministic.
    When only the world's desks post (no stray ``cim_message``), the CCM never
    publishes a start the world did not have, nor an end it did not see
    unless as its last resort (``CONSULT_UNOBSERVED``)."""
    from consultfsm.ccm.machine import CcmConfig

    schemas = cim_schemas()
    at, lines = 100, [json.dumps(SESSION), json.dumps(CONSULT)]
    for item, gap in zip(inputs, gaps, strict=False):
        at += gap
        lines.append(json.dumps(dict(item, at=at)))
    lines.append(json.dumps({"at": at + CcmConfig().away_ms + 1, "input": "tick"}))
    first, second = replay(lines), replay(lines)
    assert first.lines() == second.lines()
    on_topic = [r for r in first.records if r["to"] == "conversation"]
    published = [r["event"] for r in on_topic]
    legs = [e for e in published if e in ("CALL_LEG_STARTED", "CALL_LEG_ENDED")]
    assert legs in ([], ["CALL_LEG_STARTED"], ["CALL_LEG_STARTED", "CALL_LEG_ENDED"])
    assert _holds_alternate_inside_the_leg(published), published
    tasks = [r["event"] for r in first.records if r["to"] == "routing_engine"]
    assert tasks in ([], ["task_created"], ["task_created", "task_closed"],
                     ["task_created", "task_converted"])  # fmt: skip
    if not any(i["input"] == "cim_message" for i in inputs):
        assert len(tasks) >= legs.count("CALL_LEG_STARTED")
        seen_ends = [r for r in on_topic if r["event"] == "CALL_LEG_ENDED"
                     and r["reason"] != "CONSULT_UNOBSERVED"]  # fmt: skip
        assert len(tasks) >= 1 + len(seen_ends) or not seen_ends
    for record in first.records:
        check_record(schemas, record)
        dumps_record(record)


def _holds_alternate_inside_the_leg(published: list[str]) -> bool:
    """CALL_HOLD, CALL_RESUME, CALL_HOLD, ... and only between STARTED and ENDED."""
    inside = published[1:-1] if published[-1:] == ["CALL_LEG_ENDED"] else published[1:]
    holds = [e for e in published if e in ("CALL_HOLD", "CALL_RESUME")]
    return holds == inside and all(
        e == ("CALL_HOLD" if i % 2 == 0 else "CALL_RESUME") for i, e in enumerate(holds)
    )


# --- publication does not depend on the order of a row's events -------------------

ACCEPTED_ONLINE = "call:ringing--accepted[b_online]"
DROPPED_BY_A_ONLINE = "call:accepted--dropped_by_a[b_online]"
LIFECYCLE = (
    SESSION,
    CONSULT,
    {"at": 200, "input": "alerting", "leg": "L1"},
    {"at": 900, "input": "accepted", "leg": "L1"},
    {"at": 2000, "input": "dropped", "leg": "L1", "by": "A"},
)


def _with_row(key: str, edit: Any) -> type[Leg]:
    """Legs running the real table with the row ``key``'s emits edited."""
    rows: list[Row] = []
    for row in TABLE:
        rows.append(attrs.evolve(row, emits=edit(row.emits)) if row.key == key else row)
    assert rows != list(TABLE), key
    return leg_class(rows)


def _cim_last(emits: tuple[Emit, ...]) -> tuple[Emit, ...]:
    """B's CIM message listed after the publication it reports."""
    cim = [e for e in emits if e.event in (ev.CimCallLegStarted, ev.CimCallLegEnded)]
    assert len(cim) == 1, emits
    return (*(e for e in emits if e not in cim), *cim)


@pytest.mark.parametrize("key", [ACCEPTED_ONLINE, DROPPED_BY_A_ONLINE])
def test_a_publication_finds_bs_message_wherever_the_row_lists_it(key: str) -> None:
    """The CCM pairs a publication with B's message of the same step by
    intent, not by position: a row listing CALL_LEG_STARTED (or _ENDED) before
    B's CIM message publishes exactly the same, once."""
    swapped = System(leg_class=_with_row(key, _cim_last))
    records = swapped.feed_lines(json.dumps(i) for i in LIFECYCLE)
    assert swapped.rejected == 0
    published = [r for r in records if r["to"] == "conversation"]
    assert [r["event"] for r in published] == ["CALL_LEG_STARTED", "CALL_LEG_ENDED"]
    sent = {r["intent"]: r["message"] for r in records if r["event"] == "cim_message"}
    for record in published:
        assert record["reported_by"] == "agentdesk:B"
        assert record["message"]["data"] == sent[record["event"]]  # B's own message
    assert published == _events(_run(*LIFECYCLE), to="conversation")


def test_a_row_whose_b_desk_sends_nothing_leaves_the_ccm_nothing_to_publish() -> None:
    """The CCM publishes what desks post, never what the leg model says: a
    broken leg table (B's desk reports, but sends nothing) publishes no start;
    the world's leg still moves."""
    without_cim = _with_row(ACCEPTED_ONLINE, lambda emits: _cim_last(emits)[:-1])
    system = System(leg_class=without_cim)
    records = system.feed_lines(json.dumps(i) for i in LIFECYCLE[:4])
    assert system.rejected == 0
    assert not [r for r in records if r["to"] == "conversation"]
    assert system.leg("L1").call is CallState.ACCEPTED


# --- every input is all or nothing --------------------------------------------------

_NEAR_9999 = MAX_TIMESTAMP_MS - 500  # an epoch_ms that leaves 500 ms of representable time


def _snapshots(system: System) -> list[Any]:
    return [leg.snapshot() for leg in system.legs]


def test_a_time_past_year_9999_is_rejected_at_parsing_not_a_traceback() -> None:
    system = _run(SESSION, CONSULT, {"at": 400_000_000_000_000, "input": "accepted", "leg": "L1"})
    (rejected,) = _events(system, event="input_rejected")
    assert rejected["reason"].startswith("at: ") and "9999" in rejected["reason"]
    assert system.leg("L1").call is CallState.INITIATED
    assert _on_conversation(system) == [] and system.system.now == 100


def test_a_time_the_epoch_pushes_past_9999_is_rejected_before_the_leg_moves() -> None:
    system = _run(
        {"at": 0, "input": "config", "epoch_ms": _NEAR_9999},
        SESSION,
        CONSULT,
        {"at": 200, "input": "alerting", "leg": "L1"},
        {"at": 900, "input": "accepted", "leg": "L1"},  # epoch + 900 ms: no CIM timestamp
    )
    (rejected,) = _events(system, event="input_rejected")
    assert rejected["input"] == "accepted" and rejected["reason"].startswith("at: ")
    assert "outside years 1..9999" in rejected["reason"]
    assert system.leg("L1").call is CallState.RINGING
    assert not _events(system, event="cim_message") and _on_conversation(system) == []
    assert system.system.now == 200


def test_an_epoch_that_cannot_carry_the_current_time_is_rejected() -> None:
    system = _run(SESSION, {"at": 1000, "input": "config", "epoch_ms": _NEAR_9999})
    (rejected,) = _events(system, event="input_rejected")
    assert "outside years 1..9999" in rejected["reason"]
    assert system.system.config.epoch_ms == 0
    assert system.system.now == 0


def test_a_failure_half_way_through_a_step_undoes_the_whole_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last line of defence: a typed error after the leg moved (here a
    codec that refuses) is an input_rejected, and the leg, the CCM's memory,
    the timers and the clock are as they were."""
    run = _run(SESSION, CONSULT, {"at": 200, "input": "alerting", "leg": "L1"})
    before = _snapshots(run.system)

    def refuse(self: CimCodec, **_: Any) -> Any:
        raise CimEncodeError("header.channelData.channelCustomerIdentifier", "refused")

    with monkeypatch.context() as patch:
        patch.setattr(CimCodec, "agent_message", refuse)
        (rejected,) = run.system.feed_line('{"at": 900, "input": "accepted", "leg": "L1"}', 4)
    assert rejected["event"] == "input_rejected" and rejected["leg"] == "L1"
    assert rejected["reason"].startswith("CimEncodeError: CIM field header.channelData")
    assert _snapshots(run.system) == before and run.system.now == 200
    # Nothing of the undone step lingers: the same input now goes through, once.
    records = run.system.feed_line('{"at": 900, "input": "accepted", "leg": "L1"}')
    assert [r["event"] for r in records if r["to"] == "conversation"] == ["CALL_LEG_STARTED"]
    tick = run.system.feed_line('{"at": 60000, "input": "tick"}')
    assert not [r for r in tick if r["event"] == "timer_fired"]  # the ring timer was cancelled


def test_a_rejected_input_fires_no_timer_and_keeps_the_clock() -> None:
    """A mis-stamped line for an unknown leg must not fire L1's RONA, or the
    legitimate next input would be refused."""
    system = _run(
        SESSION,
        CONSULT,
        {"at": 200, "input": "alerting", "leg": "L1"},
        {"at": 100_000, "input": "alerting", "leg": "L9"},
        {"at": 900, "input": "accepted", "leg": "L1"},
    )
    (rejected,) = _events(system, event="input_rejected")
    assert rejected["leg"] == "L9" and "unknown leg" in rejected["reason"]
    assert "timers due" not in rejected["reason"]  # refused before any timer fell due
    assert not _events(system, event="timer_fired")
    assert _on_conversation(system) == ["CALL_LEG_STARTED"]


@pytest.mark.parametrize(
    "line",
    [
        {"at": 100_000, "input": "dropped", "leg": "L1", "by": "Z"},
        {"at": 100_000, "input": "customer_session_ended", "session": "S9"},
        {"at": 100_000, "input": "customer_session_started", "session": "S1", "conversation": "C",
         "customer_ani": "+923001234567"},
        {"at": 100_000, "input": "consult_initiated", "leg": "L1", "agent_a": "A", "agent_b": "B"},
        {"at": 100_000, "input": "config", "default_region": "XX"},
        {"at": 100_000, "input": "cim_message", "from": "A", "message": "{}"},
        {"at": 100_000, "input": "cim_message", "from": "Z",
         "message": {"id": "m", "header": {"sender": {"id": "Z", "type": "AGENT"},
                     "channelData": {"channelCustomerIdentifier": "1", "serviceIdentifier": "1"},
                     "intent": "CALL_LEG_STARTED"}}},
        {"at": 300, "input": "browser_restored", "agent": "B"},  # later, RONA ends the leg
    ],
)  # fmt: skip
def test_every_kind_of_rejection_leaves_the_clock_and_timers_alone(line: dict[str, Any]) -> None:
    run = _run(SESSION, CONSULT, {"at": 200, "input": "alerting", "leg": "L1"})
    before = _snapshots(run.system)
    (rejected,) = run.system.feed_line(json.dumps(line))
    assert rejected["event"] == "input_rejected", rejected
    assert _snapshots(run.system) == before and run.system.now == 200


# --- browser inputs: the legs decide ------------------------------------------------


def test_a_repeated_restore_is_a_duplicate_not_a_rejection() -> None:
    system = _run(
        SESSION,
        CONSULT,
        {"at": 900, "input": "accepted", "leg": "L1"},
        {"at": 1000, "input": "browser_disconnected", "agent": "B"},
        {"at": 2000, "input": "browser_restored", "agent": "B"},
        {"at": 2100, "input": "browser_restored", "agent": "B"},
    )
    assert system.rejected == 0
    (ignored,) = _events(system, event="input_ignored")
    assert (ignored["at"], ignored["leg"], ignored["input"], ignored["disposition"]) == (
        2100, "L1", "browser_restored_b", "duplicate"
    )  # fmt: skip
    assert len(_events(system, event="consult_restored")) == 1


def test_a_restore_of_an_agent_with_no_live_leg_is_ignored_like_a_disconnect() -> None:
    system = _run(
        SESSION,
        {"at": 10, "input": "browser_restored", "agent": "Q"},
        {"at": 20, "input": "browser_disconnected", "agent": "Q"},
    )
    assert system.rejected == 0
    assert [(r["input"], r["disposition"]) for r in _events(system, event="input_ignored")] == [
        ("browser_restored", "no_live_leg"), ("browser_disconnected", "no_live_leg")
    ]  # fmt: skip


def test_a_restore_no_disconnect_preceded_is_illegal_for_the_live_leg() -> None:
    system = _run(SESSION, CONSULT, {"at": 300, "input": "browser_restored", "agent": "B"})
    (rejected,) = _events(system, event="input_rejected")
    assert rejected["leg"] == "L1" and rejected["reason"].startswith("IllegalInput")
    assert system.leg("L1").desk_b is DeskState.CONNECTED


# --- configuration ------------------------------------------------------------------


def test_timer_windows_default_to_the_legs_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leg_module, "DEFAULT_CONFIG", LegConfig(1234, 5678))
    config = SystemConfig()
    assert (config.ring_ms, config.grace_ms) == (1234, 5678)
    run = _run(SESSION, CONSULT, {"at": 200, "input": "alerting", "leg": "L1"})
    (started,) = _events(run, event="timer_started")
    assert started["deadline"] == 200 + 1234


# --- the platform's consult flows ---------------------------------------------------

ACCEPTED_AT_900 = (SESSION, CONSULT, {"at": 900, "input": "accepted", "leg": "L1"})


def _reasons(run: Run, **match: Any) -> list[tuple[str, Any]]:
    return [(r["event"], r.get("reason")) for r in _events(run, **match)]


def test_the_customer_hanging_up_does_not_end_the_consult() -> None:
    """The customer is no participant of the consult: A and B go on talking,
    B's desk is told, and the consult ends when one of them hangs up."""
    run = _run(
        *ACCEPTED_AT_900,
        {"at": 2000, "input": "dropped", "leg": "L1", "by": "customer"},
        {"at": 2000, "input": "dropped", "leg": "L1", "by": "customer"},  # the other desk's copy
    )
    assert _events(run, to="agentdesk:B", event="customer_left") == [
        {"at": 2000, "leg": "L1", "to": "agentdesk:B", "event": "customer_left",
         "conversation_id": "C1"}
    ]  # fmt: skip
    assert [r["disposition"] for r in _events(run, event="input_ignored")] == ["duplicate"]
    assert str(run.leg("L1").state) == "accepted/connected/connected/left"
    assert _on_conversation(run) == ["CALL_LEG_STARTED"]
    records = run.system.feed_line('{"at": 3000, "input": "dropped", "leg": "L1", "by": "A"}')
    assert [(r["event"], r.get("reason")) for r in records if r["to"] != "ccm"] == [
        ("CALL_LEG_ENDED", "CONSULT_ENDED"), ("task_closed", "dropped_by_a")
    ]  # fmt: skip
    assert run.leg("L1").call is CallState.ENDED_BY_A


def test_the_end_of_the_customer_session_tells_every_unfinished_leg_first() -> None:
    second = {"at": 0, "input": "customer_session_started", "session": "S2", "conversation": "C2",
              "customer_ani": "+923337654321"}  # fmt: skip
    run = _run(
        SESSION,
        second,
        CONSULT,
        dict(CONSULT, leg="L2", agent_b="C"),
        dict(CONSULT, leg="L3", agent_a="D", agent_b="E", customer_ani="+923337654321"),
        {"at": 200, "input": "alerting", "leg": "L2"},
        {"at": 900, "input": "accepted", "leg": "L1"},
        {"at": 1000, "input": "dropped", "leg": "L2", "by": "A"},
        {"at": 2000, "input": "customer_session_ended", "session": "S1"},
    )
    # L1 (on the call) is told, L2 (ended, nothing pending) and L3 (another
    # customer) are not; the session is no longer active afterwards.
    assert [(r["leg"], r["to"]) for r in _events(run, event="customer_left")] == [
        ("L1", "agentdesk:B")
    ]
    assert run.leg("L1").customer.value == "left" and run.leg("L3").customer.value == "present"
    assert "S1" not in run.system.sessions  # no longer active
    # The consult goes on; its end goes out in the customer's (now ended) session.
    run.system.feed_line('{"at": 3000, "input": "dropped", "leg": "L1", "by": "B"}')
    assert run.leg("L1").call is CallState.ENDED_BY_B
    ended = _run(*ACCEPTED_AT_900, {"at": 2000, "input": "customer_session_ended",
                                    "session": "S1"},
                 {"at": 3000, "input": "dropped", "leg": "L1", "by": "B"})  # fmt: skip
    (published,) = _events(ended, to="conversation", event="CALL_LEG_ENDED")
    assert published["reason"] == "CONSULT_ENDED"
    assert published["channel_session"]["isActive"] is False
    assert published["channel_session"]["state"] == {"name": "ENDED"}


def test_the_end_of_a_session_is_all_or_nothing() -> None:
    """A leg refusing ``customer_left`` (a broken table here) refuses the whole
    input: no leg is told and the session stays active."""
    rows = [r for r in TABLE if r.key != "customer:present--customer_left[call_unseen]"]
    system = System(leg_class=leg_class(rows))
    second = dict(CONSULT, at=900, leg="L2", agent_b="C")  # initiated: refuses customer_left
    system.feed_lines(json.dumps(i) for i in (*ACCEPTED_AT_900, second))
    end = {"at": 1000, "input": "customer_session_ended", "session": "S1"}
    (rejected,) = system.feed_line(json.dumps(end))
    assert rejected["event"] == "input_rejected" and rejected["leg"] == "L2"
    assert "customer_left" in rejected["reason"] and "L2 (initiated/" in rejected["reason"]
    assert system.sessions["S1"].active
    assert system.leg("L1").customer.value == "present"


@pytest.mark.parametrize(
    ("input", "reason", "direction"),
    [("transferred", "CONSULT_TRANSFER", "CONSULT_TRANSFER"),
     ("conferenced", "CONSULT_CONFERENCE", "CONSULT_CONFERENCE")],
)  # fmt: skip
def test_a_transfer_or_conference_ends_the_leg_and_converts_bs_task(
    input: str, reason: str, direction: str
) -> None:
    run = _run(*ACCEPTED_AT_900, {"at": 5000, "input": input, "leg": "L1"})
    (cim,) = _events(run, event="cim_message", intent="CALL_LEG_ENDED")
    assert cim["message"]["body"]["reasonCode"] == reason
    assert _reasons(run, to="conversation") == [("CALL_LEG_STARTED", "CONSULT"),
                                                ("CALL_LEG_ENDED", reason)]  # fmt: skip
    # B now serves the customer: the task goes on, it is not closed.
    assert [(r["event"], r.get("direction")) for r in _events(run, to="routing_engine")] == [
        ("task_created", None), ("task_converted", direction)
    ]  # fmt: skip


def test_no_transfer_once_the_customer_left() -> None:
    run = _run(
        *ACCEPTED_AT_900,
        {"at": 2000, "input": "dropped", "leg": "L1", "by": "customer"},
        {"at": 3000, "input": "transferred", "leg": "L1"},
    )
    (rejected,) = _events(run, event="input_rejected")
    assert rejected["input"] == "transferred"
    assert "accepted/connected/connected/left" in rejected["reason"]
    assert _on_conversation(run) == ["CALL_LEG_STARTED"]


def test_each_hold_is_published_once_with_its_own_message_id() -> None:
    run = _run(
        *ACCEPTED_AT_900,
        {"at": 2000, "input": "held", "leg": "L1"},
        {"at": 2000, "input": "held", "leg": "L1"},  # Finesse tells both desks
        {"at": 3000, "input": "retrieved", "leg": "L1"},
        {"at": 4000, "input": "held", "leg": "L1"},
        {"at": 5000, "input": "retrieved", "leg": "L1"},
        {"at": 6000, "input": "dropped", "leg": "L1", "by": "A"},
    )
    assert _on_conversation(run) == [
        "CALL_LEG_STARTED", "CALL_HOLD", "CALL_RESUME", "CALL_HOLD", "CALL_RESUME",
        "CALL_LEG_ENDED",
    ]  # fmt: skip
    holds = _events(run, to="conversation", event="CALL_HOLD")
    assert all("reason" not in r for r in holds)  # no reasonCode, no null either
    assert all("reasonCode" not in r["message"]["data"]["body"] for r in holds)
    assert len({r["message"]["id"] for r in holds}) == 2  # the events' ids differ ...
    sent = _events(run, event="cim_message", intent="CALL_HOLD")
    assert len({r["message"]["id"] for r in sent}) == 2  # ... and so do B's messages'
    assert [r["disposition"] for r in _events(run, event="input_ignored")] == ["duplicate"]
    # B's desk re-sends its second hold, A's desk copies the first (its own id,
    # the hold's time): both suppressed. A hold at a time nobody held is refused.
    copy = dict(_desk_copy("CALL_HOLD"), id="a-copy")
    copy["header"] = dict(copy["header"], timestamp=2000)
    stray = dict(copy, id="a-stray", header=dict(copy["header"], timestamp=2500))
    records = run.system.feed_lines(
        json.dumps(line) for line in (
            {"at": 7000, "input": "cim_message", "from": "B", "message": sent[1]["message"]},
            {"at": 7000, "input": "cim_message", "from": "A", "message": copy},
            {"at": 7000, "input": "cim_message", "from": "A", "message": stray},
        )
    )  # fmt: skip
    # The consult ended at 6000: the CCM takes each post and publishes none.
    assert [(r["event"], r.get("disposition")) for r in records] == [
        ("cim_message", None), ("duplicate_suppressed", "late")] * 3  # fmt: skip


def test_a_hold_while_bs_desk_is_down_is_published_by_the_ccm() -> None:
    run = _run(
        *ACCEPTED_AT_900,
        {"at": 1000, "input": "browser_disconnected", "agent": "B"},
        {"at": 2000, "input": "held", "leg": "L1"},
    )
    (held,) = _events(run, to="conversation", event="CALL_HOLD")
    assert held["reported_by"] == "agentdesk:A"  # A's desk sees the hold too
    assert held["message"]["data"]["header"]["sender"] == {"id": "A", "type": "AGENT"}
    assert held["message"]["data"]["header"]["intent"] == "CALL_HOLD"


def test_a_queue_consult_waits_for_an_offer_and_its_time_to_live() -> None:
    queue = {"at": 100, "input": "consult_initiated", "leg": "Q1", "agent_a": "A",
             "queue": True, "customer_ani": "+923001234567"}  # fmt: skip
    run = _run({"at": 0, "input": "config", "queue_ttl_ms": 5000}, SESSION, queue,
               {"at": 10_000, "input": "tick"})  # fmt: skip
    assert [(r["event"], r.get("timer"), r.get("deadline")) for r in run.records[1:]] == [
        ("timer_started", "queue", 5100), ("timer_fired", "queue", None)
    ]  # fmt: skip
    assert run.leg("Q1").call is CallState.NO_AGENT
    assert run.leg("Q1").facts.agent_b is None
    # ... or the queue says there is nobody; nothing was ever published.
    run = _run(SESSION, queue, {"at": 900, "input": "no_agent", "leg": "Q1"})
    assert run.leg("Q1").call is CallState.NO_AGENT
    assert run.records[1:] == []  # no TTL configured: no timer


def test_a_queue_consult_offered_and_answered() -> None:
    queue = {"at": 100, "input": "consult_initiated", "leg": "Q1", "agent_a": "A",
             "queue": True, "customer_ani": "+923001234567"}  # fmt: skip
    run = _run(
        SESSION, queue,
        {"at": 500, "input": "offered", "leg": "Q1", "agent": "B"},
        {"at": 600, "input": "offered", "leg": "Q1", "agent": "B"},  # the same offer again
        {"at": 900, "input": "accepted", "leg": "Q1"},
    )  # fmt: skip
    assert run.rejected == 0
    assert [(r["to"], r["event"]) for r in run.records[1:3]] == [
        ("agentdesk:B", "alert_shown"), ("host", "timer_started")
    ]  # fmt: skip
    (started,) = _events(run, to="conversation")
    assert started["agent"] == "B"
    assert started["message"]["data"]["header"]["sender"] == {"id": "B", "type": "AGENT"}


@pytest.mark.parametrize(
    ("agent", "why"),
    [("A", "agent A of the leg"), ("customer", "reserved"), ("C", "offered to 'B', not 'C'")],
)
def test_an_impossible_offer_is_rejected(agent: str, why: str) -> None:
    queue = {"at": 100, "input": "consult_initiated", "leg": "Q1", "agent_a": "A",
             "queue": True, "customer_ani": "+923001234567"}  # fmt: skip
    run = _run(SESSION, queue, {"at": 500, "input": "offered", "leg": "Q1", "agent": "B"},
               {"at": 600, "input": "offered", "leg": "Q1", "agent": agent})  # fmt: skip
    (rejected,) = _events(run, event="input_rejected")
    assert why in rejected["reason"], rejected
    assert run.leg("Q1").facts.agent_b == "B"


def test_a_queue_consult_offered_to_an_agent_who_is_away_alerts_nobody() -> None:
    queue = {"at": 100, "input": "consult_initiated", "leg": "Q1", "agent_a": "A",
             "queue": True, "customer_ani": "+923001234567"}  # fmt: skip
    run = _run(
        SESSION, queue,
        {"at": 200, "input": "browser_disconnected", "agent": "B"},
        {"at": 500, "input": "offered", "leg": "Q1", "agent": "B"},
        {"at": 900, "input": "accepted", "leg": "Q1"},
        {"at": 5000, "input": "tick"},
    )  # fmt: skip
    assert run.rejected == 0
    assert not _events(run, event="alert_shown")
    assert _events(run, event="timer_started", timer="grace_b")[0]["at"] == 500
    # A's desk reports; the CCM waits for B's report, then publishes itself.
    from consultfsm.ccm.machine import CcmConfig

    (started,) = _events(run, to="conversation")
    assert (started["at"], started["reported_by"]) == (900 + CcmConfig().start_wait_ms, "ccm")


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"queue": True}, "agent_b"), ({"queue": True, "agent_b": None, "direct": True}, "direct"),
     ({"queue": "yes"}, "queue"), ({"agent_b": None}, "agent_b")],
)  # fmt: skip
def test_a_malformed_queue_or_direct_consult_is_rejected(
    changes: dict[str, Any], field: str
) -> None:
    run = _run(SESSION, dict(CONSULT, **changes))
    (rejected,) = _events(run, event="input_rejected")
    assert rejected["reason"].startswith(f"{field}: "), rejected
    assert run.system.legs == ()


def test_a_direct_consult_has_no_ring_window() -> None:
    run = _run(
        SESSION, dict(CONSULT, direct=True),
        {"at": 200, "input": "alerting", "leg": "L1"},
        {"at": 100_000, "input": "accepted", "leg": "L1"},
    )  # fmt: skip
    assert not _events(run, to="host")  # no timer started, fired or cancelled
    assert _on_conversation(run) == ["CALL_LEG_STARTED"]
    # The setting is the leg's: the next leg has the usual window.
    run.system.feed_line(json.dumps(dict(CONSULT, at=100_000, leg="L2")))
    (started,) = run.system.feed_line('{"at": 100001, "input": "alerting", "leg": "L2"}')[1:]
    assert started["deadline"] == 100_001 + 15_000


def test_logged_out_reaches_every_leg_of_the_agent_and_later_ones() -> None:
    run = _run(
        SESSION,
        CONSULT,
        dict(CONSULT, leg="L2", agent_a="B", agent_b="C"),
        {"at": 200, "input": "alerting", "leg": "L1"},
        {"at": 900, "input": "accepted", "leg": "L2"},
        {"at": 1000, "input": "logged_out", "agent": "B"},
        dict(CONSULT, at=2000, leg="L3", agent_a="C"),
        {"at": 2100, "input": "accepted", "leg": "L3"},
        {"at": 5000, "input": "tick"},
    )
    assert run.leg("L1").desk_b is DeskState.LOST and run.leg("L2").desk_a is DeskState.LOST
    assert run.leg("L3").desk_b is DeskState.LOST  # remembered for a leg created later
    assert not _events(run, event="timer_started", timer="grace_b")  # nobody to wait for
    (started,) = _events(run, to="conversation", leg="L3")
    assert started["reported_by"] == "ccm"  # C's desk reported; B's never will
    (ignored,) = run.system.feed_line('{"at": 6000, "input": "logged_out", "agent": "Q"}')
    assert (ignored["input"], ignored["disposition"]) == ("logged_out", "no_live_leg")
    # The agent logs in again: the desks are back.
    run.system.feed_line('{"at": 7000, "input": "browser_restored", "agent": "B"}')
    assert run.leg("L3").desk_b is DeskState.RESTORED


def test_a_stale_cti_report_changes_nothing() -> None:
    run = _run(
        SESSION,
        CONSULT,
        {"at": 900, "input": "accepted", "leg": "L1", "source_at": 10_900},
        {"at": 2000, "input": "held", "leg": "L1", "source_at": 12_000},
        {"at": 3000, "input": "retrieved", "leg": "L1", "source_at": 13_000},
        {"at": 3100, "input": "held", "leg": "L1", "source_at": 12_000},  # re-delivered late
    )
    assert _on_conversation(run) == ["CALL_LEG_STARTED", "CALL_HOLD", "CALL_RESUME"]
    (stale,) = _events(run, event="input_ignored")
    assert (stale["at"], stale["input"], stale["disposition"]) == (3100, "held", "absorbed")
    assert run.leg("L1").call is CallState.ACCEPTED


@pytest.mark.parametrize("source_at", [-1, 1.5, "1000", True])
def test_a_bad_source_time_is_rejected(source_at: Any) -> None:
    run = _run(SESSION, CONSULT, {"at": 900, "input": "accepted", "leg": "L1",
                                  "source_at": source_at})  # fmt: skip
    (rejected,) = _events(run, event="input_rejected")
    assert rejected["reason"].startswith("source_at: ")


def test_a_rekeyed_leg_is_still_found_by_its_old_dialog() -> None:
    run = _run(
        SESSION,
        dict(CONSULT, call_id="D100"),
        {"at": 900, "input": "accepted", "leg": "L1"},
        {"at": 1000, "input": "rekeyed", "leg": "L1", "dialog": "D200"},
        {"at": 2000, "input": "dropped", "leg": "L1", "by": "B"},
    )
    assert run.leg("L1").call_ids == ("D100", "D200")
    (ended,) = _events(run, event="cim_message", intent="CALL_LEG_ENDED")
    assert ended["message"]["body"]["callId"] == "D200"
    report = _desk_copy("CALL_LEG_STARTED", "B")
    del report["body"]["leg"]
    # The CCM knows the finished leg by its every dialog id; a post about a
    # dialog it never heard of is news (a consult it had not heard of).
    for dialog, event in (("D100", "duplicate_suppressed"), ("D200", "duplicate_suppressed"),
                          ("D300", "CALL_LEG_STARTED")):  # fmt: skip
        line = {"at": 3000, "input": "cim_message", "from": "B",
                "message": dict(report, body=dict(report["body"], callId=dialog))}  # fmt: skip
        posted, answer = run.system.feed_line(json.dumps(line))
        assert posted["event"] == "cim_message" and answer["event"] == event, answer
        assert answer.get("disposition") in (None, "late")


def test_the_newest_leg_of_a_dialog_that_the_sender_is_in_is_the_one() -> None:
    """A queue consult re-offered after RONA is a new leg on the same dialog."""
    queue = {"at": 100, "input": "consult_initiated", "leg": "Q1", "agent_a": "A",
             "queue": True, "customer_ani": "+923001234567", "call_id": "D7"}  # fmt: skip
    run = _run(
        SESSION, queue,
        {"at": 200, "input": "offered", "leg": "Q1", "agent": "B"},
        {"at": 300, "input": "rona", "leg": "Q1"},
        dict(queue, at=400, leg="Q2"),
        {"at": 500, "input": "offered", "leg": "Q2", "agent": "C"},
        {"at": 900, "input": "accepted", "leg": "Q2"},
    )  # fmt: skip
    assert [r["leg"] for r in _events(run, to="conversation")] == ["Q2"]
    report = _desk_copy("CALL_LEG_STARTED", "C")
    report["body"] = {"type": "VOICE", "callId": "D7"}
    line = {"at": 1000, "input": "cim_message", "from": "C", "message": report}
    _, record = run.system.feed_line(json.dumps(line))
    assert (record["event"], record["leg"]) == ("duplicate_suppressed", "Q2")
    # The CCM cannot tell B's stale post about dialog D7 from a re-sent one:
    # D7 is Q2's now, and Q2's start is published. It is not published again.
    from_b = dict(report, header=dict(report["header"], sender={"id": "B", "type": "AGENT"}))
    line = {"at": 1000, "input": "cim_message", "from": "B", "message": from_b}
    _, record = run.system.feed_line(json.dumps(line))
    assert (record["event"], record["leg"]) == ("duplicate_suppressed", "Q2")


def test_a_queue_ttl_must_be_positive() -> None:
    run = _run({"at": 0, "input": "config", "queue_ttl_ms": 0})
    (rejected,) = _events(run, event="input_rejected")
    assert rejected["reason"] == "queue_ttl_ms: must be positive"


def test_a_finished_leg_is_forgotten_after_forget_ms_and_its_id_stays_taken() -> None:
    """Memory follows what is live: a leg finished ``forget_ms`` ago is
    dropped (a tombstone keeps its id), and a late CTI report of it is
    refused by name rather than taken for a new leg."""
    run = _run(*ACCEPTED_AT_900, {"at": 2000, "input": "dropped", "leg": "L1", "by": "B"},
               {"at": 2500, "input": "dropped", "leg": "L1", "by": "B"},
               config=SystemConfig(forget_ms=10_000))  # fmt: skip
    assert [r["disposition"] for r in _events(run, event="input_ignored")] == ["duplicate"]
    assert [leg.leg_id for leg in run.system.legs] == ["L1"]  # kept whole for now
    run.system.feed_line('{"at": 12000, "input": "tick"}')
    assert run.system.legs == ()
    (late,) = run.system.feed_line('{"at": 13000, "input": "dropped", "leg": "L1", "by": "B"}')
    assert late["event"] == "input_rejected" and "forgotten" in late["reason"]
    (again,) = run.system.feed_line(json.dumps(dict(CONSULT, at=14_000)))
    assert again["event"] == "input_rejected" and "already exists" in again["reason"]


def test_replay_memory_follows_what_is_live_not_what_it_has_seen() -> None:
    """Thousands of consults, about 100 at once: the replay's legs and the
    CCM's stay near what is live (plus those finished within forget_ms)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.traces import CONSULT_MS, generate

    forget = 30_000
    system = System(SystemConfig(forget_ms=forget))
    most_legs = most_ccm = 0
    for lineno, line in enumerate(generate(30_000, live=100, seed=3), 1):
        system.feed_line(line, lineno)
        most_legs = max(most_legs, len(system.legs))
        most_ccm = max(most_ccm, len(system.ccm))
    assert system.rejected == 0
    consults = 30_000 // 8  # about 8 lines each
    finished_within_forget = forget // (CONSULT_MS // 100)
    assert most_ccm <= 3 * 100 < consults  # live legs only: about 100, up to ~150 s long
    assert most_legs <= 3 * 100 + finished_within_forget < consults


@pytest.mark.parametrize(
    ("line", "field"),
    [(dict(CONSULT, leg="L\udfff"), "leg"), (dict(CONSULT, agent_b="B\ud800"), "agent_b"),
     ({"at": 900, "input": "rekeyed", "leg": "L1", "dialog": "D\udfff"}, "dialog"),
     ({"at": 900, "input": "tick", "\udfff": 1}, "$")],
)  # fmt: skip
def test_a_lone_surrogate_in_a_trace_line_is_refused_and_changes_nothing(
    line: dict[str, Any], field: str
) -> None:
    """Was a defect (issue 15, 1): a leg id ``"\\udfff"`` made a leg whose
    message ids could not be computed, mid-step, and no start was ever
    published. Now the line is refused by name, before anything moves."""
    run = _run(SESSION, CONSULT)
    before = _snapshots(run.system)
    (rejected,) = run.system.feed_line(json.dumps(line))  # the escape, as JSON spells it
    assert rejected["event"] == "input_rejected"
    assert rejected["reason"].startswith(f"{field}: ") and "not valid Unicode" in rejected["reason"]
    assert _snapshots(run.system) == before and run.system.now == 100


def test_all_or_nothing_holds_whatever_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15, defect 1's second half: even an error that is no library
    error (a bug) half way through a step undoes the whole input."""
    run = _run(SESSION, CONSULT, {"at": 200, "input": "alerting", "leg": "L1"})
    before = _snapshots(run.system)

    def broken(self: CimCodec, **_: Any) -> Any:
        raise RuntimeError("boom")

    with monkeypatch.context() as patch:
        patch.setattr(CimCodec, "agent_message", broken)
        (rejected,) = run.system.feed_line('{"at": 900, "input": "accepted", "leg": "L1"}')
    assert rejected["event"] == "input_rejected" and "internal error, RuntimeError" in (
        rejected["reason"])  # fmt: skip
    assert _snapshots(run.system) == before and run.system.now == 200
    records = run.system.feed_line('{"at": 900, "input": "accepted", "leg": "L1"}')
    assert [r["event"] for r in records if r["to"] == "conversation"] == ["CALL_LEG_STARTED"]
