"""What a leg *is*, declared once: its identifying facts and its timer windows.

:class:`LegFacts` declares each fact once. Its attrs fields carry the
validation (``kind`` in each field's metadata), and everything else derives
from them: the leg's slots and its fast ``__init__`` (:mod:`consultfsm.core._speed`),
the snapshot's fields and its dict form (:mod:`consultfsm.core.snapshot`), and
what events may copy from a leg (:mod:`consultfsm.core.events`). Adding a fact
is one field here and one parameter of :class:`~consultfsm.core.leg.Leg`'s
``__init__``, which passes it on.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import attrs

from .errors import ConfigError, InvalidLeg
from .states import Timer
from .text import is_writable


class FactKind(StrEnum):
    """How a fact is validated."""

    ID = "id"  # a non-empty string
    TEXT = "text"  # a string, possibly empty (an unknown ANI is data: "")
    OPTIONAL = "optional"  # a string or None
    AGENT = "agent"  # an id; None only while a queue consult waits for an agent


#: Field metadata keys.
KIND = "consultfsm.kind"
WIRE = "consultfsm.wire"  # the field's name in a snapshot dict, when not its own
DIFFERS_FROM = "consultfsm.differs_from"  # a fact this one must not equal


def _check(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    # attrs runs validators once every field is set, so another fact is readable.
    kind = attribute.metadata[KIND]
    name = attribute.name
    if value is None and kind in (FactKind.OPTIONAL, FactKind.AGENT):
        return
    if value.__class__ is not str:
        expected = "a string or None" if kind is FactKind.OPTIONAL else "a string"
        raise InvalidLeg(name, f"{name} must be {expected}, got {type(value).__name__}")
    if not value and kind in (FactKind.ID, FactKind.AGENT):
        raise InvalidLeg(name, f"{name} must not be empty")
    if not is_writable(value):  # a lone surrogate: no id, message or file can carry it
        raise InvalidLeg(name, f"{name} holds text that is not valid Unicode")
    other = attribute.metadata.get(DIFFERS_FROM)
    if other is not None and getattr(inst, other) == value:
        raise InvalidLeg(name, f"{other} and {name} are both {value!r}: a consult needs two")


def _fact(
    kind: FactKind,
    *,
    wire: str | None = None,
    positional: bool = True,
    differs_from: str | None = None,
) -> Any:
    metadata: dict[str, Any] = {KIND: kind}
    if wire is not None:
        metadata[WIRE] = wire
    if differs_from is not None:
        metadata[DIFFERS_FROM] = differs_from
    if kind is FactKind.OPTIONAL:
        return attrs.field(default=None, kw_only=True, validator=_check, metadata=metadata)
    return attrs.field(kw_only=not positional, validator=_check, metadata=metadata)


@attrs.frozen(slots=True, weakref_slot=False)
class LegFacts:
    """Who and what a consult leg is about.

    Two facts can change, each only through a table input that carries it
    (``states.VALUE_OF_INPUT``): ``agent_b`` is None while a queue consult
    waits in its queue and is set once, when an agent is offered the call;
    ``call_id`` follows the consult dialog when it is re-keyed.

    ``channel_session_id`` and ``conversation_id`` are the customer's
    *existing* channel session and conversation (see
    :mod:`consultfsm.ccm.correlation` for finding them), so a consult can never
    be published in a session of its own.
    """

    leg_id: str = _fact(FactKind.ID, wire="leg")
    agent_a: str = _fact(FactKind.ID)  # the consulting agent
    agent_b: str | None = _fact(FactKind.AGENT, differs_from="agent_a")  # the consulted agent
    customer_ani: str = _fact(FactKind.TEXT)  # the customer's number, "" when unknown
    conversation_id: str = _fact(FactKind.ID, positional=False)
    channel_session_id: str = _fact(FactKind.ID, positional=False)
    call_id: str | None = _fact(FactKind.OPTIONAL)  # the consult dialog's id
    service_identifier: str | None = _fact(FactKind.OPTIONAL)  # CIM serviceIdentifier
    associated_dialog_uri: str | None = _fact(FactKind.OPTIONAL)  # A's dialog with the customer


#: The facts' field names, in declaration order.
FACT_NAMES: tuple[str, ...] = tuple(f.name for f in attrs.fields(LegFacts))
#: The slot of a Leg holding each fact: a leg stores its facts in its own
#: slots (one object per leg, not two) and builds a LegFacts when asked.
FACT_SLOTS: dict[str, str] = {name: f"_{name}" for name in FACT_NAMES}


def _positive_ms(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value.__class__ is not int or value <= 0:
        why = f"{attribute.name} must be a positive integer of ms, got {value!r}"
        raise ConfigError(attribute.name, why)


def _optional_ms(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (value.__class__ is not int or value <= 0):
        why = f"{attribute.name} must be a positive integer of ms or None, got {value!r}"
        raise ConfigError(attribute.name, why)


@attrs.frozen(slots=True)
class LegConfig:
    """Timer windows, in milliseconds. Shared by every leg that uses it.

    ``ring_ms`` is the RONA window from the alert of a *routed* consult (to a
    skill group, CSQ or queue: the router's ring-no-answer); set it to the
    CTI's own RONA time, or the CTI and the leg race. A *direct* consult,
    dialled to B's extension, has no RONA: it rings until A cancels or the
    phone forwards it, so its ``ring_ms`` is None (:data:`DIRECT_CONFIG`).
    ``grace_ms`` is how long the leg waits for a disconnected desk (the note's
    "x seconds"); Finesse force-logs-out a desk 60 s after it goes
    unavailable. ``queue_ttl_ms`` is how long a queue consult may wait for an
    agent before the leg gives up (None: only the queue's own
    NO_AGENT_AVAILABLE ends it).
    """

    ring_ms: int | None = attrs.field(default=15_000, validator=_optional_ms)
    grace_ms: int = attrs.field(default=60_000, validator=_positive_ms)
    queue_ttl_ms: int | None = attrs.field(default=None, validator=_optional_ms)

    def window(self, timer: Timer) -> int | None:
        """The length of a timer's window; None when the timer is not used."""
        window: int | None = getattr(self, WINDOW_FIELD[timer])
        return window


#: The LegConfig field holding each timer's window.
WINDOW_FIELD: dict[Timer, str] = {
    Timer.RING: "ring_ms",
    Timer.QUEUE: "queue_ttl_ms",
    Timer.GRACE_A: "grace_ms",
    Timer.GRACE_B: "grace_ms",
}


#: The timers whose window may be None (not used): they may never be armed.
OPTIONAL_TIMERS: frozenset[Timer] = frozenset(
    t for t, f in WINDOW_FIELD.items() if str(attrs.fields_dict(LegConfig)[f].type) != "int"
)

DEFAULT_CONFIG = LegConfig()
#: A consult dialled straight to B's extension: no RONA window.
DIRECT_CONFIG = LegConfig(ring_ms=None)
