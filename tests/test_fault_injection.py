"""Exactly once through crashes, against the real servers.

Three ``consultfsm serve`` workers (two of them relaying) share one PostgreSQL
database and publish to ActiveMQ. Client threads play desks: each consult leg
has its own agents and customer, and its inputs go, one after the other, to
any live worker, each retried with the same id until answered. Meanwhile the
test SIGKILLs workers at random moments, restarts them crashing at each commit
point in turn (``CONSULTFSM_CRASH_AT``), and restarts PostgreSQL once.

After everything drains, for every leg: the events on the broker, repeated ids
dropped, equal what the in-memory :class:`CcmEngine` publishes for that leg's
inputs at the times the workers applied them (deadlines included, each at its
own time); no event is missing; every leg finished. The figures are printed.
``CONSULTFSM_SOAK_LEGS`` makes it longer (the default keeps CI short).
"""

from __future__ import annotations

import math
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from stores import Backend, need_broker, need_postgres

from consultfsm.ccm import ChannelSession
from consultfsm.ccm.engine import CcmEngine, Published
from consultfsm.core.states import CimReason
from consultfsm.durable.faults import POINTS
from consultfsm.wire.cim import CimCodec, MessageIntent

pytestmark = pytest.mark.slow

CODEC = CimCodec("8000")
M = MessageIntent
#: Per leg: what its desks say, in order ("up"/"down": a desk's socket).
SCRIPTS: dict[str, list[tuple[str, Any]]] = {
    "b_reports": [("up", "a"), ("up", "b"), ("b", M.CALL_LEG_STARTED), ("b", M.CALL_HOLD),
                  ("b", M.CALL_RESUME), ("b", M.CALL_LEG_ENDED), ("a", M.CALL_LEG_ENDED)],
    "a_first": [("up", "a"), ("up", "b"), ("a", M.CALL_LEG_STARTED), ("b", M.CALL_LEG_STARTED),
                ("a", M.CALL_LEG_ENDED), ("b", M.CALL_LEG_ENDED)],
    "b_away": [("up", "a"), ("up", "b"), ("b", M.CALL_LEG_STARTED), ("down", "b"),
               ("a", M.CALL_LEG_ENDED), ("up", "b"), ("b", M.CALL_LEG_ENDED)],
}  # fmt: skip
LEGS = int(os.environ.get("CONSULTFSM_SOAK_LEGS", "36"))
#: Seconds a request waits for a worker to answer it, the database up.
PATIENCE = 240.0


class Leg:
    def __init__(self, n: int, rng: random.Random) -> None:
        self.n = n
        self.dialog = f"D{n}"
        self.agents = {"a": (f"a{n}", f"7{n:03}", "CONSULTING"),
                       "b": (f"b{n}", f"8{n:03}", "CONSULTED")}  # fmt: skip
        self.session = ChannelSession(f"S{n}", f"C{n}", f"+9230012{n:05}", f"CD{n}", "8000")
        self.script = SCRIPTS[rng.choice(sorted(SCRIPTS))]
        # Some gaps cross the CCM's 2 s wait for B's start, so deadlines fire.
        self.gaps = [rng.choice([0.0, 0.05, 0.3, 2.5]) for _ in self.script]
        self.applied: list[tuple[str, Any, int]] = []  # (kind, input, the worker's time)

    def message(self, who: str, intent: MessageIntent) -> str:
        agent, ext, role = self.agents[who]
        reason = CimReason.CONSULT_ENDED if intent is M.CALL_LEG_ENDED else None
        return CODEC.dumps(CODEC.agent_message(
            leg=f"{ext}:{agent}:{self.dialog}", at=0, intent=intent, agent=agent,
            customer=self.session.customer_ani, call_id=self.dialog, reason=reason,
            consult_role=role, associated_dialog_uri=f"/finesse/api/Dialog/CD{self.n}",
        ))  # fmt: skip

    def reference(self) -> list[tuple[str, str, str]]:
        """(event id, JSON, source) the in-memory engine publishes for this leg's inputs."""
        ccm, out = CcmEngine(CODEC), list[Published]()
        for kind, value, at in self.applied:
            out += ccm.handle_timers(at)
            if kind == "session":
                out += ccm.start_session(self.session, at)
            elif kind in ("up", "down"):
                out += (ccm.desk_up if kind == "up" else ccm.desk_down)(value, at)
            else:
                out += ccm.receive(value, at).published
        last = self.applied[-1][2]
        out += ccm.handle_timers(last + 10**8)
        assert len(ccm) == 0, f"leg {self.dialog} did not finish in the reference"
        return [(p.event.id, p.json, p.source.value) for p in out]


