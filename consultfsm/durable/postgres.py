"""The store for several worker processes: PostgreSQL through psycopg 3.

What each guarantee rests on:

* one input, one transaction: its legs' rows ``FOR UPDATE`` in key order,
  so inputs on the same leg run one after the other. Except for a report on
  a leg that knows its party and dialogs (the rows alone), they come after
  its agent and dialogs held with ``pg_advisory_xact_lock`` (so two desks
  reporting a new consult at once create it once); no input takes an
  advisory lock once it holds a row; a new consult holds the rows of the
  sessions it may join ``FOR SHARE`` (a session's end takes its row ``FOR
  UPDATE``); a deadlock, should one occur, is detected, and the input runs again;
* the sweeper takes due legs ``FOR UPDATE SKIP LOCKED``: two workers never
  step the same leg, and a leg an input holds is left for the next sweep;
* the clock is the server's (``clock_timestamp()``, read after the locks are
  held), so workers on several machines agree on time;
* a connection is in autocommit between transactions: a worker that waits
  holds no lock and no open transaction.

A lost connection (the server restarted) is reopened at the next
transaction; the input that met it is run again from the start.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from .store import (
    Cursor,
    Dialect,
    Store,
    StoreError,
    StoreUnavailable,
    Tx,
    Unstorable,
    schema,
)

_TABLES = schema("BIGINT", "BIGSERIAL PRIMARY KEY")
#: Serialises creating the schema when several workers start at once.
_SCHEMA_LOCK = 0x636F6E73  # "cons"


DIALECT = Dialect(
    name="postgresql",
    param="%s",
    for_update=" FOR UPDATE",
    skip_locked=" FOR UPDATE SKIP LOCKED",
    schema=_TABLES,
    clock_sql="SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
    for_share=" FOR SHARE",
)


# A write's table (every write the shared SQL makes starts this way).
_TABLE = re.compile(r"(?:INSERT INTO|UPDATE|DELETE FROM) (\w+)")


def merged(writes: Sequence[tuple[str, tuple[Any, ...]]]) -> list[tuple[str, tuple[Any, ...]]]:
    """The writes as few statements, in their order: a run of writes to
    distinct tables becomes one statement, the first ones as data-modifying
    WITH clauses of the last. (Every statement costs the client as much as a
    round trip on this machine's scale: a hold's three writes become one.)

    Sound because the sub-statements of one statement share its snapshot and
    cannot see each other's changes: none of our writes depends on a write to
    another table (no foreign keys, no triggers), and a table written twice
    starts a new statement, so a row is never changed twice in one, and the
    outbox rows keep their order."""
    out: list[tuple[str, tuple[Any, ...]]] = []
    run: list[tuple[str, tuple[Any, ...]]] = []
    tables: set[str] = set()

    def close() -> None:
        if run:
            *first, (last, _) = run
            clauses = ", ".join(f"w{i} AS ({sql})" for i, (sql, _) in enumerate(first))
            # Placeholders are numbered in the text's order, the run's order.
            out.append(((f"WITH {clauses} " if first else "") + last,
                        tuple(v for _, params in run for v in params)))  # fmt: skip
            run.clear()
            tables.clear()

    for sql, params in writes:
        match = _TABLE.match(sql)
        assert match is not None, sql
        if match[1] in tables:
            close()
        run.append((sql, params))
        tables.add(match[1])
    close()
    return out


#: How long a probe waits for a table lock before it answers that the store does not.
_PROBE_LOCK_MS = 2000
#: The probes' connection's application_name.
PROBE_APPLICATION = "consultfsm probe"


class PostgresStore(Store):
    """A durable CCM in a PostgreSQL database, shared by any number of workers."""

    dialect = DIALECT
    shared = True

    def __init__(self, dsn: str, *, connect_timeout: float = 5.0) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self._mutex = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        # The probes' own connection (health, metrics), opened at the first
        # probe: a probe must not queue behind this store's transaction in
        # progress (a sweep waiting for a row lock holds the one connection).
        self._probe_mutex = threading.Lock()
        self._probe_conn: psycopg.Connection[Any] | None = None
        self._begun = False  # whether this transaction's BEGIN was sent
        self._wrote = False  # whether any of its writes was sent
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in self.dialect.schema:
                cur.execute(statement)

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(
                    self.dsn, autocommit=True, connect_timeout=max(1, int(self.connect_timeout))
                )
            except psycopg.OperationalError as exc:
                raise StoreUnavailable(f"cannot reach PostgreSQL: {exc}".strip()) from exc
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[Tx]:
        # BEGIN is not sent on its own: it leaves with the transaction's first
        # statements, and the writes leave with the COMMIT, so an input costs
        # two round trips (locks, legs and inbox; writes and commit). The
        # writes are merged into as few statements as can be (merged()).
        with self._mutex:
            conn = self._connection()
            self._begun = self._wrote = False
            try:
                with conn.cursor() as cur:
                    tx = Tx(self, cur)
                    yield tx
                    writes = tx.take_writes()
                    if writes or self._begun:
                        self._wrote = True  # (from here on, only a rollback ends it)
                        with conn.pipeline():
                            self._begin(cur)
                            for sql, params in merged(writes):
                                cur.execute(sql, params)
                            cur.execute("COMMIT")
            except BaseException as exc:
                # Refused: the input's own code raised (not the server, not an interrupt).
                refused = isinstance(exc, Exception) and not isinstance(exc, psycopg.Error)
                self._abandon(conn, refused=refused)
                if isinstance(exc, psycopg.OperationalError):
                    if conn.broken or conn.closed:
                        self._conn = None
                    raise StoreError(f"PostgreSQL: {exc}".strip()) from exc
                if isinstance(exc, psycopg.DataError):  # a value text cannot hold
                    why = f"PostgreSQL cannot hold a value of this input: {exc}"
                    raise Unstorable(why) from exc
                raise

    def _begin(self, cur: Cursor) -> None:
        if not self._begun:
            # READ COMMITTED whatever the database's default: each statement
            # must see what committed while it waited for its locks.
            cur.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            self._begun = True

    def _abandon(self, conn: psycopg.Connection[Any], *, refused: bool = False) -> None:
        """End a transaction that failed, if the connection lives.

        An input refused in Python (``refused``: an error of its own code,
        not of the server, nor an interrupt) before any of its writes or its
        COMMIT was sent has only read and locked: a COMMIT ends it the same, and
        keeps psycopg's prepared statements (after a ROLLBACK it deallocates
        them all, a round trip more and every statement parsed again: a desk
        posting bad messages would slow every input). Anything else goes
        through psycopg's own ``rollback()``: a statement that failed in a
        pipeline may have skipped the Parse of one psycopg now counts as
        prepared, and the rollback forgets them."""
        if conn.broken or conn.closed:
            return
        reads_only = not self._wrote and conn.info.transaction_status == TransactionStatus.INTRANS
        if refused and reads_only:
            with suppress(psycopg.Error):
                conn.execute("COMMIT")
                return
        with suppress(psycopg.Error):  # gone: the server rolls it back itself
            conn.rollback()

    def probe(self, queries: Sequence[str]) -> list[list[Any]]:
        # Autocommit: each query a statement of its own, in no transaction.
        with self._probe_mutex:
            for attempt in range(2):
                conn = self._probe_conn
                reused = conn is not None and not conn.closed and not conn.broken
                try:
                    if conn is None or not reused:
                        conn = self._probe_connect()
                    return [list(conn.execute(sql).fetchall()) for sql in queries]
                except psycopg.Error as exc:
                    # A connection the server dropped since (a restart) is
                    # found broken by its first statement: once more, anew.
                    if attempt == 0 and reused and conn is not None and conn.broken:
                        continue
                    raise StoreError(f"PostgreSQL: {exc}".strip()) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _probe_connect(self) -> psycopg.Connection[Any]:
        if self._probe_conn is not None:
            self._probe_conn.close()
        self._probe_conn = None
        conn = psycopg.connect(
            self.dsn, autocommit=True, connect_timeout=max(1, int(self.connect_timeout)),
            application_name=PROBE_APPLICATION,  # (so pg_stat_activity tells it apart)
        )  # fmt: skip
        # A probe does not wait long for a table lock (DDL, a dump).
        conn.execute(f"SET lock_timeout = {_PROBE_LOCK_MS}")
        self._probe_conn = conn
        return conn

    def lock_statement(self, names: Sequence[str]) -> tuple[str, tuple[Any, ...]] | None:
        # One statement: the aggregate takes every lock (in the order given: a
        # function scan yields the array in order) before the one row with the
        # clock is made, so the clock is read with the locks held.
        if not names:
            return None
        return ("SELECT " + self.dialect.clock_sql.removeprefix("SELECT ") + " FROM (SELECT"
                " count(pg_advisory_xact_lock(hashtextextended(n, 0))) FROM"
                " unnest(%s::text[]) AS n) AS held", (list(names),))  # fmt: skip

    def read(self, cur: Cursor, queries: Sequence[tuple[str, tuple[Any, ...]]]) -> list[list[Any]]:
        # Pipelined, with BEGIN if it is not sent yet: one round trip. The
        # server still runs them one after the other, each with its own snapshot.
        if not queries:
            return []
        assert self._conn is not None
        conn = self._conn
        if self._begun and len(queries) == 1:
            cur.execute(*queries[0])
            return [list(cur.fetchall())]
        cursors = []
        try:
            with conn.pipeline():
                self._begin(cur)  # (its result is not read: the cursor is free for it)
                for sql, params in queries:
                    cursors.append(conn.cursor())
                    cursors[-1].execute(sql, params)
            return [list(each.fetchall()) for each in cursors]
        finally:
            for each in cursors:  # (each holds its result until closed)
                each.close()

    def write(self, cur: Cursor, writes: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
        # Pipelined: the writes go out together and are waited for once.
        if not writes:
            return
        assert self._conn is not None
        self._wrote = True
        with self._conn.pipeline():
            self._begin(cur)
            for sql, params in merged(writes):
                cur.execute(sql, params)

    def is_transient(self, exc: BaseException) -> bool:
        if isinstance(exc, StoreUnavailable):
            return False  # the server is not there: answer now (503), do not wait here
        cause = exc.__cause__ if isinstance(exc, StoreError) else exc
        return isinstance(
            cause,
            (
                pg_errors.DeadlockDetected,
                pg_errors.SerializationFailure,
                pg_errors.UniqueViolation,
                psycopg.OperationalError,
            ),
        )

    def close(self) -> None:
        for conn in (self._conn, self._probe_conn):
            if conn is not None:
                conn.close()
        self._conn = self._probe_conn = None


__all__ = ["PostgresStore"]  # and AdvisoryLease, below


#: The advisory-lock class of outbox partitions (the first key of the pair).
_PARTITION_LOCKS = 0x72656C79  # "rely"


class AdvisoryLease:
    """Outbox partitions held through session advisory locks on a connection
    of their own: PostgreSQL releases them when that connection dies (the
    relay crashed, or was killed), and another relay's next :meth:`held`
    takes them. ``most`` caps how many one relay takes, so relays can share."""

    def __init__(self, dsn: str, partitions: int, *, most: int | None = None) -> None:
        self.dsn = dsn
        self.partitions = partitions
        self.most = partitions if most is None else most
        self._conn: psycopg.Connection[Any] | None = None
        # The probes' own connection (health, metrics), opened at the first
        # probe: a probe must not queue behind this store's transaction in
        # progress (a sweep waiting for a row lock holds the one connection).
        self._probe_mutex = threading.Lock()
        self._probe_conn: psycopg.Connection[Any] | None = None
        self._held: list[int] = []
        self._next_try = 0.0

    def held(self) -> list[int]:
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
                self._held, self._next_try = [], 0.0
            # What this connection really holds (a server restart or a dropped
            # connection frees the locks without telling an idle client).
            rows = self._conn.execute(
                "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND classid = %s AND objsubid = 2",
                (_PARTITION_LOCKS,),
            ).fetchall()
            self._held = sorted(int(r[0]) for r in rows)
            if len(self._held) < self.most and time.monotonic() >= self._next_try:
                # Free partitions are looked for at most once a second.
                self._next_try = time.monotonic() + 1.0
                for part in range(self.partitions):
                    if len(self._held) >= self.most:
                        break
                    if part not in self._held and self._conn.execute(
                        "SELECT pg_try_advisory_lock(%s, %s)", (_PARTITION_LOCKS, part)
                    ).fetchone() == (True,):
                        self._held.append(part)
                self._held.sort()
        except psycopg.OperationalError:
            self._conn, self._held = None, []
        return list(self._held)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn, self._held = None, []


__all__ += ["AdvisoryLease"]
