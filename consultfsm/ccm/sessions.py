"""The CCM's active channel sessions, indexed so a consult finds its own in O(1).

:class:`SessionIndex` applies exactly the policy of
:meth:`~consultfsm.ccm.correlation.SessionResolver.resolve` (dialog URI, then
session id, then the customer's ANI; ambiguity never falls through), but looks
each kind of evidence up in a dictionary instead of scanning every session,
and normalises a session's ANI once, when it starts. The policy itself is
written once, in :func:`~consultfsm.ccm.correlation.resolve_with`; the
resolver's scan stays the plain reference path, and ``tests/test_ccm.py``
requires the two to agree on generated sessions and evidence, candidates and
their order included.
"""

from __future__ import annotations

from collections.abc import Iterator

from consultfsm.core.errors import ConfigError

from .correlation import (
    ChannelSession,
    ConsultEvidence,
    Resolution,
    SessionResolver,
    normalise_ani,
    resolve_with,
)


class SessionIndex:
    """Active sessions by id, by customer dialog id and by normalised ANI."""

    __slots__ = ("_by_ani", "_by_dialog", "_known", "_sessions", "resolver")

    def __init__(self, resolver: SessionResolver | None = None) -> None:
        self.resolver = SessionResolver() if resolver is None else resolver
        # Each with its E.164 ANI and the region it was read in (reconfigure
        # changes the region for sessions started later; a session keeps its reading).
        self._sessions: dict[str, tuple[ChannelSession, str | None, str | None]] = {}
        self._by_dialog: dict[str, dict[str, None]] = {}  # ordered sets: creation order
        self._by_ani: dict[str, dict[str, None]] = {}
        # The E.164 form of each ANI exactly as an active session spells it, in
        # the region it was read in: a consult that sends the same text, read in
        # the same region, needs no phonenumbers parse.
        self._known: dict[tuple[str, str | None], tuple[str | None, int]] = {}
        # ((text, region) -> (E.164, sessions))

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[ChannelSession]:
        return (s for s, _, _ in self._sessions.values())

    def get(self, session_id: str) -> ChannelSession | None:
        entry = self._sessions.get(session_id)
        return None if entry is None else entry[0]

    def check_new(self, session: ChannelSession) -> None:
        """:class:`ConfigError` unless :meth:`add` would take ``session``."""
        if not isinstance(session, ChannelSession):
            raise ConfigError("session", f"must be a ChannelSession, got {type(session).__name__}")
        for name in ("id", "conversation_id", "customer_ani"):
            value = getattr(session, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"session.{name}", "must be a non-empty string")
        for name in ("dialog_id", "service_identifier"):
            value = getattr(session, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"session.{name}", "must be a string or None")
        # A blank service identifier is refused: a leg's row holding it is
        # refused on restore. (A blank dialog id is not: rows of earlier
        # releases hold some, and restore indexes them through here.)
        if session.service_identifier is not None and not session.service_identifier.strip():
            raise ConfigError("session.service_identifier", "must be a non-empty string or None")
        if not isinstance(session.agents, frozenset) or not all(
            isinstance(a, str) for a in session.agents
        ):
            raise ConfigError("session.agents", "must be a frozenset of agent ids")
        if session.id in self._sessions:
            raise ConfigError("session", f"channel session {session.id!r} already exists")
        if not session.active:
            raise ConfigError("session", f"channel session {session.id!r} is not active")

    def e164(self, session: ChannelSession) -> str | None:
        """The session's ANI as the index keys it: E.164, or None (another
        channel type, or a number that names no customer)."""
        if session.channel_type != self.resolver.channel_type:
            return None
        return normalise_ani(session.customer_ani, self.resolver.default_region)

    def reading(self, session_id: str) -> tuple[str | None, str | None]:
        """An indexed session's ANI as it was read: ``(E.164 or None, region)``."""
        _, ani, region = self._sessions[session_id]
        return ani, region

    def add(
        self, session: ChannelSession, *, reading: tuple[str | None, str | None] | None = None
    ) -> None:
        """Index an active session; :class:`ConfigError` if its id is taken or it
        is not active. ``reading``: its ANI as another index read it
        (:meth:`reading`), kept (an ended session is the number it was)."""
        self.check_new(session)
        ani, region = (self.e164(session), self.resolver.default_region) if reading is None else (
            reading)  # fmt: skip
        self._sessions[session.id] = (session, ani, region)
        if session.channel_type == self.resolver.channel_type:
            _, count = self._known.get((session.customer_ani, region), (ani, 0))
            self._known[session.customer_ani, region] = (ani, count + 1)
        if session.dialog_id is not None:
            self._by_dialog.setdefault(session.dialog_id, {})[session.id] = None
        if ani is not None:
            self._by_ani.setdefault(ani, {})[session.id] = None

    def end(self, session_id: str) -> ChannelSession:
        """Drop an ended session from every index; KeyError if it is not active."""
        session, ani, region = self._sessions.pop(session_id)
        text = (session.customer_ani, region)
        known = self._known.get(text)
        if known is not None and session.channel_type == self.resolver.channel_type:
            if known[1] == 1:
                del self._known[text]
            else:
                self._known[text] = (known[0], known[1] - 1)
        for index, key in ((self._by_dialog, session.dialog_id), (self._by_ani, ani)):
            if key is not None:
                bucket = index[key]
                del bucket[session_id]
                if not bucket:
                    del index[key]
        return session

    def resolve(self, evidence: ConsultEvidence) -> Resolution:
        """The consult's session, or the :class:`CorrelationError` the resolver would raise."""
        return resolve_with(
            evidence,
            by_dialog=lambda dialog: self._hits(self._by_dialog.get(dialog)),
            by_id=self._with_id,
            ani_of=lambda: self._normalised(evidence.customer_ani),
            by_ani=lambda ani: self._hits(self._by_ani.get(ani)),
        )  # fmt: skip

    def _normalised(self, value: str | None) -> str | None:
        # The same function of the same text: a session's own answer stands in.
        known = None if value is None else self._known.get((value, self.resolver.default_region))
        if known is not None:
            return known[0]
        return normalise_ani(value, self.resolver.default_region)

    def _with_id(self, session_id: str) -> list[ChannelSession]:
        entry = self._sessions.get(session_id)
        return [] if entry is None else [entry[0]]

    def _hits(self, ids: dict[str, None] | None) -> list[ChannelSession]:
        return [] if ids is None else [self._sessions[i][0] for i in ids]


__all__ = ["SessionIndex"]