class Workers:
    """The worker processes, restarted when they die, with crash plans."""

    def __init__(self, dsn: str, broker: str, queue: str, folder: Path) -> None:
        self.dsn, self.broker, self.queue, self.folder = dsn, broker, queue, folder
        self.ports = [_free_port() for _ in range(3)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * 3
        self.plans: list[str | None] = [None] * 3
        self.crashed: Counter[str] = Counter()  # commit point -> crashes seen there
        self.killed = 0
        self.points = list(POINTS)
        self.lock = threading.Lock()
        self.stopping = False
        self.rng = random.Random(7)

    def start(self, i: int) -> None:
        plan = None
        if self.points and i != 2:  # the two relaying workers crash at the points in turn
            plan = f"{self.points[0]}:{self.rng.randint(1, 4)}"
        # A restarted worker starts as a deployed one does, from bytecode: it
        # may write it (to a folder of its own, not the source tree).
        env = {**os.environ, "PYTHONPYCACHEPREFIX": os.environ.get(
            "PYTHONPYCACHEPREFIX", str(self.folder / "pycache"))}  # fmt: skip
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("CONSULTFSM_CRASH_AT", None)
        if plan:
            env["CONSULTFSM_CRASH_AT"] = plan
        args = [sys.executable, "-m", "consultfsm", "serve", "--database", self.dsn,
                "--broker", self.broker, "--destination", self.queue, "--port",
                str(self.ports[i]), "--relay-share", "8", "--log-level", "warning"]  # fmt: skip
        if i == 2:
            args.append("--no-relay")
        log = open(self.folder / f"worker{i}.log", "ab")  # noqa: SIM115 - the child holds it
        self.procs[i] = subprocess.Popen(args, env=env, stdout=log, stderr=log)
        self.plans[i] = plan

    def supervise(self) -> None:
        while not self.stopping:
            with self.lock:
                for i, proc in enumerate(self.procs):
                    if proc is not None and proc.poll() is not None and not self.stopping:
                        if proc.returncode == 137 and self.plans[i]:
                            point = str(self.plans[i]).split(":")[0]
                            self.crashed[point] += 1
                            if point in self.points:
                                self.points.remove(point)
                        self.start(i)
            time.sleep(0.1)

    def kill_one(self) -> None:
        with self.lock:
            i = self.rng.randrange(3)
            proc = self.procs[i]
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                self.plans[i] = None  # not a crash point: a kill
                self.killed += 1

    def stop(self) -> None:
        self.stopping = True
        with self.lock:
            for proc in self.procs:
                if proc is not None and proc.poll() is None:
                    proc.terminate()
            for proc in self.procs:
                if proc is not None:
                    try:
                        proc.wait(20)
                    except subprocess.TimeoutExpired:
                        proc.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client:
    """Sends each input until a worker answers it, with the same id every time."""

    def __init__(self, workers: Workers) -> None:
        self.workers = workers
        self.sent = 0
        self.retries = 0
        self.http = threading.local()
        self.stopping = False  # the test is over (it failed): stop retrying
        # When the database restart ended (inf while it runs): a request's
        # patience counts from then, so a slow crash recovery is waited out,
        # as a desk would, rather than failing the test.
        self.database_back = 0.0

    def post(self, path: str, *, content: str | None = None, json_body: Any = None,
             key: str | None = None) -> dict[str, Any]:  # fmt: skip
        headers = {"Idempotency-Key": key} if key else {}
        rng = random.Random()
        self.sent += 1
        began = time.monotonic()
        while time.monotonic() < max(began, self.database_back) + PATIENCE and not self.stopping:
            port = rng.choice(self.workers.ports)
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}{path}", content=content,
                                    json=json_body, headers=headers, timeout=10)  # fmt: skip
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code == 200:
                result: dict[str, Any] = answer.json()
                return result
            if answer is not None and answer.status_code not in (503,):
                raise AssertionError(f"{path}: {answer.status_code} {answer.text}")
            self.retries += 1
            time.sleep(0.05)
        raise AssertionError(
            f"{path}: no worker answered" + (" (stopped)" if self.stopping else f" in {PATIENCE} s")
        )

    def play(self, leg: Leg) -> None:
        s = leg.session
        body = {"id": s.id, "conversation_id": s.conversation_id, "customer_ani": s.customer_ani,
                "dialog_id": s.dialog_id, "service_identifier": s.service_identifier}  # fmt: skip
        answer = self.post("/sessions", json_body=body, key=f"session:{s.id}")
        leg.applied.append(("session", None, answer["at"]))
        for step, ((who, what), gap) in enumerate(zip(leg.script, leg.gaps, strict=True)):
            time.sleep(gap)
            if who in ("up", "down"):
                agent = leg.agents[what][0]
                answer = self.post(f"/desk/{agent}/{who}", key=f"{leg.dialog}:{step}")
                leg.applied.append((who, agent, answer["at"]))
            else:
                text = leg.message(who, what)
                answer = self.post("/message/receive", content=text)
                leg.applied.append(("cim", text, answer["at"]))


