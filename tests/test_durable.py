"""The durable CCM publishes, input for input, what the in-memory engine does,
and keeps its promises through retries, crashes at every commit point and
restarts, on SQLite and, with ``CONSULTFSM_TEST_POSTGRES``, on PostgreSQL (``backend``).

The reference is :class:`~consultfsm.ccm.engine.CcmEngine` fed the same inputs
at the same times: what the durable CCM must add is durability, not behaviour.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from durable_world import (
    B2,
    CODEC,
    POINTS_IN_ORDER,
    SESSIONS,
    A,
    B,
    Clocked,
    Crash,
    apply_durable,
    apply_reference,
    inputs,
    inputs_near_horizons,
    message,
    reference,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from stores import BACKENDS, Backend

from consultfsm.ccm import ChannelSession
from consultfsm.ccm.machine import CcmConfig
from consultfsm.durable.engine import DurableCcm, Sent
from consultfsm.durable.faults import POINTS, Faults
from consultfsm.durable.sqlite import SqliteStore
from consultfsm.wire.cim import MessageIntent

STARTED = MessageIntent.CALL_LEG_STARTED


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    return Backend(request.param, tmp_path_factory.mktemp("db"))


def _one_db_each(examples: int) -> settings:
    # The fixture gives a factory: each example opens its own database.
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


@_one_db_each(150)
@given(script=inputs)
def test_the_durable_ccm_publishes_what_the_engine_publishes(
    script: list[Any], backend: Backend
) -> None:
    ref, world = reference(), Clocked(backend.open(backend.new()))
    at = 0
    for n, (gap, item) in enumerate(script):
        at += gap
        assert apply_durable(world, item, at, n) == apply_reference(ref, item, at), item


@_one_db_each(120)
@given(script=inputs_near_horizons, tombstone_ms=st.sampled_from([800, 2_500]),
       ended_session_ms=st.sampled_from([0, 1_500]))  # fmt: skip
def test_short_horizons_run_out_in_the_durable_ccm_as_in_the_engine(
    script: list[Any], tombstone_ms: int, ended_session_ms: int, backend: Backend
) -> None:
    # Horizons the script's gaps cross: a finished leg's tombstone expires (in
    # the generation the engine buried it in, a deadline's at its own time), a
    # dialog is taken again and finished again, an ended session stops taking
    # consults (at once, with 0). The reference remembers applied messages as
    # the inbox does: one sent again after its tombstone expired is a retry.
    ref = reference(tombstone_ms, ended_session_ms)
    world = Clocked(backend.open(backend.new()), tombstone_ms, ended_session_ms)
    inbox: set[str] = set()
    at = 0
    for n, (gap, item) in enumerate(script):
        at += gap
        assert apply_durable(world, item, at, n) == apply_reference(ref, item, at, inbox), item


_ENDED, _HOLD = MessageIntent.CALL_LEG_ENDED, MessageIntent.CALL_HOLD
#: (tombstone_ms, ended_session_ms, [(ms, input)], what the last input publishes)
_HORIZON_RUNS_OUT: dict[str, tuple[int, int, list[tuple[int, Any]], list[str]]] = {
    # Generations of 100 ms: a leg finished at 1050 is remembered until 1900.
    "a tombstone expires with its generation": (800, 600_000, [
        (1000, ("recv", B, STARTED, "D1", None)), (1050, ("recv", B, _ENDED, "D1", None)),
        (1920, ("recv", B, _HOLD, "D1", None))], ["CALL_LEG_STARTED", "CALL_HOLD"]),
    # The dialog is taken again long after, by a leg that ends as it starts:
    # remembered from that finish, so a report 100 ms later is late.
    "a dialog finished again is remembered from its new finish": (800, 600_000, [
        (1000, ("recv", B, STARTED, "D1", None)), (1050, ("recv", B, _ENDED, "D1", None)),
        (3000, ("recv", B2, _ENDED, "D1", None)), (3100, ("recv", B2, _HOLD, "D1", None))], []),
    # A's end waits 2 s for B's (deadline 4000); the sweep runs at 8000. The
    # leg finished at 4000: generations of 1 s, remembered until 13,000.
    "a deadline a late sweep fires buries its leg at its own time": (8_000, 600_000, [
        (1000, ("recv", B, STARTED, "D1", None)), (2000, ("recv", A, _ENDED, "D1", None)),
        (8000, ("tick",)), (13_500, ("recv", B2, _HOLD, "D1", None))],
        ["CALL_LEG_STARTED", "CALL_HOLD"]),
    # With ended_session_ms 0 an ended session takes no consult, even at once.
    "an ended session takes no consult when the horizon is 0": (800, 0, [
        (500, ("end", "S1")), (500, ("recv", B, STARTED, "D1", None))], []),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(_HORIZON_RUNS_OUT))
def test_a_short_horizon_runs_out_in_the_durable_ccm_as_in_the_engine(
    case: str, backend: Backend
) -> None:
    tombstone_ms, ended_session_ms, script, last = _HORIZON_RUNS_OUT[case]
    ref = reference(tombstone_ms, ended_session_ms)
    world = Clocked(backend.open(backend.new()), tombstone_ms, ended_session_ms)
    for n, (at, item) in enumerate(script):
        said = apply_durable(world, item, at, n)
        assert said == apply_reference(ref, item, at), (case, item)
    assert [json.loads(text)["name"] for text in said[0]] == last


def test_a_tombstone_kept_at_its_exact_time_expires_with_its_generation(backend: Backend) -> None:
    # A store keeps the start of the generation a dialog was buried in; an
    # earlier version kept the exact time: the row loads as the engine held it.
    _, _, script, last = _HORIZON_RUNS_OUT["a tombstone expires with its generation"]
    ref, world = reference(800), Clocked(backend.open(backend.new()), 800)
    for n, (at, item) in enumerate(script):
        if n == len(script) - 1:
            with world.ccm.store.transaction() as tx:
                assert tx._q("SELECT at FROM tombstones WHERE dialog = 'D1'") == [(1000,)]
                tx._q("UPDATE tombstones SET at = 1050 WHERE dialog = 'D1'")
        said = apply_durable(world, item, at, n)
        assert said == apply_reference(ref, item, at), item
    assert [json.loads(text)["name"] for text in said[0]] == last


@_one_db_each(60)
@given(script=inputs, point=st.sampled_from(POINTS), hit=st.integers(1, 6))
def test_a_crash_at_any_commit_point_then_a_retry_publishes_exactly_once(
    script: list[Any], point: str, hit: int, backend: Backend
) -> None:
    path = backend.new()
    world = Clocked(backend.open(path))
    crashes = []

    def crash(where: str) -> None:
        crashes.append(where)
        raise Crash(where)

    world.ccm.faults = Faults(point, hit, crash)

    def restart() -> None:  # a new worker on the same file, the old one's connection gone
        world.ccm.store.close()
        world.ccm = DurableCcm(backend.open(path), CODEC, clock=lambda tx: world.t,
                               faults=Faults())  # fmt: skip

    ref, at = reference(), 0
    for n, (gap, item) in enumerate(script):
        at += gap
        assert apply_durable(world, item, at, n, restart) == apply_reference(ref, item, at), item
    assert crashes in ([], [point])
    event(f"crashed: {bool(crashes)}")


def test_the_commit_points_are_the_ones_the_issue_names_in_order() -> None:
    assert POINTS == POINTS_IN_ORDER


def test_a_retried_desk_down_after_a_later_desk_up_is_not_applied_again(backend: Backend) -> None:
    world = Clocked(backend.open(backend.new()))
    ccm = world.ccm
    world.t = 100
    ccm.receive(message(B, STARTED, 100, "D1"))
    world.t = 200
    down = ccm.desk_down("1002", input_id="socket:7")
    world.t = 300
    ccm.desk_up("1002", input_id="socket:8")
    world.t = 400
    again = ccm.desk_down("1002", input_id="socket:7")  # the socket layer's retry, late
    assert again.replayed and again.at == down.at == 200
    with ccm.store.transaction() as tx:
        (row,), presence = tx.lock_and_load_agent(["agent:1002"], "1002")
        assert presence == {"1002": True}
    assert row.record["machine"]["desk_b"] == "up"


def test_a_burst_on_one_leg_within_one_ms_of_the_clock_gets_an_event_id_per_event(
    backend: Backend,
) -> None:
    """Was a defect (an adversarial review): a desk's hold, resume, hold,
    resume applied within one ms of the database's clock were published at
    one ms, and a hold's event id was keyed by that ms: the second hold had
    the first one's id, and a consumer that drops repeated ids (as ActiveMQ
    Classic's must) lost it. A hold's event id is now keyed by its report."""
    world = Clocked(backend.open(backend.new()))
    world.t = 10_000  # the clock stands still through the burst
    hold, resume = MessageIntent.CALL_HOLD, MessageIntent.CALL_RESUME
    answers = [world.ccm.receive(message(B, intent, 9_000 + 100 * k, "D1"))
               for k, intent in enumerate([STARTED, hold, resume, hold, resume])]  # fmt: skip
    sent = [s for a in answers for s in a.sent]
    assert [s.intent for s in sent] == ["CALL_LEG_STARTED", "CALL_HOLD", "CALL_RESUME",
                                        "CALL_HOLD", "CALL_RESUME"]  # fmt: skip
    assert len({s.event_id for s in sent}) == len(sent)
    assert {a.at for a in answers} == {10_000}  # (the CCM's time is the database's)
    with world.ccm.store.transaction() as tx:
        rows = tx.pending(None, 100)
    assert len({r.event_id for r in rows}) == len(rows) == 5
    # A re-sent copy of the second hold is its retry: the same answer, the same id.
    again = world.ccm.receive(message(B, hold, 9_300, "D1"))
    assert again.replayed and again.sent == answers[3].sent


def test_a_consult_naming_an_ended_call_is_that_call_s_in_the_durable_ccm_too(
    backend: Backend,
) -> None:
    """The customer left while the consult rang and called back from the same
    number: B's start names the first call's dialog, so it is published in the
    first call's conversation (ended), not in the callback's (live by ANI)."""
    world = Clocked(backend.open(backend.new()))
    ccm = world.ccm
    world.t = 1_000
    ccm.end_session("S1")
    world.t = 1_500
    again = ChannelSession("S3", "C3", SESSIONS[0].customer_ani, "D7", "8000")
    ccm.start_session(again)
    world.t = 2_000
    text = CODEC.dumps(CODEC.agent_message(
        leg="7002:1002:D1", at=2_000, intent=STARTED, agent="1002",
        customer=SESSIONS[0].customer_ani, call_id="D1", reason=None,
        associated_dialog_uri=f"/finesse/api/Dialog/{SESSIONS[0].dialog_id}"))  # fmt: skip
    (sent,) = ccm.receive(text).sent
    assert sent.conversation == "C1"
    with ccm.store.transaction() as tx:
        (row,) = tx.pending(None, 100)[-1:]
    assert json.loads(row.body)["channelSession"]["isActive"] is False


def test_a_report_after_every_sweeper_was_down_past_the_tombstone_horizon_is_late(
    backend: Backend,
) -> None:
    # No sweeper ran for longer than the tombstone horizon: the report fires
    # the leg's overdue deadline at its own time, which ends the leg, and is
    # then absorbed as late (it used to fail an assert in the engine).
    t = [0]
    ccm = DurableCcm(backend.open(backend.new()), CODEC, config=CcmConfig(away_ms=60_000),
                     tombstone_ms=8_000, clock=lambda tx: t[0])  # fmt: skip
    for s in SESSIONS:
        ccm.start_session(s)
    ccm.desk_up("1001")
    t[0] = 100
    ccm.receive(message(A, STARTED, 100, "D1"))
    t[0] = 101
    ccm.receive(message(B, STARTED, 101, "D1"))
    t[0] = 200
    ccm.desk_down("1002")
    t[0] = 300
    ccm.desk_down("1001")
    assert ccm.next_deadline() == 60_300
    t[0] = 60_300 + 2 * 8_000 + 1
    answer = ccm.receive(message(B, MessageIntent.CALL_HOLD, t[0], "D1"))
    assert (answer.disposition, answer.late) == ("absorbed", True)
    assert [(s.intent, s.source, s.reason) for s in answer.sent] == [
        ("CALL_LEG_ENDED", "ccm", "CONSULT_UNOBSERVED")]  # fmt: skip
    assert ccm.next_deadline() is None and ccm.sweep() == []


def test_a_deadline_fires_once_after_a_restart_and_never_early(backend: Backend) -> None:
    path = backend.new()
    world = Clocked(backend.open(path))
    world.t = 1_000
    a = ("1001", "7001")
    world.ccm.receive(message(a, STARTED, 1_000, "D1"))  # A's start waits for B's
    deadline = world.ccm.next_deadline()
    assert deadline is not None and deadline > 1_000
    world.t = deadline - 1
    assert world.ccm.sweep() == []  # not yet due
    world.ccm.store.close()
    later = Clocked.__new__(Clocked)
    later.t = deadline + 5_000  # a worker that came up late
    later.ccm = DurableCcm(backend.open(path), CODEC, clock=lambda tx: later.t)
    (answer,) = later.ccm.sweep()
    assert [s.intent for s in answer.sent] == ["CALL_LEG_STARTED"]
    assert later.ccm.sweep() == []  # once
    assert later.ccm.next_deadline() != deadline  # (the leg's next wait, if any, is another)
    with later.ccm.store.transaction() as tx:
        (row,) = tx.pending(None, 10)
    # Fired at its own time, not the late sweeper's.
    assert json.loads(row.body)["timestamp"] == json.loads(CODEC.dumps_event(
        CODEC.leg_event(leg="D1", at=deadline, intent=STARTED,
                        session=_ref(), message=CODEC.agent_message(
                            leg="7001:1001:D1", at=deadline, intent=STARTED, agent="1001",
                            customer=SESSIONS[0].customer_ani, call_id="D1", reason=None)))
    )["timestamp"]  # fmt: skip


def _ref() -> Any:
    from consultfsm.wire.cim import ChannelSessionRef

    s = SESSIONS[0]
    return ChannelSessionRef(s.id, s.conversation_id, s.customer_ani, s.service_identifier)


_CHILD = """
import sys
from durable_world import CODEC, B, message
from consultfsm.durable.engine import DurableCcm
from consultfsm.durable.sqlite import SqliteStore
from consultfsm.wire.cim import MessageIntent
ccm = DurableCcm(SqliteStore(sys.argv[1]), CODEC, clock=lambda tx: 100)
ccm.receive(message(B, MessageIntent.CALL_LEG_STARTED, 100, "D1"))
"""


@pytest.mark.parametrize("point", POINTS)
def test_a_killed_process_leaves_the_input_whole_or_not_at_all(point: str, tmp_path: Path) -> None:
    path = tmp_path / "ccm.db"
    world = Clocked(SqliteStore(path))
    world.ccm.store.close()
    env = {**os.environ, "CONSULTFSM_CRASH_AT": point,
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}  # fmt: skip
    child = subprocess.run([sys.executable, "-c", _CHILD, str(path)], env=env, check=False)
    assert child.returncode == 137  # it died at the point, as SIGKILL leaves a process
    store = SqliteStore(path)
    with store.transaction() as tx:
        legs, rows = tx.live_legs(), tx.pending(None, 10)
    committed = point == "after_commit"
    assert (legs, len(rows)) == ((1, 1) if committed else (0, 0))
    # The desk retries: the input is applied once, whichever side of the commit it died.
    world.ccm = DurableCcm(store, CODEC, clock=lambda tx: 200)
    answer = world.ccm.receive(message(B, STARTED, 100, "D1"))
    assert answer.replayed is committed
    with store.transaction() as tx:
        assert [json.loads(r.body)["name"] for r in tx.pending(None, 10)] == ["CALL_LEG_STARTED"]


@pytest.mark.parametrize("agent", ["", " ", "\udfff", 5])
def test_a_presence_input_naming_no_writable_agent_is_refused_changing_nothing(agent: Any) -> None:
    from consultfsm.ccm.engine import CcmRefused

    world = Clocked(SqliteStore(":memory:"))
    with pytest.raises(CcmRefused):
        world.ccm.desk_down(agent)
    with pytest.raises(CcmRefused):
        world.ccm.desk_up("1002", input_id="\ud800")
    with pytest.raises(CcmRefused):
        world.ccm.end_session("\ud800")
    with world.ccm.store.transaction() as tx:
        assert tx.presence(["1002"]) == {}


def test_an_id_longer_than_a_broker_takes_is_refused_at_input_changing_nothing() -> None:
    """Was a defect (an adversarial review): any length was taken, and an id
    over ActiveMQ's header limit (10 KiB) made an event the broker refused on
    every try, first in its partition for good, holding back every event
    behind it. Ids are bounded at input (UTF-8 bytes, so a four-byte
    character counts four)."""
    from consultfsm.ccm.engine import CcmRefused
    from consultfsm.durable.engine import MAX_ID_BYTES

    world = Clocked(SqliteStore(":memory:"))
    ccm = world.ccm
    longest = "😀" * (MAX_ID_BYTES // 4)
    ccm.start_session(ChannelSession("S7", longest, "+923007777777"))
    for field, session in [
        ("session.conversation_id", ChannelSession("S8", longest + "x", "+923008888888")),
        ("session.id", ChannelSession("S" * (MAX_ID_BYTES + 1), "C8", "+923008888888")),
    ]:
        with pytest.raises(CcmRefused) as caught:
            ccm.start_session(session)
        assert caught.value.field == field
    with pytest.raises(CcmRefused) as caught:
        ccm.receive(message(B, STARTED, 100, "D" * (MAX_ID_BYTES + 1)))
    assert caught.value.field == "body"
    with pytest.raises(CcmRefused):
        ccm.desk_up("1002", input_id="i" * (MAX_ID_BYTES + 1))
    with ccm.store.transaction() as tx:
        assert tx.live_legs() == 0 and tx.presence(["1002"]) == {}
        assert tx.session("S8") is None


def test_ids_at_the_limit_are_taken_whatever_the_inbox_id_made_of_them(backend: Backend) -> None:
    # Was a defect (a second adversarial review): an input sent without an
    # id is remembered as a prefix and its own id ("cim:" and the message's,
    # "session-end:" and the session's), and that was held to the limit, so a
    # session id of 512 bytes, or a message id of 509, was refused, naming
    # the input_id the caller never gave. Each id is held to the limit by its
    # own field.
    from consultfsm.ccm.engine import CcmRefused
    from consultfsm.durable.engine import MAX_ID_BYTES

    world = Clocked(backend.open(backend.new()))
    ccm = world.ccm
    sid = "S" * MAX_ID_BYTES
    session = ChannelSession(sid, "C-long", "+923007777777", "X-long")
    assert ccm.start_session(session).disposition == "applied"
    assert ccm.start_session(session).replayed  # its retry: its id was remembered
    raw = json.loads(message(B, STARTED, 100, "D-long"))
    for length, field in ((MAX_ID_BYTES, None), (MAX_ID_BYTES + 1, "id")):
        raw["id"] = "m" * length
        if field is None:
            assert ccm.receive(json.dumps(raw)).disposition == "applied"
            assert ccm.receive(json.dumps(raw)).replayed
        else:
            with pytest.raises(CcmRefused) as caught:
                ccm.receive(json.dumps(raw))
            assert caught.value.field == field
    world.t = 1_000
    assert ccm.end_session(sid).disposition == "applied"
    assert ccm.end_session(sid).replayed
    # An input_id given is the inbox id itself: held to the limit as it is.
    assert ccm.desk_up("1002", input_id="i" * MAX_ID_BYTES).disposition == "applied"
    with pytest.raises(CcmRefused) as caught:
        ccm.desk_up("1002", input_id="i" * (MAX_ID_BYTES + 1))
    assert caught.value.field == "input_id"


def test_two_sessions_of_one_number_ended_in_the_same_ms_resolve_as_the_engine_does(
    backend: Backend,
) -> None:
    # Found in review: the ended sessions were sorted as [time, record] pairs,
    # and two ended in the same ms compared their records (a TypeError, a 500).
    world = Clocked(backend.open(backend.new()))
    ccm = world.ccm
    for sid, agents in (("S7", ["1001"]), ("S8", ["1009"])):
        ccm.start_session(ChannelSession(sid, f"C{sid}", "+923005550000", f"X{sid}",
                                         agents=frozenset(agents)))  # fmt: skip
    world.t = 1_000
    ccm.end_session("S7")
    ccm.end_session("S8")
    world.t = 2_000
    text = CODEC.dumps(CODEC.agent_message(
        leg="7001:1001:D5", at=2_000, intent=STARTED, agent="1001", customer="+923005550000",
        call_id="D5", reason=None, consult_role="CONSULTING"))  # fmt: skip
    answer = ccm.receive(text)  # A's own conversation decides between the two
    assert answer.disposition == "applied"
    with ccm.store.transaction() as tx:
        (row,) = tx.load_legs(["D5"])
    assert row.record["session"]["id"] == "S7"


@pytest.mark.parametrize("bad", ["a\x00b", "\x00"])
def test_an_id_with_nul_is_refused_on_every_store_changing_nothing(
    backend: Backend, bad: str
) -> None:
    from consultfsm.ccm.engine import CcmRefused

    world = Clocked(backend.open(backend.new()))
    with pytest.raises(CcmRefused):
        world.ccm.desk_down(bad)
    with pytest.raises(CcmRefused):
        world.ccm.end_session(bad)
    text = CODEC.dumps(CODEC.agent_message(
        leg=f"7002:1002:D{bad}", at=0, intent=STARTED, agent="1002", customer="+923001234567",
        call_id=f"D{bad}", reason=None))  # fmt: skip
    with pytest.raises(CcmRefused):
        world.ccm.receive(text)
    with world.ccm.store.transaction() as tx:
        assert tx.live_legs() == 0 and tx.presence(["1002"]) == {}


# --- PostgreSQL: the transaction as it goes over the wire -----------------------------------


def _round_trips(store: Any, run: Any) -> tuple[Any, int, str]:
    """What ``run()`` returns, the round trips it took on ``store``'s connection
    (each ends with the server's ReadyForQuery, in libpq's trace of the
    protocol) and the transaction status left after it (``I``: idle)."""
    result, lines, status = _traced(store, run)
    return result, sum("\tReadyForQuery\t" in line for line in lines), status


def _traced(store: Any, run: Any) -> tuple[Any, list[str], str]:
    """:func:`_round_trips` with libpq's whole trace instead of the count."""
    import tempfile

    from psycopg import pq

    conn = store._connection()
    with tempfile.TemporaryFile("w+") as trace:
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            result = run()
        except Exception as exc:  # the caller checks what was raised
            result = exc
        finally:
            conn.pgconn.untrace()
        trace.seek(0)
        lines = trace.read().splitlines()
    status = {pq.TransactionStatus.IDLE: "I"}.get(conn.info.transaction_status, "open")
    return result, lines, status


