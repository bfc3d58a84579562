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

The conversation id goes into the destination percent-encoded (all but
letters, digits and ``-_.~``): a broker reads a ``,`` there as a list of
destinations (ActiveMQ's composites) and ``*``, ``>``, ``#`` as wildcards, so an
id as sent could publish a conversation's events to others'. Encoded, an id
names one destination, and two ids two; the ``conversation-id`` header
carries it as it is.
"""

from __future__ import annotations

import contextlib
import string
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import stomp

from .relay import SinkError
from .store import OutboxRow

#: The default destination: one topic per conversation.
DEFAULT_DESTINATION = "/topic/conversation.{conversation}"


def broker_address(url: str) -> tuple[str, int, str | None, str | None]:
    """Host, port, login and passcode of a ``stomp://[login:passcode@]host[:port]``
    URL (port 61613 by default); :class:`SinkError` says what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port  # (urllib reads the port only when asked, and may refuse it then)
    except ValueError as exc:
        raise SinkError(f"not a stomp://host:port address: {url!r} ({exc})") from None
    if parts.scheme != "stomp" or not parts.hostname:
        raise SinkError(f"not a stomp://host:port address: {url!r}")
    if port == 0:
        raise SinkError(f"not a stomp://host:port address: {url!r} (port 0)")
    return parts.hostname, port or 61613, parts.username, parts.password


def checked_destination(template: str) -> str:
    """``template`` if it names a destination for every conversation: it may
    hold ``{conversation}``, bare, and no other field (an index, attribute,
    conversion or format spec would send conversations to one destination, or
    to a method's repr); :class:`SinkError` otherwise."""
    why = ""
    try:
        for _, field, spec, conversion in string.Formatter().parse(template):
            if field is not None and (field != "conversation" or spec or conversion):
                why = f"field {field!r}" + (f" !{conversion}" if conversion else "") + (
                    f" :{spec}" if spec else "")  # fmt: skip
                break
        sample = "" if why else template.format(conversation="c")
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        why = repr(exc)
    if why:
        raise SinkError(
            f"destination {template!r}: only a bare {{conversation}} may be filled in "
            f"(write a brace as {{{{ or }}}}): {why}"
        )
    if not sample.strip():
        raise SinkError(f"destination {template!r}: names no destination")
    return template


class _Receipts(stomp.ConnectionListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.connected = False
        self.seen: set[str] = set()
        self.errors: list[str] = []
        self.cond = threading.Condition()

    def on_connected(self, frame: Any) -> None:
        with self.cond:
            self.connected = True
            self.cond.notify_all()

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
        host, port, self.login, self.passcode = broker_address(url)
        self.address = (host, port)
        self.destination = checked_destination(destination)
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
                # (stomp.py's own wait has no deadline: a peer that takes the
                # connection and never answers CONNECT would hold the relay)
                conn.connect(self.login, self.passcode, wait=False)
            except Exception as exc:  # stomp.py raises its own and OS errors
                _hang_up(conn)
                raise SinkError(f"cannot reach the broker at {self.address}: {exc}") from exc
            self._conn = conn
            self._await_connected()
        return self._conn

    def _await_connected(self) -> None:
        why = self._wait_for(lambda box: box.connected, "no answer to CONNECT")
        if why is not None:
            self.close()
            raise SinkError(f"cannot connect to the broker at {self.address}: {why}")

    def _wait_for(self, done: Callable[[_Receipts], bool], silence: str) -> str | None:
        """Wait until ``done``, a broker error or the timeout: None when done,
        else why not."""
        deadline = time.monotonic() + self.timeout
        box = self._receipts
        with box.cond:
            while not done(box):
                left = deadline - time.monotonic()
                if box.errors or left <= 0:
                    return box.errors[-1] if box.errors else f"{silence} in {self.timeout} s"
                box.cond.wait(left)
        return None

    def destination_of(self, conversation: str) -> str:
        """The destination of ``conversation``'s events (see the module's header)."""
        return self.destination.format(conversation=quote(conversation, safe=""))

    def publish(self, rows: Sequence[OutboxRow]) -> None:
        conn = self._connection()
        wanted = []
        try:
            for row in rows:
                receipt = f"{row.event_id}/{row.seq}"
                wanted.append(receipt)
                conn.send(
                    self.destination_of(row.conversation), row.body,
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
        why = self._wait_for(lambda box: box.seen.issuperset(wanted), "no receipt")
        if why is None:
            with self._receipts.cond:
                self._receipts.seen.difference_update(wanted)
            return
        self.close()
        raise SinkError(f"the broker did not confirm every event: {why}")

    def close(self) -> None:
        """Say DISCONNECT and close the socket now, answered or not (stomp.py
        keeps the socket and its I/O thread until the broker's receipt for
        the DISCONNECT, which a broker that stopped answering never sends)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):  # a connection already gone
                conn.disconnect()
            _hang_up(conn)


def _hang_up(conn: stomp.Connection) -> None:
    """Close ``conn``'s socket; its I/O thread then ends."""
    with contextlib.suppress(Exception):
        conn.transport.disconnect_socket()


__all__ = ["DEFAULT_DESTINATION", "StompSink", "broker_address", "checked_destination"]