def _consume(broker: str, queue: str, quiet: float = 4.0) -> list[tuple[dict[str, str], str]]:
    import stomp

    got: list[tuple[dict[str, str], str]] = []
    last = [time.monotonic()]

    class Listener(stomp.ConnectionListener):  # type: ignore[misc]
        def on_message(self, frame: Any) -> None:
            got.append((dict(frame.headers), frame.body))
            last[0] = time.monotonic()

    host, port = broker.removeprefix("stomp://").split(":")
    conn = stomp.Connection([(host, int(port))])
    conn.set_listener("", Listener())
    conn.connect(wait=True)
    conn.subscribe(queue, id="1", ack="auto")
    while time.monotonic() - last[0] < quiet:
        time.sleep(0.2)
    conn.disconnect()
    return got


def _rows(dsn: str) -> tuple[int, int]:
    import psycopg

    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            legs = conn.execute("SELECT COUNT(*) FROM legs").fetchone()
            outbox = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()
    except psycopg.OperationalError:
        return -1, -1
    assert legs is not None and outbox is not None
    return int(legs[0]), int(outbox[0])


def _restart(command: str, client: Client) -> float:
    """Restart the database, the clients waiting it out; how long it took (s)."""
    client.database_back = math.inf
    began = time.monotonic()
    try:
        subprocess.run(shlex.split(command), check=True)
    finally:
        client.database_back = time.monotonic()
    return client.database_back - began


def _drive(workers: Workers, client: Client, threads: list[threading.Thread], dsn: str, *,
           restart_db: str, rng: random.Random) -> tuple[tuple[int, int], list[float]]:  # fmt: skip
    """Run the desks' threads while killing workers and restarting the database
    once; wait for the drain. The rows left (legs, outbox) and how long each
    restart took (s)."""
    started = time.monotonic()
    db_restarts: list[float] = []
    try:
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(rng.uniform(2.0, 4.0))
            workers.kill_one()
            if restart_db and not db_restarts and time.monotonic() - started > 8:
                db_restarts.append(_restart(restart_db, client))
        for t in threads:
            t.join()
        # Drain: every leg finished (the sweepers fire what is left), the outbox empty.
        deadline = time.monotonic() + 120
        while _rows(dsn) != (0, 0) and time.monotonic() < deadline:
            time.sleep(0.5)
        return _rows(dsn), db_restarts
    finally:  # whatever happened, no worker and no client outlives the test
        client.stopping = True
        workers.stop()