def _pg_world_with_a_leg(tmp_path: Path) -> Clocked:
    """A durable CCM on a fresh PostgreSQL schema, B's consult D1 started."""
    backend = Backend("postgresql", tmp_path)
    world = Clocked(backend.open(backend.new()))
    world.ccm.receive(message(B, STARTED, 0, "D1"))
    return world


def test_an_input_on_postgresql_takes_two_round_trips_and_leaves_no_transaction_open(
    tmp_path: Path,
) -> None:
    # The design (docs/deployment.md): BEGIN with the legs and the inbox read
    # (on a live leg that knows the report's party, its row lock orders it);
    # the writes with the COMMIT: the fewest a transaction that writes what
    # it read can take. The floor a plain client writes takes
    # five (BEGIN, SELECT FOR UPDATE, UPDATE, INSERT, COMMIT).
    world = _pg_world_with_a_leg(tmp_path)
    store = world.ccm.store
    world.t = 10
    answer, trips, status = _round_trips(
        store, lambda: world.ccm.receive(message(B, MessageIntent.CALL_HOLD, 10, "D1"))
    )
    assert [s.intent for s in answer.sent] == ["CALL_HOLD"]
    assert (trips, status) == (2, "I")
    # A retry: the leg's row and the inbox tell it at once, and a COMMIT of nothing
    # ends it (not a ROLLBACK: after one, psycopg deallocates every prepared
    # statement, a round trip more and every statement parsed again).
    again, trips, status = _round_trips(
        store, lambda: world.ccm.receive(message(B, MessageIntent.CALL_HOLD, 10, "D1"))
    )
    assert again.replayed and again.sent == answer.sent
    assert (trips, status) == (2, "I")
    # A new consult's start: what it is judged by (tombstones, sessions, the
    # sender's presence) is read with its locks and legs.
    started, trips, status = _round_trips(
        store, lambda: world.ccm.receive(message(B2, STARTED, 20, "D2"))
    )
    assert [s.intent for s in started.sent] == ["CALL_LEG_STARTED"]
    assert (trips, status) == (2, "I")
    # B's start on a leg A's start made: the sender's presence, which the
    # leg lacks, is read with the rest (its sessions are not).
    world.ccm.receive(message(("1001", "7001"), STARTED, 30, "D3"))
    joined, trips, status = _round_trips(
        store, lambda: world.ccm.receive(message(("1005", "7005"), STARTED, 30, "D3"))
    )
    assert (joined.disposition, trips, status) == ("applied", 2, "I")
    # What the leg rows' locks alone cannot order runs again with the advisory
    # locks: a report that introduces its party's agent (A's first report on
    # D1: a first transaction of reads, ended by a COMMIT of nothing, then
    # the locked one: A's presence read in a round trip of its own), and one
    # that finds no leg (it holds nothing: it takes the locks where it is).
    intruder, trips, status = _round_trips(
        store, lambda: world.ccm.receive(message(A, MessageIntent.CALL_HOLD, 40, "D1"))
    )
    assert (trips, status) == (5, "I")
    stray, trips, status = _round_trips(
        store, lambda: world.ccm.receive(message(B, MessageIntent.CALL_HOLD, 40, "D9"))
    )
    assert (trips, status) == (4, "I")
    assert not intruder.replayed and not stray.replayed
    # Another agent of a party the leg has (B2 for B, on D1) is not learnt:
    # its report (a hold of a held call: a duplicate) takes the leg's row lock alone.
    other, trips, status = _round_trips(
        store, lambda: world.ccm.receive(message(B2, MessageIntent.CALL_HOLD, 50, "D1"))
    )
    assert (other.disposition, other.sent, trips, status) == ("duplicate", (), 2, "I")


