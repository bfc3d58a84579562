"""``consultfsm serve``: the HTTP interface of the durable CCM, in process
(Starlette's test client) and as the real command on a port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from durable_world import CODEC, A, B, message
from starlette.testclient import TestClient

from consultfsm.core.states import CimReason
from consultfsm.durable.engine import DurableCcm
from consultfsm.durable.relay import JsonlSink, Relay
from consultfsm.durable.sqlite import SqliteStore
from consultfsm.service.app import create_app
from consultfsm.service.worker import Worker
from consultfsm.wire.cim import MessageIntent

STARTED, ENDED = MessageIntent.CALL_LEG_STARTED, MessageIntent.CALL_LEG_ENDED
SESSION = {"id": "S1", "conversation_id": "C1", "customer_ani": "+923001234567",
           "dialog_id": "D0", "agents": ["1001"]}  # fmt: skip


@pytest.fixture
def client(tmp_path: Path) -> Any:
    store = SqliteStore(tmp_path / "ccm.db")
    worker = Worker(DurableCcm(store, CODEC), Relay(store, JsonlSink(tmp_path / "events.jsonl")),
                    sweep_every=0.01, relay_every=0.01)  # fmt: skip
    with TestClient(create_app(worker)) as test:
        test.events = tmp_path / "events.jsonl"  # type: ignore[attr-defined]
        test.store = store  # type: ignore[attr-defined]
        yield test


def _published(events: Path, want: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = events.read_text().splitlines() if events.exists() else []
        if len(lines) >= want:
            return [json.loads(line) for line in lines]
        time.sleep(0.02)
    raise AssertionError(f"fewer than {want} events published")


def test_a_consult_through_http_is_published_once_whatever_is_retried(client: Any) -> None:
    assert client.post("/sessions", json=SESSION).json()["disposition"] == "applied"
    start = message(B, STARTED, 0, "D1")
    first = client.post("/message/receive", content=start).json()
    assert first["disposition"] == "applied" and [s["intent"] for s in first["sent"]] == [
        "CALL_LEG_STARTED"]  # fmt: skip
    again = client.post("/message/receive", content=start).json()
    assert again["replayed"] is True and again["sent"] == first["sent"]
    end = message(B, ENDED, 0, "D1", CimReason.CONSULT_ENDED)
    assert client.post("/message/receive", content=end).json()["disposition"] == "applied"
    lines = _published(client.events, 2)
    assert [line["event"]["name"] for line in lines] == ["CALL_LEG_STARTED", "CALL_LEG_ENDED"]
    assert lines[0]["id"] == first["sent"][0]["event_id"]


def test_presence_retried_with_its_key_is_applied_once(client: Any) -> None:
    client.post("/sessions", json=SESSION)
    client.post("/message/receive", content=message(A, STARTED, 0, "D1"))
    down = client.post("/desk/1001/down", headers={"Idempotency-Key": "s-1"}).json()
    client.post("/desk/1001/up", headers={"Idempotency-Key": "s-2"})
    late = client.post("/desk/1001/down", headers={"Idempotency-Key": "s-1"}).json()
    assert late["replayed"] is True and late["at"] == down["at"]
    text = client.get("/metrics").text
    assert 'consultfsm_inputs_total{disposition="replayed",kind="desk_down"} 1.0' in text


@pytest.mark.parametrize(("body", "status", "error"), [
    (b"{", 400, "CimParseError"),
    (b"\xff", 400, "CimParseError"),
    (b"[]", 400, "CimParseError"),
])  # fmt: skip
def test_a_body_that_is_no_message_is_a_400_naming_the_error(
    client: Any, body: bytes, status: int, error: str
) -> None:
    answer = client.post("/message/receive", content=body)
    assert answer.status_code == status and answer.json()["error"] == error
    assert "path" in answer.json()


def test_a_message_the_ccm_refuses_is_a_422_and_changes_nothing(client: Any) -> None:
    answer = client.post("/message/receive", content=message(B, STARTED, 0, "D1"))
    assert answer.status_code == 422 and answer.json()["error"] == "SessionNotFound"
    text = client.get("/metrics").text
    assert 'consultfsm_refused_total{error="SessionNotFound",kind="cim"} 1.0' in text
    assert "consultfsm_legs{" not in text  # no leg


@pytest.mark.parametrize("body", [b'{"id": "S1"}', b"[1]", b'{"id": "S1", "bogus": 1}', b"\xff"])
def test_a_session_body_that_is_not_a_session_is_a_400(client: Any, body: bytes) -> None:
    assert client.post("/sessions", content=body).status_code == 400


def test_health_readiness_and_metrics(client: Any) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    client.post("/sessions", json=SESSION)
    client.post("/message/receive", content=message(A, STARTED, 0, "D1"))
    text = client.get("/metrics").text
    # A's desk says B answered: the CCM waits for B's own start (CcmCall.ANSWERING).
    assert 'consultfsm_legs{state="answering"} 1.0' in text
    assert "consultfsm_outbox_depth" in text and "consultfsm_deadline_lag_seconds" in text


def _until_ready(base: str) -> None:
    """Wait (up to about 20 s) for a server starting at ``base`` to say it is ready."""
    for _ in range(400):
        try:
            if httpx.get(f"{base}/ready").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_consultfsm_serve_runs_as_a_command_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    events = tmp_path / "events.jsonl"
    server = subprocess.Popen(
        [sys.executable, "-m", "consultfsm", "serve", "--database", str(tmp_path / "ccm.db"),
         "--events", str(events), "--port", str(port)],
        stderr=subprocess.PIPE, text=True, env={**os.environ},
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _until_ready(base)
        assert httpx.post(f"{base}/sessions", json=SESSION).status_code == 200
        answer = httpx.post(f"{base}/message/receive", content=message(B, STARTED, 0, "D1"))
        assert answer.status_code == 200
        assert _published(events, 1)[0]["event"]["name"] == "CALL_LEG_STARTED"
        # B's socket closes: a presence input, which names no leg itself
        down = httpx.post(f"{base}/desk/1002/down", headers={"Idempotency-Key": "k1"})
        assert down.status_code == 200 and down.json()["legs"] == ["D1"]
    finally:
        server.terminate()
        _, err = server.communicate(timeout=20)
    # A clean stop, then exit by the signal, as uvicorn does (143 in a shell).
    assert server.returncode == -signal.SIGTERM and "Application shutdown complete" in err, err
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    (entry,) = [e for e in logs if e.get("kind") == "cim"]
    assert entry["agent"] == "1002" and entry["dialog"] == "D1" and entry["conversation"] == "C1"
    assert entry["leg"] == "D1" and entry["disposition"] == "applied"
    # the presence line names the leg it touched, and the agent
    (gone,) = [e for e in logs if e.get("kind") == "desk_down"]
    assert (gone["agent"], gone["leg"], gone["legs"]) == ("1002", "D1", ["D1"])


def test_ids_at_the_limit_are_taken_over_http_and_one_past_it_is_refused_by_its_field(
    client: Any,
) -> None:
    from consultfsm.durable.engine import MAX_ID_BYTES

    session = {**SESSION, "id": "S" * MAX_ID_BYTES}
    assert client.post("/sessions", json=session).json()["disposition"] == "applied"
    raw = json.loads(message(B, STARTED, 0, "D1"))
    raw["id"] = "m" * (MAX_ID_BYTES + 1)
    refused = client.post("/message/receive", json=raw)
    assert refused.status_code == 422 and refused.json()["field"] == "id", refused.text
    raw["id"] = "m" * MAX_ID_BYTES
    assert client.post("/message/receive", json=raw).json()["disposition"] == "applied"
    ended = client.post(f"/sessions/{session['id']}/end")
    assert ended.status_code == 200 and ended.json()["disposition"] == "applied", ended.text


def test_a_session_started_again_is_its_retry_and_under_another_key_is_refused(client: Any) -> None:
    first = client.post("/sessions", json=SESSION).json()
    again = client.post("/sessions", json=SESSION).json()
    assert again["replayed"] is True and again["at"] == first["at"]
    other = client.post("/sessions", json=SESSION, headers={"Idempotency-Key": "another"})
    assert other.status_code == 422 and other.json()["error"] == "CcmRefused"
    end = client.post("/sessions/S1/end").json()
    assert end["disposition"] == "applied"
    assert client.post("/sessions/S1/end", headers={"Idempotency-Key": "x"}).status_code == 422


def test_one_idempotency_key_reused_for_another_agent_is_another_input(client: Any) -> None:
    first = client.post("/desk/1001/up", headers={"Idempotency-Key": "k1"}).json()
    other = client.post("/desk/1002/up", headers={"Idempotency-Key": "k1"}).json()
    assert first["replayed"] is False and other["replayed"] is False
    again = client.post("/desk/1001/up", headers={"Idempotency-Key": "k1"}).json()
    assert again["replayed"] is True


def test_keyed_and_unkeyed_inputs_never_share_an_inbox_id(client: Any) -> None:
    # An id or a key may hold ":" (the separator an id once used): a keyed
    # input is never another input's replay, nor an unkeyed one's.
    assert (
        client.post("/sessions", json=SESSION, headers={"Idempotency-Key": "k"}).status_code == 200
    )
    other = client.post("/sessions", json={**SESSION, "id": "S1:k", "dialog_id": "D8"}).json()
    assert other["replayed"] is False and other["disposition"] == "applied"
    assert client.post("/sessions/S1/end", headers={"Idempotency-Key": "x"}).json()[
        "replayed"] is False  # fmt: skip
    client.post("/sessions", json={**SESSION, "id": "S1:x", "dialog_id": "D7"})
    ended = client.post("/sessions/S1:x/end").json()
    assert ended["replayed"] is False and ended["disposition"] == "applied"
    down = client.post("/desk/x/down", headers={"Idempotency-Key": "k:up:z"}).json()
    up = client.post("/desk/x:down:k/up", headers={"Idempotency-Key": "z"}).json()
    assert down["replayed"] is False and up["replayed"] is False


def test_an_empty_idempotency_key_is_a_400_and_applies_nothing(client: Any) -> None:
    for path in ("/desk/1001/down", "/sessions/S1/end"):
        answer = client.post(path, headers={"Idempotency-Key": " "})
        assert answer.status_code == 400 and answer.json()["field"] == "Idempotency-Key"
    answer = client.post("/sessions", json=SESSION, headers={"Idempotency-Key": ""})
    assert answer.status_code == 400
    # Nothing was applied: the session starts now, and its end is its first.
    assert client.post("/sessions", json=SESSION).json()["disposition"] == "applied"
    assert client.post("/sessions/S1/end").json()["replayed"] is False


@pytest.mark.parametrize(("body", "field"), [
    (b"[" * 100_000 + b"]" * 100_000, "$"),
    (b"{", "$"),
    (b"[1]", "$"),
    (json.dumps({**SESSION, "agents": "1001"}).encode(), "agents"),
    (json.dumps({**SESSION, "agents": {"7": "x"}}).encode(), "agents"),
    (json.dumps({**SESSION, "agents": [["1001"]]}).encode(), "agents"),
    (json.dumps({"id": "S1", "conversation_id": "C1"}).encode(), "customer_ani"),
    (json.dumps({**SESSION, "bogus": 1}).encode(), "bogus"),
    (json.dumps({**SESSION, "id": 5}).encode(), "id"),
])  # fmt: skip
def test_a_session_body_that_is_not_a_session_names_its_field_and_is_counted(
    client: Any, body: bytes, field: str
) -> None:
    answer = client.post("/sessions", content=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "InvalidSession" and answer.json()["field"] == field
    text = client.get("/metrics").text
    assert 'consultfsm_refused_total{error="InvalidSession",kind="session_start"} 1.0' in text
    # and nothing was started: the same session id starts now
    assert client.post("/sessions", json=SESSION).json()["replayed"] is False


def test_a_body_over_the_limit_is_a_413_refused_before_it_is_all_read(
    client: Any, tmp_path: Path
) -> None:
    import asyncio

    from consultfsm.service.app import MAX_BODY

    store = SqliteStore(tmp_path / "direct.db")
    app = create_app(Worker(DurableCcm(store, CODEC), None), run_loops=False)

    def post(path: str, parts: int) -> tuple[int, int]:
        """(status, body parts the app read) for a body of ``parts`` eighths of the limit."""
        read, sent = 0, []

        async def receive() -> dict[str, Any]:
            nonlocal read
            read += 1
            return {"type": "http.request", "body": b" " * (MAX_BODY // 8),
                    "more_body": read < parts}  # fmt: skip

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
                 "headers": [], "query_string": b"", "http_version": "1.1", "scheme": "http",
                 "server": ("test", 80), "client": ("test", 1), "root_path": ""}  # fmt: skip
        asyncio.run(app(scope, receive, send))
        return sent[0]["status"], read

    for path in ("/message/receive", "/sessions"):
        assert post(path, 64) == (413, 9)  # the ninth eighth crosses the limit: no more is read
        assert post(path, 8)[0] == 400  # at the limit: read, and no message or session
        declared = client.post(path, content=b"x", headers={"Content-Length": str(MAX_BODY + 1)})
        assert declared.status_code == 413 and declared.json()["field"] == "$"
    store.close()
    text = client.get("/metrics").text
    assert 'consultfsm_refused_total{error="RequestRefused",kind="cim"} 1.0' in text
    assert 'consultfsm_refused_total{error="RequestRefused",kind="session_start"} 1.0' in text


@pytest.mark.parametrize(("options", "named"), [
    (["--port", "70000"], "--port"), (["--port", "-5"], "--port"),
    (["--partitions", "0"], "--partitions"), (["--database", ""], "--database"),
    (["--database", ":memory:"], "--database"), (["--relay-share", "2"], "--relay-share"),
    (["--destination", "/queue/x"], "--destination"),
    (["--no-relay", "--broker", "stomp://127.0.0.1:1"], "--no-relay"),
    (["--database", "postgresql://127.0.0.1:1/x", "--relay-share", "-4"], "--relay-share"),
    # What urllib refuses only when the port is read: no traceback, no store left.
    (["--broker", "stomp://127.0.0.1:abc"], "--broker"),
    (["--broker", "stomp://127.0.0.1:99999"], "--broker"),
    (["--broker", "stomp://[::1"], "--broker"), (["--broker", "http://127.0.0.1"], "--broker"),
    # A destination the relay could not fill in would fail every publication.
    (["--broker", "stomp://127.0.0.1:1", "--destination", "/queue/{x}"], "--destination"),
    (["--broker", "stomp://127.0.0.1:1", "--destination", "/queue/{"], "--destination"),
    # Each a destination, but not one per conversation (or not the id at all).
    *[(["--broker", "stomp://127.0.0.1:1", "--destination", f"/topic/{field}"], "--destination")
      for field in ("{conversation[0]}", "{conversation:.0}", "{conversation.upper}",
                    "{conversation!r}")],
    (["--events", "{tmp}/no-such-folder/e.jsonl"], "--events"),
    (["--database", "{tmp}/no-such-folder/ccm.db"], "--database"),
])  # fmt: skip
def test_serve_refuses_options_it_cannot_honour_with_status_2_and_opens_nothing(
    options: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from consultfsm.cli import main

    options = [o.replace("{tmp}", str(tmp_path)) for o in options]
    database = ["--database", str(tmp_path / "ccm.db")] if "--database" not in options else []
    events = ["--events", str(tmp_path / "e.jsonl")] if "--events" not in options else []
    # A serve that took the options would serve until stopped: fail instead.
    import uvicorn

    def served(*_: Any, **__: Any) -> None:
        raise AssertionError(f"serve took {options} and started serving")

    monkeypatch.setattr(uvicorn.Server, "run", served)
    try:
        status = main(["serve", *database, *options, *events])
    except SystemExit as exc:  # (argparse's own usage errors)
        status = int(exc.code or 0)
    err = capsys.readouterr().err
    assert status == 2 and "consultfsm serve" in err and "Traceback" not in err, err
    assert named in err, err
    assert list(tmp_path.iterdir()) == []  # no store, no events file


def test_serve_that_cannot_listen_exits_2_before_it_opens_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from consultfsm.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for host, busy in (("127.0.0.1", port), ("no-such-host.invalid", "8080")):
            status = main(["serve", "--database", str(tmp_path / "ccm.db"), "--host", host,
                           "--port", busy, "--events", str(tmp_path / "e.jsonl")])  # fmt: skip
            err = capsys.readouterr().err
            assert status == 2 and f"cannot listen on {host}:{busy}" in err, err
    assert list(tmp_path.iterdir()) == []


def test_serve_stopped_by_sigint_exits_by_it_without_a_traceback(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "consultfsm", "serve", "--database", str(tmp_path / "ccm.db"),
         "--events", str(tmp_path / "events.jsonl"), "--port", str(port)],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _until_ready(f"http://127.0.0.1:{port}")
        assert httpx.post(f"http://127.0.0.1:{port}/sessions", json=SESSION).status_code == 200
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=20)
    assert server.returncode == -signal.SIGINT, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "Application shutdown complete" in err
    # The store was closed and is free: another process takes it at once.
    store = SqliteStore(tmp_path / "ccm.db")
    with store.transaction() as tx:
        assert tx.session("S1") is not None
    store.close()


def test_a_worker_starts_its_loops_once(tmp_path: Path) -> None:
    # Started twice, a worker would run two sweepers and two relays; started
    # after a stop, a relay whose sink is closed. Both are refused, by type.
    from consultfsm.service.worker import WorkerError

    store = SqliteStore(tmp_path / "ccm.db")
    worker = Worker(DurableCcm(store, CODEC), Relay(store, JsonlSink(tmp_path / "e.jsonl")),
                    sweep_every=0.01, relay_every=0.01)  # fmt: skip
    worker.start()
    try:
        loops = {t.name for t in threading.enumerate() if t.name.startswith("consultfsm-")}
        with pytest.raises(WorkerError, match="running already"):
            worker.start()
        assert {t.name for t in threading.enumerate() if t.name.startswith("consultfsm-")} == loops
        assert loops == {"consultfsm-sweeper", "consultfsm-tidy", "consultfsm-relay"}
    finally:
        worker.stop()
    assert not worker.running
    with pytest.raises(WorkerError, match="stopped"):
        worker.start()
    assert not worker.running
    store.close()


def test_a_request_refused_before_the_ccm_is_logged_with_what_it_names(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    with caplog.at_level(logging.INFO, logger="consultfsm.service"):
        assert client.post("/message/receive", content=b"[1]").status_code == 400
        assert client.post("/desk/1001/up", headers={"Idempotency-Key": " "}).status_code == 400
    refused = [r for r in caplog.records if r.getMessage() == "input refused"]
    named = [r.ids for r in refused]  # type: ignore[attr-defined]
    assert [(i["kind"], i["error"], i.get("field"), i.get("agent")) for i in named] == [
        ("cim", "CimParseError", None, None),
        ("desk_up", "RequestRefused", "Idempotency-Key", "1001"),
    ]


def test_an_idempotency_key_too_long_for_the_inbox_is_a_400_naming_the_header(client: Any) -> None:
    key = "k" * 600
    for path in ("/desk/1001/up", "/sessions/S1/end"):
        answer = client.post(path, headers={"Idempotency-Key": key})
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == "Idempotency-Key"
    answer = client.post("/sessions", json=SESSION, headers={"Idempotency-Key": key})
    assert answer.status_code == 400 and answer.json()["field"] == "Idempotency-Key"
    with client.store.transaction() as tx:  # nothing was applied
        assert tx.session("S1") is None
    # A key that fits is taken, and its retry recognised.
    fits = {"Idempotency-Key": "k" * 400}
    assert client.post("/desk/1001/up", headers=fits).json()["replayed"] is False
    assert client.post("/desk/1001/up", headers=fits).json()["replayed"] is True


def test_no_such_route_or_method_is_answered_in_json(client: Any) -> None:
    for method, path, status, error in [
        ("GET", "/nope", 404, "NotFound"),
        ("POST", "/desk/1001/sideways", 404, "NotFound"),
        ("GET", "/message/receive", 405, "MethodNotAllowed"),
    ]:
        answer = client.request(method, path)
        assert answer.status_code == status and answer.json()["error"] == error, answer.text
        assert answer.headers["content-type"] == "application/json"
    assert "POST" in client.get("/message/receive").headers["allow"]


def test_readiness_of_an_app_whose_caller_drives_the_loops(tmp_path: Path) -> None:
    # create_app(run_loops=False): the loops are the caller's, so a worker
    # whose loops this app did not start is ready when its store answers.
    store = SqliteStore(tmp_path / "ccm.db")
    worker = Worker(DurableCcm(store, CODEC), None)
    with TestClient(create_app(worker, run_loops=False)) as test:
        answer = test.get("/ready")
        assert answer.status_code == 200 and answer.json()["loops"] is False, answer.text
    store.close()


def test_readiness_and_metrics_do_not_wait_for_a_writer_holding_the_database(
    tmp_path: Path,
) -> None:
    # Another process in a long transaction on the SQLite file: the probe
    # reads, so it answers at once and says ready (it used to take the write
    # lock, wait out the busy timeout, and answer 503 "store": false).
    import sqlite3

    store = SqliteStore(tmp_path / "ccm.db")
    worker = Worker(DurableCcm(store, CODEC), None)
    writer = sqlite3.connect(store.path, isolation_level=None, timeout=0)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO presence (agent, up, at) VALUES ('x', 1, 0)")
    try:
        with TestClient(create_app(worker, run_loops=False)) as test:
            answer = test.get("/ready")
            # The metrics' gauges read too, taking no lock (they used to wait
            # out the busy timeout, then leave the gauges out).
            scraped = test.get("/metrics").text
        assert answer.status_code == 200 and answer.json()["store"] is True, answer.text
        assert "\nconsultfsm_outbox_depth 0.0\n" in scraped, scraped
    finally:
        writer.rollback()
        writer.close()
        store.close()


class _BrokenSink:
    """A sink that fails with what no sink should raise: the worker must still
    see it unhealthy."""

    def publish(self, rows: Any) -> None:
        raise RuntimeError("the sink's library failed")

    def close(self) -> None:
        pass


def test_a_sink_failing_in_any_way_is_reported_unhealthy(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "ccm.db")
    worker = Worker(DurableCcm(store, CODEC), Relay(store, _BrokenSink()),
                    sweep_every=0.01, relay_every=0.01)  # fmt: skip
    with TestClient(create_app(worker)) as test:
        assert test.post("/sessions", json=SESSION).status_code == 200
        started = test.post("/message/receive", content=message(B, STARTED, 0, "D1"))
        assert started.status_code == 200
        deadline = time.monotonic() + 10
        while test.get("/ready").json()["sink"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert test.get("/ready").json()["sink"] is False
    store.close()


def test_a_message_on_a_leg_whose_row_cannot_be_read_is_a_503_to_send_again(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Not a 422: the message is sound, the server's row is not. A desk drops
    # a refused message; it sends again one the server could not take now,
    # and once the row is mended that retry is applied.
    import logging

    assert client.post("/sessions", json=SESSION).status_code == 200
    assert client.post("/message/receive", content=message(B, STARTED, 0, "D1")).status_code == 200
    store = client.store
    with store.transaction() as tx:
        (row,) = tx.load_legs_of_dialogs(["D1"])
        bad = {**row.record, "machine": {**row.record["machine"], "state": "no-such-state"}}
        tx._q("UPDATE legs SET record = ? WHERE key = ?", [json.dumps(bad), "D1"])
    end = message(B, ENDED, 0, "D1", CimReason.CONSULT_ENDED)
    with caplog.at_level(logging.ERROR, logger="consultfsm.service"):
        answer = client.post("/message/receive", content=end)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert answer.json()["error"] == "UnreadableRows" and "D1" in answer.json()["why"]
    logged = [r for r in caplog.records if "cannot be read" in r.getMessage()]
    assert [r.ids["kind"] for r in logged] == ["cim"]  # type: ignore[attr-defined]
    assert client.get("/ready").json()["stuck_legs"] == 1
    with store.transaction() as tx:
        tx._q("UPDATE legs SET record = ? WHERE key = ?", [json.dumps(row.record), "D1"])
    again = client.post("/message/receive", content=end).json()
    assert again["replayed"] is False and [s["intent"] for s in again["sent"]] == ["CALL_LEG_ENDED"]


def test_an_id_too_long_itself_is_named_by_its_field_whatever_key_comes_with_it(
    client: Any,
) -> None:
    # A review's finding: with a key, a 600-byte agent or session id was
    # blamed on the Idempotency-Key (400), without one on its own field (422).
    session = {**SESSION, "id": "S" * 600}
    for headers in ({}, {"Idempotency-Key": "k"}):
        answer = client.post("/sessions", json=session, headers=headers)
        assert (answer.status_code, answer.json()["field"]) == (422, "session.id"), headers
        answer = client.post("/desk/" + "a" * 600 + "/up", headers=headers)
        assert (answer.status_code, answer.json()["field"]) == (422, "agent"), headers
