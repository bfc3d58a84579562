"""The embedded store: stdlib ``sqlite3`` in WAL mode, one file, no server.

One writer at a time (``BEGIN IMMEDIATE``), so the advisory locks of the
shared SQL are not needed; ``synchronous=FULL`` so a commit survives a power
cut, not only a crash. The clock is SQLite's own (the host's), in Unix ms.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .store import Dialect, Store, StoreError, Tx, Unstorable, schema

#: Paths that name a database private to its connection (sqlite3's own names).
_PRIVATE = frozenset({":memory:", ""})
#: How long a probe waits for the file (WAL readers wait only for a recovery).
_PROBE_BUSY_MS = 1000

# The outbox's seq is the rowid: a new row gets one more than the largest
# present, so seqs keep commit order (AUTOINCREMENT would also never hand one
# out again, at the price of a page per commit; a relay deletes by seq and
# event id instead). Its one relay reads every partition in seq order, so the
# outbox has no partition index either (another page per commit). The inbox
# keeps its rowid, so its rows lie in the order they were written, and it is
# tidied by that order, without a time index (one more page per commit).
# A file an earlier version made loses those two indexes when it is opened
# (its outbox keeps AUTOINCREMENT: a table cannot drop it; harmless).
_TABLES = (
    *schema("INTEGER", "INTEGER PRIMARY KEY", " WITHOUT ROWID", partitioned=False,
            inbox_by_time=False),
    "DROP INDEX IF EXISTS outbox_part",
    "DROP INDEX IF EXISTS inbox_at",
)  # fmt: skip


DIALECT = Dialect(
    name="sqlite",
    param="?",
    for_update="",
    skip_locked="",
    schema=_TABLES,
    clock_sql="SELECT CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)",
    # Every row before the first one still within the horizon (a walk from the
    # oldest row, as long as the rows it deletes: what an index would cost).
    forget_inbox="DELETE FROM inbox WHERE rowid < coalesce((SELECT rowid FROM inbox"
    " WHERE at >= ? ORDER BY rowid LIMIT 1), (SELECT max(rowid) + 1 FROM inbox))",
)


class SqliteStore(Store):
    """A durable CCM in one SQLite file (``":memory:"`` for a throwaway one).

    >>> store = SqliteStore(":memory:")
    >>> with store.transaction() as tx:
    ...     tx.live_legs()
    0
    """

    dialect = DIALECT

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self._db = self._connect()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the SQLite store {self.path!r}: {exc}") from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=10000")
            for statement in self.dialect.schema:
                self._db.execute(statement)
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"cannot open the SQLite store {self.path!r}: {exc}") from exc
        self._mutex = threading.Lock()  # one transaction at a time on the one connection
        # The probes' own connection (opened at the first probe): in WAL a
        # reader waits for no writer, and it does not queue behind this
        # store's transaction in progress. A database in memory is private to
        # its connection: its probes share the one connection.
        self._probe_db: sqlite3.Connection | None = None
        self._closed = False
        self._probe_mutex = self._mutex if self.path in _PRIVATE else threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: this class says where each transaction begins.
        return sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)

    def _probe_connection(self) -> sqlite3.Connection:
        if self._probe_db is None:
            if self.path in _PRIVATE:
                return self._db
            db = self._connect()
            try:
                db.execute("PRAGMA query_only=1")
                db.execute(f"PRAGMA busy_timeout={_PROBE_BUSY_MS}")
            except sqlite3.Error:
                db.close()
                raise
            self._probe_db = db
        return self._probe_db

    @contextmanager
    def _transaction(self) -> Iterator[Tx]:
        with self._mutex:
            cur = self._db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot begin a transaction: {exc}") from exc
            tx = Tx(self, cur)
            try:
                yield tx
            except BaseException as exc:
                self._db.rollback()
                # The file's fault (I/O, a table gone, a file that is not a
                # database, or no longer one): nothing was applied, a 503. (A
                # lock met in a statement stays as it is: run() retries it.)
                if isinstance(exc, sqlite3.DataError):  # a value SQLite cannot hold
                    raise Unstorable(f"SQLite cannot hold a value of this input: {exc}") from exc
                if isinstance(exc, sqlite3.DatabaseError) and not self.is_transient(exc):
                    raise StoreError(f"SQLite: {exc}") from exc
                raise
            try:
                tx.flush()
                cur.execute("COMMIT")
            except BaseException as exc:  # (an interrupt too: never leave it open)
                self._db.rollback()
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"the commit failed: {exc}") from exc
                raise

    def probe(self, queries: Sequence[str]) -> list[list[Any]]:
        # One read transaction (BEGIN DEFERRED: it takes no write lock), one
        # snapshot for all the queries, on the probes' own connection.
        with self._probe_mutex:
            try:
                if self._closed:
                    raise sqlite3.ProgrammingError("the store is closed")
                db = self._probe_connection()
                db.execute("BEGIN")
                try:
                    return [db.execute(sql).fetchall() for sql in queries]
                finally:
                    db.rollback()  # (it wrote nothing)
            except sqlite3.Error as exc:
                raise StoreError(f"the SQLite store does not answer: {exc}") from exc

    def ping(self) -> int:
        # SQLite's clock reads no page of the file: read one of the legs'
        # table too, so a file that is not a database (or no longer one), or
        # lost its tables, does not answer.
        return int(self.probe([self.dialect.clock_sql, "SELECT 1 FROM legs LIMIT 1"])[0][0][0])

    def is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)

    def close(self) -> None:
        self._closed = True
        if self._probe_db is not None and self._probe_db is not self._db:
            self._probe_db.close()
        self._db.close()


__all__ = ["SqliteStore"]