def test_a_hold_on_postgresql_sends_as_many_statements_as_the_floor(
    tmp_path: Path,
) -> None:
    # The floor sends five: BEGIN, SELECT FOR UPDATE, UPDATE, INSERT, COMMIT.
    # A hold on a leg that knows its sender needs its leg (one statement,
    # its row lock orders it: no advisory lock), the time once the leg is
    # held with its inbox entry (one), its three writes (leg, inbox, outbox:
    # merged into one) and BEGIN and COMMIT: five. Each costs the client
    # about what a round trip does, so each one counts.
    world = _pg_world_with_a_leg(tmp_path)
    world.t = 10
    answer, lines, status = _traced(
        world.ccm.store, lambda: world.ccm.receive(message(B, MessageIntent.CALL_HOLD, 10, "D1"))
    )
    assert [s.intent for s in answer.sent] == ["CALL_HOLD"] and status == "I"
    executed = [line for line in lines if line.startswith("F") and "\tExecute\t" in line]
    assert len(executed) == 5, lines
    writes = [line for line in lines if line.startswith("F") and "\tParse\t" in line
              and "WITH w0 AS (UPDATE legs" in line]  # fmt: skip
    # (prepared after five runs: the first hold parses it, in one statement)
    assert len(writes) == 1 and "INSERT INTO inbox" in writes[0], lines
    assert "INSERT INTO outbox" in writes[0]


