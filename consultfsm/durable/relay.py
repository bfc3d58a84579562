"""The relay: the outbox, in commit order, to a sink; a row is deleted only
once the sink confirmed it.

So an event is never lost (it stays in the outbox until confirmed) and may be
sent twice only when a relay dies between the confirmation and the delete;
the copy carries the same ``id`` (and the same ``leg``/``version``/``index``),
so a consumer that drops an id it has seen gets each event exactly once.

Which relay sends which rows: each conversation is in one outbox partition
(:func:`~consultfsm.durable.engine.partition_of`); a relay sends only the
partitions it holds a :class:`Lease` on. On PostgreSQL a lease is a session
advisory lock, which the server releases when the relay's connection dies, so
another relay takes the partition over; with one process (SQLite) the one
relay holds them all.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from consultfsm.core.errors import ConsultFsmError
from consultfsm.core.text import compact_json

from .store import OutboxRow, Store


class SinkError(ConsultFsmError):
    """The sink did not confirm every row; the relay keeps them and tries again."""


class Sink(Protocol):
    def publish(self, rows: Sequence[OutboxRow]) -> None:
        """Send ``rows`` in order; return only when every one is confirmed,
        raise :class:`SinkError` otherwise."""

    def close(self) -> None: ...


def envelope(row: OutboxRow) -> dict[str, Any]:
    """What a local sink writes for one event: its ids beside the event."""
    return {"id": row.event_id, "conversation": row.conversation, "leg": row.leg,
            "version": row.version, "index": row.index, "event": json.loads(row.body)}  # fmt: skip


class JsonlSink:
    """Appends each event as one JSON line (:func:`envelope`) and fsyncs
    before confirming: the embedded default's conversation topic.

    Given a path, a batch is appended in one piece, and a write that fails
    part-way (a full disk) is cut off again before the :class:`SinkError`: a
    torn line would otherwise join the first line of the batch's re-send,
    and a line-by-line consumer lose both. (If another writer appended
    meanwhile, nothing is cut: the next batch starts on a line of its own.)
    Given an open text file, the lines
    are written and flushed (and fsynced, when it has a file descriptor);
    what the file holds after a failed write is its owner's to mend."""

    def __init__(self, path: str | Path | IO[str]) -> None:
        self._fd: int | None = None
        self._file: IO[str] | None = None
        self._torn = False  # a failed write may have left a partial line at the end
        if isinstance(path, (str, Path)):
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        else:
            self._file = path

    def publish(self, rows: Sequence[OutboxRow]) -> None:
        text = "".join(compact_json(envelope(row)) + "\n" for row in rows)
        fd, file = self._fd, self._file
        if file is not None:
            try:
                file.write(text)
                file.flush()
                with contextlib.suppress(OSError, ValueError, AttributeError):  # (no descriptor)
                    os.fsync(file.fileno())
            except (OSError, ValueError) as exc:  # (ValueError: its owner closed the file)
                raise SinkError(f"cannot write the events: {exc}") from exc
            return
        if fd is None:
            raise SinkError("the sink is closed")
        try:
            start = os.fstat(fd).st_size
        except OSError as exc:
            raise SinkError(f"cannot write the events: {exc}") from exc
        written = 0
        try:
            if self._torn and start and os.pread(fd, 1, start - 1) != b"\n":
                written = os.write(fd, b"\n")  # (a torn line left by a write we could not cut)
            left = memoryview(text.encode())
            while left:
                n = os.write(fd, left)
                written += n
                left = left[n:]
            os.fsync(fd)
            self._torn = False
        except OSError as exc:
            # Cut back what this write added, unless another writer appended
            # meanwhile (workers sharing the file): then their lines stay, and
            # the next batch starts on a line of its own.
            self._torn = True
            with contextlib.suppress(OSError):
                if os.fstat(fd).st_size == start + written:
                    os.ftruncate(fd, start)
                    self._torn = False
            raise SinkError(f"cannot write the events: {exc}") from exc

    def close(self) -> None:
        """Close the file this sink opened (a file it was given stays open:
        its owner closes it); either way the sink takes no more events."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._file = None


class CallbackSink:
    """Hands each row to ``callback``; a row is confirmed when it returns.
    Whatever the callback raises is a :class:`SinkError` (the rows stay)."""

    def __init__(self, callback: Callable[[OutboxRow], None]) -> None:
        self._callback = callback

    def publish(self, rows: Sequence[OutboxRow]) -> None:
        for row in rows:
            try:
                self._callback(row)
            except SinkError:
                raise
            except Exception as exc:
                raise SinkError(f"the callback failed on event {row.event_id}: {exc!r}") from exc

    def close(self) -> None:
        pass


class Lease(Protocol):
    def held(self) -> Sequence[int] | None:
        """The partitions this relay may send now (None: all of them)."""

    def close(self) -> None: ...


class WholeLease:
    """Every partition: the one relay of a one-process store."""

    def held(self) -> None:
        return None

    def close(self) -> None:
        pass


class Relay:
    """Moves outbox rows to a sink, ``batch`` at a time."""

    def __init__(self, store: Store, sink: Sink, *, lease: Lease | None = None,
                 batch: int = 200) -> None:  # fmt: skip
        self.store = store
        self.sink = sink
        self.lease: Lease = WholeLease() if lease is None else lease
        self.batch = batch
        self.sent = 0  # rows confirmed and deleted, ever

    def run_once(self) -> int:
        """Send one batch; the number of rows sent (0: nothing to send, or no partition held)."""
        held = self.lease.held()
        if held is not None and not held:
            return 0
        with self.store.transaction() as tx:
            rows = tx.pending(held, self.batch)
        if not rows:
            return 0
        self.sink.publish(rows)
        with self.store.transaction() as tx:
            tx.delete_sent(rows)
        self.sent += len(rows)
        return len(rows)

    def close(self) -> None:
        """Close the sink and give the lease back (its partitions go to other relays)."""
        try:
            self.sink.close()
        finally:
            self.lease.close()

    def drain(self) -> int:
        """Send until the held partitions are empty; the number sent."""
        total = 0
        while n := self.run_once():
            total += n
        return total


__all__ = ["CallbackSink", "JsonlSink", "Lease", "Relay", "Sink", "SinkError", "WholeLease",
           "envelope"]  # fmt: skip
