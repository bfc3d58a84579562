"""The store interface: what a durable CCM keeps, and the one transaction per input.

A store holds, as rows:

* ``legs``: one row per live consult leg, keyed by its id (its first dialog
  id): the engine's record of it as JSON, a ``version`` bumped on every
  change, the leg's clock, and ``deadline``, its earliest armed deadline
  (the durable timer, swept by :meth:`Tx.due_legs`);
* ``leg_dialogs`` and ``leg_agents``: every dialog id and agent of a live leg,
  so a message or a desk's presence finds its legs without a scan;
* ``presence``: each agent's desk socket, up or down;
* ``sessions``: customer channel sessions, indexed the way
  :class:`~consultfsm.ccm.sessions.SessionIndex` looks them up (customer
  dialog id, session id, E.164 ANI), with the time a session ended;
  ``forgotten_sessions``: the ids of ended sessions whose rows were tidied,
  each with its end (a session id is used once);
* ``tombstones``: dialog ids of finished legs, each with the time it is
  remembered from: the start of the engine's tombstone generation it was
  buried in (when its leg finished, to an eighth of the horizon), so a loaded
  one expires when the engine's would;
* ``inbox``: the ids of inputs already applied, with the answer given;
* ``outbox``: events to publish, in commit order, each with its stable id.

Every input runs in one :meth:`Store.transaction`: the rows it needs are
locked (advisory locks first, in the order agent, dialog, session, except
for a report on a leg that knows its party and dialogs: its leg rows alone;
then leg rows ``FOR UPDATE``, sorted; a new consult, which has no leg row, holds the
sessions it may join ``FOR SHARE``: two inputs queue rather than deadlock,
and a deadlock would be transient: the input runs again), read,
and written back with the outbox rows and the inbox entry before one commit.
A crash before the commit leaves nothing; after it, the inbox answers a
retry. The SQL is written once; a :class:`Dialect` says how each database
spells a lock, a clock and a key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import attrs

from consultfsm.core.errors import ConsultFsmError
from consultfsm.core.text import compact_json


class StoreError(ConsultFsmError):
    """The store could not run a transaction (the database is down, a lock
    timed out); nothing was applied, and the same input may be retried."""


class UnreadableRows(StoreError):
    """Rows this release cannot restore (written by hand, or by a release that
    wrote what this one cannot read). Nothing was applied, and the input may
    be sent again once they are mended: a server's fault, never the
    sender's. ``legs`` names the leg rows found bad alone (leg: why); empty
    when only their combination failed."""

    def __init__(self, why: str, legs: Mapping[str, str]) -> None:
        super().__init__(why)
        self.legs = dict(legs)


class StoreUnavailable(StoreError):
    """The database cannot be reached now; nothing was applied."""


class Unstorable(ConsultFsmError):
    """The input holds a value the database cannot store (PostgreSQL text
    cannot hold NUL); nothing was applied, and a retry would fail the same way."""


class Retry(Exception):
    """Raised inside a transaction to end it, writing nothing, and run it
    again: a leg vanished under its lock (another worker finished it first),
    or a report holding leg rows found it needs advisory locks, which come
    before any row."""


@attrs.frozen(slots=True)
class LegRow:
    key: str
    version: int
    record: dict[str, Any]  # the engine snapshot's entry for this leg


@attrs.frozen(slots=True)
class SessionRow:
    record: dict[str, Any]  # attrs.asdict of the ChannelSession
    ended_at: int | None
    ani: str | None = None  # its number in E.164, as read when it started


@attrs.frozen(slots=True)
class NewConsultKeys:
    """What a message that may start a consult looks its session up by (as
    the session index reads them), and who sent it."""

    sender: str
    session_id: str | None
    dialog_id: str | None
    ani: str | None

    def lock_names(self) -> list[str]:
        """The advisory locks a new consult takes with its others: a session's
        start takes the same names (:func:`session_lock_names`), so the
        consult waits for a start under way, and then reads it."""
        return session_lock_names(self.session_id, self.dialog_id, self.ani)


def session_lock_names(session_id: str | None, dialog_id: str | None, ani: str | None) -> list[str]:
    """The advisory locks of the keys a session is found by: its id (a
    session's end takes that one), its customer dialog id and its E.164 ANI."""
    names = [f"session:{session_id}", f"session-dialog:{dialog_id}", f"session-ani:{ani}"]
    return [name for name, key in zip(names, (session_id, dialog_id, ani), strict=True) if key]


@attrs.frozen(slots=True)
class NewConsultRows:
    """What a new consult is judged by: its dialogs' tombstones ``(at,
    dialog)``, the sessions its keys name (the active ones locked, on a
    shared store), the sender's presence."""

    tombstones: list[tuple[int, str]]
    sessions: list[SessionRow]
    presence: dict[str, bool]


@attrs.frozen(slots=True)
class NewEvent:
    """One event an input writes to the outbox. ``(leg, version, index)`` is
    its place in the leg's history; ``event_id`` is the event's own stable id."""

    partition: int
    conversation: str
    leg: str
    version: int
    index: int
    event_id: str
    body: str


@attrs.frozen(slots=True)
class OutboxRow(NewEvent):
    """One event waiting for the broker: a :class:`NewEvent` and its place in
    commit order."""

    seq: int


def schema(
    integer: str, serial: str, keyed: str = "", *, partitioned: bool = True,
    inbox_by_time: bool = True,
) -> tuple[str, ...]:  # fmt: skip
    """The tables, in a database's words for a 64-bit integer, an
    auto-numbered key and (``keyed``) a table stored in its primary key's
    order: the differences between the two stores' schemas. (In SQLite a
    ``WITHOUT ROWID`` table is one B-tree instead of two, so a commit writes
    fewer pages; PostgreSQL keeps every table in a heap anyway.)
    ``partitioned``: relays read the outbox by partition, so it is indexed
    that way (not where one relay reads it all, in ``seq`` order).
    ``inbox_by_time``: the inbox is indexed by time for :meth:`Tx.forget_before`
    (not where its rows are stored in the order they were written, which
    ``Dialect.forget_inbox`` then follows)."""
    i, k = integer, keyed
    by_partition = ("CREATE INDEX IF NOT EXISTS outbox_part ON outbox (part, seq)",)
    by_time = ("CREATE INDEX IF NOT EXISTS inbox_at ON inbox (at)",)
    tables = (
        f"CREATE TABLE IF NOT EXISTS legs (key TEXT PRIMARY KEY, version {i} NOT NULL,"
        f" call TEXT NOT NULL, deadline {i}, session_id TEXT NOT NULL, now {i} NOT NULL,"
        f" record TEXT NOT NULL){k}",
        "CREATE INDEX IF NOT EXISTS legs_deadline ON legs (deadline) WHERE deadline IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS legs_session ON legs (session_id)",
        f"CREATE TABLE IF NOT EXISTS leg_dialogs (dialog TEXT PRIMARY KEY, leg TEXT NOT NULL){k}",
        "CREATE TABLE IF NOT EXISTS leg_agents (agent TEXT NOT NULL, leg TEXT NOT NULL,"
        f" PRIMARY KEY (agent, leg)){k}",
        f"CREATE TABLE IF NOT EXISTS presence (agent TEXT PRIMARY KEY, up BOOLEAN NOT NULL,"
        f" at {i} NOT NULL){k}",
        f"CREATE TABLE IF NOT EXISTS sessions (seq {serial}, id TEXT NOT NULL UNIQUE,"
        f" dialog_id TEXT, ani TEXT, ended_at {i}, record TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS sessions_dialog ON sessions (dialog_id)",
        "CREATE INDEX IF NOT EXISTS sessions_ani ON sessions (ani)",
        # The ids of ended sessions whose rows tidy forgot: a session id is
        # used once, and the inbox may still hold its inputs' ids.
        f"CREATE TABLE IF NOT EXISTS forgotten_sessions (id TEXT PRIMARY KEY,"
        f" ended_at {i} NOT NULL){k}",
        f"CREATE TABLE IF NOT EXISTS tombstones (dialog TEXT PRIMARY KEY, at {i} NOT NULL){k}",
        "CREATE INDEX IF NOT EXISTS tombstones_at ON tombstones (at)",
        f"CREATE TABLE IF NOT EXISTS inbox (id TEXT PRIMARY KEY, at {i} NOT NULL,"
        f" answer TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS outbox (seq {serial}, part INTEGER NOT NULL,"
        f" conversation TEXT NOT NULL, leg TEXT NOT NULL, version {i} NOT NULL,"
        f" idx INTEGER NOT NULL, event_id TEXT NOT NULL, body TEXT NOT NULL)",
    )
    return tables + (by_partition if partitioned else ()) + (by_time if inbox_by_time else ())


@attrs.frozen
class Dialect:
    """How one database spells what the shared SQL needs."""

    name: str
    param: str  # the placeholder: "?" or "%s"
    for_update: str  # appended to a SELECT that locks its rows
    skip_locked: str  # appended to the sweeper's SELECT
    schema: tuple[str, ...]
    clock_sql: str  # one row, one column: the database's clock in Unix ms
    #: Deletes the inbox entries older than its one parameter (see Tx.forget_before).
    forget_inbox: str = "DELETE FROM inbox WHERE at < ?"
    #: Appended to a SELECT whose rows must not change until the commit.
    for_share: str = ""


class Cursor(Protocol):
    @property
    def description(self) -> Any: ...
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


class Tx:
    """One transaction's view of the store (what :meth:`Store.transaction` yields)."""

    def __init__(self, store: Store, cur: Cursor) -> None:
        self._store = store
        self._cur = cur
        self._d = store.dialect
        self._locked_at: int | None = None
        self._writes: list[tuple[str, tuple[Any, ...]]] = []
        self.input_id: str | None = None  # the input this transaction applies
        self.seen: dict[str, Any] | None = None  # its first answer, if it was applied before
        self._inbox_read = False

    def _sql(self, sql: str) -> str:
        """The shared SQL in this database's placeholders."""
        return sql.replace("?", self._d.param)

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a SELECT and return its rows; keep any other statement for the
        commit (:meth:`flush`). An input reads everything before it writes,
        so its writes can leave together (with the COMMIT, on PostgreSQL)."""
        sql = self._sql(sql)
        if not sql.startswith("SELECT"):
            self._writes.append((sql, tuple(params)))
            return []
        return self._store.read(self._cur, [(sql, tuple(params))])[0]

    def flush(self) -> None:
        """Run the writes kept so far, now (the store runs what is left with its commit)."""
        self._store.write(self._cur, self.take_writes())

    def take_writes(self) -> list[tuple[str, tuple[Any, ...]]]:
        """The writes kept so far, handed to the caller to run (the store's commit)."""
        writes, self._writes = self._writes, []
        return writes

    def _in(self, n: int) -> str:
        return ",".join("?" * n)

    # --- locks and time ---------------------------------------------------------------

    def lock(self, names: Iterable[str]) -> None:
        """Hold advisory locks on ``names`` (sorted) until the commit; the
        database's clock is read with them held (:meth:`clock_ms`). The first
        time, the inbox entry of :attr:`input_id` is read too, by a statement
        of its own once the locks are held (a statement's snapshot predates its
        lock waits), sent with the locks: :attr:`seen`."""
        self._lock_then(names, [])

    def _lock_then(
        self, names: Iterable[str], then: list[tuple[str, tuple[Any, ...]]]
    ) -> list[list[Any]]:
        """:meth:`lock`, then the SELECTs ``then`` (each a statement of its own,
        run once the locks are held), in one round trip; their rows. Where
        ``then`` reads the clock again (a shared store's legs), the inbox is
        read by that statement: it too runs once the locks are held, and a
        statement fewer costs the client as much as a round trip."""
        queries = []
        locking = self._store.lock_statement(sorted(set(names)))
        if locking is not None:
            queries.append(locking)
        reading = self.input_id is not None and not self._inbox_read
        clock = next((i for i, q in enumerate(then) if q[0] == self._d.clock_sql), None)
        # One writer at a time (no lock statement, not shared): the writer
        # lock is held from BEGIN on, so the clock is read with the inbox.
        with_clock = reading and locking is None and not self._store.shared
        if with_clock and clock is None and self._locked_at is None:
            queries.append((self._sql(f"{self._d.clock_sql}, ({self._INBOX})"), (self.input_id,)))
        elif reading and clock is None:
            with_clock = False
            queries.append((self._sql(self._INBOX), (self.input_id,)))
        elif reading:
            with_clock = False
            assert clock is not None
            then = [*then]
            then[clock] = (self._sql(f"{self._d.clock_sql}, ({self._INBOX})"), (self.input_id,))
        results = self._store.read(self._cur, queries + then)
        if locking is not None:
            self._locked_at = int(results[0][0][0])
        if reading:
            self._inbox_read = True
            if with_clock:
                ((self._locked_at, answer),) = results[len(queries) - 1]
            elif clock is None:
                rows = results[len(queries) - 1]
                answer = None if not rows else rows[0][0]
            else:
                answer = results[len(queries) + clock][0][1]
            self.seen = None if answer is None else json.loads(answer)
        return results[len(queries) :]

    _INBOX = "SELECT answer FROM inbox WHERE id = ?"  # (alone, or a column of the clock's row)

    def read_inbox_again(self) -> None:
        """Have the next locks read the inbox again: it was read before locks
        that an input being applied under them may hold (:attr:`seen`)."""
        self._inbox_read, self.seen = False, None

    def clock_ms(self) -> int:
        """The database's clock, Unix ms: as read when the last locks were
        taken (on a shared store, again once the leg rows, or a new consult's
        session rows, are held; where one writer holds the database from
        BEGIN on, SQLite, with the inbox, by the transaction's first
        statement), or now when none of these were read."""
        if self._locked_at is None:
            self._locked_at = int(self._q(self._d.clock_sql)[0][0])
        return self._locked_at

    # --- legs -------------------------------------------------------------------------

    def _of_dialogs(self, dialogs: Sequence[str]) -> str:
        return ("SELECT key, version, record FROM legs WHERE key IN (SELECT leg FROM leg_dialogs"
                f" WHERE dialog IN ({self._in(len(dialogs))})) ORDER BY key")  # fmt: skip

    def load_legs_of_dialogs(self, dialogs: Sequence[str]) -> list[LegRow]:
        """The live legs any of ``dialogs`` names, locked, in key order (one statement)."""
        return self._locked_legs(self._of_dialogs(dialogs), dialogs)

    def lock_and_load_legs_of_dialogs(
        self,
        names: Iterable[str],
        dialogs: Sequence[str],
        *,
        or_new_consult: NewConsultKeys | None = None,
    ) -> tuple[list[LegRow], NewConsultRows | None]:
        """:meth:`lock` ``names``, then :meth:`load_legs_of_dialogs`, in one
        round trip: the legs' statement runs once the locks are held, so it
        waits, as it would sent alone (the inbox is read after it). For an
        input already applied (:attr:`seen`) the legs are locked for nothing,
        until the transaction's COMMIT of nothing.

        ``or_new_consult``: a message that likely starts a consult (a desk's
        CALL_LEG_STARTED) has what :meth:`new_consult_rows` reads read in the
        same round trip, the second value: for the case its dialogs have no
        leg, and for the sender's presence where they have one (then its
        active sessions are neither locked nor read, on a shared store). The time is
        read last, once every row it locks is held."""
        legs, *clock = self._legs_queries(self._of_dialogs(dialogs), dialogs)
        consult = (
            []
            if or_new_consult is None
            else self._new_consult_queries(dialogs, or_new_consult, unless_legs=True)
        )
        results = self._lock_then(names, [legs, *consult, *clock])
        rows = self._legs_from([results[0], *results[1 + len(consult) :]])
        return rows, None if not consult else _new_consult_rows(results[1 : 1 + len(consult)])

    _OF_AGENT = ("SELECT key, version, record FROM legs WHERE key IN (SELECT leg FROM leg_agents"
                 " WHERE agent = ?) ORDER BY key")  # fmt: skip
    _OF_SESSION = "SELECT key, version, record FROM legs WHERE session_id = ? ORDER BY key"

    def lock_and_load_agent(
        self, names: Iterable[str], agent: str
    ) -> tuple[list[LegRow], dict[str, bool]]:
        """:meth:`lock` ``names``, then ``agent``'s legs and presence, in one
        round trip (as :meth:`lock_and_load_legs_of_dialogs`)."""
        legs = self._legs_queries(self._OF_AGENT, [agent])
        results = self._lock_then(names, [*legs, self._presence_query([agent])])
        return self._legs_from(results[: len(legs)]), _presence_rows(results[-1])

    def lock_and_load_session(
        self, names: Iterable[str], session_id: str
    ) -> tuple[SessionRow | None, list[LegRow]]:
        """:meth:`lock` ``names``, then the session's row and its legs, each
        locked, in one round trip (as :meth:`lock_and_load_legs_of_dialogs`)."""
        legs = self._legs_queries(self._OF_SESSION, [session_id])
        results = self._lock_then(names, [self._session_query(session_id), *legs])
        return _session_row(results[0]), self._legs_from(results[1:])

    def load_legs(self, keys: Sequence[str]) -> list[LegRow]:
        """The legs, locked, in key order (one statement); :class:`Retry` if one is gone."""
        keys = sorted(set(keys))
        if not keys:
            return []
        legs = self._locked_legs(
            f"SELECT key, version, record FROM legs WHERE key IN ({self._in(len(keys))})"
            " ORDER BY key",
            keys,
        )
        if len(legs) != len(keys):
            raise Retry(sorted(set(keys) - {leg.key for leg in legs}))
        return legs

    def _locked_legs(self, sql: str, params: Sequence[Any]) -> list[LegRow]:
        """The legs ``sql`` selects, locked ``FOR UPDATE``. On a shared store
        the clock is read again once they are held, in the same round trip:
        read with the advisory locks, it could predate a deadline a sweeper
        fired on these rows meanwhile, and the input would be applied as if
        it came before that deadline, after it (an input's time is when it
        holds its legs)."""
        return self._legs_from(self._store.read(self._cur, self._legs_queries(sql, params)))

    def _legs_queries(self, sql: str, params: Sequence[Any]) -> list[tuple[str, tuple[Any, ...]]]:
        queries = [(self._sql(sql + self._d.for_update), tuple(params))]
        if self._store.shared:
            queries.append((self._d.clock_sql, ()))
        return queries

    def _legs_from(self, results: list[list[Any]]) -> list[LegRow]:
        if self._store.shared:
            self._locked_at = int(results[1][0][0])
        return [LegRow(r[0], int(r[1]), json.loads(r[2])) for r in results[0]]

    def due_legs(self, now: int, limit: int) -> list[LegRow]:
        """Up to ``limit`` legs whose deadline is due, locked, skipping legs
        another worker holds."""
        rows = self._q(
            "SELECT key, version, record FROM legs WHERE deadline <= ? ORDER BY deadline, key"
            " LIMIT ?" + self._d.skip_locked,
            [now, limit],
        )
        return [LegRow(r[0], int(r[1]), json.loads(r[2])) for r in rows]

    def next_deadline(self) -> int | None:
        rows = self._q("SELECT MIN(deadline) FROM legs")
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    def save_leg(self, key: str, version: int, record: dict[str, Any],
                 was: dict[str, Any] | None = None) -> None:  # fmt: skip
        """Write the leg's row, and index the dialogs and agents it did not
        have in ``was`` (its record as loaded; None for a new leg)."""
        machine = record["machine"]
        text = compact_json(record)
        if was is None:
            self._q(
                "INSERT INTO legs (key, version, call, deadline, session_id, now, record)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                " version = excluded.version, call = excluded.call, deadline = excluded.deadline,"
                " session_id = excluded.session_id, now = excluded.now, record = excluded.record",
                [key, version, machine["call"], machine["deadline"], record["session"]["id"],
                 machine["now"], text],
            )  # fmt: skip
        elif (machine["deadline"], record["session"]["id"]) == (
            was["machine"]["deadline"], was["session"]["id"]
        ):  # fmt: skip
            # The indexed columns are left out of SET when they did not change:
            # then their indexes are not rewritten (fewer pages at the commit).
            self._q(
                "UPDATE legs SET version = ?, call = ?, now = ?, record = ? WHERE key = ?",
                [version, machine["call"], machine["now"], text, key],
            )
        else:
            self._q(
                "UPDATE legs SET version = ?, call = ?, deadline = ?, session_id = ?, now = ?,"
                " record = ? WHERE key = ?",
                [version, machine["call"], machine["deadline"], record["session"]["id"],
                 machine["now"], text, key],
            )  # fmt: skip
        known_dialogs = set() if was is None else set(was["dialogs"])
        known_agents = set() if was is None else set(was["agents"].values())
        for dialog in record["dialogs"]:
            if dialog in known_dialogs:
                continue
            self._q(
                "INSERT INTO leg_dialogs (dialog, leg) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [dialog, key],
            )
        for agent in record["agents"].values():
            if agent in known_agents:
                continue
            self._q(
                "INSERT INTO leg_agents (agent, leg) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [agent, key],
            )

    def delete_leg(self, key: str, was: dict[str, Any]) -> None:
        """Delete the leg's row and its index entries: those of ``was``, its
        record as loaded (what :meth:`save_leg` indexed), found by their keys
        (a dialog another leg already held is left to that leg)."""
        dialogs, agents = was["dialogs"], sorted(set(was["agents"].values()))
        if dialogs:
            self._q(
                f"DELETE FROM leg_dialogs WHERE dialog IN ({self._in(len(dialogs))}) AND leg = ?",
                [*dialogs, key],
            )
        if agents:
            self._q(
                f"DELETE FROM leg_agents WHERE agent IN ({self._in(len(agents))}) AND leg = ?",
                [*agents, key],
            )
        self._q("DELETE FROM legs WHERE key = ?", [key])

    def live_legs(self) -> int:
        return int(self._q("SELECT COUNT(*) FROM legs")[0][0])

    def legs_by_state(self) -> dict[str, int]:
        """Live legs by the CCM machine's call state."""
        return _legs_by_state(self._q(LEGS_BY_STATE))

    # --- presence, tombstones ---------------------------------------------------------

    def presence(self, agents: Iterable[str]) -> dict[str, bool]:
        agents = sorted(set(agents))
        return _presence_rows(self._q(*self._presence_query(agents))) if agents else {}

    def _presence_query(self, agents: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
        sql = f"SELECT agent, up FROM presence WHERE agent IN ({self._in(len(agents))})"
        return self._sql(sql), tuple(agents)

    def set_presence(self, agent: str, up: bool, at: int) -> None:
        self._q(
            "INSERT INTO presence (agent, up, at) VALUES (?, ?, ?) ON CONFLICT (agent)"
            " DO UPDATE SET up = excluded.up, at = excluded.at",
            [agent, up, at],
        )

    def _tombstones_query(self, dialogs: Sequence[str], since: int) -> tuple[str, tuple[Any, ...]]:
        sql = (f"SELECT at, dialog FROM tombstones WHERE dialog IN ({self._in(len(dialogs))})"
               " AND at >= ?")  # fmt: skip
        return self._sql(sql), (*dialogs, since)

    def bury(self, dialogs: Iterable[str], at: int) -> None:
        for dialog in dialogs:
            self._q(
                "INSERT INTO tombstones (dialog, at) VALUES (?, ?) ON CONFLICT (dialog)"
                # (never back: the later of two finishes, whichever commits last)
                " DO UPDATE SET at = CASE WHEN excluded.at > tombstones.at THEN excluded.at"
                " ELSE tombstones.at END",
                [dialog, at],
            )

    # --- sessions ---------------------------------------------------------------------

    def _new_consult_queries(
        self, dialogs: Sequence[str], keys: NewConsultKeys, *, unless_legs: bool = False
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """The tombstones of ``dialogs`` (since 0: the engine judges their
        age); the active sessions the keys name, locked ``FOR SHARE`` so none
        ends before the commit (``unless_legs``: only when the dialogs have no
        leg, so an input on a live leg never waits for a session row, nor
        holds one); then, by a statement of its own (a snapshot taken after
        that lock's wait, so a session that ended meanwhile is read ended),
        the ended ones (since 0, as the tombstones), which never change again
        and are not locked; and the sender's presence."""
        where = "FROM sessions WHERE (id = ? OR dialog_id = ? OR ani = ?) AND ended_at IS"
        by = (keys.session_id, keys.dialog_id, keys.ani)
        active = f"SELECT record, ended_at, ani, seq {where} NULL"
        params: tuple[Any, ...] = by
        if unless_legs and self._d.for_share:  # (no lock, no need: the rows go unread)
            active += " AND NOT EXISTS (" + self._of_dialogs(dialogs) + ")"
            params += tuple(dialogs)
        ended = f"SELECT record, ended_at, ani, seq {where} NOT NULL AND ended_at >= ?"
        return [
            self._tombstones_query(dialogs, 0),
            (self._sql(active + self._d.for_share), params),
            (self._sql(ended), (*by, 0)),
            self._presence_query([keys.sender]),
        ]

    def new_consult_rows(
        self, dialogs: Sequence[str], keys: NewConsultKeys, *, lock: bool = False
    ) -> NewConsultRows:
        """What a new consult is judged by, in one round trip: the tombstones
        of its dialogs, the sessions its keys name, active ones locked against
        their end until the commit (a session's end locks its row ``FOR
        UPDATE``: it waits, or the sessions' statement waits for it, and the
        session is read ended), and the sender's presence; on a shared store
        the time again, after the locks. ``lock``: the keys' advisory locks
        first (:meth:`NewConsultKeys.lock_names`; taken before any row lock,
        as the transaction holds none when its message found no leg). (Sent
        with the legs, by :meth:`lock_and_load_legs_of_dialogs`, when the
        message is a start.)"""
        queries = self._new_consult_queries(dialogs, keys)
        clock = [(self._d.clock_sql, ())] if self._store.shared else []
        names = keys.lock_names() if lock else []
        results = self._lock_then(names, queries + clock) if names else (
            self._store.read(self._cur, queries + clock))  # fmt: skip
        if clock:
            self._locked_at = int(results[-1][0][0])
        return _new_consult_rows(results[: len(queries)])

    def session(self, session_id: str) -> SessionRow | None:
        """The session's row, locked; None when there is none."""
        return _session_row(self._q(*self._session_query(session_id)))

    def _session_query(self, session_id: str) -> tuple[str, tuple[Any, ...]]:
        sql = "SELECT record, ended_at, ani FROM sessions WHERE id = ?" + self._d.for_update
        return self._sql(sql), (session_id,)

    def forgotten_session(self, session_id: str) -> int | None:
        """When the session ``session_id`` ended, if tidy forgot its row
        (:meth:`forget_before`); None otherwise."""
        rows = self._q("SELECT ended_at FROM forgotten_sessions WHERE id = ?", [session_id])
        return None if not rows else int(rows[0][0])

    def add_session(self, record: dict[str, Any], ani: str | None) -> None:
        self._q(
            "INSERT INTO sessions (id, dialog_id, ani, ended_at, record) VALUES (?, ?, ?, NULL, ?)",
            [record["id"], record["dialog_id"], ani, compact_json(record)],
        )

    def end_session(self, session_id: str, at: int) -> None:
        self._q("UPDATE sessions SET ended_at = ? WHERE id = ?", [at, session_id])

    # --- inbox, outbox ----------------------------------------------------------------

    def remember(self, input_id: str, at: int, answer: dict[str, Any]) -> None:
        self._q(
            "INSERT INTO inbox (id, at, answer) VALUES (?, ?, ?)",
            [input_id, at, compact_json(answer)],
        )

    def append(self, events: Sequence[NewEvent]) -> None:
        """The events' outbox rows, by one statement: its rows are numbered in
        the order of its VALUES, which is the events' order."""
        if events:
            self._q(
                "INSERT INTO outbox (part, conversation, leg, version, idx, event_id, body)"
                " VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(events)),
                [v for e in events for v in (e.partition, e.conversation, e.leg, e.version,
                                             e.index, e.event_id, e.body)],
            )  # fmt: skip

    def pending(self, partitions: Sequence[int] | None, limit: int) -> list[OutboxRow]:
        """The oldest outbox rows (of ``partitions``, or all), in commit order per leg."""
        where = "" if partitions is None else f" WHERE part IN ({self._in(len(partitions))})"
        rows = self._q(
            "SELECT seq, part, conversation, leg, version, idx, event_id, body FROM outbox"
            + where
            + " ORDER BY seq LIMIT ?",
            [*(partitions or ()), limit],
        )
        return [
            OutboxRow(int(r[1]), r[2], r[3], int(r[4]), int(r[5]), r[6], r[7], seq=int(r[0]))
            for r in rows
        ]

    def delete_sent(self, rows: Sequence[OutboxRow]) -> None:
        """Delete rows the sink confirmed, each by its seq and its event id: a
        store may hand a seq out again once its row is gone (SQLite does, once
        the outbox is empty), and a relay still holding an old batch must not
        delete the newer row that got its seq."""
        if rows:
            pairs = ",".join(["(?, ?)"] * len(rows))
            self._q(
                f"DELETE FROM outbox WHERE (seq, event_id) IN (VALUES {pairs})",
                [v for r in rows for v in (r.seq, r.event_id)],
            )

    def outbox_depth(self) -> int:
        return int(self._q(OUTBOX_DEPTH)[0][0])

    def forget_before(
        self, inbox_before: int, tombstones_before: int, sessions_before: int,
        session_ids_before: int | None = None,
    ) -> None:  # fmt: skip
        """Drop inbox entries, tombstones and ended sessions past their
        horizons. (Where the inbox has no time index, an entry is dropped once
        every entry written before it is past the horizon too: an entry is
        never dropped early, and one written out of time order, after a clock
        step back, waits for the entries after it.) An ended session's id
        outlives its row, refused to a new session (:meth:`forgotten_session`),
        until ``session_ids_before`` (by default ``inbox_before``): the inbox
        may hold its inputs' ids, and a new session's end would be their replay
        (and while the inbox holds them under their default ids, whatever the time)."""
        self._q(self._d.forget_inbox, [inbox_before])
        self._q("DELETE FROM tombstones WHERE at < ?", [tombstones_before])
        self._q(
            "INSERT INTO forgotten_sessions (id, ended_at) SELECT id, ended_at FROM sessions"
            " WHERE ended_at IS NOT NULL AND ended_at < ? ON CONFLICT (id) DO NOTHING",
            [sessions_before],
        )
        ids_before = inbox_before if session_ids_before is None else session_ids_before
        # Not while the inbox holds the session's inputs under their default
        # ids: SQLite's inbox, tidied in the order it was written, may keep
        # them past any time horizon after the clock stepped back.
        self._q(
            "DELETE FROM forgotten_sessions WHERE ended_at < ? AND NOT EXISTS (SELECT 1 FROM"
            " inbox WHERE inbox.id IN (? || forgotten_sessions.id, ? || forgotten_sessions.id))",
            [ids_before, SESSION_START_INPUT, SESSION_END_INPUT],
        )
        self._q(
            "DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?", [sessions_before]
        )


#: The inbox ids of inputs sent without one: the prefix, then the CIM
#: message's id or the session's id.
CIM_INPUT = "cim:"
SESSION_START_INPUT = "session-start:"
SESSION_END_INPUT = "session-end:"

#: What the metrics read (:meth:`Store.gauges`, and a transaction's own view).
LEGS_BY_STATE = "SELECT call, COUNT(*) FROM legs GROUP BY call"
OUTBOX_DEPTH = "SELECT COUNT(*) FROM outbox"


def _legs_by_state(rows: list[Any]) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in rows}


def _new_consult_rows(results: list[list[Any]]) -> NewConsultRows:
    tombs, active, ended, presence = results
    sessions = sorted([*active, *ended], key=lambda r: int(r[3]))  # in the order they started
    return NewConsultRows(_tombstone_rows(tombs), _session_rows(sessions), _presence_rows(presence))


def _tombstone_rows(rows: list[Any]) -> list[tuple[int, str]]:
    return sorted((int(r[0]), r[1]) for r in rows)


def _presence_rows(rows: list[Any]) -> dict[str, bool]:
    return {r[0]: bool(r[1]) for r in rows}


def _session_row(rows: list[Any]) -> SessionRow | None:
    return _session_rows(rows)[0] if rows else None


def _session_rows(rows: list[Any]) -> list[SessionRow]:
    return [SessionRow(json.loads(r[0]), None if r[1] is None else int(r[1]), r[2]) for r in rows]


class Store:
    """A database holding a durable CCM. Subclasses connect; this class runs
    the transaction, retrying it when :class:`Retry` asks."""

    dialect: Dialect
    #: Other processes write the same rows between this store's statements
    #: (PostgreSQL; SQLite holds one writer for the whole transaction).
    shared = False
    #: Retries of one transaction after :class:`Retry` or a deadlock.
    ATTEMPTS = 20

    def transaction(self) -> Any:
        """A context manager yielding a :class:`Tx`; commits on a clean exit."""
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[Tx]:  # pragma: no cover - each store has its own
        raise NotImplementedError
        yield

    def probe(self, queries: Sequence[str]) -> list[list[Any]]:
        """Run SELECTs without parameters for a probe (health, metrics) and
        return each one's rows, or raise :class:`StoreError`. This fallback
        runs them in a transaction; both stores here override it to read on a
        connection of their own, outside any transaction that takes locks, so
        a probe waits neither for another process's writer nor for this
        store's own transaction in progress (a sweep waiting for a lock)."""
        with self.transaction() as tx:
            return [tx._q(sql) for sql in queries]

    def ping(self) -> int:
        """The database's clock (Unix ms), or :class:`StoreError`: whether
        the database answers now (:meth:`probe`: it takes no lock)."""
        return int(self.probe([self.dialect.clock_sql])[0][0][0])

    def gauges(self) -> tuple[dict[str, int], int]:
        """Live legs by call state, and the outbox's depth (:meth:`probe`)."""
        states, depth = self.probe([LEGS_BY_STATE, OUTBOX_DEPTH])
        return _legs_by_state(states), int(depth[0][0])

    def lock_statement(self, names: Sequence[str]) -> tuple[str, tuple[Any, ...]] | None:
        """The statement that holds advisory locks on ``names`` until the
        commit and returns the clock read with them held (one row, one
        column); None where the database holds one writer at a time."""
        return None

    def read(self, cur: Cursor, queries: Sequence[tuple[str, tuple[Any, ...]]]) -> list[list[Any]]:
        """Run SELECTs, in order, and return each one's rows (a store may send
        them together: each is still its own statement)."""
        out = []
        for sql, params in queries:
            cur.execute(sql, params)
            out.append(list(cur.fetchall()))
        return out

    def write(self, cur: Cursor, writes: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
        """Run a transaction's writes, in order."""
        for sql, params in writes:
            cur.execute(sql, params)

    def run(self, work: Any) -> Any:
        """Run ``work(tx)`` in a transaction, again from the start if it raises
        :class:`Retry` (or the database reports a deadlock)."""
        for _ in range(self.ATTEMPTS):
            try:
                with self.transaction() as tx:
                    return work(tx)
            except Retry:
                continue
            except Exception as exc:
                if not self.is_transient(exc):
                    raise
        raise StoreError(f"gave up after {self.ATTEMPTS} attempts: the legs kept moving")

    def is_transient(self, exc: BaseException) -> bool:
        """True for a database error after which the same transaction may simply be run again."""
        return False

    def close(self) -> None:
        """Release the connection."""


__all__ = [
    "CIM_INPUT",
    "SESSION_END_INPUT",
    "SESSION_START_INPUT",
    "Dialect",
    "LegRow",
    "NewConsultKeys",
    "NewConsultRows",
    "NewEvent",
    "OutboxRow",
    "Retry",
    "SessionRow",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "Tx",
    "UnreadableRows",
    "Unstorable",
    "session_lock_names",
]