def test_writes_merge_into_one_statement_per_run_of_distinct_tables() -> None:
    from consultfsm.durable.postgres import merged

    leg = ("UPDATE legs SET version = %s WHERE key = %s", (2, "D1"))
    inbox = ("INSERT INTO inbox (id, at, answer) VALUES (%s, %s, %s)", ("m1", 5, "{}"))
    out1 = ("INSERT INTO outbox (body) VALUES (%s)", ("e1",))
    out2 = ("INSERT INTO outbox (body) VALUES (%s)", ("e2",))
    gone = ("DELETE FROM legs WHERE key = %s", ("D2",))
    assert merged([]) == []
    assert merged([leg]) == [leg]
    # Distinct tables: one statement, placeholders in the text's order.
    assert merged([leg, inbox, out1]) == [(
        f"WITH w0 AS ({leg[0]}), w1 AS ({inbox[0]}) {out1[0]}", (2, "D1", "m1", 5, "{}", "e1"),
    )]  # fmt: skip
    # A table written again starts a new statement: outbox rows keep their
    # order, and no row is changed twice by one statement.
    assert merged([leg, out1, out2, gone]) == [
        (f"WITH w0 AS ({leg[0]}) {out1[0]}", (2, "D1", "e1")),
        (f"WITH w0 AS ({out2[0]}) {gone[0]}", ("e2", "D2")),
    ]


def test_a_refused_input_and_a_failed_commit_on_postgresql_roll_back_and_the_next_input_runs(
    tmp_path: Path,
) -> None:
    from consultfsm.durable.store import StoreError

    world = _pg_world_with_a_leg(tmp_path)
    store = world.ccm.store
    # A report of the other party's role: the engine refuses it inside the transaction.
    refused, _, status = _round_trips(
        store, lambda: world.ccm.receive(message(B, MessageIntent.CALL_HOLD, 5, "D1").replace(
            "CONSULTED", "NEITHER"))
    )  # fmt: skip
    assert type(refused).__name__ == "CcmRefused" and status == "I"

    # A write the server refuses at the commit (the inbox id is taken): the
    # whole transaction, the write before it included, is rolled back.
    def conflicting() -> None:
        with store.transaction() as tx:
            tx.set_presence("9999", True, 1)
            tx.remember("dup", 1, {})
            tx.remember("dup", 1, {})

    # Again and again: a statement skipped after a failure in a pipeline may
    # be one psycopg counts as prepared from then on; the rollback must
    # forget them, or every later input fails on the statement's name.
    for _ in range(8):
        failed, _, status = _round_trips(store, conflicting)
        assert type(failed).__name__ == "UniqueViolation" and status == "I"
        assert not isinstance(failed, StoreError)
    with store.transaction() as tx:
        assert tx.presence(["9999"]) == {}
    world.t = 20
    held = world.ccm.receive(message(B, MessageIntent.CALL_HOLD, 20, "D1"))
    assert [s.intent for s in held.sent] == ["CALL_HOLD"]


def test_an_input_refused_inside_its_transaction_on_postgresql_keeps_the_prepared_statements(
    tmp_path: Path,
) -> None:
    world = _pg_world_with_a_leg(tmp_path)
    store = world.ccm.store
    # Refused inside the transaction, once its statements are prepared (psycopg
    # prepares one run five times): it wrote nothing, so a COMMIT ends it and
    # the prepared statements stay; a ROLLBACK would have psycopg deallocate
    # them all, and every later input parse its statements again.
    for t in range(10, 130, 10):  # held and resumed, six times each
        world.t = t
        intent = MessageIntent.CALL_HOLD if t % 20 else MessageIntent.CALL_RESUME
        assert world.ccm.receive(message(B, intent, t, "D1")).sent
    again = ChannelSession("S1", "C1", "+923001234567")
    refused, lines, status = _traced(
        store, lambda: world.ccm.start_session(again, input_id="another id")
    )
    assert type(refused).__name__ == "CcmRefused" and status == "I"
    assert not [line for line in lines if "DEALLOCATE" in line or "ROLLBACK" in line]
    assert any('"COMMIT"' in line for line in lines)
    world.t = 130
    _, lines, _ = _traced(
        store, lambda: world.ccm.receive(message(B, MessageIntent.CALL_HOLD, 130, "D1"))
    )
    parsed = [line for line in lines if "\tParse\t" in line and '"SELECT' in line]
    assert not parsed, parsed  # the hold's reads ran as prepared statements


def test_a_relay_with_an_old_batch_never_deletes_a_newer_row(backend: Backend) -> None:
    # Two relays read the same row; one sends and deletes it, and a newer row
    # comes in, perhaps with the same seq (SQLite hands a seq out again once
    # the outbox is empty). The slower relay then deletes its old batch: the
    # newer row must still be there, unsent.
    from consultfsm.durable.store import NewEvent

    store = backend.open(backend.new())
    event = NewEvent(0, "C1", "L1", 1, 0, "E1", "{}")
    with store.transaction() as tx:
        tx.append([event])
    with store.transaction() as tx:
        stale = tx.pending(None, 10)  # the slow relay's batch
    with store.transaction() as tx:
        tx.delete_sent(tx.pending(None, 10))  # the fast relay sent it
    with store.transaction() as tx:
        tx.append([attrs.evolve(event, index=1, event_id="E2")])
    with store.transaction() as tx:
        tx.delete_sent(stale)
    with store.transaction() as tx:
        (left,) = tx.pending(None, 10)
    assert left.event_id == "E2" and left.index == 1


def test_tidy_forgets_only_what_is_past_each_horizon(backend: Backend) -> None:
    # An inbox entry answers a retry for as long as a desk may retry: tidy
    # drops entries, tombstones and ended sessions twice their horizon old,
    # and nothing younger.
    store = backend.open(backend.new())
    ccm = DurableCcm(
        store, CODEC, tombstone_ms=1_000, ended_session_ms=500, clock=lambda tx: 10_000
    )
    with store.transaction() as tx:
        for n, at in enumerate([1_000, 7_000, 7_999, 8_000, 9_500]):
            tx.remember(f"in{n}", at, {"n": n})
        tx.bury(["D-old", "D-edge"], 7_999)
        tx.bury(["D-young"], 8_000)
        for sid, ended in (("S-old", 8_999), ("S-young", 9_000), ("S-live", None)):
            tx.add_session({"id": sid, "dialog_id": None}, None)
            if ended is not None:
                tx.end_session(sid, ended)
    ccm.tidy()
    with store.transaction() as tx:
        inbox = [n for n in range(5) if tx._q("SELECT 1 FROM inbox WHERE id = ?", [f"in{n}"])]
        tombs = [r[1] for r in tx._q(*tx._tombstones_query(["D-old", "D-edge", "D-young"], 0))]
        sessions = {sid for sid in ("S-old", "S-young", "S-live") if tx.session(sid) is not None}
    assert inbox == [3, 4]  # 8,000 = 10,000 - 2 * 1,000 is the inbox's horizon
    assert tombs == ["D-young"]
    assert sessions == {"S-young", "S-live"}  # 9,000 = 10,000 - 2 * 500


def test_tidy_never_forgets_an_inbox_entry_within_the_horizon_written_out_of_order(
    backend: Backend,
) -> None:
    # After the host's clock stepped back, entries are not in time order: one
    # past the horizon written after a younger one may be kept a while, but a
    # young one is never dropped.
    store = backend.open(backend.new())
    ccm = DurableCcm(store, CODEC, tombstone_ms=1_000, clock=lambda tx: 10_000)
    with store.transaction() as tx:
        for n, at in enumerate([1_000, 9_000, 2_000, 9_100]):
            tx.remember(f"in{n}", at, {"n": n})
    ccm.tidy()
    with store.transaction() as tx:
        kept = [n for n in range(4) if tx._q("SELECT 1 FROM inbox WHERE id = ?", [f"in{n}"])]
    assert 0 not in kept and {1, 3} <= set(kept)


@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
def test_an_interrupt_while_the_commit_s_writes_go_out_on_postgresql_saves_nothing(
    tmp_path: Path, stop: type[BaseException]
) -> None:
    # Ctrl-C, a signal, or any error while the pipeline of writes and COMMIT
    # is filled: psycopg still sends what was queued, so the transaction must
    # be rolled back, not committed (an input refused before its writes ends
    # with COMMIT); the retry then applies the input, once.
    import psycopg

    world = _pg_world_with_a_leg(tmp_path)
    store = world.ccm.store

    class Interrupting(psycopg.Cursor[Any]):
        armed = False

        def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
            # (the writes are queued by then: one statement, merged)
            if Interrupting.armed and str(query) == "COMMIT":
                Interrupting.armed = False
                raise stop
            return super().execute(query, params, **kw)

    def outbox() -> list[str]:
        with store.transaction() as tx:
            return [r.event_id for r in tx.pending(None, 100)]

    before = outbox()
    store._connection().cursor_factory = Interrupting  # type: ignore[attr-defined]
    world.t = 10
    hold = message(B, MessageIntent.CALL_HOLD, 10, "D1")
    Interrupting.armed = True
    with pytest.raises(stop):
        world.ccm.receive(hold)
    assert outbox() == before
    retry = world.ccm.receive(hold)
    assert (retry.replayed, [s.intent for s in retry.sent]) == (False, ["CALL_HOLD"])
    assert len(outbox()) == len(before) + 1


