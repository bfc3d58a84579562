"""Finding the customer's channel session for a consult leg.

The consult is always attached to the customer's *existing* channel session;
this module only looks sessions up and never creates one. Evidence is tried
in a fixed order, strongest first:

1. ``associatedDialogUri`` (UCCE gives it; its last segment is the customer
   dialog's id, which is the voice channel session's dialog);
2. an explicit channel session id (a desk that already knows it);
3. the customer's ANI (CCX and queue consults, the design note's fix),
   compared as E.164 numbers normalised by ``phonenumbers``.

Evidence that is given but matches nothing falls through to the next kind;
when nothing matches the policy raises, it never guesses. Placeholder and
anonymous ANIs never match. Two active sessions for one piece of evidence (an
ANI, or a dialog URI) are ambiguous unless exactly one of them belongs to a
conversation Agent A is part of; ambiguity never falls through.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from enum import StrEnum

import attrs
import phonenumbers

from consultfsm.core.errors import ConfigError, ConsultFsmError
from consultfsm.core.text import is_writable
from consultfsm.wire.ani import PLACEHOLDER_ANIS, is_placeholder


class Evidence(StrEnum):
    """Which piece of evidence found the session (in priority order)."""

    ASSOCIATED_DIALOG_URI = "associated_dialog_uri"
    CHANNEL_SESSION_ID = "channel_session_id"
    CUSTOMER_ANI = "customer_ani"


# --- errors ---------------------------------------------------------------------------


class CorrelationError(ConsultFsmError):
    """The customer's channel session could not be determined."""


class NoUsableEvidence(CorrelationError):
    """The consult carries nothing to look a session up by: no dialog URI, no
    session id, and an ANI that is missing, a placeholder or anonymous."""


class SessionNotFound(CorrelationError):
    """The evidence was usable but no active session matches it."""

    def __init__(self, tried: tuple[str, ...]) -> None:
        self.tried = tried
        super().__init__("no active channel session matches " + "; ".join(tried))


class AmbiguousSession(CorrelationError):
    """Several active sessions match one piece of evidence (the customer's ANI,
    or an ``associatedDialogUri``) and Agent A's conversation does not single
    one out. The policy refuses to guess.

    ``value`` is what matched (the E.164 ANI, or the dialog id), ``evidence``
    which kind it is; ``ani`` is the ANI when the evidence is the ANI, else None.
    """

    def __init__(
        self, value: str, candidates: tuple[str, ...], evidence: Evidence = Evidence.CUSTOMER_ANI
    ) -> None:
        self.value = value
        self.candidates = candidates
        self.evidence = evidence
        self.ani = value if evidence is Evidence.CUSTOMER_ANI else None
        what = {
            Evidence.ASSOCIATED_DIALOG_URI: f"associatedDialogUri dialog {value!r}",
            Evidence.CHANNEL_SESSION_ID: f"channel session id {value!r}",
            Evidence.CUSTOMER_ANI: f"customer ANI {value}",
        }[evidence]
        super().__init__(
            f"{what} matches {len(candidates)} active channel sessions "
            f"({', '.join(candidates)}) and agent A's conversation does not decide"
        )


# --- values ---------------------------------------------------------------------------


@attrs.frozen(slots=True)
class ChannelSession:
    """A customer's channel session as the CCM keeps it.

    ``dialog_id`` is the Cisco dialog id of the customer call (the voice
    session's key); ``agents`` are the agents in the session's conversation,
    used only to disambiguate an ANI.
    """

    id: str
    conversation_id: str
    customer_ani: str
    dialog_id: str | None = None
    service_identifier: str | None = None
    channel_type: str = "CISCO_CC"
    active: bool = True
    agents: frozenset[str] = attrs.field(default=frozenset(), validator=lambda s, _, __: _valid(s))


class InvalidSession(ConsultFsmError, ValueError):
    """A :class:`ChannelSession` built from values of the wrong kind; ``field``
    names the first (its ids go out in every event the CCM publishes)."""

    def __init__(self, field: str, why: str) -> None:
        self.field = field
        self.why = why
        super().__init__(f"channel session {field}: {why}")


