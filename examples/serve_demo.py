"""A short desk session against a real ``consultfsm serve``: what was published.

Starts the service embedded (SQLite, events to a JSON Lines file) on a free
port, plays a consult the way the desks and the socket layer report it --
with a retried POST and B's browser dropping mid-call -- then prints each
answer and what reached the conversation topic, and stops the service.

    python examples/serve_demo.py
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from consultfsm.core.states import CimReason
from consultfsm.wire.cim import CimCodec, MessageIntent

CODEC = CimCodec("8000")
CUSTOMER = "+923001234567"
A = ("1001", "7001", "CONSULTING")  # agent, extension, consultRole
B = ("1002", "7002", "CONSULTED")


def desk_message(
    desk: tuple[str, str, str], intent: MessageIntent, reason: CimReason | None = None
) -> bytes:
    agent, extension, role = desk
    message = CODEC.agent_message(
        leg=f"{extension}:{agent}:16777301", at=int(time.time() * 1000), intent=intent,
        agent=agent, customer=CUSTOMER, call_id="16777301", reason=reason, consult_role=role,
        associated_dialog_uri="/finesse/api/Dialog/16777300",
    )  # fmt: skip
    return CODEC.dumps(message).encode()


def post(base: str, path: str, body: bytes | None = None, key: str | None = None) -> Any:
    request = urllib.request.Request(f"{base}{path}", data=body or b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, **json.load(exc)}


def wait_ready(base: str) -> None:
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{base}/ready", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("consultfsm serve did not become ready")


def main() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        events = Path(folder) / "events.jsonl"
        server = subprocess.Popen(
            [sys.executable, "-m", "consultfsm", "serve", "--database", f"{folder}/ccm.db",
             "--events", str(events), "--port", str(port), "--log-level", "warning"],
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_ready(base)
            session = {"id": "S1", "conversation_id": "C1", "customer_ani": CUSTOMER,
                       "dialog_id": "16777300", "agents": ["1001"]}  # fmt: skip
            steps = [
                ("the customer's call is on", "/sessions", json.dumps(session).encode(), "s1"),
                ("the socket layer: B's desk is connected", "/desk/1002/up", None, "socket-1"),
                ("B accepts: B's desk posts CALL_LEG_STARTED", "/message/receive",
                 desk_message(B, MessageIntent.CALL_LEG_STARTED, CimReason.CONSULT), None),
                ("  ...and posts it again (it saw no answer)", "/message/receive",
                 desk_message(B, MessageIntent.CALL_LEG_STARTED, CimReason.CONSULT), None),
                ("B's browser drops", "/desk/1002/down", None, "socket-2"),
                ("A's desk: the consult dialog ended", "/message/receive",
                 desk_message(A, MessageIntent.CALL_LEG_ENDED, CimReason.CONSULT_ENDED), None),
                ("B's browser is back", "/desk/1002/up", None, "socket-3"),
                ("B's desk: the consult it no longer lists ended", "/message/receive",
                 desk_message(B, MessageIntent.CALL_LEG_ENDED, CimReason.CONSULT_ENDED), None),
            ]  # fmt: skip
            print(f"consultfsm serve on {base} (SQLite, events to a JSON Lines file)\n")
            for what, path, body, key in steps:
                answer = post(base, path, body, key)
                said = ", ".join(s["intent"] for s in answer.get("sent", [])) or "nothing"
                if answer.get("replayed"):
                    how, said = "replayed", "nothing new (the first answer again)"
                else:
                    how = answer.get("disposition") or answer.get("error")
                print(f"{what:<48} {how:<9} publishes {said}")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (
                not events.exists() or len(events.read_text().splitlines()) < 2
            ):
                time.sleep(0.05)
            print("\npublished on the conversation topic:")
            for line in events.read_text().splitlines():
                entry = json.loads(line)
                event = entry["event"]
                sender = event["data"]["header"]["sender"]["id"]
                reason = event["data"]["body"].get("reasonCode")
                where = f"leg {entry['leg']} in {event['conversationId']}"
                print(f"  {event['name']:<17} {reason:<14} {where}, from agent {sender}'s desk,"
                      f" id {entry['id']}")  # fmt: skip
        finally:
            server.terminate()
            server.wait(20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