def test_an_interrupt_while_the_commit_s_writes_run_on_sqlite_rolls_back(tmp_path: Path) -> None:
    # Whatever stops the commit (an interrupt too) leaves no transaction open:
    # the next one begins, and nothing of the stopped one is there.
    from consultfsm.durable.store import NewEvent

    store = SqliteStore(tmp_path / "s.db")

    def interrupted(cur: Any, writes: Any) -> None:
        cur.execute(*writes[0])
        raise KeyboardInterrupt

    store.write = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt), store.transaction() as tx:
        tx.append([NewEvent(0, "C1", "L1", 1, 0, "E1", "{}")])
        tx.remember("in1", 1, {})
    del store.write
    with store.transaction() as tx:
        assert tx.outbox_depth() == 0


def test_a_sqlite_file_of_the_earlier_schema_opens_loses_the_two_indexes_and_works(
    tmp_path: Path,
) -> None:
    # Files written before the outbox lost AUTOINCREMENT and the outbox's and
    # the inbox's extra indexes: they open, the indexes go, the rest works.
    import sqlite3

    from consultfsm.durable.store import NewEvent, schema

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        for statement in schema("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT", " WITHOUT ROWID"):
            db.execute(statement)
    store = SqliteStore(path)
    indexes = {r[0] for r in store._db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert not {"outbox_part", "inbox_at"} & indexes and "tombstones_at" in indexes
    with store.transaction() as tx:
        tx.append([NewEvent(0, "C1", "L1", 1, 0, "E1", "{}")])
        tx.remember("in1", 5, {})
    with store.transaction() as tx:
        tx.delete_sent(tx.pending(None, 10))
        tx.forget_before(10, 0, 0)
    with store.transaction() as tx:
        assert tx.outbox_depth() == 0 and not tx._q("SELECT 1 FROM inbox")


def test_an_input_on_postgresql_takes_its_time_once_it_holds_its_leg(tmp_path: Path) -> None:
    # A sweeper (here, another connection) holds the leg's row while an input
    # waits for it. What the sweeper fired happened before the input, as it
    # was applied, so the input's time is read once it holds the row: never
    # the time it took its advisory locks, before the wait.
    import threading
    import time

    import psycopg

    backend = Backend("postgresql", tmp_path)
    dsn = backend.new()
    ccm = DurableCcm(backend.open(dsn), CODEC)  # the database's clock
    for s in SESSIONS:
        ccm.start_session(s)
    ccm.receive(message(B, STARTED, 0, "D1"))
    answers = []
    with psycopg.connect(dsn) as sweeper:
        sweeper.execute("SELECT 1 FROM legs WHERE key = 'D1' FOR UPDATE")
        hold = message(B, MessageIntent.CALL_HOLD, 10, "D1")
        waiting = threading.Thread(target=lambda: answers.append(ccm.receive(hold)))
        waiting.start()
        time.sleep(0.5)
        row = sweeper.execute(f"{ccm.store.dialect.clock_sql} AS ms").fetchone()
        assert row is not None
        released = int(row[0])
        sweeper.commit()
    waiting.join(10)
    (answer,) = answers
    assert [s.intent for s in answer.sent] == ["CALL_HOLD"]
    assert answer.at + CODEC.epoch_ms >= released  # (it took its locks half a second before)


def test_postgresql_transactions_are_read_committed_whatever_the_database_default(
    tmp_path: Path,
) -> None:
    # A retry that waited for its original must see that commit (the inbox is
    # read after the locks): a snapshot of the whole transaction would not.
    from urllib.parse import quote

    dsn = Backend("postgresql", tmp_path).new()
    strict = dsn + quote(" -cdefault_transaction_isolation=serializable")
    store = Backend("postgresql", tmp_path).open(strict)
    with store.transaction() as tx:
        tx.lock(["agent:1"])
        (row,) = tx._q("SELECT current_setting('transaction_isolation')")
    assert row[0] == "read committed"


def _locked_sessions(dsn: str) -> set[str]:
    """The sessions whose rows another transaction holds now (seen from a connection of its own)."""
    import psycopg

    with psycopg.connect(dsn) as other:
        every = {r[0] for r in other.execute("SELECT id FROM sessions").fetchall()}
        free = other.execute("SELECT id FROM sessions FOR UPDATE SKIP LOCKED").fetchall()
        other.rollback()
    return every - {r[0] for r in free}


def test_a_new_consult_on_postgresql_holds_its_sessions_rows_and_a_live_leg_s_input_none(
    tmp_path: Path,
) -> None:
    # A new consult's sessions must not end under it before its commit: it
    # holds their rows (a session's end takes its row FOR UPDATE). An input
    # on a live leg, a start re-sent after a refresh included, holds none:
    # a session's end never waits for it.
    backend = Backend("postgresql", tmp_path)
    dsn = backend.new()
    store = backend.open(dsn)
    world = Clocked(store)
    held: list[set[str]] = []
    probe = Faults("after_apply", crash=lambda _: held.append(_locked_sessions(dsn)))
    consults = DurableCcm(store, CODEC, clock=lambda tx: world.t, faults=probe)
    first = consults.receive(message(B, STARTED, 0, "D1"))
    assert [s.intent for s in first.sent] == ["CALL_LEG_STARTED"]
    assert held == [{"S1"}]  # the consult's customer session (by its dialog): only it
    probe.point, probe.left = "after_apply", 1
    world.t = 5
    # The same start under another input id (B's desk reloaded and sent it again).
    again = consults.receive(message(B, STARTED, 5, "D1"), input_id="after-reload")
    assert not again.replayed
    assert held == [{"S1"}, set()]
    assert _locked_sessions(dsn) == set()  # and nothing once each committed


def _waits_for_the_commit(pausing: Any, waiting: Any) -> Any:
    """Run ``pausing(faults)``: an input that stops at ``after_apply``
    (applied, not committed) while ``waiting()`` starts in a thread. Check
    that ``waiting`` still waits half a second later, and return what it
    returned once the paused input committed."""
    import threading
    import time

    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(waiting()))
    waited: list[bool] = []

    def meanwhile(_: str) -> None:
        thread.start()
        time.sleep(0.5)
        waited.append(thread.is_alive())

    pausing(Faults("after_apply", crash=meanwhile))
    thread.join(10)
    assert waited == [True] and len(answers) == 1
    return answers[0]


def test_a_new_consult_on_postgresql_waits_for_a_session_s_end_under_way_and_sees_it(
    tmp_path: Path,
) -> None:
    # The end of session S1 has taken its row when B's start arrives: the
    # start waits for the end's commit, and then judges the consult as the
    # engine does when the end came first.
    backend = Backend("postgresql", tmp_path)
    dsn = backend.new()
    world = Clocked(backend.open(dsn))
    starts = DurableCcm(backend.open(dsn), CODEC, clock=lambda tx: world.t)
    answer = _waits_for_the_commit(
        lambda faults: DurableCcm(world.ccm.store, CODEC, clock=lambda tx: world.t,
                                  faults=faults).end_session("S1"),
        lambda: starts.receive(message(B, STARTED, 0, "D1")),
    )  # fmt: skip
    # The reference: the engine in memory, the same inputs, the end first, at the same times.
    ref = reference()
    ref.end_session("S1", 0)
    expected = ref.receive(message(B, STARTED, 0, "D1"), 0)
    assert expected.disposition is not None
    assert (answer.disposition, [(s.event_id, s.intent) for s in answer.sent]) == (
        expected.disposition.value, [(p.event.id, p.intent.value) for p in expected.published]
    )  # fmt: skip


def test_a_sweep_on_postgresql_skips_a_leg_another_worker_holds_and_leaves_nothing_open(
    tmp_path: Path,
) -> None:
    # Two legs are due; another worker holds one. The sweep fires the other
    # at once (it never waits for a held leg), ends its transaction and holds
    # no row after; the held leg fires at the next sweep, at its own time.
    import threading

    import psycopg
    from psycopg import pq

    backend = Backend("postgresql", tmp_path)
    dsn = backend.new()
    world = Clocked(backend.open(dsn))
    world.t = 1_000
    a = ("1001", "7001")
    for dialog in ("D1", "D2"):  # A's starts wait for B's: each leg has a deadline
        world.ccm.receive(message(a, STARTED, 1_000, dialog))
    deadline = world.ccm.next_deadline()
    assert deadline is not None
    world.t = deadline + 10
    swept: list[Any] = []
    with psycopg.connect(dsn) as other:
        other.execute("SELECT 1 FROM legs WHERE key = 'D1' FOR UPDATE")
        sweeping = threading.Thread(target=lambda: swept.append(world.ccm.sweep()))
        sweeping.start()
        sweeping.join(10)
        assert not sweeping.is_alive(), "the sweep waited for the held leg"
        other.rollback()
    assert [(answer.leg, [s.intent for s in answer.sent]) for answer in swept[0]] == [
        ("D2", ["CALL_LEG_STARTED"])
    ]
    conn = world.ccm.store._connection()  # type: ignore[attr-defined]
    assert conn.info.transaction_status == pq.TransactionStatus.IDLE
    with psycopg.connect(dsn) as other:
        (state,) = other.execute(
            "SELECT state FROM pg_stat_activity WHERE pid = %s", (conn.info.backend_pid,)
        ).fetchone() or (None,)
        assert state == "idle"  # not "idle in transaction"
        rows = other.execute("SELECT key FROM legs FOR UPDATE NOWAIT").fetchall()  # none held
        assert {r[0] for r in rows} == {"D1", "D2"}  # (both live on, waiting for B)
        other.rollback()
    (late,) = world.ccm.sweep()
    assert (late.leg, late.due, [s.intent for s in late.sent]) == (
        "D1",
        deadline,
        ["CALL_LEG_STARTED"],
    )
    assert world.ccm.sweep() == [] and conn.info.transaction_status == pq.TransactionStatus.IDLE


