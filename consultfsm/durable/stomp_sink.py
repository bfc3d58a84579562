"""The broker sink: events to ActiveMQ over STOMP (stomp.py), confirmed by receipts.

Each event is a persistent STOMP ``SEND`` to its conversation's destination
(``destination`` with ``{conversation}`` filled in) with a ``receipt``; the
relay deletes a row only after the broker's ``RECEIPT`` for it, which the
broker sends once it has taken a persistent message. Headers on every event:

* ``message-id``-independent ids a consumer can deduplicate on: ``event-id``
  (the event's own stable id), ``leg``, ``leg-version``, ``event-index``;
* ``_AMQ_DUPL_ID`` (the event id): ActiveMQ Artemis drops a message whose
  duplicate id it has seen. **ActiveMQ Classic has no such check for STOMP
  producers**: a consumer there must drop an ``event-id`` it has already
  handled (a re-send happens only after a relay died between the receipt and
  the delete).

No ``content-length`` is sent, so ActiveMQ delivers a text message (JSON).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import stomp

from .relay import SinkError
from .store import OutboxRow

#: The default destination: one topic per conversation.
DEFAULT_DESTINATION = "/topic/conversation.{conversation}"


class _Receipts(stomp.ConnectionListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.errors: list[str] = []
        self.cond = threading.Condition()

    def on_receipt(self, frame: Any) -> None:
        with self.cond:
            self.seen.add(frame.headers.get("receipt-id", ""))
            self.cond.notify_all()

    def on_error(self, frame: Any) -> None:
        with self.cond:
            self.errors.append(frame.headers.get("message", "") or str(frame.body))
            self.cond.notify_all()

    def on_disconnected(self) -> None:
        with self.cond:
            self.errors.append("the broker connection closed")
            self.cond.notify_all()


class StompSink:
    """Publishes to ``stomp://host:port`` (login and passcode from the URL, if any)."""

    def __init__(self, url: str, *, destination: str = DEFAULT_DESTINATION,
                 timeout: float = 10.0) -> None:  # fmt: skip
        parts = urlsplit(url)
        if parts.scheme != "stomp" or not parts.hostname:
            raise SinkError(f"not a stomp://host:port address: {url!r}")
        self.address = (parts.hostname, parts.port or 61613)
        self.login, self.passcode = parts.username, parts.password
        self.destination = destination
        self.timeout = timeout
        self._conn: stomp.Connection | None = None
        self._receipts = _Receipts()

    def _connection(self) -> stomp.Connection:
        if self._conn is None or not self._conn.is_connected():
            self._receipts = _Receipts()
            conn = stomp.Connection([self.address], auto_content_length=False,
                                    reconnect_attempts_max=1, timeout=self.timeout)  # fmt: skip
            conn.set_listener("receipts", self._receipts)
            try:
                conn.connect(self.login, self.passcode, wait=True)
            except Exception as exc:  # stomp.py raises its own and OS errors
                raise SinkError(f"cannot reach the broker at {self.address}: {exc}") from exc
            self._conn = conn
        return self._conn

    def publish(self, rows: Sequence[OutboxRow]) -> None:
        conn = self._connection()
        wanted = []
        try:
            for row in rows:
                receipt = f"{row.event_id}/{row.seq}"
                wanted.append(receipt)
                conn.send(
                    self.destination.format(conversation=row.conversation), row.body,
                    content_type="application/json",
                    headers={"persistent": "true", "receipt": receipt, "event-id": row.event_id,
                             "_AMQ_DUPL_ID": row.event_id, "leg": row.leg,
                             "leg-version": str(row.version), "event-index": str(row.index),
                             "conversation-id": row.conversation},
                )  # fmt: skip
        except Exception as exc:
            self.close()
            raise SinkError(f"sending to the broker failed: {exc}") from exc
        self._await(wanted)

    def _await(self, wanted: list[str]) -> None:
        deadline = time.monotonic() + self.timeout
        box = self._receipts
        with box.cond:
            while not box.seen.issuperset(wanted):
                left = deadline - time.monotonic()
                if box.errors or left <= 0:
                    why = box.errors[-1] if box.errors else f"no receipt in {self.timeout} s"
                    break
                box.cond.wait(left)
            else:
                box.seen.difference_update(wanted)
                return
        self.close()
        raise SinkError(f"the broker did not confirm every event: {why}")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing a connection already gone
                self._conn.disconnect()
            self._conn = None


__all__ = ["DEFAULT_DESTINATION", "StompSink"]
