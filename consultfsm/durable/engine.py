"""The durable CCM: :class:`~consultfsm.ccm.engine.CcmEngine`'s decisions, one
transaction per input, exactly once through crashes.

Nothing here decides what a consult does: for each input, the rows it touches
are locked and loaded into a small :class:`CcmEngine` holding only them (the
legs, the customer sessions the message could name, the tombstones of its
dialogs, the sender's presence), the engine takes the input, and what changed
is written back with the events to publish and the input's id, in the same
commit. So a durable CCM publishes, input for input, what an in-memory engine
fed the same inputs publishes (``tests/test_durable.py`` checks it), and:

* a crash before the commit leaves nothing, and the retried input runs as if
  it were the first;
* a crash after it leaves the input's id in the inbox, and the retry gets the
  same answer and publishes nothing more (a desk re-sending its message, a
  socket layer re-sending a ``desk_down`` after a later ``desk_up``);
* every overdue deadline of a loaded leg fires, at its own time, before the
  input (the engine's own rule), and the sweeper fires the rest: a deadline
  fires once, never early, and never after a later input of its leg;
* time is the database's clock, read once the input holds its legs (a
  deadline a sweeper fired first is earlier than the input), and never goes
  back for a leg: an input is applied at the later of the clock and the leg's
  own last time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from zlib import crc32

import attrs

from consultfsm.ccm.correlation import (
    ChannelSession,
    SessionResolver,
    dialog_id_of,
    is_placeholder,
    normalise_ani,
)
from consultfsm.ccm.engine import (
    DEFAULT_ENDED_SESSION_MS,
    DEFAULT_TOMBSTONE_MS,
    CcmEngine,
    CcmRefused,
    Outcome,
    Published,
    evidence_of,
    read_report,
)
from consultfsm.ccm.machine import CcmConfig
from consultfsm.ccm.sessions import SessionIndex
from consultfsm.ccm.table import Party
from consultfsm.ccm.tombstones import Tombstones
from consultfsm.core.errors import ConfigError, ConsultFsmError
from consultfsm.core.text import is_writable
from consultfsm.wire.cim import CimCodec, CimMessage, MessageIntent, parse_message

from .faults import Faults
from .store import (
    CIM_INPUT,
    SESSION_END_INPUT,
    SESSION_START_INPUT,
    LegRow,
    NewConsultKeys,
    NewConsultRows,
    NewEvent,
    Retry,
    SessionRow,
    Store,
    Tx,
    UnreadableRows,
    session_lock_names,
)

#: The region a session's stored number is told to have been read in: not
#: recorded, and no resolver's (a region is a code of two letters), so the
#: engine takes the stored E.164 as it is and never caches its text as read in
#: the region of now.
_AS_STORED = "as stored"
#: What restoring a snapshot of bad rows raises (a SnapshotError mostly; a
#: row a hand edited may fail deeper in).
_UNRESTORABLE = (ConsultFsmError, LookupError, TypeError, ValueError)

#: Outbox partitions, by default: each relay owns some, each conversation is in one.
DEFAULT_PARTITIONS = 16
#: The longest id a durable CCM takes (a session's, conversation's, dialog's,
#: agent's or input's; UTF-8 bytes). Ids go into broker headers and
#: destinations, which a broker bounds (ActiveMQ: 10 KiB a header): an event
#: whose id it refused would stay in the outbox, first in its partition, for
#: good, and hold back every event behind it. Refused at input instead.
MAX_ID_BYTES = 512


@attrs.frozen(slots=True)
class Sent:
    """One event an input wrote to the outbox."""

    event_id: str
    leg: str
    intent: str
    source: str
    reason: str | None
    conversation: str

    def to_dict(self) -> dict[str, Any]:
        """``attrs.asdict(self)``, written out (an answer is written with every input)."""
        return {"event_id": self.event_id, "leg": self.leg, "intent": self.intent,
                "source": self.source, "reason": self.reason,
                "conversation": self.conversation}  # fmt: skip


@attrs.frozen(slots=True)
class Answer:
    """What one input did. ``replayed`` is True when the input had already
    been applied (its id was in the inbox): this is the first answer again,
    and nothing was published this time."""

    leg: str | None
    disposition: str | None
    late: bool = False
    sent: tuple[Sent, ...] = ()
    at: int = 0
    replayed: bool = False
    due: int | None = None  # the deadline a sweep fired (its lag is at - due)
    #: Every leg the input read and locked (changed or not), by key (its first
    #: dialog id): what a log line names when the input is no report of one
    #: leg (a desk's presence reads all of its agent's legs).
    legs: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "leg": self.leg,
            "disposition": self.disposition,
            "late": self.late,
            "at": self.at,
            "sent": [s.to_dict() for s in self.sent],
            "legs": list(self.legs),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, replayed: bool = False) -> Answer:
        return cls(
            data["leg"],
            data["disposition"],
            data["late"],
            tuple(Sent(**s) for s in data["sent"]),
            data["at"],
            replayed,
            legs=tuple(data.get("legs", ())),  # (an answer an earlier version wrote has none)
        )


def partition_of(conversation: str, partitions: int) -> int:
    """The outbox partition of a conversation: stable across processes and restarts."""
    return crc32(conversation.encode()) % partitions


class DurableCcm:
    """Every consult leg of a CCM, kept in a :class:`~consultfsm.durable.store.Store`.

    >>> from consultfsm.durable.sqlite import SqliteStore
    >>> from consultfsm.wire.cim import CimCodec, MessageIntent
    >>> codec = CimCodec("8000")
    >>> ccm = DurableCcm(SqliteStore(":memory:"), codec)
    >>> ccm.start_session(ChannelSession("S1", "C1", "+923001234567")).disposition
    'applied'
    >>> started = codec.agent_message(
    ...     leg="7002:1002:16777301", at=0, intent=MessageIntent.CALL_LEG_STARTED,
    ...     agent="1002", customer="+923001234567", call_id="16777301", reason=None)
    >>> [s.intent for s in ccm.receive(started).sent]
    ['CALL_LEG_STARTED']
    >>> again = ccm.receive(started)    # a retry after a lost answer
    >>> again.replayed, again.sent[0].intent
    (True, 'CALL_LEG_STARTED')
    """

    def __init__(
        self,
        store: Store,
        codec: CimCodec,
        *,
        config: CcmConfig | None = None,
        resolver: SessionResolver | None = None,
        tombstone_ms: int = DEFAULT_TOMBSTONE_MS,
        ended_session_ms: int = DEFAULT_ENDED_SESSION_MS,
        partitions: int = DEFAULT_PARTITIONS,
        clock: Callable[[Tx], int] | None = None,
        faults: Faults | None = None,
    ) -> None:
        if not isinstance(store, Store):
            raise ConfigError("store", f"must be a Store, got {type(store).__name__}")
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions <= 0:
            raise ConfigError("partitions", "must be a positive number")
        self.store = store
        self.codec = codec
        self.config = CcmConfig() if config is None else config
        self.resolver = SessionResolver() if resolver is None else resolver
        self.tombstone_ms = tombstone_ms
        self.ended_session_ms = ended_session_ms
        self.partitions = partitions
        self.faults = Faults.from_env() if faults is None else faults
        # The engine's clock (ms since the codec's epoch) from the database's.
        self._clock = clock or (lambda tx: tx.clock_ms() - codec.epoch_ms)
        # Checks the arguments once, now, as an engine does.
        CcmEngine(
            codec,
            resolver=self.resolver,
            config=self.config,
            tombstone_ms=tombstone_ms,
            ended_session_ms=ended_session_ms,
        )
        self._index = SessionIndex(self.resolver)  # never filled: its checks and e164() alone
        self._tombs = Tombstones(tombstone_ms)  # never filled: its generations' arithmetic
        self._config = attrs.asdict(self.config)  # (as a snapshot holds it)
        #: Legs whose row this process could not restore (leg: why), which its
        #: sweeper passes by so the other legs' deadlines still fire; until
        #: the row is mended (and read again by an input, or tried again after
        #: :meth:`tidy`), that leg's own deadlines wait, and its inputs are
        #: answered UnreadableRows.
        self.stuck: dict[str, str] = {}

    # --- inputs ----------------------------------------------------------------------------

    def receive(
        self, message: CimMessage | str | bytes | Mapping[str, Any], *, input_id: str | None = None
    ) -> Answer:
        """A desk's CIM message. Its id (or ``input_id``) is remembered: the
        same message again gets the first answer. Raises what
        :meth:`CcmEngine.receive` raises for a message it cannot take."""
        if not isinstance(message, CimMessage):
            message = parse_message(message)
        report = read_report(self.codec, message)  # (the engine takes it as it is)
        party, dialogs = report.party, list(report.dialogs)
        sender = message.header.sender.id
        _storable(sender, "header.sender.id")
        for dialog in dialogs:
            _storable(dialog, "body")
        msg = message

        # A start is read with what a new consult needs, in the legs' round
        # trip; any other message that finds no leg reads it after.
        starts = message.header.intent is MessageIntent.CALL_LEG_STARTED
        keys = self._session_keys(msg, party, sender) if starts else None

        # On a shared store, a report on a leg that has an agent for its party
        # and every dialog it names is first tried with the leg rows' locks alone: they
        # order it with every other input on the leg (a retry waits on them
        # for its original, then reads the inbox), and the other rows it
        # writes (index entries, tombstones) are the leg's own. Any other
        # report takes the advisory locks: in a new transaction if it holds
        # rows (the first ends having written nothing), where it is if not.
        # (A statement fewer: a hold sends as many as the floor, five.)
        rows_alone = [self.store.shared and not starts]

        def work(tx: Tx) -> Answer:
            consult: NewConsultRows | None = None
            if rows_alone[0]:
                legs, _ = tx.lock_and_load_legs_of_dialogs([], dialogs)
                if tx.seen is None and not _known_to(legs, dialogs, party):
                    if legs:  # rows held: the advisory locks come first, in a new transaction
                        rows_alone[0] = False
                        raise Retry([])
                    tx.read_inbox_again()  # holding nothing: lock and look again, here
                    rows_alone[0] = False
            if not rows_alone[0]:
                names = [f"agent:{sender}", *(f"dialog:{d}" for d in dialogs)]
                if keys is not None:  # (against a session's start being committed)
                    names += keys.lock_names()
                legs, consult = tx.lock_and_load_legs_of_dialogs(
                    names, dialogs, or_new_consult=keys
                )
            if tx.seen is not None:  # applied before: its first answer (see _lock)
                return Answer.from_dict(tx.seen, replayed=True)
            sessions: list[SessionRow] = []
            tombs: list[tuple[int, str]] = []
            if not legs:  # a new consult: the sessions it may name, locked against their end
                if consult is None:
                    consult = tx.new_consult_rows(
                        dialogs, self._session_keys(msg, party, sender), lock=True
                    )
                tombs, sessions, presence = consult.tombstones, consult.sessions, consult.presence
            elif _each_has(legs, party):
                presence = {}  # the sender's presence matters only to a leg that lacks its party
            elif consult is not None:
                presence = consult.presence  # (read with the legs, the agent's lock held)
            else:
                presence = tx.presence([sender])
            engine = self._engine(legs, sessions, presence, tombs)
            at = max(self._clock(tx), engine.now)
            outcome = engine.receive(report, at)
            return self._commit(tx, engine, legs, outcome, at, buried=tombs)

        if input_id is None and not _holdable(message.id):
            raise CcmRefused("id", f"must be {_UNHOLDABLE}")
        return self._run(input_id, work, default=f"{CIM_INPUT}{message.id}")

    def _session_keys(self, message: CimMessage, party: Party, sender: str) -> NewConsultKeys:
        """The keys a new consult's session is looked up by, as the session
        index reads them (normalising an ANI costs a parse: only for a start,
        or a message that finds no leg)."""
        evidence = evidence_of(message, party)
        session_id = evidence.channel_session_id
        keys = (
            None if session_id is None or is_placeholder(session_id) else session_id,
            dialog_id_of(evidence.associated_dialog_uri),
            # as the resolver reads a consult's ANI (whatever the channel type)
            normalise_ani(evidence.customer_ani, self.resolver.default_region),
        )
        # A key no store can hold names no stored session (start_session
        # refuses one): it matches nothing, as on a store that takes it.
        session, dialog, ani = (k if k is None or _holdable(k) else None for k in keys)
        return NewConsultKeys(sender, session, dialog, ani)

    def desk_up(self, agent: str, *, input_id: str | None = None) -> Answer:
        """The socket layer: ``agent``'s desk connected."""
        return self._presence(agent, True, input_id)

    def desk_down(self, agent: str, *, input_id: str | None = None) -> Answer:
        """The socket layer: ``agent``'s desk disconnected."""
        return self._presence(agent, False, input_id)

    def start_session(self, session: ChannelSession, *, input_id: str | None = None) -> Answer:
        """The customer's call is on. A session id is used once, ever."""
        self._index.check_new(session)  # (an empty index: only the session's own checks)
        for name in ("id", "conversation_id", "customer_ani", "dialog_id", "service_identifier"):
            if getattr(session, name) is not None:
                _storable(getattr(session, name), f"session.{name}")

        def work(tx: Tx) -> Answer:
            names = session_lock_names(session.id, session.dialog_id, self._index.e164(session))
            if (seen := self._lock(tx, names)) is not None:
                return seen
            if tx.session(session.id) is not None:
                raise CcmRefused("session", f"channel session {session.id!r} already exists")
            if (ended := tx.forgotten_session(session.id)) is not None:  # (tidy forgot its row)
                raise CcmRefused("session", f"channel session {session.id!r} already existed: "
                                 f"it ended at {ended} ms")  # fmt: skip
            engine = self._engine([], [], {}, [])
            at = max(self._clock(tx), engine.now)
            out = engine.start_session(session, at)
            tx.add_session(_record(session), self._index.e164(session))
            return self._commit(tx, engine, [], Outcome(None, None, out), at)

        return self._run(input_id, work, default=f"{SESSION_START_INPUT}{session.id}")

    def end_session(self, session_id: str, *, input_id: str | None = None) -> Answer:
        """The customer's call ended; its consults go on."""
        _storable(session_id, "session")

        def work(tx: Tx) -> Answer:
            row, legs = tx.lock_and_load_session([f"session:{session_id}"], session_id)
            if tx.seen is not None:  # applied before: its first answer (see _lock)
                return Answer.from_dict(tx.seen, replayed=True)
            if row is None or row.ended_at is not None:
                raise CcmRefused("session", f"no active channel session {session_id!r}")
            engine = self._engine(legs, [row], {}, [])
            at = max(self._clock(tx), engine.now)
            out = engine.end_session(session_id, at)
            tx.end_session(session_id, at)
            return self._commit(tx, engine, legs, Outcome(None, None, out), at)

        return self._run(input_id, work, default=f"{SESSION_END_INPUT}{session_id}")

    def sweep(self, limit: int = 100) -> list[Answer]:
        """Fire the deadlines that are due, of up to ``limit`` legs no other
        worker holds; one answer per leg stepped (empty when none was due)."""

        def work(tx: Tx) -> list[Answer]:
            now = self._clock(tx)
            stuck = self.stuck
            legs = tx.due_legs(now, limit + len(stuck))
            legs = [row for row in legs if row.key not in stuck][:limit]
            if not legs:
                return []
            try:
                engine = self._engine(legs, [], {}, [])
            except UnreadableRows as exc:
                # One row that cannot be restored must not hold every other
                # due leg back: it is set aside (by _engine), the rest stepped.
                if not exc.legs:  # (each restores alone: not a row's fault)
                    raise
                legs = [row for row in legs if row.key not in exc.legs]  # (stuck may be cleared)
                if not legs:
                    return []
                engine = self._engine(legs, [], {}, [])
            at = max(now, engine.now)
            out = engine.handle_timers(at)
            answer = self._commit(tx, engine, legs, Outcome(None, None, out), at, faults=False)
            return [
                attrs.evolve(
                    answer,
                    leg=row.key,
                    sent=tuple(s for s in answer.sent if s.leg == row.key),
                    due=row.record["machine"]["deadline"],
                    legs=(row.key,),
                )
                for row in legs
            ]

        result: list[Answer] = self.store.run(work)
        return result

    def next_deadline(self) -> int | None:
        """The earliest armed deadline of any leg (engine ms), or None."""
        with self.store.transaction() as tx:
            deadline: int | None = tx.next_deadline()
        return deadline

    def tidy(self) -> None:
        """Forget inbox entries, tombstones and ended sessions well past their
        horizons (the engine itself ignores them; this bounds the tables).
        Legs set aside (:attr:`stuck`) are tried again from here on: the next
        sweep sets aside again those still unreadable."""
        self.stuck.clear()
        with self.store.transaction() as tx:
            now = self._clock(tx)
            tx.forget_before(
                now - 2 * self.tombstone_ms,
                now - 2 * self.tombstone_ms,
                now - 2 * self.ended_session_ms,
                # Twice the inbox's horizon: on SQLite an entry written after
                # the clock stepped back outlives it.
                session_ids_before=now - 4 * self.tombstone_ms,
            )

    # --- the transaction -------------------------------------------------------------------

    def _presence(self, agent: str, up: bool, input_id: str | None) -> Answer:
        _storable(agent, "agent")

        def work(tx: Tx) -> Answer:
            legs, presence = tx.lock_and_load_agent([f"agent:{agent}"], agent)  # (one round trip)
            if tx.seen is not None:  # applied before: its first answer (see _lock)
                return Answer.from_dict(tx.seen, replayed=True)
            engine = self._engine(legs, [], presence, [])
            at = max(self._clock(tx), engine.now)
            out = (engine.desk_up if up else engine.desk_down)(agent, at)
            tx.set_presence(agent, up, at)
            return self._commit(tx, engine, legs, Outcome(None, None, out), at)

        return self._run(input_id, work)

    def _run(
        self, input_id: str | None, work: Callable[[Tx], Answer], *, default: str | None = None
    ) -> Answer:
        """Apply ``work`` once per inbox id: ``input_id`` as given (at most
        :data:`MAX_ID_BYTES`), else ``default``, a prefix and an id its caller
        checked by its own field (the prefix's bytes are on top: an id at the
        limit is taken)."""
        if input_id is not None:
            _storable(input_id, "input_id")
        else:
            input_id = default

        def once(tx: Tx) -> Answer:
            self.faults.reached("before_lock")
            tx.input_id = input_id
            answer = work(tx)
            if answer.replayed:  # applied before: the first answer, nothing written
                return answer
            if input_id is not None:
                tx.remember(input_id, answer.at, answer.to_dict())
            if self.faults.armed("before_commit"):
                tx.flush()  # (see after_outbox)
            self.faults.reached("before_commit")
            return answer

        result: Answer = self.store.run(once)
        if not result.replayed:
            self.faults.reached("after_commit")
        return result

    @staticmethod
    def _lock(tx: Tx, names: list[str]) -> Answer | None:
        """Take an input's locks; for an input already applied, its first
        answer (the inbox is read once the locks are held, so a retry racing
        its original waits for it and then sees it): the caller returns it,
        and the transaction ends writing nothing."""
        tx.lock(names)
        return None if tx.seen is None else Answer.from_dict(tx.seen, replayed=True)

    def _engine(
        self,
        legs: Sequence[LegRow],
        sessions: Sequence[SessionRow],
        presence: Mapping[str, bool],
        tombs: Sequence[tuple[int, str]],
    ) -> CcmEngine:
        """An engine holding only these rows (its clock at their latest time).
        Rows it cannot restore are :class:`UnreadableRows` (a 503, not the
        sender's fault: the input waits for them to be mended), and each leg
        row bad alone is set aside in :attr:`stuck`."""
        try:
            snapshot = self._snapshot(legs, sessions, presence, tombs)  # (reads the rows too)
            engine = CcmEngine.restore(snapshot, self.codec, resolver=self.resolver, own=True)
        except _UNRESTORABLE as exc:
            bad = {}
            for row in legs:
                try:
                    alone = self._snapshot([row], [], {}, [])
                    CcmEngine.restore(alone, self.codec, resolver=self.resolver, own=True)
                except _UNRESTORABLE as each:
                    bad[row.key] = f"{type(each).__name__}: {each}"
            self.stuck.update(bad)
            named = f" (legs {', '.join(sorted(bad))})" if bad else ""
            raise UnreadableRows(
                f"stored rows cannot be restored{named}: {type(exc).__name__}: {exc}", bad
            ) from exc
        if self.stuck:  # read now: mended, so its deadlines are swept again
            for row in legs:
                self.stuck.pop(row.key, None)
        return engine

    def _snapshot(
        self,
        legs: Sequence[LegRow],
        sessions: Sequence[SessionRow],
        presence: Mapping[str, bool],
        tombs: Sequence[tuple[int, str]],
    ) -> dict[str, Any]:
        """What :meth:`_engine` restores: the rows as an engine's snapshot."""
        # (an engine keeps no ended session when it takes none: ended_session_ms 0)
        held = [s for s in sessions if s.ended_at is None or self.ended_session_ms]
        snapshot = {
            "v": 1,
            "now": max((row.record["machine"]["now"] for row in legs), default=0),
            "published": 0,
            "config": self._config,
            "tombstone_ms": self.tombstone_ms,
            "sessions": [s.record for s in held if s.ended_at is None],
            "ended_sessions": [
                [s.ended_at, s.record]
                for s in sorted(held, key=lambda s: (s.ended_at or 0, s.record["id"]))
                if s.ended_at is not None
            ],
            "ended_session_ms": self.ended_session_ms,
            "presence": dict(presence),
            "legs": [row.record for row in legs],
            # Each in the generation the engine buried it in, so it expires as there.
            "tombstones": [[self._tombs.generation_of(at), [dialog]] for at, dialog in tombs],
        }
        # Each session the number it was read as when it started (a region may change).
        if held:
            snapshot["readings"] = {s.record["id"]: [s.ani, _AS_STORED] for s in held}
        return snapshot

    def _commit(
        self,
        tx: Tx,
        engine: CcmEngine,
        legs: Sequence[LegRow],
        outcome: Outcome,
        at: int,
        *,
        buried: Sequence[tuple[int, str]] = (),
        faults: bool = True,
    ) -> Answer:
        """Write back what the input changed, and the outbox rows, in ``tx``."""
        if faults:
            self.faults.reached("after_apply")
        before = {row.key: row for row in legs}
        now_live = {rec["machine"]["leg"]: rec for rec in engine.leg_records()}
        versions: dict[str, int] = {}
        for key, row in before.items():
            versions[key] = row.version + 1
            if key not in now_live:
                tx.delete_leg(key, row.record)
        for key, rec in now_live.items():
            old = before.get(key)
            versions[key] = 1 if old is None else old.version + 1
            if old is None or old.record != rec:
                tx.save_leg(key, versions[key], rec, None if old is None else old.record)
            else:
                versions[key] = old.version
        # Legs that finished now (a deadline's at its own time, a dialog whose
        # tombstone had expired again): their dialogs are tombstones from the
        # commit on, each kept from where the engine holds it.
        loaded = {dialog: self._tombs.generation_of(t) for t, dialog in buried}
        fresh: dict[int, list[str]] = {}
        for dialog, start in engine.buried_at().items():
            if loaded.get(dialog) != start:
                fresh.setdefault(start, []).append(dialog)
        for start, dialogs in sorted(fresh.items()):
            tx.bury(sorted(dialogs), start)
        events = []
        counts: dict[str, int] = {}
        for pub in outcome.published:
            index = counts.get(pub.leg, 0)
            counts[pub.leg] = index + 1
            conversation = pub.event.conversation_id
            events.append(
                NewEvent(
                    partition_of(conversation, self.partitions),
                    conversation,
                    pub.leg,
                    versions.get(pub.leg, 1),
                    index,
                    pub.event.id,
                    pub.json,
                )
            )
        tx.append(events)
        if faults:
            # The writes leave with the commit (on PostgreSQL in its round trip);
            # a crash planned here sends them first, so it leaves the server an
            # open transaction holding them, the case a rollback must clean up.
            if self.faults.armed("after_outbox"):
                tx.flush()
            self.faults.reached("after_outbox")
        # An input that is no report (presence, a session) was applied.
        disposition = "applied" if outcome.disposition is None else outcome.disposition.value
        return Answer(
            outcome.leg, disposition, outcome.late, tuple(_sent(p) for p in outcome.published), at,
            legs=tuple(sorted(before.keys() | now_live.keys())),
        )  # fmt: skip