def test_a_new_consult_on_postgresql_takes_its_time_once_it_holds_its_session(
    tmp_path: Path,
) -> None:
    # The end of S1 holds S1's row and waits for a leg of S1 that another
    # worker holds; meanwhile B2 starts a new consult on S1 and waits for the
    # end. The start's time must come after the end's, as it is applied after
    # it: read before its wait for the session, it would come before.
    import threading
    import time

    import psycopg

    backend = Backend("postgresql", tmp_path)
    dsn = backend.new()
    Clocked(backend.open(dsn)).ccm.receive(message(B, STARTED, 0, "D1"))  # a leg of S1
    ending = DurableCcm(backend.open(dsn), CODEC)  # both on the database's clock
    starting = DurableCcm(backend.open(dsn), CODEC)
    answers: dict[str, Any] = {}
    end = threading.Thread(target=lambda: answers.update(end=ending.end_session("S1")))
    start = threading.Thread(
        target=lambda: answers.update(start=starting.receive(message(B2, STARTED, 0, "D2")))
    )
    with psycopg.connect(dsn) as other:
        other.execute("SELECT 1 FROM legs WHERE key = 'D1' FOR UPDATE")
        end.start()
        time.sleep(0.3)  # the end holds S1's row, and waits for D1's
        start.start()
        time.sleep(0.3)  # the start waits for S1's row
        assert end.is_alive() and start.is_alive()
        other.rollback()
    end.join(10)
    start.join(10)
    assert answers["start"].at >= answers["end"].at
    assert [s.intent for s in answers["start"].sent] == ["CALL_LEG_STARTED"]


def test_a_start_re_sent_on_a_live_leg_with_keys_no_store_holds_is_taken_as_on_sqlite(
    tmp_path: Path,
) -> None:
    # A start's session keys go to the database only when its consult is
    # new: on a live leg, a NUL in them (PostgreSQL text cannot hold one)
    # changes nothing about how the start is taken.
    answers = []
    for kind in ("sqlite", "postgresql"):
        backend = Backend(kind, tmp_path)
        world = Clocked(backend.open(backend.new()))
        world.ccm.receive(message(B, STARTED, 0, "D1"))
        again = json.loads(message(B, STARTED, 5, "D1"))
        again["header"]["channelSessionId"] = "S\x001"
        world.t = 5
        answer = world.ccm.receive(json.dumps(again), input_id="after-reload")
        answers.append((answer.disposition, answer.sent, answer.replayed))
    # (a start the leg already had: a duplicate, nothing published again)
    assert answers == [("duplicate", (), False)] * 2


def test_a_new_consult_on_postgresql_waits_for_its_session_s_start_under_way_and_joins_it(
    tmp_path: Path,
) -> None:
    # The customer's session is being started (its start not yet committed)
    # when B's start, naming that customer by ANI, arrives: the start waits
    # for the session's, then joins the session, as it would had it come a
    # moment later. (Read before that commit, it would find no session.)
    backend = Backend("postgresql", tmp_path)
    dsn = backend.new()
    consults = DurableCcm(backend.open(dsn), CODEC)
    answer = _waits_for_the_commit(
        # S1, whose ANI the consult's message carries
        lambda faults: DurableCcm(backend.open(dsn), CODEC, faults=faults).start_session(
            SESSIONS[0]
        ),
        lambda: consults.receive(message(B, STARTED, 0, "D1")),
    )
    assert [(s.intent, s.conversation) for s in answer.sent] == [("CALL_LEG_STARTED", "C1")]


def test_a_new_consult_with_a_session_key_no_store_holds_is_taken_alike_everywhere(
    tmp_path: Path,
) -> None:
    # A NUL in a new consult's channelSessionId: no stored session can have
    # that id (a session's start refuses one), so the key matches nothing, on
    # every store as in the engine in memory; the ANI still finds the session.
    text = json.loads(message(B, STARTED, 5, "D1"))
    text["header"]["channelSessionId"] = "S\x001"
    answers = []
    for kind in ("sqlite", "postgresql"):
        backend = Backend(kind, tmp_path)
        world = Clocked(backend.open(backend.new()))
        world.t = 5
        answer = world.ccm.receive(json.dumps(text))
        answers.append((answer.disposition, [(s.intent, s.conversation) for s in answer.sent]))
    outcome = reference().receive(json.dumps(text), 5)
    in_memory = [(p.intent.value, p.event.conversation_id) for p in outcome.published]
    assert outcome.disposition is not None
    assert answers == [(outcome.disposition.value, in_memory)] * 2
    assert in_memory == [("CALL_LEG_STARTED", "C1")]


def test_a_tombstone_keeps_the_later_of_two_finishes_whichever_commits_last(
    backend: Backend,
) -> None:
    store = backend.open(backend.new())
    with store.transaction() as tx:
        tx.bury(["D1"], 200)
    with store.transaction() as tx:
        tx.bury(["D1", "D2"], 100)  # committed after, finished before
    with store.transaction() as tx:
        rows = tx._q("SELECT dialog, at FROM tombstones ORDER BY dialog")
    assert [tuple(r) for r in rows] == [("D1", 200), ("D2", 100)]


def test_a_retry_racing_its_original_on_a_live_leg_waits_on_the_leg_row_and_is_replayed(
    tmp_path: Path,
) -> None:
    # A hold on a leg that knows its sender takes no advisory lock, only the
    # leg's row: a retry of it (another worker, the desk's same message) waits
    # on that row for the original's commit, then finds the inbox entry.
    import psycopg

    world = _pg_world_with_a_leg(tmp_path)
    dsn = world.ccm.store.dsn  # type: ignore[attr-defined]
    hold = message(B, MessageIntent.CALL_HOLD, 10, "D1")
    world.t = 10
    advisory: list[int] = []

    def probe(faults: Faults) -> Any:
        def meanwhile(point: str) -> None:
            with psycopg.connect(dsn) as other:
                row = other.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                                    ).fetchone()  # fmt: skip
                advisory.append(int(row[0]) if row else -1)
            inner(point)

        inner = faults.crash
        faults.crash = meanwhile
        return DurableCcm(world.ccm.store, CODEC, clock=lambda tx: world.t,
                          faults=faults).receive(hold)  # fmt: skip

    retrying = DurableCcm(Backend("postgresql", tmp_path).open(dsn), CODEC,
                          clock=lambda tx: world.t)  # fmt: skip
    retry = _waits_for_the_commit(probe, lambda: retrying.receive(hold))
    assert advisory == [0]  # (the original held none)
    assert retry.replayed and [s.intent for s in retry.sent] == ["CALL_HOLD"]
    with world.ccm.store.transaction() as tx:
        holds = [r for r in tx.pending(None, 100) if json.loads(r.body)["name"] == "CALL_HOLD"]
    assert len(holds) == 1


_WORD = st.text(max_size=3)


@given(st.builds(Sent, _WORD, _WORD, _WORD, _WORD, st.none() | _WORD, _WORD))
def test_an_answer_s_event_is_written_as_attrs_writes_it(sent: Sent) -> None:
    # (written out by hand for speed: the same keys, in the same order)
    assert list(sent.to_dict().items()) == list(attrs.asdict(sent).items())


def test_a_leg_whose_row_cannot_be_restored_does_not_hold_back_the_other_deadlines(
    backend: Backend,
) -> None:
    # One row a newer (or broken) writer left unreadable: the sweeper sets it
    # aside, names it and why, and fires every other due leg as ever; it does
    # not pick the bad row up again on every pass, and nothing of it changes.
    world = Clocked(backend.open(backend.new()))
    world.t = 1_000
    a = ("1001", "7001")
    for dialog in ("D1", "D2", "D3"):  # A's starts wait for B's: each leg has a deadline
        world.ccm.receive(message(a, STARTED, 1_000, dialog))
    deadline = world.ccm.next_deadline()
    assert deadline is not None
    with world.ccm.store.transaction() as tx:
        (row,) = [r for r in tx.due_legs(deadline, 10) if r.key == "D2"]
        bad = {**row.record, "machine": {**row.record["machine"], "state": "no-such-state"}}
        tx._q("UPDATE legs SET record = ? WHERE key = ?", [json.dumps(bad), "D2"])
    world.t = deadline + 10
    fired = world.ccm.sweep()
    assert [(answer.leg, [s.intent for s in answer.sent]) for answer in fired] == [
        ("D1", ["CALL_LEG_STARTED"]), ("D3", ["CALL_LEG_STARTED"])]  # fmt: skip
    assert list(world.ccm.stuck) == ["D2"] and "SnapshotError" in world.ccm.stuck["D2"]
    assert world.ccm.sweep() == [] and list(world.ccm.stuck) == ["D2"]
    with world.ccm.store.transaction() as tx:
        (left,) = [r for r in tx.due_legs(world.t, 10) if r.key == "D2"]
        assert left.record == bad  # set aside, not changed
    # A desk's input on that leg waits for the row to be mended: a store's
    # failure (the service answers 503, and the desk sends it again), never a
    # refusal of the message, and nothing of it is kept (its retry is applied).
    from consultfsm.durable.store import StoreError, UnreadableRows

    ended = message(a, MessageIntent.CALL_LEG_ENDED, world.t, "D2")
    with world.ccm.store.transaction() as tx:
        waiting = tx.pending(None, 100)
    with pytest.raises(UnreadableRows) as e:
        world.ccm.receive(ended)
    assert isinstance(e.value, StoreError) and list(e.value.legs) == ["D2"]
    world.ccm.tidy()  # tried again from here on, and set aside again: still unreadable
    assert world.ccm.stuck == {} and world.ccm.sweep() == [] and list(world.ccm.stuck) == ["D2"]
    with world.ccm.store.transaction() as tx:
        assert tx.pending(None, 100) == waiting
        (left,) = tx.load_legs_of_dialogs(["D2"])
        assert left.record == bad
        tx._q("UPDATE legs SET record = ? WHERE key = ?", [json.dumps(row.record), "D2"])
    assert world.ccm.receive(ended).replayed is False  # mended: the retry is the first
    assert world.ccm.stuck == {}  # read again: its deadlines are swept again


