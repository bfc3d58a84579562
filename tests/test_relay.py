"""The relay: every outbox row reaches the sink, in order per leg, and is
deleted only once confirmed; a failed or repeated send loses nothing and
repeats only ids a consumer can drop. Run against a JSON Lines file, a
callback, a real ActiveMQ over STOMP, and PostgreSQL's advisory locks."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from durable_world import CODEC, B, Clocked, message
from stores import Backend, need_broker, need_postgres

from consultfsm.core.states import CimReason
from consultfsm.durable.relay import CallbackSink, JsonlSink, Relay, SinkError
from consultfsm.durable.sqlite import SqliteStore
from consultfsm.durable.store import OutboxRow
from consultfsm.wire.cim import MessageIntent

STARTED, ENDED = MessageIntent.CALL_LEG_STARTED, MessageIntent.CALL_LEG_ENDED


def _consults(world: Clocked, legs: int) -> list[str]:
    """``legs`` consults that start and end; the event ids the CCM wrote, in order."""
    ids = []
    for n in range(legs):
        world.t = 1_000 * (n + 1)
        dialog = f"D{n}"
        ids += [s.event_id for s in world.ccm.receive(message(B, STARTED, world.t, dialog)).sent]
        world.t += 500
        ids += [s.event_id for s in world.ccm.receive(
            message(B, ENDED, world.t, dialog, CimReason.CONSULT_ENDED)).sent]  # fmt: skip
    return ids


def test_the_jsonl_sink_gets_every_event_once_with_its_ids(tmp_path: Path) -> None:
    world = Clocked(SqliteStore(tmp_path / "ccm.db"))
    ids = _consults(world, 5)
    out = tmp_path / "topic.jsonl"
    relay = Relay(world.ccm.store, JsonlSink(out), batch=3)
    assert relay.drain() == len(ids) == 10
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == ids
    assert all(line["event"]["id"] == line["id"] for line in lines)
    assert [line["event"]["name"] for line in lines[:2]] == ["CALL_LEG_STARTED", "CALL_LEG_ENDED"]
    assert [(line["leg"], line["version"], line["index"]) for line in lines[:2]] == [
        ("D0", 1, 0), ("D0", 2, 0)]  # fmt: skip
    with world.ccm.store.transaction() as tx:
        assert tx.outbox_depth() == 0


def test_a_sink_that_fails_keeps_the_rows_and_a_resend_repeats_only_known_ids(
    tmp_path: Path,
) -> None:
    world = Clocked(SqliteStore(tmp_path / "ccm.db"))
    ids = _consults(world, 4)
    got: list[OutboxRow] = []

    def flaky(row: OutboxRow) -> None:
        got.append(row)
        if len(got) == 3:
            raise SinkError("the broker went away")  # after taking two

    relay = Relay(world.ccm.store, CallbackSink(flaky), batch=4)
    with pytest.raises(SinkError):
        relay.run_once()
    with world.ccm.store.transaction() as tx:
        assert tx.outbox_depth() == len(ids)  # nothing deleted: nothing confirmed
    relay.drain()
    seen: list[str] = []
    for row in got:  # a consumer dropping ids it has handled
        if row.event_id not in seen:
            seen.append(row.event_id)
    assert seen == ids and len(got) > len(ids)


_TORN = """
import json, os, resource, signal, sys
sys.path.insert(0, {tests!r})
from durable_world import Clocked
from test_relay import _consults
from consultfsm.durable.relay import JsonlSink, Relay, SinkError
from consultfsm.durable.sqlite import SqliteStore

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit is EFBIG, not a kill
world = Clocked(SqliteStore({db!r}))
ids = _consults(world, 15)
relay = Relay(world.ccm.store, JsonlSink({out!r}), batch=10)
relay.run_once()
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize({out!r}) + 300, hard))  # the disk fills
try:
    relay.run_once()
    raise SystemExit("the second batch was written whole")
