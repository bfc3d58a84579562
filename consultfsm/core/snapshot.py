"""A leg's whole state as plain values, and its JSON-ready dict form.

:class:`LegSnapshot` is the leg's facts (:class:`~consultfsm.core.facts.LegFacts`),
its region states, its pending deadlines, its time and its windows. A snapshot
that exists is consistent: a deadline is set exactly when its region is in the
state that arms it (table rule 5), which is checked when one is made.

The dict form is flat (version ``v``, then every fact, every state field, then
the windows) and is derived from the attrs fields, so a new fact or field
needs no edit here: :meth:`LegSnapshot.to_dict` walks the fields and
:meth:`LegSnapshot.from_dict` reads each one by its declared type, naming the
field when it is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from operator import attrgetter
from typing import Any, ClassVar

import attrs

from . import _speed
from .errors import ConfigError, InvalidLeg, SnapshotError
from .executor import DEADLINE_SLOT
from .facts import WIRE, LegConfig, LegFacts
from .states import TIMER_REGION, CallState, CustomerState, DeskState, Timer
from .table import agentless_states, armed_in
from .text import is_writable

_new_facts = _speed.fast_facts_constructor()

#: Per timer: its region's field, the states that arm it, its deadline's field
#: (named as the leg's slot, so a leg and its snapshot line up).
_TIMER_CHECKS = tuple(
    (TIMER_REGION[timer].value, armed_in(timer), DEADLINE_SLOT[timer]) for timer in Timer
)
_STATE_TYPES = {
    "call": CallState, "desk_a": DeskState, "desk_b": DeskState, "customer": CustomerState,
}  # fmt: skip
_TIMER_OF_FIELD = {DEADLINE_SLOT[t]: t for t in Timer}


def _consistent(snap: LegSnapshot, attribute: Any, value: Any) -> None:
    # A snapshot built in code (not read by from_dict) is held to the same types.
    if snap.facts.__class__ is not LegFacts:
        raise SnapshotError("facts", f"expected LegFacts, got {type(snap.facts).__name__}")
    for wire, get, read in _STATE_CHECKS:
        got = get(snap)
        if read is _ids:
            if got.__class__ is not tuple:
                raise SnapshotError(wire, f"expected a tuple, got {type(got).__name__}")
            got = list(got)
        read(wire, got)
    for field, enum in _STATE_TYPES.items():
        if getattr(snap, field).__class__ is not enum:
            raise SnapshotError(field, f"expected a {enum.__name__}, got {getattr(snap, field)!r}")
    for region, armed, field in _TIMER_CHECKS:
        # Pending exactly in the state that arms it, unless its window is not used.
        used = value.window(_TIMER_OF_FIELD[field]) is not None
        pending = getattr(snap, region) in armed
        if getattr(snap, field) is not None and not (pending and used):
            raise SnapshotError(field, f"must be null in state {_state(snap)}")
        if getattr(snap, field) is None and pending and used:
            raise SnapshotError(field, f"must be set in state {_state(snap)}")
    if snap.facts.agent_b is None and snap.call not in _WITHOUT_AGENT:
        raise SnapshotError("agent_b", f"must be set in state {_state(snap)}")
    if snap.facts.call_id is None and snap.former_call_ids:
        raise SnapshotError("call_id", "must be set when the leg was re-keyed")


def _state(snap: LegSnapshot) -> str:
    return "/".join(getattr(snap, f).value for f in _STATE_TYPES)


#: The call states a queue consult can be in before any agent was offered it.
_WITHOUT_AGENT = agentless_states()


@attrs.frozen(slots=True)
class LegSnapshot:
    """Everything needed to rebuild a leg; JSON-ready through :meth:`to_dict`."""

    VERSION: ClassVar[int] = 2

    facts: LegFacts
    call: CallState
    desk_a: DeskState
    desk_b: DeskState
    customer: CustomerState
    ring_deadline: int | None
    queue_deadline: int | None
    grace_a_deadline: int | None
    grace_b_deadline: int | None
    last_at: int
    cti_at: int | None
    former_call_ids: tuple[str, ...]
    config: LegConfig = attrs.field(validator=_consistent)  # last: checks every field

    def to_dict(self) -> dict[str, Any]:
        """A dict of JSON types (enums as their wire strings), with a version."""
        out: dict[str, Any] = {"v": self.VERSION}
        for wire, get, enum in _FIELDS:
            value = get(self)
            out[wire] = value.value if enum else list(value) if value.__class__ is tuple else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LegSnapshot:
        """Read a snapshot dict; a wrong field raises :class:`SnapshotError` naming it."""
        if not isinstance(data, Mapping):
            raise SnapshotError("<root>", f"expected an object, got {type(data).__name__}")
        version = data.get("v")
        if version.__class__ is not int or version not in (1, cls.VERSION):
            raise SnapshotError("v", f"unsupported version {version!r}")
        if version == 1:
            data = _from_v1(data)
        unknown = sorted(str(k) for k in data if k not in _KNOWN_KEYS)
        if unknown:  # a misspelt key must not restore silently with a default
            raise SnapshotError(
                unknown[0], f"unknown field (the known ones: {sorted(_KNOWN_KEYS)})"
            )
        try:
            facts = _new_facts(*[data[wire] for wire in _FACT_WIRES])
            rest = [read(wire, data[wire]) for wire, read in _READS]
        except KeyError as missing:
            raise SnapshotError(str(missing.args[0]), "missing") from None
        except InvalidLeg as exc:  # the facts' own validation says what is wrong
            raise SnapshotError(_wire_name(exc.field), exc.why) from None
        windows = rest[len(_STATE_FIELDS) :]
        try:
            config = _DEFAULT_CONFIG if windows == _DEFAULT_WINDOWS else LegConfig(*windows)
        except ConfigError as exc:
            raise SnapshotError(exc.field, exc.why) from None
        return cls(facts, *rest[: len(_STATE_FIELDS)], config)  # type: ignore[call-arg]


# The dict form, derived once from the fields: facts first, then the
# snapshot's own fields, then the windows.
def _own(group: type) -> tuple[str, ...]:
    return tuple(f.name for f in attrs.fields(group) if f.name not in ("facts", "config"))


_FACT_FIELDS = _own(LegFacts)
_STATE_FIELDS = _own(LegSnapshot)
_CONFIG_FIELDS = _own(LegConfig)
_DEFAULT_CONFIG = LegConfig()
_DEFAULT_WINDOWS = [getattr(_DEFAULT_CONFIG, name) for name in _CONFIG_FIELDS]


def _from_v1(data: Mapping[str, Any]) -> dict[str, Any]:
    """A version 1 dict (three regions, no queue, no re-keying) as version 2."""
    gone = {"customer_left", "ended_by_customer"}  # v1's "customer hung up" endings
    call = data.get("call")
    if isinstance(call, str) and call in gone:  # (another kind is refused as v2's own field)
        raise SnapshotError("call", f"v1 state {data['call']!r} has no v2 equivalent: the "
                            "customer hanging up no longer ends a consult")  # fmt: skip
    added: dict[str, Any] = {
        "customer": CustomerState.PRESENT.value, "queue_deadline": None, "cti_at": None,
        "former_call_ids": [],
    }  # fmt: skip
    clash = sorted(added.keys() & data.keys())
    if clash:  # (its value would be replaced by v1's default silently)
        raise SnapshotError(clash[0], "a version 2 field in a version 1 snapshot: which is it?")
    return {**data, **added, "v": LegSnapshot.VERSION, "queue_ttl_ms": data.get("queue_ttl_ms")}


def _wire_name(field: str) -> str:
    (wire,) = (f.metadata.get(WIRE, f.name) for f in attrs.fields(LegFacts) if f.name == field)
    return str(wire)


def _field_plan() -> tuple[tuple[str, Callable[[Any], Any], bool, str], ...]:
    types = {
        **{f.name: str(f.type) for f in attrs.fields(LegFacts)},
        **{f.name: str(f.type) for f in attrs.fields(LegSnapshot)},
        **{f.name: str(f.type) for f in attrs.fields(LegConfig)},
    }
    plan = []
    for prefix, names in (
        ("facts.", _FACT_FIELDS),
        ("", _STATE_FIELDS),
        ("config.", _CONFIG_FIELDS),
    ):
        for name in names:
            wire = _wire_name(name) if prefix == "facts." else name
            enum = types[name] in _ENUMS
            plan.append((wire, attrgetter(prefix + name), enum, types[name]))
    return tuple(plan)


_ENUMS = ("CallState", "DeskState", "CustomerState")


def _str(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    raise SnapshotError(name, f"expected a string, got {type(value).__name__}")


def _opt_str(name: str, value: Any) -> str | None:
    return None if value is None else _str(name, value)


def _int(name: str, value: Any) -> int:
    if value.__class__ is int:
        return value
    raise SnapshotError(name, f"expected an integer, got {type(value).__name__}")


def _opt_int(name: str, value: Any) -> int | None:
    if value is None or value.__class__ is int:
        return value
    raise SnapshotError(name, f"expected an integer or null, got {type(value).__name__}")


def _ids(name: str, value: Any) -> tuple[str, ...]:
    if value.__class__ is not list or any(
        v.__class__ is not str or not v or not is_writable(v) for v in value
    ):
        raise SnapshotError(name, "expected a list of non-empty strings (valid Unicode)")
    return tuple(value)


def _enum(enum: type[StrEnum]) -> Callable[[str, Any], Any]:
    by_value = {m.value: m for m in enum}

    def read(name: str, value: Any) -> Any:
        member = by_value.get(value) if value.__class__ is str else None
        if member is None:
            raise SnapshotError(name, f"{value!r} is not one of {list(by_value)}")
        return member

    return read


#: How a field of each declared type is read from JSON.
_READERS: dict[str, Callable[[str, Any], Any]] = {
    "str": _str,
    "str | None": _opt_str,
    "int": _int,
    "int | None": _opt_int,
    "CallState": _enum(CallState),
    "DeskState": _enum(DeskState),
    "CustomerState": _enum(CustomerState),
    "tuple[str, ...]": _ids,
}
_PLAN = _field_plan()
#: (wire name, getter, reader) of the snapshot's own non-enum fields: what a
#: snapshot built in code is checked against (the enums are checked apart).
_STATE_CHECKS = tuple((wire, get, _READERS[type_]) for wire, get, is_enum, type_ in _PLAN
                      if not is_enum and wire in _STATE_FIELDS)  # fmt: skip
#: Every key a snapshot dict may have.
_KNOWN_KEYS = frozenset({"v", *(wire for wire, *_ in _PLAN)})
#: (wire name, getter, is an enum) per field, for to_dict.
_FIELDS = tuple((wire, get, enum) for wire, get, enum, _ in _PLAN)
#: The facts' wire names; LegFacts validates their values itself.
_FACT_WIRES = tuple(wire for wire, *_ in _PLAN[: len(_FACT_FIELDS)])
#: (wire name, reader) per other field, for from_dict.
_READS = tuple((wire, _READERS[kind]) for wire, _, _, kind in _PLAN[len(_FACT_FIELDS) :])
