"""Reading replay traces: one JSON object per line, each a typed input.

A trace line is ``{"at": <ms>, "input": "<kind>", ...fields}``; see
``docs/trace-format.md`` for every kind and field. This module only turns
text into frozen values; what they *do* is :mod:`consultfsm.replay.system`'s job.
Unknown keys are errors, so a typo in a trace cannot pass silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import attrs

from consultfsm.core.errors import ConsultFsmError
from consultfsm.wire.cim import MAX_TIMESTAMP_MS, TimestampForm
from consultfsm.wire.finesse import (
    Dialog,
    Document,
    FinesseParseError,
    Update,
    parse_dialogs,
    parse_update,
)
from consultfsm.wire.strict_json import NotUnicode, loads_strict


class TraceInputKind(StrEnum):
    """The ``input`` of a trace line."""

    CONFIG = "config"
    TICK = "tick"
    CUSTOMER_SESSION_STARTED = "customer_session_started"
    CUSTOMER_SESSION_ENDED = "customer_session_ended"
    CONSULT_INITIATED = "consult_initiated"
    ALERTING = "alerting"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    RONA = "rona"
    NO_AGENT = "no_agent"
    HELD = "held"
    RETRIEVED = "retrieved"
    TRANSFERRED = "transferred"
    CONFERENCED = "conferenced"
    REKEYED = "rekeyed"
    FAILED = "failed"
    DROPPED = "dropped"
    BROWSER_DISCONNECTED = "browser_disconnected"
    BROWSER_RESTORED = "browser_restored"
    LOGGED_OUT = "logged_out"
    CIM_MESSAGE = "cim_message"
    AGENT_DESK = "agent_desk"
    FINESSE = "finesse"
    DIALOGS = "dialogs"


#: The CTI inputs about one leg's consult dialog that carry nothing but the leg
#: (and, optionally, the source's own time): each is the leg input of that name.
PLAIN_CALL_INPUTS: frozenset[TraceInputKind] = frozenset({
    TraceInputKind.ALERTING, TraceInputKind.ACCEPTED, TraceInputKind.RONA,
    TraceInputKind.NO_AGENT, TraceInputKind.HELD, TraceInputKind.RETRIEVED,
    TraceInputKind.TRANSFERRED, TraceInputKind.CONFERENCED, TraceInputKind.FAILED,
})  # fmt: skip
#: The inputs about one agent, fanned out to each of the agent's unfinished legs.
AGENT_INPUTS: frozenset[TraceInputKind] = frozenset({
    TraceInputKind.BROWSER_DISCONNECTED, TraceInputKind.BROWSER_RESTORED,
    TraceInputKind.LOGGED_OUT,
})  # fmt: skip


#: ``by`` of a ``dropped`` input when the customer hung up.
CUSTOMER = "customer"


class TraceError(ConsultFsmError, ValueError):
    """A trace line is malformed: ``field`` names the offending key; ``input_kind``
    the line's input, when it names a known one."""

    def __init__(self, field: str, why: str, *, at: int | None = None, leg: str | None = None,
                 input_kind: str | None = None):  # fmt: skip
        self.field = field
        self.why = why
        self.at = at
        self.leg = leg
        self.input_kind = input_kind
        super().__init__(f"{field}: {why}")


@attrs.frozen(slots=True)
class Config:
    """Change settings for what follows (``None`` leaves a setting as it is).
    Timer windows apply to legs created afterwards."""

    at: int
    ring_ms: int | None = None
    grace_ms: int | None = None
    queue_ttl_ms: int | None = None
    default_region: str | None = None
    service_identifier: str | None = None
    timestamp_form: TimestampForm | None = None
    epoch_ms: int | None = None


@attrs.frozen(slots=True)
class Tick:
    """Advance the virtual clock to ``at``: fire due timers, nothing else."""

    at: int


@attrs.frozen(slots=True)
class SessionStarted:
    """The customer's call reached an agent: the CCM has a channel session."""

    at: int
    session: str
    conversation: str
    customer_ani: str
    dialog: str | None = None
    service_identifier: str | None = None
    agents: tuple[str, ...] = ()


@attrs.frozen(slots=True)
class SessionEnded:
    """The customer's channel session is no longer active."""

    at: int
    session: str


@attrs.frozen(slots=True)
class ConsultInitiated:
    """Agent A started a consult to Agent B: a new leg. A consult to a queue
    (``queue``) has no agent yet: ``agent_b`` is None until ``offered``. A
    ``direct`` consult, dialled to B's extension, has no RONA window."""

    at: int
    leg: str
    agent_a: str
    agent_b: str | None
    customer_ani: str | None = None
    associated_dialog_uri: str | None = None
    channel_session_id: str | None = None
    call_id: str | None = None
    service_identifier: str | None = None
    queue: bool = False
    direct: bool = False


