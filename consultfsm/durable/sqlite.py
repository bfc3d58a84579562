"""The embedded store: stdlib ``sqlite3`` in WAL mode, one file, no server.

One writer at a time (``BEGIN IMMEDIATE``), so the advisory locks of the
shared SQL are not needed; ``synchronous=FULL`` so a commit survives a power
cut, not only a crash. The clock is SQLite's own (the host's), in Unix ms.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .store import Dialect, Store, StoreError, Tx, schema

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
            # Autocommit mode: this class says where each transaction begins.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=10000")
            for statement in self.dialect.schema:
                self._db.execute(statement)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the SQLite store {self.path!r}: {exc}") from exc
        self._mutex = threading.Lock()  # one transaction at a time on the one connection

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
                # The file's fault (I/O, a table gone): nothing was applied, a
                # 503. (A lock met in a statement stays as it is: run() retries it.)
                if isinstance(exc, sqlite3.OperationalError) and not self.is_transient(exc):
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

    def ping(self) -> int:
        # A read in autocommit mode: in WAL it waits for no writer (another
        # process's transaction included), where BEGIN IMMEDIATE would.
        with self._mutex:
            try:
                return int(self._db.execute(self.dialect.clock_sql).fetchone()[0])
            except sqlite3.Error as exc:
                raise StoreError(f"the SQLite store does not answer: {exc}") from exc

    def is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)

    def close(self) -> None:
        self._db.close()


__all__ = ["SqliteStore"]