except SinkError:
    pass
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # and has room again
relay.drain()
print(json.dumps(ids))
"""


def test_a_write_that_fails_part_way_leaves_no_torn_line_and_the_resend_loses_nothing(
    tmp_path: Path,
) -> None:
    """Was a defect (an adversarial review): a batch whose write failed
    part-way (a full disk, a file size limit) left its half-written line at
    the end of the file, and the re-sent batch's first line was appended to
    it: one line that was no JSON, and, the rows then deleted, that event
    lost to a line-by-line consumer. (In a child process: the file size limit
    is the process's.)"""
    import subprocess
    import sys

    out = tmp_path / "events.jsonl"
    script = _TORN.format(tests=str(Path(__file__).parent), db=str(tmp_path / "ccm.db"),
                          out=str(out))  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    ids = json.loads(done.stdout)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ids  # each whole, once, in order


def test_a_closed_jsonl_sink_takes_no_more_events_and_leaves_a_given_file_open(
    tmp_path: Path,
) -> None:
    """A sink closed is closed whichever way it was made; a file it was given
    is its owner's to close (was: such a sink went on writing after close)."""
    world = Clocked(SqliteStore(tmp_path / "ccm.db"))
    _consults(world, 1)
    with (tmp_path / "given.jsonl").open("w", encoding="utf-8") as given:
        for sink in (JsonlSink(tmp_path / "own.jsonl"), JsonlSink(given)):
            sink.close()
            with pytest.raises(SinkError, match="closed"):
                Relay(world.ccm.store, sink).run_once()
        assert not given.closed
    assert (tmp_path / "own.jsonl").read_text() == (tmp_path / "given.jsonl").read_text() == ""
    with world.ccm.store.transaction() as tx:
        assert tx.outbox_depth() == 2


def test_a_jsonl_sink_whose_given_file_its_owner_closed_is_a_sink_error_keeping_the_rows(
    tmp_path: Path,
) -> None:
    # Was untyped (an adversarial review): Python's ValueError on a closed
    # file went out as it was, where the worker's loop expects a SinkError.
    world = Clocked(SqliteStore(tmp_path / "ccm.db"))
    _consults(world, 1)
    given = (tmp_path / "given.jsonl").open("w", encoding="utf-8")
    sink = JsonlSink(given)
    given.close()
    with pytest.raises(SinkError, match="closed file"):
        Relay(world.ccm.store, sink).run_once()
    with world.ccm.store.transaction() as tx:
        assert tx.outbox_depth() == 2


def test_a_callback_that_fails_is_a_sink_error_and_keeps_the_rows(tmp_path: Path) -> None:
    """Was untyped: a callback's own exception went out as it was, where the
    Sink protocol (and the worker's loop) expects a SinkError."""
    world = Clocked(SqliteStore(tmp_path / "ccm.db"))
    _consults(world, 1)

    def broken(row: OutboxRow) -> None:
        raise ConnectionResetError("the consumer went away")

    with pytest.raises(SinkError, match="ConnectionResetError") as caught:
        Relay(world.ccm.store, CallbackSink(broken)).run_once()
    assert isinstance(caught.value.__cause__, ConnectionResetError)
    with world.ccm.store.transaction() as tx:
        assert tx.outbox_depth() == 2


def test_a_stopped_worker_closes_its_sink_and_gives_its_lease_back(tmp_path: Path) -> None:
    from consultfsm.durable.engine import DurableCcm
    from consultfsm.durable.relay import WholeLease
    from consultfsm.service.worker import Worker

    closed: list[str] = []

    class Noting(CallbackSink):
        def close(self) -> None:
            closed.append("sink")

    class Lease(WholeLease):
        def close(self) -> None:
            closed.append("lease")

    store = SqliteStore(tmp_path / "ccm.db")
    worker = Worker(DurableCcm(store, CODEC),
                    Relay(store, Noting(lambda row: None), lease=Lease()))  # fmt: skip
    worker.start()
    worker.stop()
    assert closed == ["sink", "lease"]


def test_a_worker_whose_relay_is_still_sending_when_stopped_leaves_it_open(
    tmp_path: Path,
) -> None:
    """Closing the sink and the lease under a publish under way broke it
    (a closed file, partitions handed back with rows in flight): a stop that
    times out leaves the relay open (found by a review)."""
    from consultfsm.durable.engine import DurableCcm
    from consultfsm.service.worker import Worker

    store = SqliteStore(tmp_path / "ccm.db")
    world = Clocked(store)
    _consults(world, 1)
    sending, release, closed = threading.Event(), threading.Event(), []

    class Slow(CallbackSink):
        def close(self) -> None:
            closed.append("sink")

    def slow(row: OutboxRow) -> None:
        sending.set()
        release.wait(10)

    worker = Worker(DurableCcm(store, CODEC), Relay(store, Slow(slow)))
    worker.start()
    assert sending.wait(10)
    worker.stop(timeout=0.2)
    assert closed == []
    release.set()


def _consume(
    url: str, destination: str, want: int, into: list[Any], ready: threading.Event, *,
    wait: float = 30,
) -> None:  # fmt: skip
    import stomp

    class Listener(stomp.ConnectionListener):  # type: ignore[misc]
        def on_message(self, frame: Any) -> None:
            into.append((frame.headers, frame.body))

    host, port = url.removeprefix("stomp://").split(":")
    conn = stomp.Connection([(host, int(port))])
    conn.set_listener("", Listener())
    conn.connect(wait=True)
    conn.subscribe(destination, id="1", ack="auto")
    ready.set()
    deadline = time.monotonic() + wait
    while len(into) < want and time.monotonic() < deadline:
        time.sleep(0.05)
    conn.disconnect()


def test_activemq_gets_every_event_over_stomp_with_its_ids(tmp_path: Path) -> None:
    from consultfsm.durable.stomp_sink import StompSink

    url = need_broker()
    world = Clocked(SqliteStore(tmp_path / "ccm.db"))
    ids = _consults(world, 3)
    queue = f"/queue/consultfsm-test-{uuid.uuid4().hex[:8]}"
    sink = StompSink(url, destination=queue + ".{conversation}")
    relay = Relay(world.ccm.store, sink, batch=2)
    assert relay.drain() == len(ids)
    sink.close()
    got: list[Any] = []
    ready = threading.Event()
    _consume(url, f"{queue}.C1", len(ids), got, ready)
    assert [h["event-id"] for h, _ in got] == ids
    assert [json.loads(body)["id"] for _, body in got] == ids
    assert {h["_AMQ_DUPL_ID"] == h["event-id"] for h, _ in got} == {True}
    assert [(h["leg"], h["leg-version"], h["event-index"]) for h, _ in got][:2] == [
        ("D0", "1", "0"), ("D0", "2", "0")]  # fmt: skip


def test_a_conversation_id_names_its_one_destination_whatever_it_holds() -> None:
    """Was a defect (an adversarial review): the id went into the destination
    as it was, and on ActiveMQ a ``,`` makes a composite destination, so a
    conversation ``C1,/queue/other`` published its events to ``/queue/other``
    too. Now percent-encoded; the header carries the id as it is."""
    from consultfsm.durable.stomp_sink import StompSink

    url = need_broker()
    tag = uuid.uuid4().hex[:8]
    victim = f"/queue/consultfsm-test-victim-{tag}"
    conversation = f"C1,{victim}"
    sink = StompSink(url, destination=f"/queue/consultfsm-test-{tag}.{{conversation}}")
    own = sink.destination_of(conversation)
    assert own == f"/queue/consultfsm-test-{tag}.C1%2C%2Fqueue%2Fconsultfsm-test-victim-{tag}"
    assert sink.destination_of("C1.a-b_c~") == f"/queue/consultfsm-test-{tag}.C1.a-b_c~"
    assert sink.destination_of("a%2Cb") != sink.destination_of("a,b")  # (one id, one name)
    row = OutboxRow(0, conversation, "D0", 1, 0, str(uuid.uuid4()), '{"id":"e"}', seq=1)
    sink.publish([row])
    sink.close()
    stray: list[Any] = []
    _consume(url, victim, 1, stray, threading.Event(), wait=2)
    assert stray == []
    got: list[Any] = []
    _consume(url, own, 1, got, threading.Event())
    assert [(h["conversation-id"], h["event-id"]) for h, _ in got] == [
        (conversation, row.event_id)]  # fmt: skip


def test_the_longest_ids_a_durable_ccm_takes_reach_the_broker(tmp_path: Path) -> None:
    """The bound on ids (MAX_ID_BYTES) is within what ActiveMQ takes in a
    header and a destination, percent-encoded: the longest conversation and
    dialog ids go through."""
    from consultfsm.ccm import ChannelSession
    from consultfsm.durable.engine import MAX_ID_BYTES
    from consultfsm.durable.stomp_sink import StompSink

    url = need_broker()
    world = Clocked(SqliteStore(tmp_path / "ccm.db"))
    conversation = "会" * (MAX_ID_BYTES // 3)  # three bytes each, nine percent-encoded
    world.ccm.start_session(ChannelSession("S5", conversation, "+923005555555", "D5"))
    dialog = "d" * MAX_ID_BYTES
    text = CODEC.dumps(CODEC.agent_message(
        leg=f"7002:1002:{dialog}", at=10, intent=STARTED, agent="1002", customer="+923005555555",
        call_id=dialog, reason=None, associated_dialog_uri="/finesse/api/Dialog/D5"))  # fmt: skip
    world.t = 10
    (sent,) = world.ccm.receive(text).sent
    queue = f"/queue/consultfsm-test-{uuid.uuid4().hex[:8]}"
    sink = StompSink(url, destination=queue + ".{conversation}")
    assert Relay(world.ccm.store, sink).drain() == 1
    got: list[Any] = []
    _consume(url, sink.destination_of(conversation), 1, got, threading.Event())
    sink.close()
    assert [(h["event-id"], h["conversation-id"], h["leg"]) for h, _ in got] == [
        (sent.event_id, conversation, dialog)]  # fmt: skip


def test_a_broker_that_is_not_there_is_a_sink_error_and_keeps_the_rows(tmp_path: Path) -> None:
    from consultfsm.durable.stomp_sink import StompSink

    world = Clocked(SqliteStore(tmp_path / "ccm.db"))
    _consults(world, 1)
    relay = Relay(world.ccm.store, StompSink("stomp://127.0.0.1:9", timeout=2))
    with pytest.raises(SinkError):
        relay.run_once()
    with world.ccm.store.transaction() as tx:
        assert tx.outbox_depth() == 2


class _SilentPeer:
    """A TCP peer that takes connections and never says a word (a load
    balancer without a backend, a broker host gone half-open), or, with
    ``connected``, answers CONNECT and then nothing (a broker that takes
    messages and never confirms them). A fault to inject, not a broker."""

    def __init__(self, *, connected: bool = False) -> None:
        import socket

        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held: list[Any] = []
        self.connected = connected
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.held.append(conn)
            if self.connected:
                buffer = b""
                while b"\x00" not in buffer and (chunk := conn.recv(4096)):
                    buffer += chunk
                conn.sendall(b"CONNECTED\nversion:1.2\n\n\x00")

    def close(self) -> None:
        self.server.close()
        for conn in self.held:
            conn.close()


def _io_threads() -> int:
    return sum("__io_loop" in t.name for t in threading.enumerate())


@pytest.mark.parametrize("peer", ["says nothing", "never confirms"])
def test_a_broker_that_stops_answering_is_a_sink_error_in_time_and_leaves_nothing_open(
    tmp_path: Path, peer: str
) -> None:
    """Were defects (an adversarial review): a peer that took the connection
    and never answered CONNECT held the relay for as long as it stayed so
    (stomp.py's wait has no deadline); and each batch whose receipts did not
    come left a socket and a thread behind (stomp.py keeps them until the
    broker confirms the DISCONNECT)."""
    from consultfsm.durable.stomp_sink import StompSink

    world = Clocked(SqliteStore(tmp_path / "ccm.db"))
    _consults(world, 1)
    fake = _SilentPeer(connected=peer == "never confirms")
    before = _io_threads()
    try:
        sink = StompSink(f"stomp://127.0.0.1:{fake.port}", timeout=0.5)
        relay = Relay(world.ccm.store, sink)
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(SinkError, match="CONNECT" if peer == "says nothing" else "receipt"):
                relay.run_once()
            assert time.monotonic() - started < 5
        sink.close()
        deadline = time.monotonic() + 5
        while _io_threads() > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _io_threads() == before
    finally:
        fake.close()
    with world.ccm.store.transaction() as tx:
        assert tx.outbox_depth() == 2  # nothing confirmed, nothing deleted


def test_relays_share_partitions_through_advisory_locks_and_take_over_a_dead_ones(
    tmp_path: Path,
) -> None:
    from consultfsm.durable.postgres import AdvisoryLease

    need_postgres()
    address = Backend("postgresql", tmp_path).new()
    one, two = AdvisoryLease(address, 16, most=10), AdvisoryLease(address, 16, most=10)
    first = one.held()
    second = two.held()
    assert len(first) == 10 and len(second) == 6 and not set(first) & set(second)
    one.close()  # as a dead relay's connection closes
    two._next_try = 0.0  # (it looks again at its next batch; here, now)
    assert len(two.held()) == 10
    two.close()


def test_a_lease_whose_connection_died_holds_nothing_and_takes_its_partitions_again(
    tmp_path: Path,
) -> None:
    # Found in review: a lease holding its share never looked at its
    # connection again, so after the server dropped it two relays sent the
    # same partitions and nobody sent the rest.
    import psycopg

    from consultfsm.durable.postgres import AdvisoryLease

    need_postgres()
    address = Backend("postgresql", tmp_path).new()
    lease = AdvisoryLease(address, 16, most=8)
    assert lease.held() == list(range(8))
    assert lease._conn is not None
    pid = lease._conn.info.backend_pid
    with psycopg.connect(address, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        other = AdvisoryLease(address, 16, most=8)
        assert other.held() == list(range(8))  # the freed partitions
    assert lease.held() == []  # it sees it lost them
    lease._next_try = 0.0
    assert lease.held() == list(range(8, 16))  # and takes the free ones
    lease.close()
    other.close()