def test_a_session_is_the_number_it_was_read_as_after_the_region_changes(
    backend: Backend,
) -> None:
    # As an engine's snapshot keeps its readings (ccm: test_a_snapshot_keeps_
    # the_region_each_session_was_read_in): a session started in PK as
    # 03001234567 is +923001234567 for good. The store's row was found by that
    # number, but the engine built of it read the text again in the region of
    # now, so a consult by the customer's +92 number found no session.
    from consultfsm.ccm.correlation import SessionResolver

    path = backend.new()
    store = backend.open(path)
    before = DurableCcm(store, CODEC, resolver=SessionResolver("PK"))
    before.start_session(ChannelSession("S1", "C1", "03001234567", None, "8000"))
    after = DurableCcm(store, CODEC, resolver=SessionResolver("GB"))
    answer = after.receive(message(B, STARTED, 1_000, "D1"))  # channelCustomerIdentifier +92...
    assert [s.intent for s in answer.sent] == ["CALL_LEG_STARTED"]
    assert {s.conversation for s in answer.sent} == {"C1"}
    # And its end the same: the number it was read as goes with it.
    after.end_session("S1")
    answer = after.receive(message(B, MessageIntent.CALL_LEG_ENDED, 2_000, "D1"))
    assert [s.intent for s in answer.sent] == ["CALL_LEG_ENDED"]
    store.close()


def _three_legs_one_spoilt(backend: Backend, spoil: Any) -> tuple[Clocked, int]:
    """Three legs waiting for B (each with a deadline), D2's row then spoilt
    by ``spoil(record) -> record`` as a hand or another release might."""
    world = Clocked(backend.open(backend.new()))
    world.t = 1_000
    for dialog in ("D1", "D2", "D3"):
        world.ccm.receive(message(A, STARTED, 1_000, dialog))
    deadline = world.ccm.next_deadline()
    assert deadline is not None
    with world.ccm.store.transaction() as tx:
        (row,) = tx.load_legs_of_dialogs(["D2"])
        tx._q("UPDATE legs SET record = ? WHERE key = ?", [json.dumps(spoil(row.record)), "D2"])
    world.t = deadline + 10
    return world, deadline


def _without(key: str) -> Any:
    return lambda record: {k: v for k, v in record.items() if k != key}


@pytest.mark.parametrize(
    "spoil",
    [
        lambda r: {**r, "machine": {k: v for k, v in r["machine"].items() if k != "now"}},
        lambda r: {**r, "machine": "not an object"},
        _without("agents"),
        lambda r: {**r, "agents": None},
        _without("dialogs"),
    ],
    ids=["machine-without-now", "machine-not-an-object", "no-agents", "agents-null", "no-dialogs"],
)
def test_any_spoilt_leg_row_is_set_aside_by_the_sweeper_and_unreadable_to_an_input(
    backend: Backend, spoil: Any
) -> None:
    # Found by a review: rows spoilt in these ways failed before the engine's
    # restore (a KeyError, a TypeError): every sweep failed, and an input on
    # the leg answered an untyped error (a 500) instead of UnreadableRows (503).
    from consultfsm.durable.store import UnreadableRows

    world, _ = _three_legs_one_spoilt(backend, spoil)
    assert [answer.leg for answer in world.ccm.sweep()] == ["D1", "D3"]
    assert list(world.ccm.stuck) == ["D2"]
    with pytest.raises(UnreadableRows) as e:
        world.ccm.receive(message(A, MessageIntent.CALL_LEG_ENDED, world.t, "D2"))
    assert list(e.value.legs) == ["D2"]


