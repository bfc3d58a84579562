"""The runtime's contract: events per step, typed rejection, idempotence, timers, snapshots."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from helpers import feed, json_round_trip, new_leg, unchanged

from consultfsm import (
    CallState,
    ConfigError,
    DeskState,
    Disposition,
    IllegalInput,
    InputKind,
    InvalidLeg,
    InvalidTime,
    Leg,
    LegConfig,
    LegSnapshot,
    SnapshotError,
    Timer,
    TimeWentBackwards,
)
from consultfsm.core import events as ev
from consultfsm.core.facts import LegFacts
from consultfsm.verify.scenarios import LEG_FACTS

I = InputKind  # noqa: E741


def kinds(step_events: tuple[ev.Event, ...]) -> list[str]:
    return [e.kind.value for e in step_events]


def test_accepting_publishes_started_with_the_customer_ani_in_the_existing_session() -> None:
    leg = new_leg()
    leg.handle(I.ALERTING, 200)
    step = leg.handle(I.ACCEPTED, 900)
    cim = next(e for e in step.events if isinstance(e, ev.CimCallLegStarted))
    assert cim.customer_ani == "+923001234567"  # never Agent A's extension
    assert cim.reason.value == "CONSULT" and cim.intent.value == "CALL_LEG_STARTED"
    assert cim.agent == "B"
    published = next(e for e in step.events if isinstance(e, ev.CallLegStarted))
    assert (published.channel_session_id, published.conversation_id) == ("S1", "C1")
    assert published.reported_by is ev.Reporter.AGENTDESK
    assert kinds(step.events) == [
        "timer_cancelled", "alert_removed", "cim_message", "CALL_LEG_STARTED",
        "task_created", "task_assigned",
    ]  # fmt: skip


def test_the_alert_shows_agent_a_as_caller_id() -> None:
    step = new_leg().handle(I.ALERTING, 200)
    alert = step.events[0]
    assert isinstance(alert, ev.AlertShown) and alert.caller_id == "A"


def test_illegal_input_names_leg_state_and_input_and_changes_nothing() -> None:
    leg = new_leg()
    feed(leg, [(200, I.ALERTING), (900, I.ACCEPTED)])
    with unchanged(leg), pytest.raises(IllegalInput) as info:
        leg.handle(I.RONA, 1000)  # an answered leg cannot be RONA
    err = info.value
    assert (err.leg, err.state, err.input, err.at) == (
        "L1",
        "accepted/connected/connected/present",
        "rona",
        1000,
    )
    assert "leg 'L1' in state accepted/connected/connected/present rejected input 'rona'" in str(
        err
    )


def test_restore_without_disconnect_is_rejected() -> None:
    leg = new_leg()
    with pytest.raises(IllegalInput):
        leg.handle(I.BROWSER_RESTORED_B, 10)
    assert leg.accepts(I.BROWSER_RESTORED_B, 10) is False


def test_time_going_backwards_is_rejected_and_changes_nothing() -> None:
    leg = new_leg()
    leg.handle(I.ALERTING, 500)
    with unchanged(leg), pytest.raises(TimeWentBackwards):
        leg.handle(I.ACCEPTED, 499)
    assert leg.accepts(I.ACCEPTED, 499) is False


def test_duplicates_are_no_ops_that_say_so() -> None:
    leg = new_leg()
    feed(leg, [(200, I.ALERTING), (900, I.ACCEPTED)])
    with unchanged(leg):
        step = leg.handle(I.ACCEPTED, 950)
    assert step.disposition is Disposition.DUPLICATE and step.events == ()


def test_ring_deadline_first_withdraws_the_alert_and_the_ctis_rona_ends_the_leg() -> None:
    leg = new_leg(config=LegConfig(ring_ms=10_000))
    started = leg.handle(I.ALERTING, 200).events[-1]
    assert isinstance(started, ev.TimerStarted) and started.deadline == 10_200
    fired = leg.handle(I.RING_TIMEOUT, 10_200)
    assert kinds(fired.events) == ["alert_removed"]  # the timer fired: nothing to cancel
    # Our own deadline is a fallback: the leg has given up on the alert, not ended.
    assert str(leg.state) == "unanswered/connected/connected/present"
    assert leg.deadlines == {} and not leg.is_finished
    # The CTI's RONA is what ends it, silently (the alert is already gone) ...
    rona = leg.handle(I.RONA, 10_201)
    assert rona.disposition is Disposition.APPLIED and rona.events == ()
    assert leg.call is CallState.RONA and leg.is_finished
    # ... and the same report again is a duplicate; a late expiry is absorbed.
    assert leg.handle(I.RONA, 10_250).disposition is Disposition.DUPLICATE
    assert leg.handle(I.RING_TIMEOUT, 10_300).disposition is Disposition.ABSORBED


def test_cti_rona_first_cancels_the_deadline_and_the_late_expiry_is_absorbed() -> None:
    leg = new_leg()
    leg.handle(I.ALERTING, 200)
    step = leg.handle(I.RONA, 5_000)
    assert kinds(step.events) == ["timer_cancelled", "alert_removed"]
    late = leg.handle(I.RING_TIMEOUT, 15_200)
    assert late.disposition is Disposition.ABSORBED and late.events == ()


def test_an_expiry_before_the_deadline_is_an_older_timer_and_is_absorbed() -> None:
    leg = new_leg()
    feed(
        leg,
        [
            (0, I.ALERTING),
            (1_000, I.BROWSER_DISCONNECTED_B),  # grace until 61_000
            (2_000, I.BROWSER_RESTORED_B),
            (3_000, I.BROWSER_DISCONNECTED_B),  # grace until 63_000
        ],
    )
    stale = leg.handle(I.GRACE_TIMEOUT_B, 61_000)  # the first window's expiry, never disarmed
    assert stale.disposition is Disposition.ABSORBED
    assert leg.desk_b is DeskState.DISCONNECTED and leg.deadline(Timer.GRACE_B) == 63_000
    assert leg.handle(I.GRACE_TIMEOUT_B, 63_000).applied
    assert leg.state.desk_b.value == "lost"


def test_ended_while_b_offline_the_ccm_publishes_and_b_learns_on_return() -> None:
    leg = new_leg()
    feed(leg, [(200, I.ALERTING), (900, I.ACCEPTED), (1_000, I.BROWSER_DISCONNECTED_B)])
    end = leg.handle(I.DROPPED_BY_A, 2_000)
    assert kinds(end.events) == ["CALL_LEG_ENDED", "task_closed"]
    published = end.events[0]
    assert isinstance(published, ev.CallLegEnded) and published.reported_by is ev.Reporter.CCM
    assert not leg.is_finished  # still waiting to tell B's desk
    back = leg.handle(I.BROWSER_RESTORED_B, 3_000)
    assert kinds(back.events) == ["timer_cancelled", "consult_ended"]
    assert leg.is_finished
    for kind in InputKind:  # a finished leg emits nothing more, whatever it is told
        if leg.accepts(kind, 4_000):
            assert leg.handle(kind, 4_000).events == ()


def test_next_deadline_is_the_earliest_pending_one() -> None:
    leg = new_leg(config=LegConfig(ring_ms=15_000, grace_ms=5_000))
    assert leg.next_deadline is None
    feed(leg, [(0, I.ALERTING), (1_000, I.BROWSER_DISCONNECTED_A)])
    assert leg.deadlines == {Timer.RING: 15_000, Timer.GRACE_A: 6_000}
    assert leg.next_deadline == (Timer.GRACE_A, 6_000)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "15"])
def test_config_rejects_nonsense_windows(bad: object) -> None:
    with pytest.raises(ConfigError, match="ring_ms"):
        LegConfig(ring_ms=bad)  # type: ignore[arg-type]


def test_snapshot_json_restore_continues_exactly_like_the_original() -> None:
    original = new_leg(config=LegConfig(ring_ms=9_000, grace_ms=4_000))
    feed(original, [(200, I.ALERTING), (1_000, I.BROWSER_DISCONNECTED_B)])
    copy = json_round_trip(original)
    assert copy.snapshot() == original.snapshot()
    for kind, at in [
        (I.GRACE_TIMEOUT_B, 5_000),
        (I.RING_TIMEOUT, 9_200),
        (I.BROWSER_RESTORED_B, 9_500),
    ]:
        assert copy.handle(kind, at) == original.handle(kind, at)
    assert copy.snapshot() == original.snapshot()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("call", "ringingg", "not one of"),
        ("last_at", "5", "expected an integer"),
        ("ring_deadline", None, "must be set"),
        ("grace_b_deadline", 70_000, "must be null"),
        ("v", 99, "unsupported version"),
        ("agent_b", None, "must be set in state ringing"),  # only a queue consult has none
        ("agent_b", 7, "agent_b must be a string"),
    ],
)
def test_bad_snapshots_name_the_field(field: str, value: object, message: str) -> None:
    leg = new_leg()
    leg.handle(I.ALERTING, 200)
    data = leg.snapshot().to_dict()
    data[field] = value
    with pytest.raises(SnapshotError, match=message) as info:
        LegSnapshot.from_dict(data)
    assert info.value.field == field


def test_a_missing_snapshot_field_is_named() -> None:
    data = new_leg().snapshot().to_dict()
    del data["customer_ani"]
    with pytest.raises(SnapshotError) as info:
        LegSnapshot.from_dict(data)
    assert info.value.field == "customer_ani"


def test_events_are_frozen_values_without_references_to_the_leg() -> None:
    leg = new_leg()
    step = leg.handle(I.ALERTING, 200)
    alert = step.events[0]
    with pytest.raises(AttributeError):
        alert.at = 5  # type: ignore[misc]
    assert alert.to_dict() == {
        "event": "alert_shown", "to": "agentdesk_b", "leg": "L1", "at": 200, "caller_id": "A",
    }  # fmt: skip


@pytest.mark.parametrize("bad", [float("nan"), 5.0, "5", None, True])
def test_a_time_that_is_not_integer_ms_is_rejected_and_changes_nothing(bad: object) -> None:
    leg = new_leg()
    with unchanged(leg), pytest.raises(InvalidTime, match="time must be integer ms"):
        leg.handle(I.ALERTING, bad)  # type: ignore[arg-type]
    assert leg.accepts(I.ALERTING, bad) is False  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"agent_b": "A"}, "agent_a and agent_b are both 'A'"),
        ({"leg_id": ""}, "leg_id must not be empty"),
        ({"channel_session_id": None}, "channel_session_id must be a string"),
        ({"conversation_id": 7}, "conversation_id must be a string"),
        ({"created_at": 1.5}, "created_at must be an integer"),
    ],
)
def test_facts_that_cannot_be_right_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidLeg, match=message):
        new_leg(**change)


@pytest.mark.parametrize("ending", [I.RONA, I.DROPPED_BY_A, I.DROPPED_BY_B, I.FAILED])
def test_b_answering_after_an_unanswered_end_is_rejected_not_swallowed(ending: InputKind) -> None:
    leg = new_leg()
    feed(leg, [(200, I.ALERTING), (1_000, ending)])
    with unchanged(leg), pytest.raises(IllegalInput):
        leg.handle(I.ACCEPTED, 1_100)


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_a_snapshot_version_must_be_the_integer_1(version: object) -> None:
    data = new_leg().snapshot().to_dict()
    data["v"] = version
    with pytest.raises(SnapshotError) as info:
        LegSnapshot.from_dict(data)
    assert info.value.field == "v"


def test_a_snapshot_with_impossible_facts_is_a_snapshot_error() -> None:
    data = new_leg().snapshot().to_dict()
    data["agent_b"] = data["agent_a"]
    with pytest.raises(SnapshotError, match="agent_a and agent_b"):
        Leg.restore(LegSnapshot.from_dict(data))


def test_reset_puts_the_same_object_back_into_a_snapshot_state() -> None:
    leg = new_leg()
    leg.handle(I.ALERTING, 200)
    snap = leg.snapshot()
    leg.handle(I.ACCEPTED, 900)
    same = leg
    leg.reset(snap)
    assert same is leg and leg.snapshot() == snap
    assert leg.handle(I.ACCEPTED, 900) == new_leg_after_alert().handle(I.ACCEPTED, 900)


def new_leg_after_alert() -> Leg:
    leg = new_leg()
    leg.handle(I.ALERTING, 200)
    return leg


def test_an_impossible_snapshot_cannot_even_be_built() -> None:
    # So reset() and restore() never see one: a snapshot that exists is consistent.
    leg = new_leg()
    leg.handle(I.ALERTING, 200)
    before = leg.snapshot()
    with pytest.raises(InvalidLeg, match="agent_a and agent_b"):
        attrs.evolve(before.facts, agent_b=before.facts.agent_a)
    with pytest.raises(SnapshotError, match="must be set") as info:
        attrs.evolve(before, ring_deadline=None)
    assert info.value.field == "ring_deadline"
    assert leg.snapshot() == before


# --- the snapshot's dict form is version 2, byte for byte; version 1 still reads ----------

#: A leg of the design note after the alert, as version 1 of the dict form spelt it
#: (three regions, no queue, no re-keying). Stored snapshots depend on it.
SNAPSHOT_V1 = {
    "v": 1, "leg": "L1", "agent_a": "A", "agent_b": "B", "customer_ani": "+923001234567",
    "conversation_id": "C1", "channel_session_id": "S1", "call_id": "D2",
    "service_identifier": "8001", "associated_dialog_uri": None, "call": "ringing",
    "desk_a": "connected", "desk_b": "connected", "ring_deadline": 15_200,
    "grace_a_deadline": None, "grace_b_deadline": None, "last_at": 200, "ring_ms": 15_000,
    "grace_ms": 60_000,
}  # fmt: skip
#: The same leg in version 2: facts first (the id as "leg"), then the region
#: states (the customer's added), the deadlines (the queue's added), the time,
#: the CTI's own time and the former dialog ids, then the windows.
SNAPSHOT_V2 = {
    "v": 2, "leg": "L1", "agent_a": "A", "agent_b": "B", "customer_ani": "+923001234567",
    "conversation_id": "C1", "channel_session_id": "S1", "call_id": "D2",
    "service_identifier": "8001", "associated_dialog_uri": None, "call": "ringing",
    "desk_a": "connected", "desk_b": "connected", "customer": "present",
    "ring_deadline": 15_200, "queue_deadline": None, "grace_a_deadline": None,
    "grace_b_deadline": None, "last_at": 200, "cti_at": None, "former_call_ids": [],
    "ring_ms": 15_000, "grace_ms": 60_000, "queue_ttl_ms": None,
}  # fmt: skip


def test_the_snapshot_dict_form_is_version_2() -> None:
    leg = new_leg_after_alert()
    data = leg.snapshot().to_dict()
    assert list(data.items()) == list(SNAPSHOT_V2.items())
    assert Leg.restore(LegSnapshot.from_dict(SNAPSHOT_V2)).snapshot() == leg.snapshot()


def test_a_version_1_snapshot_still_reads() -> None:
    leg = new_leg_after_alert()
    assert Leg.restore(LegSnapshot.from_dict(SNAPSHOT_V1)).snapshot() == leg.snapshot()


@pytest.mark.parametrize("gone", ["customer_left", "ended_by_customer"])
def test_a_version_1_customer_ending_is_refused_by_name(gone: str) -> None:
    # v1 ended a consult when the customer hung up; v2 does not, so there is no
    # faithful translation of those states, and guessing one could lose a call.
    data = {**SNAPSHOT_V1, "call": gone, "ring_deadline": None}
    with pytest.raises(SnapshotError, match="no v2 equivalent") as info:
        LegSnapshot.from_dict(data)
    assert info.value.field == "call"


@pytest.mark.parametrize("call", [[], {}, 5, None])
def test_a_version_1_state_of_the_wrong_kind_is_a_snapshot_error(call: Any) -> None:
    with pytest.raises(SnapshotError) as info:
        LegSnapshot.from_dict({**SNAPSHOT_V1, "call": call})
    assert info.value.field == "call"


@pytest.mark.parametrize(
    ("field", "value"),
    [("customer", "left"), ("queue_deadline", 900), ("cti_at", 150), ("former_call_ids", ["D1"])],
)
def test_a_version_1_snapshot_holding_a_version_2_field_is_refused_by_name(
    field: str, value: Any
) -> None:
    """Was a defect: the field's value was replaced by v1's default silently
    (a customer who had left read as present)."""
    with pytest.raises(SnapshotError) as info:
        LegSnapshot.from_dict({**SNAPSHOT_V1, field: value})
    assert info.value.field == field


def test_a_snapshot_built_with_strings_for_states_is_refused() -> None:
    snap = new_leg_after_alert().snapshot()
    with pytest.raises(SnapshotError) as info:
        attrs.evolve(snap, call="ringing")  # type: ignore[arg-type]
    assert info.value.field == "call"


# --- the fast paths agree with the plain ones ------------------------------------------


def test_the_fast_init_builds_what_the_plain_init_builds() -> None:
    import inspect

    from consultfsm.core.leg import PLAIN_INIT

    assert inspect.signature(Leg.__init__).parameters.keys() == (
        inspect.signature(PLAIN_INIT).parameters.keys()
    )
    for name, param in inspect.signature(PLAIN_INIT).parameters.items():
        assert inspect.signature(Leg.__init__).parameters[name].kind is param.kind, name
    fast = new_leg(created_at=5)
    plain = Leg.__new__(Leg)
    PLAIN_INIT(plain, **(LEG_FACTS | {"created_at": 5}))
    assert all(getattr(fast, s) == getattr(plain, s) for s in Leg.__slots__)
    assert fast.facts == plain.facts == LegFacts(
        "L1", "A", "B", "+923001234567", conversation_id="C1", channel_session_id="S1",
        call_id="D2", service_identifier="8001",
    )  # fmt: skip


@pytest.mark.parametrize("config", [None, "15000", {"ring_ms": 1}])
def test_a_config_that_is_no_leg_config_is_refused(config: object) -> None:
    with pytest.raises(ConfigError) as info:
        new_leg(config=config)
    assert info.value.field == "config"
    with pytest.raises(ConfigError):
        Leg.from_facts(new_leg().facts, config=config)  # type: ignore[arg-type]


def test_from_facts_takes_only_facts() -> None:
    with pytest.raises(InvalidLeg) as info:
        Leg.from_facts(LEG_FACTS)  # type: ignore[arg-type]
    assert info.value.field == "facts"


@pytest.mark.parametrize("fact", ["leg_id", "agent_a", "agent_b", "customer_ani", "call_id"])
def test_a_lone_surrogate_in_a_fact_is_an_invalid_leg(fact: str) -> None:
    """Issue 15, defect 1: no id, CIM message or snapshot can carry it."""
    facts: dict[str, Any] = {"leg_id": "L1", "agent_a": "A", "agent_b": "B",
                             "customer_ani": "+923001234567", "call_id": "D1"}  # fmt: skip
    facts[fact] += "\udfff"
    with pytest.raises(InvalidLeg, match="not valid Unicode"):
        Leg(facts.pop("leg_id"), facts.pop("agent_a"), facts.pop("agent_b"),
            facts.pop("customer_ani"), conversation_id="C1", channel_session_id="S1",
            **facts)  # fmt: skip


def test_a_lone_surrogate_as_an_input_s_value_changes_nothing() -> None:
    leg = Leg("L1", "A", "B", "+923001234567", conversation_id="C1", channel_session_id="S1")
    before = leg.snapshot()
    with pytest.raises(InvalidLeg, match="not valid Unicode"):
        leg.handle(InputKind.REKEYED, 5, "D\ud800")
    assert leg.snapshot() == before


def test_non_ascii_facts_are_still_facts() -> None:
    leg = Leg("Lé", "Zoë", "B", "+923001234567", conversation_id="C1", channel_session_id="S1")
    assert Leg.restore(leg.snapshot()).facts.agent_a == "Zoë"


@pytest.mark.parametrize("kind", [[], {}, "bogus", None, 5])
@pytest.mark.parametrize("value", [None, "D9"])
def test_anything_that_is_no_input_is_an_illegal_input_not_a_type_error(
    kind: Any, value: str | None
) -> None:
    """Was a defect (issue 15, 6): ``handle([], at=1)`` was a raw TypeError."""
    leg = Leg("L1", "A", "B", "+923001234567", conversation_id="C1", channel_session_id="S1")
    before = leg.snapshot()
    with pytest.raises(IllegalInput):
        leg.handle(kind, 1, value)
    assert not leg.accepts(kind, 1) and leg.snapshot() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("ring_deadline", 1.5), ("ring_deadline", True), ("ring_deadline", "15100"),
     ("last_at", None), ("cti_at", "x"), ("former_call_ids", ["D0"]),
     ("former_call_ids", ("",)), ("former_call_ids", ("D\udfff",))],
)  # fmt: skip
def test_a_snapshot_built_in_code_is_held_to_the_same_types(field: str, value: Any) -> None:
    """Was a defect (issue 15, 5): only from_dict checked types, so a snapshot
    built in code restored a leg that could not be snapshotted again."""
    leg = Leg("L1", "A", "B", "+923001234567", conversation_id="C1", channel_session_id="S1",
              call_id="D1")  # fmt: skip
    leg.handle(InputKind.ALERTING, 100)
    with pytest.raises(SnapshotError) as caught:
        attrs.evolve(leg.snapshot(), **{field: value})
    assert caught.value.field == field


@pytest.mark.parametrize("key", ["ring_deadine", "Call", "extra"])
def test_a_misspelt_or_unknown_snapshot_key_is_refused(key: str) -> None:
    leg = Leg("L1", "A", "B", "+923001234567", conversation_id="C1", channel_session_id="S1")
    data = leg.snapshot().to_dict()
    data[key] = 1
    with pytest.raises(SnapshotError, match="unknown field") as caught:
        LegSnapshot.from_dict(data)
    assert caught.value.field == key


def test_an_overdue_deadline_in_a_snapshot_is_kept_and_still_fires() -> None:
    """A leg may be snapshotted past a deadline its host has not fired yet
    (inputs carry their time; timers fire when the host asks): not an error."""
    leg = Leg("L1", "A", "B", "+923001234567", conversation_id="C1", channel_session_id="S1")
    leg.handle(InputKind.ALERTING, 100)
    leg.handle(InputKind.BROWSER_DISCONNECTED_A, 20_000)  # past the ring deadline, 15100
    again = Leg.restore(LegSnapshot.from_dict(leg.snapshot().to_dict()))
    assert [s.row.input for s in again.handle_timers(20_000) if s.row] == [InputKind.RING_TIMEOUT]


def test_a_missing_config_or_a_fact_of_the_wrong_type_is_refused_at_once() -> None:
    """Was a defect (issue 15, 6): ``config=None`` failed later with an
    AttributeError; ``call_id=5`` made a leg whose snapshot could not be restored."""
    with pytest.raises(ConfigError, match="LegConfig"):
        Leg("L1", "A", "B", "+92", conversation_id="C1", channel_session_id="S1",
            config=None)  # type: ignore[arg-type]  # fmt: skip
    with pytest.raises(InvalidLeg, match="call_id"):
        Leg("L1", "A", "B", "+92", conversation_id="C1", channel_session_id="S1",
            call_id=5)  # type: ignore[arg-type]  # fmt: skip