def test_exactly_once_through_kills_crashes_at_every_point_and_a_database_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_postgres()
    broker = need_broker()
    restart_db = os.environ.get("CONSULTFSM_TEST_PG_RESTART", "")
    if not restart_db and os.environ.get("CI"):
        pytest.fail("CI=true but CONSULTFSM_TEST_PG_RESTART is not set: .ci/run sets it")
    dsn = Backend("postgresql", tmp_path).new()
    queue = f"/queue/consultfsm-fault-{uuid.uuid4().hex[:8]}"
    workers = Workers(dsn, broker, queue, tmp_path)
    for i in range(3):
        workers.start(i)
    supervisor = threading.Thread(target=workers.supervise, daemon=True)
    supervisor.start()
    rng = random.Random(2026)
    legs = [Leg(n, rng) for n in range(LEGS)]
    client = Client(workers)

    def desks(mine: list[Leg]) -> None:
        for leg in mine:
            client.play(leg)

    threads = [threading.Thread(target=desks, args=(legs[k::6],), daemon=True) for k in range(6)]
    drained, db_restarts = _drive(workers, client, threads, dsn, restart_db=restart_db, rng=rng)
    got = _consume(broker, queue)

    first: dict[str, str] = {}
    by_leg: dict[str, list[str]] = {}
    # Where in its leg's history each copy of an event says it is: a relay's
    # re-send carries the one outbox row's place again; an event applied twice
    # (a deadline fired twice) would come from two rows, under one id.
    places: dict[str, set[tuple[str, str]]] = {}
    for headers, body in got:
        places.setdefault(headers["event-id"], set()).add(
            (headers["leg-version"], headers["event-index"])
        )
        if headers["event-id"] not in first:
            first[headers["event-id"]] = body
            by_leg.setdefault(headers["leg"], []).append(headers["event-id"])
    expected = {leg.dialog: leg.reference() for leg in legs}
    lost = sum(1 for want in expected.values() for eid, _, _ in want if eid not in first)
    # The CCM's own publications: a deadline fired for each.
    deadlines = sum(1 for want in expected.values() for _, _, source in want if source == "ccm")
    with capsys.disabled():
        print(f"\nfault injection: {client.sent} inputs ({client.retries} retries), "
              f"{workers.killed} SIGKILLs, crashes at {dict(workers.crashed)}, "
              f"{len(db_restarts)} PostgreSQL restart(s) "
              f"({', '.join(f'{d:.1f} s' for d in db_restarts) or 'none'}); "
              f"{len(got)} events on the broker, "
              f"{len(got) - len(first)} repeated ids dropped; {deadlines} events from "
              f"deadlines; events lost: {lost}")  # fmt: skip
    assert drained == (0, 0), f"legs, outbox rows left: {drained}"
    assert lost == 0
    twice = {eid: where for eid, where in places.items() if len(where) > 1}
    assert not twice, f"events written by two outbox rows: {twice}"
    assert deadlines > 0  # the trace makes deadlines fire (RONA, grace): each once, above
    for leg in legs:
        want = expected[leg.dialog]
        assert by_leg.get(leg.dialog, []) == [eid for eid, _, _ in want], leg.dialog
        assert [first[eid] for eid, _, _ in want] == [body for _, body, _ in want], leg.dialog
    assert set(workers.crashed) == set(POINTS), workers.crashed
    assert not restart_db or len(db_restarts) == 1