def _valid(session: ChannelSession) -> None:
    for name in ("id", "conversation_id"):
        value = getattr(session, name)
        if value.__class__ is not str or not value.strip() or not is_writable(value):
            raise InvalidSession(name, f"must be a non-empty string, got {value!r:.40}")
    for name in ("customer_ani", "channel_type"):
        value = getattr(session, name)
        if value.__class__ is not str or not is_writable(value):
            raise InvalidSession(name, f"must be a string, got {value!r:.40}")
    for name in ("dialog_id", "service_identifier"):
        value = getattr(session, name)
        if value is not None and (value.__class__ is not str or not is_writable(value)):
            raise InvalidSession(name, f"must be a string or None, got {value!r:.40}")
    if session.active.__class__ is not bool:
        raise InvalidSession("active", f"must be true or false, got {session.active!r:.40}")
    agents = session.agents
    if not isinstance(agents, frozenset) or any(
        a.__class__ is not str or not is_writable(a) for a in agents
    ):
        raise InvalidSession("agents", "must be a frozenset of agent ids")


@attrs.frozen(slots=True)
class ConsultEvidence:
    """What a consult leg knows that can point at the customer's session."""

    associated_dialog_uri: str | None = None
    channel_session_id: str | None = None
    customer_ani: str | None = None
    agent_a: str | None = None


def stronger_than(evidence: ConsultEvidence, kind: Evidence) -> ConsultEvidence | None:
    """Only the parts of ``evidence`` stronger than ``kind`` (the order of
    :class:`Evidence`; each kind's value names its field), or None when it
    holds none of them.

    >>> both = ConsultEvidence(channel_session_id="S1", customer_ani="+1")
    >>> stronger_than(both, Evidence.CUSTOMER_ANI) == ConsultEvidence(channel_session_id="S1")
    True
    >>> stronger_than(ConsultEvidence(customer_ani="+1"), Evidence.CUSTOMER_ANI) is None
    True
    """
    order = list(Evidence)
    parts = {kind.value: getattr(evidence, kind.value) for kind in order[: order.index(kind)]}
    if all(value is None for value in parts.values()):
        return None
    return ConsultEvidence(**parts, agent_a=evidence.agent_a)


@attrs.frozen(slots=True)
class Resolution:
    """The session found, and which evidence found it."""

    session: ChannelSession
    evidence: Evidence


# --- normalisation --------------------------------------------------------------------


_POSSIBLE = phonenumbers.ValidationResult.IS_POSSIBLE