def test_a_tidy_between_a_sweep_s_set_aside_and_its_retry_does_not_fail_the_sweep(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tidy (its own thread in serve) clears the legs set aside; one landing
    # between the sweep's failed restore and its retry made the retry meet
    # the bad row again, and the whole sweep raised.
    world, _ = _three_legs_one_spoilt(
        backend, lambda r: {**r, "machine": {**r["machine"], "state": "no-such-state"}}
    )
    real, calls = DurableCcm._engine, []

    def engine(self: DurableCcm, *args: Any) -> Any:
        calls.append(1)
        try:
            return real(self, *args)
        finally:
            if len(calls) == 1:
                self.stuck.clear()  # what tidy does, from its thread

    monkeypatch.setattr(DurableCcm, "_engine", engine)
    assert [answer.leg for answer in world.ccm.sweep()] == ["D1", "D3"]


def test_the_sweeper_logs_each_leg_it_sets_aside_whatever_inputs_do_meanwhile(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from consultfsm.service.worker import Worker

    world, _ = _three_legs_one_spoilt(
        backend, lambda r: {**r, "machine": {**r["machine"], "state": "no-such-state"}}
    )
    world.ccm.stuck["X"] = "set aside earlier"
    real = DurableCcm.sweep

    def sweep(self: DurableCcm, limit: int = 100) -> Any:
        self.stuck.pop("X")  # meanwhile an input reads X, mended: it is swept again
        return real(self, limit)

    monkeypatch.setattr(DurableCcm, "sweep", sweep)
    with caplog.at_level(logging.ERROR, logger="consultfsm.service"):
        Worker(world.ccm, None)._sweep_once()
    logged = [getattr(r, "ids", {}).get("leg") for r in caplog.records]
    assert list(world.ccm.stuck) == ["D2"] and logged == ["D2"]


def test_a_ping_reads_the_database_s_clock_waiting_for_no_writer(backend: Backend) -> None:
    # A health probe must answer while a writer holds the database (a long
    # transaction, another process on the SQLite file): it reads, outside any
    # transaction. (BEGIN IMMEDIATE would wait for the writer, then fail.)
    address = backend.new()
    store = backend.open(address)
    with store.transaction() as tx:
        clock = tx.clock_ms()
    if backend.kind == "sqlite":
        import sqlite3

        writer = sqlite3.connect(address, isolation_level=None, timeout=0)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO presence (agent, up, at) VALUES ('x', 1, 0)")
    else:
        import psycopg

        writer = psycopg.connect(address)  # type: ignore[assignment]
        writer.execute("LOCK TABLE legs, inbox, outbox, presence IN ACCESS EXCLUSIVE MODE")
    try:
        pinged = store.ping()
        # The database's clock: not before the transaction's, and Unix ms.
        assert isinstance(pinged, int) and clock <= pinged < clock + 3_600_000
    finally:
        writer.rollback()
        writer.close()
    if backend.kind == "postgresql":
        # The server drops the probes' connection (a restart would): the
        # next probe finds it broken and answers on a new one, at once.
        import psycopg

        from consultfsm.durable.postgres import PROBE_APPLICATION

        with psycopg.connect(address, autocommit=True) as admin:
            dropped = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (PROBE_APPLICATION,),
            ).fetchone()
        assert dropped is not None and dropped[0] >= 1  # (other tests' stores may have one)
        assert store.ping() >= pinged
    store.close()


def test_a_probe_does_not_wait_for_the_store_s_own_transaction_in_progress(
    backend: Backend,
) -> None:
    # Was a defect (a second adversarial review): the probes took the store's
    # transaction mutex, so /ready and /metrics queued behind a sweep or a
    # tidy of the worker's own that waited for a lock (SQLite's busy timeout
    # is 10 s), and a healthy worker answered 503 or a late scrape.
    import threading

    store = backend.open(backend.new())
    world = Clocked(store)
    world.ccm.receive(message(B, STARTED, 1_000, "D1"))  # one leg
    inside, leave = threading.Event(), threading.Event()

    def long_transaction() -> None:
        with store.transaction() as tx:
            tx.set_presence("1002", True, 0)  # (a write: SQLite's writer lock)
            tx.flush()
            inside.set()
            leave.wait(30)

    holder = threading.Thread(target=long_transaction)
    holder.start()
    try:
        assert inside.wait(10)
        answers: list[Any] = []
        prober = threading.Thread(target=lambda: answers.extend([store.ping(), store.gauges()]))
        prober.start()
        prober.join(5)
        assert not prober.is_alive(), "a probe waited for the transaction in progress"
        pinged, (states, depth) = answers
        assert isinstance(pinged, int)
        # What committed before the transaction in progress: the leg and its
        # STARTED, not yet published (the write in progress is not seen).
        assert states == {"talking": 1} and depth == 1
    finally:
        leave.set()
        holder.join(10)
    store.close()


def test_a_ping_of_a_store_that_cannot_answer_is_a_store_error(tmp_path: Path) -> None:
    from consultfsm.durable.store import StoreError

    store = SqliteStore(tmp_path / "ccm.db")
    store.close()
    with pytest.raises(StoreError, match="does not answer"):
        store.ping()


def test_a_session_whose_number_normalises_to_another_is_served_as_the_engine_serves_it(
    backend: Backend,
) -> None:
    # Was a defect (an adversarial review): the rows of a session whose E.164
    # form does not normalise to itself (+43 00664 123456 -> +430664123456 ->
    # +43664123456) could not be restored: the consult and the session's end
    # were UnreadableRows (503) for good, where the engine takes both.
    number = "+4300664123456"
    session = ChannelSession("S9", "C9", number, "X9")
    start = CODEC.dumps(CODEC.agent_message(
        leg="7002:1002:D9", at=2_000, intent=STARTED, agent="1002", customer=number,
        call_id="D9", reason=None))  # fmt: skip
    engine = reference()
    engine.start_session(session, 1_000)
    expected = [p.intent.value for p in engine.receive(start, 2_000).published]
    assert expected == ["CALL_LEG_STARTED"]
    world = Clocked(backend.open(backend.new()))
    world.t = 1_000
    world.ccm.start_session(session)
    world.t = 2_000
    answer = world.ccm.receive(start)
    assert [s.intent for s in answer.sent] == expected and answer.sent[0].conversation == "C9"
    world.t = 3_000
    assert world.ccm.end_session("S9").disposition == "applied"


@pytest.mark.parametrize(
    ("field", "value"),
    [("service_identifier", " "), ("service_identifier", "")],
)
def test_a_session_or_desk_with_a_blank_id_is_refused_by_both_engines_changing_nothing(
    backend: Backend, field: str, value: str
) -> None:
    # Was a defect (an adversarial review): a blank service identifier, or a
    # desk " ", was taken at input, and the rows it left could not be restored
    # (a blank id is refused there): the consult's start was published, then
    # its end and its deadlines were UnreadableRows for good. Whatever restore
    # refuses, input refuses first, in the engine as in the durable CCM.
    from consultfsm.ccm.engine import CcmRefused
    from consultfsm.core.errors import ConfigError

    fields: dict[str, Any] = {field: value}
    session = attrs.evolve(ChannelSession("S9", "C9", "+923001234567"), **fields)
    engine = reference()
    with pytest.raises(ConfigError) as caught:
        engine.start_session(session, 0)
    assert caught.value.field == f"session.{field}"
    with pytest.raises(CcmRefused, match="agent"):
        engine.desk_up(" ", 0)
    assert engine.snapshot() == reference().snapshot()
    world = Clocked(backend.open(backend.new()))
    with pytest.raises(ConfigError) as caught:
        world.ccm.start_session(session)
    assert caught.value.field == f"session.{field}"
    with pytest.raises(CcmRefused, match="agent"):
        world.ccm.desk_up(" ")
    with world.ccm.store.transaction() as tx:
        assert tx.session("S9") is None and tx.presence([" "]) == {}


def test_a_session_id_stays_used_after_tidy_forgets_its_row(backend: Backend) -> None:
    # Was a defect (an adversarial review): once tidy deleted an ended
    # session's row, its id was taken again under another key, and the new
    # session's end, under the default id, was the replay of the first's
    # (still in the inbox): never applied, the session active for good.
    from consultfsm.ccm.engine import CcmRefused

    world = Clocked(backend.open(backend.new()), tombstone_ms=60_000, ended_session_ms=1_000)
    ccm = world.ccm
    first = ChannelSession("S9", "C9", "+923001234567", "X9")
    world.t = 1_000
    ccm.start_session(first)
    world.t = 2_000
    ccm.end_session("S9")
    world.t = 2_000 + 2 * 1_000 + 1  # the ended session's row past its horizon
    ccm.tidy()
    with ccm.store.transaction() as tx:
        assert tx.session("S9") is None  # (the premise: its row is gone)
    again = ChannelSession("S9", "C-other", "+923009999999", "X10")
    with pytest.raises(CcmRefused, match="already existed: it ended at 2000 ms"):
        ccm.start_session(again, input_id="another-key")
    assert ccm.start_session(first).replayed  # its retry is still its retry
    # Past twice the inbox's horizon the id is forgotten with its inputs' ids:
    # a new session of that id starts, and its end is applied, not replayed.
    world.t = 2_000 + 4 * 60_000 + 1
    ccm.tidy()
    assert ccm.start_session(again, input_id="third-key").disposition == "applied"
    world.t += 1_000
    end = ccm.end_session("S9")
    assert end.disposition == "applied" and not end.replayed
    with ccm.store.transaction() as tx:
        row = tx.session("S9")
    assert row is not None and row.ended_at == world.t


def test_a_session_id_stays_used_while_its_inputs_ids_outlive_their_horizon(
    backend: Backend,
) -> None:
    # Was a defect (a second adversarial review): SQLite tidies its inbox in
    # the order entries were written, so after the clock stepped back an
    # entry outlives its horizon behind one written before the step. The
    # forgotten id's marker expired by time alone while the first session's
    # end was still in the inbox: the new session's end was its replay.
    from consultfsm.ccm.engine import CcmRefused

    world = Clocked(backend.open(backend.new()), tombstone_ms=60_000, ended_session_ms=1_000)
    ccm = world.ccm
    world.t = 10_000_000  # the clock far ahead (an NTP step to come)
    ccm.desk_up("1002", input_id="written-ahead")
    world.t = 1_000  # stepped back
    ccm.start_session(ChannelSession("S9", "C9", "+923001234567", "X9"))
    world.t = 2_000
    ccm.end_session("S9")
    world.t = 2_000 + 4 * 60_000 + 1  # past every horizon of the first session
    ccm.tidy()
    with ccm.store.transaction() as tx:
        kept = tx._q("SELECT id FROM inbox WHERE id = 'session-end:S9'")
    again = ChannelSession("S9", "C-other", "+923009999999", "X10")
    if kept:  # (SQLite: behind the entry written ahead)
        assert backend.kind == "sqlite"
        with pytest.raises(CcmRefused, match="already existed"):
            ccm.start_session(again, input_id="another-key")
        world.t = 10_000_000 + 2 * 60_000 + 1  # the entry written ahead expires too
        ccm.tidy()
    assert ccm.start_session(again, input_id="another-key").disposition == "applied"
    world.t += 1_000
    end = ccm.end_session("S9")
    assert end.disposition == "applied" and not end.replayed
    with ccm.store.transaction() as tx:
        row = tx.session("S9")
    assert row is not None and row.ended_at == world.t


def test_a_sqlite_file_failing_under_an_input_is_a_store_error_changing_nothing(
    tmp_path: Path,
) -> None:
    # Was untyped (an adversarial review): an operational error of the file
    # other than a lock (here a table gone; a disk I/O error alike) went out
    # as sqlite3's own, a 500, where a StoreError is the 503 "send again".
    import sqlite3

    from consultfsm.durable.store import StoreError

    store = SqliteStore(tmp_path / "ccm.db")
    world = Clocked(store)
    with sqlite3.connect(store.path) as other:
        other.execute("DROP TABLE presence")
    with pytest.raises(StoreError, match="no such table: presence") as caught:
        world.ccm.desk_up("1002")
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    with store.transaction() as tx:
        assert tx.live_legs() == 0 and tx._q("SELECT COUNT(*) FROM inbox")[0][0] == len(SESSIONS)
    # Nothing was applied: once the file is mended (reopened, its tables made
    # again), the same input sent again is applied, not replayed.
    store.close()
    mended = DurableCcm(SqliteStore(tmp_path / "ccm.db"), CODEC, clock=lambda tx: world.t)
    again = mended.desk_up("1002")
    assert again.disposition == "applied" and not again.replayed


@pytest.mark.parametrize("spoil", ["not a database", "malformed"])
def test_a_sqlite_file_that_is_not_a_database_is_a_store_error_changing_nothing(
    tmp_path: Path, spoil: str
) -> None:
    # Was a 500 (a second adversarial review): a file overwritten or
    # corrupted under a running store raises sqlite3.DatabaseError, not an
    # OperationalError. An input, the probe and the gauges say StoreError.
    import sqlite3

    from consultfsm.durable.store import StoreError

    path = tmp_path / "ccm.db"
    store = SqliteStore(path)
    world = Clocked(store)
    world.ccm.receive(message(B, STARTED, 1_000, "D1"))
    with sqlite3.connect(path) as other:  # everything in the file itself, none in the WAL
        other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    good = path.read_bytes()
    if spoil == "not a database":
        bad = b"this is no longer a SQLite file" * (len(good) // 31 + 1)
    else:  # the header kept, every other page overwritten
        page = int.from_bytes(good[16:18], "big")
        bad = good[:100] + bytes(range(256)) * ((len(good) - 100) // 256 + 1)
        bad = bad[:page] + b"\xff" * (len(good) - page)
    path.write_bytes(bad[: len(good)])
    with pytest.raises(StoreError):  # (what a restarted worker meets)
        SqliteStore(path)
    with pytest.raises(StoreError) as caught:
        world.ccm.desk_up("1002")
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
    with pytest.raises(StoreError):
        store.ping()
    with pytest.raises(StoreError):
        store.gauges()
    # Nothing was applied: the good file put back, the same input is applied.
    path.write_bytes(good)
    store.close()
    mended = DurableCcm(SqliteStore(path), CODEC, clock=lambda tx: world.t)
    again = mended.desk_up("1002")
    assert again.disposition == "applied" and not again.replayed