def _known_to(legs: Sequence[LegRow], dialogs: Sequence[str], party: Party) -> bool:
    """Whether ``legs`` hold every one of ``dialogs``, and each has an agent
    for ``party``: a report on them indexes no new dialog nor agent (the
    engine learns a party's agent only when the leg has none; a report from
    another agent of that party meets the leg as it stands)."""
    try:
        named = {dialog for row in legs for dialog in row.record["dialogs"]}
    except (KeyError, TypeError):  # a row it cannot read: the engine's restore says which
        return False
    return bool(legs) and named.issuperset(dialogs) and _each_has(legs, party)


def _each_has(legs: Sequence[LegRow], party: Party) -> bool:
    """Whether each of ``legs`` has an agent for ``party`` (False for a row it
    cannot read: the engine's restore refuses it, naming it)."""
    try:
        return all(party.value in row.record["agents"] for row in legs)
    except (KeyError, TypeError):
        return False


def _holdable(value: str) -> bool:
    """Text every store and broker can hold: UTF-8 can encode it, it has no
    NUL (PostgreSQL text cannot hold one), and it is at most
    :data:`MAX_ID_BYTES` long."""
    return (
        is_writable(value)
        and "\x00" not in value
        and (len(value) <= MAX_ID_BYTES // 4 or len(value.encode()) <= MAX_ID_BYTES)
    )


def _storable(value: object, field: str) -> None:
    """An id the stores can hold: a string, not blank (restoring a row holding
    a blank id is refused), :func:`_holdable`; else :class:`CcmRefused`."""
    if not isinstance(value, str) or not value.strip() or not _holdable(value):
        raise CcmRefused(field, f"must be a non-blank {_UNHOLDABLE}")


_UNHOLDABLE = f"string that UTF-8 can encode, without NUL, of at most {MAX_ID_BYTES} bytes"


def _sent(pub: Published) -> Sent:
    return Sent(pub.event.id, pub.leg, pub.intent.value, pub.source.value, pub.reason,
                pub.event.conversation_id)  # fmt: skip


def _record(session: ChannelSession) -> dict[str, Any]:
    return attrs.asdict(
        session, value_serializer=lambda _, __, v: sorted(v) if isinstance(v, frozenset) else v
    )


__all__ = ["DEFAULT_PARTITIONS", "MAX_ID_BYTES", "Answer", "DurableCcm", "Sent", "partition_of"]