@functools.lru_cache(maxsize=65_536)
def normalise_ani(value: str | None, default_region: str | None = None) -> str | None:
    """The ANI as an E.164 string, or None when it cannot identify a customer
    (placeholder, anonymous, all zeros, not a possible phone number).

    National forms (``0300 1234567``) and ``00`` prefixes need
    ``default_region`` (an ISO 3166 code such as ``"PK"``); without one only
    ``+``-prefixed numbers normalise. A number only dialable within its area
    (``phonenumbers``' "local only" lengths: ``7001`` in ``GB``, ``70011`` in
    ``PK``) is no customer's, so an agent's extension sent for the ANI finds
    no session there; a region whose plan has no such lengths (``DE``:
    ``7001`` is ``+497001``) cannot tell an extension from a short number, so
    desks must send the customer's number, never A's extension. Pure, so its
    answers are cached: a number seen again costs a lookup.
    """
    if value is None or is_placeholder(value):
        return None
    try:
        number = phonenumbers.parse(value.strip(), default_region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_possible_number_with_reason(number) != _POSSIBLE:
        return None  # (IS_POSSIBLE_LOCAL_ONLY too: an extension's length)
    if not phonenumbers.national_significant_number(number).strip("0"):
        return None  # all zeros: a switch's placeholder, not a customer (they would all match)
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164


#: What :func:`normalise_ani` writes: "+", a country code (never 0), then
#: the national number; phonenumbers' possible lengths come to 19 digits at
#: most (Indonesia: 62, then up to 17).
_E164 = re.compile(r"\+[1-9][0-9]{1,18}")


def is_e164(value: str) -> bool:
    """Whether ``value`` has the form :func:`normalise_ani` writes. A number
    read earlier is checked by its form alone: normalising it again need not
    give it back (``+4300664123456`` reads as ``+430664123456``, which reads
    as ``+43664123456``), nor need phonenumbers' metadata of a later release.

    >>> is_e164("+923001234567"), is_e164("03001234567"), is_e164("+0300")
    (True, False, False)
    """
    return _E164.fullmatch(value) is not None


def dialog_id_of(uri: str | None) -> str | None:
    """The dialog id an ``associatedDialogUri`` points at
    (``/finesse/api/Dialog/<id>``, a full URL, or a bare id); None for placeholders."""
    if uri is None or is_placeholder(uri):
        return None
    path = uri.strip().split("?", 1)[0].rstrip("/")
    last = path.rsplit("/", 1)[-1]
    return last or None


# --- the policy -----------------------------------------------------------------------


@attrs.frozen(slots=True)
class SessionResolver:
    """The resolution policy. ``default_region`` drives ANI normalisation;
    ``channel_type`` scopes ANI matching to the voice channel's sessions."""

    default_region: str | None = attrs.field(default=None)
    channel_type: str = "CISCO_CC"

    @default_region.validator
    def _check_region(self, _: object, value: str | None) -> None:
        if value is not None and value not in phonenumbers.SUPPORTED_REGIONS:
            why = f"default_region {value!r} is not a region phonenumbers knows"
            raise ConfigError("default_region", why)

    def resolve(self, evidence: ConsultEvidence, sessions: Iterable[ChannelSession]) -> Resolution:
        """Find the customer's active channel session, or raise a
        :class:`CorrelationError` subclass saying why not."""
        active = [s for s in sessions if s.active]
        return resolve_with(
            evidence,
            by_dialog=lambda dialog: [s for s in active if s.dialog_id == dialog],
            by_id=lambda session_id: [s for s in active if s.id == session_id],
            ani_of=lambda: normalise_ani(evidence.customer_ani, self.default_region),
            by_ani=lambda ani: [
                s for s in active
                if s.channel_type == self.channel_type
                and normalise_ani(s.customer_ani, self.default_region) == ani
            ],
        )  # fmt: skip


def resolve_with(
    evidence: ConsultEvidence,
    *,
    by_dialog: Callable[[str], list[ChannelSession]],
    by_id: Callable[[str], list[ChannelSession]],
    ani_of: Callable[[], str | None],
    by_ani: Callable[[str], list[ChannelSession]],
) -> Resolution:
    """The policy, over any way of looking active sessions up: the plain scan
    of :meth:`SessionResolver.resolve`, or the dictionaries of
    :class:`~consultfsm.ccm.sessions.SessionIndex`. ``ani_of`` gives the
    evidence's ANI in E.164 (None when unusable), asked only when needed."""
    tried: list[str] = []
    dialog = dialog_id_of(evidence.associated_dialog_uri)
    if dialog is not None:
        hits = by_dialog(dialog)
        if hits:
            return _one(hits, evidence, dialog, Evidence.ASSOCIATED_DIALOG_URI)
        tried.append(f"associatedDialogUri dialog {dialog!r}")

    session_id = evidence.channel_session_id
    if session_id is not None and not is_placeholder(session_id):
        hits = by_id(session_id)
        if hits:
            return _one(hits, evidence, session_id, Evidence.CHANNEL_SESSION_ID)
        tried.append(f"channel session {session_id!r}")

    ani = ani_of()
    if ani is not None:
        hits = by_ani(ani)
        if hits:
            return _one(hits, evidence, ani, Evidence.CUSTOMER_ANI)
        tried.append(f"customer ANI {ani}")

    if not tried:
        raise NoUsableEvidence(
            "no associatedDialogUri, no channel session id, and the customer ANI "
            f"{evidence.customer_ani!r} is missing, a placeholder, anonymous or not a number"
        )
    raise SessionNotFound(tuple(tried))


def _one(
    hits: list[ChannelSession], evidence: ConsultEvidence, value: str, kind: Evidence
) -> Resolution:
    """The single session ``hits`` names. Several are ambiguous, whichever
    evidence found them, unless exactly one is A's own conversation: a match
    that is not unique is never resolved by falling through to weaker evidence."""
    if len(hits) == 1:
        return Resolution(hits[0], kind)
    mine = [s for s in hits if evidence.agent_a in s.agents]
    if len(mine) == 1:
        return Resolution(mine[0], kind)
    raise AmbiguousSession(value, tuple(s.id for s in hits), kind)


__all__ = [
    "PLACEHOLDER_ANIS",
    "AmbiguousSession",
    "ChannelSession",
    "ConsultEvidence",
    "CorrelationError",
    "Evidence",
    "InvalidSession",
    "NoUsableEvidence",
    "Resolution",
    "SessionNotFound",
    "SessionResolver",
    "dialog_id_of",
    "is_e164",
    "is_placeholder",
    "normalise_ani",
    "resolve_with",
    "stronger_than",
]