@attrs.frozen(slots=True)
class CallInput:
    """A CTI event about a leg's consult dialog that carries nothing else
    (:data:`PLAIN_CALL_INPUTS`). ``source_at`` is the source's own time of the
    report (Finesse ``stateChangeTime``), for the leg's stale-report rule."""

    at: int
    kind: TraceInputKind
    leg: str
    source_at: int | None = None


@attrs.frozen(slots=True)
class Offered:
    """The queue offers a queue consult to ``agent``."""

    at: int
    leg: str
    agent: str
    source_at: int | None = None


@attrs.frozen(slots=True)
class Rekeyed:
    """The consult goes on under another dialog id, ``dialog``."""

    at: int
    leg: str
    dialog: str
    source_at: int | None = None


@attrs.frozen(slots=True)
class Dropped:
    """Someone hung up: ``by`` is A's id or B's id (the consult ends), or
    ``customer`` (the customer's own call ended; the consult goes on)."""

    at: int
    leg: str
    by: str
    source_at: int | None = None


@attrs.frozen(slots=True)
class Browser:
    """An agent's browser went away or came back, or Finesse logged the agent
    out (every unfinished leg of that agent)."""

    at: int
    kind: TraceInputKind
    agent: str


@attrs.frozen(slots=True)
class CimReport:
    """A raw CIM message a desk sends the CCM on its own (a re-send, the other
    desk's copy, a legacy build), given as JSON text or an object."""

    at: int
    sender: str
    message: Any = attrs.field(eq=False)


@attrs.frozen(slots=True)
class AgentDeskOpened:
    """From now on ``agent``'s desk is an :class:`~consultfsm.desk.AgentDesk`
    fed Finesse (``finesse``, ``dialogs``): the agent's Finesse user id and
    phone extension, and where the call data holds the customer's number
    (:class:`~consultfsm.desk.CustomerNumberSource`; unset: Expertflow's
    ``callVariable1`` as ``<ANI>:<primaryDN>``)."""

    at: int
    agent: str
    extension: str
    agent_id: str
    customer_variable: str | None = None
    customer_separator: str | None = None  # "" : the whole value
    customer_part: int | None = None


@attrs.frozen(slots=True)
class FinesseUpdate:
    """An XMPP notification reaching ``agent``'s page (XML text, or the JSON
    object a gadget gets), read when the line is."""

    at: int
    agent: str
    update: Update = attrs.field(eq=False)


@attrs.frozen(slots=True)
class DialogList:
    """The dialog list ``agent``'s page read on return
    (``GET /finesse/api/User/{id}/Dialogs``)."""

    at: int
    agent: str
    dialogs: tuple[Dialog, ...] = attrs.field(eq=False)


TraceInput = (
    Config | Tick | SessionStarted | SessionEnded | ConsultInitiated | CallInput | Offered
    | Rekeyed | Dropped | Browser | CimReport | AgentDeskOpened | FinesseUpdate | DialogList
)  # fmt: skip
#: The inputs that drive an agent's AgentDesk from what its page receives.
DeskFeed = FinesseUpdate | DialogList
#: The inputs about one leg's consult dialog, from the CTI.
LegInput = CallInput | Offered | Rekeyed | Dropped


# --- field readers --------------------------------------------------------------------


def _str(obj: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    if key not in obj or obj[key] is None:
        if required:
            raise TraceError(key, "missing")
        return None
    value = obj[key]
    if not isinstance(value, str):
        raise TraceError(key, f"expected a string, got {type(value).__name__}")
    if required and not value.strip():
        raise TraceError(key, "must not be empty")
    return value


def _req(obj: Mapping[str, Any], key: str) -> str:
    value = _str(obj, key)
    assert value is not None
    return value


def _int(obj: Mapping[str, Any], key: str, *, positive: bool) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TraceError(key, f"expected an integer, got {type(value).__name__}")
    if positive and value <= 0:
        raise TraceError(key, "must be positive")
    return value


def _bool(obj: Mapping[str, Any], key: str) -> bool:
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise TraceError(key, f"expected true or false, got {type(value).__name__}")
    return value


def _source_at(obj: Mapping[str, Any]) -> int | None:
    value = _int(obj, "source_at", positive=False)
    if value is not None and value < 0:
        raise TraceError("source_at", "must not be negative")
    return value


def _fields(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in attrs.fields(cls)) - {"at", "kind"}


#: The keys each input may carry besides ``at`` and ``input`` (from its class).
_FIELDS: dict[TraceInputKind, frozenset[str]] = {
    TraceInputKind.CONFIG: _fields(Config),
    TraceInputKind.TICK: _fields(Tick),
    TraceInputKind.CUSTOMER_SESSION_STARTED: _fields(SessionStarted),
    TraceInputKind.CUSTOMER_SESSION_ENDED: _fields(SessionEnded),
    TraceInputKind.CONSULT_INITIATED: _fields(ConsultInitiated),
    **dict.fromkeys(PLAIN_CALL_INPUTS, _fields(CallInput)),
    TraceInputKind.OFFERED: _fields(Offered),
    TraceInputKind.REKEYED: _fields(Rekeyed),
    TraceInputKind.DROPPED: _fields(Dropped),
    **dict.fromkeys(AGENT_INPUTS, _fields(Browser)),
    TraceInputKind.CIM_MESSAGE: frozenset({"from", "message"}),  # ``from`` is a keyword
    TraceInputKind.AGENT_DESK: _fields(AgentDeskOpened),
    TraceInputKind.FINESSE: frozenset({"agent", "xml", "json"}),
    TraceInputKind.DIALOGS: frozenset({"agent", "xml", "json"}),
}


def _document(obj: Mapping[str, Any]) -> Document:
    """The ``xml`` text or ``json`` object of a Finesse input (exactly one)."""
    given = [k for k in ("xml", "json") if obj.get(k) is not None]
    if len(given) != 1:
        raise TraceError("xml", "give the document as `xml` (text) or `json` (object), once")
    value = obj[given[0]]
    if given[0] == "xml" and not isinstance(value, str):
        raise TraceError("xml", f"expected XML text, got {type(value).__name__}")
    if given[0] == "json" and not isinstance(value, dict):
        raise TraceError("json", f"expected an object, got {type(value).__name__}")
    return value  # type: ignore[no-any-return]


def _finesse(kind: TraceInputKind, at: int, obj: Mapping[str, Any]) -> TraceInput:
    agent, document = _req(obj, "agent"), _document(obj)
    field = "xml" if "xml" in obj else "json"
    try:
        if kind is TraceInputKind.FINESSE:
            return FinesseUpdate(at, agent, parse_update(document))
        return DialogList(at, agent, parse_dialogs(document))
    except FinesseParseError as exc:
        raise TraceError(field, str(exc)) from None


def _build(kind: TraceInputKind, at: int, obj: Mapping[str, Any]) -> TraceInput:
    K = TraceInputKind  # noqa: N806 - a short alias keeps the branches readable
    if kind is K.CONFIG:
        form = _str(obj, "timestamp_form", required=False)
        try:
            timestamp_form = None if form is None else TimestampForm(form)
        except ValueError:
            allowed = [f.value for f in TimestampForm]
            raise TraceError("timestamp_form", f"{form!r} is not one of {allowed}") from None
        epoch = _int(obj, "epoch_ms", positive=False)
        if epoch is not None and epoch < 0:
            raise TraceError("epoch_ms", "must not be negative")
        if epoch is not None and epoch > MAX_TIMESTAMP_MS:
            raise TraceError("epoch_ms", _PAST_9999.format(epoch))
        return Config(
            at, _int(obj, "ring_ms", positive=True), _int(obj, "grace_ms", positive=True),
            _int(obj, "queue_ttl_ms", positive=True), _str(obj, "default_region", required=False),
            _str(obj, "service_identifier", required=False), timestamp_form, epoch,
        )  # fmt: skip
    if kind is K.TICK:
        return Tick(at)
    if kind is K.CUSTOMER_SESSION_STARTED:
        agents = obj.get("agents")
        if agents is None:  # absent, or null: no agent of its own
            agents = []
        if not isinstance(agents, list) or not all(isinstance(a, str) for a in agents):
            raise TraceError("agents", "expected a list of agent ids")
        return SessionStarted(
            at, _req(obj, "session"), _req(obj, "conversation"), _req(obj, "customer_ani"),
            _str(obj, "dialog", required=False), _str(obj, "service_identifier", required=False),
            tuple(agents),
        )  # fmt: skip
    if kind is K.CUSTOMER_SESSION_ENDED:
        return SessionEnded(at, _req(obj, "session"))
    if kind is K.CONSULT_INITIATED:
        queue, direct = _bool(obj, "queue"), _bool(obj, "direct")
        if queue and obj.get("agent_b") is not None:
            raise TraceError("agent_b", "a queue consult has no agent yet: it is `offered` one")
        if queue and direct:
            raise TraceError("direct", "a queue consult is routed, never direct")
        return ConsultInitiated(
            at, _req(obj, "leg"), _req(obj, "agent_a"), None if queue else _req(obj, "agent_b"),
            _str(obj, "customer_ani", required=False),
            _str(obj, "associated_dialog_uri", required=False),
            _str(obj, "channel_session_id", required=False),
            _str(obj, "call_id", required=False), _str(obj, "service_identifier", required=False),
            queue, direct,
        )  # fmt: skip
    if kind in PLAIN_CALL_INPUTS:
        return CallInput(at, kind, _req(obj, "leg"), _source_at(obj))
    if kind is K.OFFERED:
        return Offered(at, _req(obj, "leg"), _req(obj, "agent"), _source_at(obj))
    if kind is K.REKEYED:
        return Rekeyed(at, _req(obj, "leg"), _req(obj, "dialog"), _source_at(obj))
    if kind is K.DROPPED:
        return Dropped(at, _req(obj, "leg"), _req(obj, "by"), _source_at(obj))
    if kind in AGENT_INPUTS:
        return Browser(at, kind, _req(obj, "agent"))
    if kind is K.AGENT_DESK:
        agent = _req(obj, "agent")
        part = _int(obj, "customer_part", positive=False)
        if part is not None and part < 0:
            raise TraceError("customer_part", "must not be negative")
        return AgentDeskOpened(
            at, agent, _req(obj, "extension"), _str(obj, "agent_id", required=False) or agent,
            _str(obj, "customer_variable", required=False),
            _str(obj, "customer_separator", required=False), part,
        )  # fmt: skip
    if kind in (K.FINESSE, K.DIALOGS):
        return _finesse(kind, at, obj)
    if "message" not in obj:
        raise TraceError("message", "missing")
    return CimReport(at, _req(obj, "from"), obj["message"])


#: The ``input`` spelling of each input class that has no ``kind`` field.
_KIND_OF: dict[type, TraceInputKind] = {
    Config: TraceInputKind.CONFIG,
    Tick: TraceInputKind.TICK,
    SessionStarted: TraceInputKind.CUSTOMER_SESSION_STARTED,
    SessionEnded: TraceInputKind.CUSTOMER_SESSION_ENDED,
    ConsultInitiated: TraceInputKind.CONSULT_INITIATED,
    Offered: TraceInputKind.OFFERED,
    Rekeyed: TraceInputKind.REKEYED,
    Dropped: TraceInputKind.DROPPED,
    CimReport: TraceInputKind.CIM_MESSAGE,
    AgentDeskOpened: TraceInputKind.AGENT_DESK,
    FinesseUpdate: TraceInputKind.FINESSE,
    DialogList: TraceInputKind.DIALOGS,
}


def kind_of(item: TraceInput) -> TraceInputKind:
    """The ``input`` of the line ``item`` was read from."""
    if isinstance(item, CallInput | Browser):
        return item.kind
    return _KIND_OF[type(item)]


#: Times are bounded by what a CIM timestamp can carry (and the replay adds
#: ``epoch_ms`` on top, which :class:`consultfsm.replay.system.System` checks).
_PAST_9999 = "{} ms is after year 9999, the last time a CIM timestamp can carry"


def parse_input(line: str) -> TraceInput:
    """Read one trace line; raises :class:`TraceError` naming the bad field."""
    try:
        obj = loads_strict(line)
    except NotUnicode as exc:
        raise TraceError(exc.path, exc.why) from None
    except (ValueError, RecursionError) as exc:
        raise TraceError("$", f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise TraceError("$", f"expected an object, got {type(obj).__name__}")
    at_raw = obj.get("at")
    leg_raw = obj.get("leg")
    leg = leg_raw if isinstance(leg_raw, str) else None
    if not isinstance(at_raw, int) or isinstance(at_raw, bool):
        raise TraceError("at", "expected integer milliseconds", leg=leg)
    if at_raw < 0:
        raise TraceError("at", "must not be negative", leg=leg)
    if at_raw > MAX_TIMESTAMP_MS:
        raise TraceError("at", _PAST_9999.format(at_raw), leg=leg)
    raw_kind = obj.get("input")
    try:
        kind = TraceInputKind(str(raw_kind)) if isinstance(raw_kind, str) else None
    except ValueError:
        kind = None
    if kind is None:
        raise TraceError("input", f"unknown input {raw_kind!r}", at=at_raw, leg=leg)
    unknown = sorted(set(obj) - _FIELDS[kind] - {"at", "input"})
    if unknown:
        raise TraceError(unknown[0], f"not a field of {kind.value}", at=at_raw, leg=leg,
                         input_kind=kind.value)  # fmt: skip
    try:
        return _build(kind, at_raw, obj)
    except TraceError as exc:
        raise TraceError(exc.field, exc.why, at=at_raw, leg=leg, input_kind=kind.value) from None


__all__ = [
    "AGENT_INPUTS",
    "CUSTOMER",
    "PLAIN_CALL_INPUTS",
    "AgentDeskOpened",
    "Browser",
    "CallInput",
    "CimReport",
    "Config",
    "ConsultInitiated",
    "DeskFeed",
    "DialogList",
    "Dropped",
    "FinesseUpdate",
    "LegInput",
    "Offered",
    "Rekeyed",
    "SessionEnded",
    "SessionStarted",
    "Tick",
    "TraceError",
    "TraceInput",
    "TraceInputKind",
    "kind_of",
    "parse_input",
]
