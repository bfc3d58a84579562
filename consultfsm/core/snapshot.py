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
from typing import Any, ClassVar

import attrs

from .errors import ConfigError, InvalidLeg, SnapshotError
from .facts import WIRE, LegConfig, LegFacts
from .states import CallState, DeskState
from .table import STATE_TIMERS

#: The snapshot field holding each timer's deadline.
_DEADLINE_FIELD = {timer: f"{timer.value}_deadline" for timer in STATE_TIMERS.values()}


def _consistent(snap: LegSnapshot, attribute: Any, value: Any) -> None:
    for (region, state), timer in STATE_TIMERS.items():
        field = _DEADLINE_FIELD[timer]
        pending = getattr(snap, region.value) is state
        if (getattr(snap, field) is not None) != pending:
            raise SnapshotError(
                field,
                f"must be {'set' if pending else 'null'} in state "
                f"{snap.call}/{snap.desk_a}/{snap.desk_b}",
            )


@attrs.frozen(slots=True)
class LegSnapshot:
    """Everything needed to rebuild a leg; JSON-ready through :meth:`to_dict`."""

    VERSION: ClassVar[int] = 1

    facts: LegFacts
    call: CallState
    desk_a: DeskState
    desk_b: DeskState
    ring_deadline: int | None
    grace_a_deadline: int | None
    grace_b_deadline: int | None
    last_at: int
    config: LegConfig = attrs.field(validator=_consistent)  # last: checks every field

    def to_dict(self) -> dict[str, Any]:
        """A dict of JSON types (enums as their wire strings), with a version."""
        out: dict[str, Any] = {"v": self.VERSION}
        for name, value in _flat(self):
            out[name] = value.value if isinstance(value, StrEnum) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LegSnapshot:
        """Read a snapshot dict; a wrong field raises :class:`SnapshotError` naming it."""
        if not isinstance(data, Mapping):
            raise SnapshotError("<root>", f"expected an object, got {type(data).__name__}")
        version = data.get("v")
        if version.__class__ is not int or version != cls.VERSION:
            raise SnapshotError("v", f"unsupported version {version!r}")
        values = {group: _read(data, group) for group in _GROUPS}
        try:
            facts = LegFacts(**values[LegFacts])
        except InvalidLeg as exc:
            raise SnapshotError(_wire_name(exc.field), exc.why) from None
        try:
            config = LegConfig(**values[LegConfig])
        except ConfigError as exc:
            name = next(n for n in values[LegConfig] if str(exc).startswith(n))
            raise SnapshotError(name, str(exc)) from None
        return cls(facts=facts, config=config, **values[cls])


def _flat(snap: LegSnapshot) -> list[tuple[str, Any]]:
    # Facts first, then the snapshot's own fields, then the windows.
    out: list[tuple[str, Any]] = []
    for group, obj in ((LegFacts, snap.facts), (LegSnapshot, snap), (LegConfig, snap.config)):
        for f in _own_fields(group):
            out.append((f.metadata.get(WIRE, f.name), getattr(obj, f.name)))
    return out


def _own_fields(group: type) -> tuple[attrs.Attribute[Any], ...]:
    fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(group)
    return tuple(f for f in fields if f.name not in ("facts", "config"))


def _wire_name(field: str) -> str:
    (wire,) = (f.metadata.get(WIRE, f.name) for f in attrs.fields(LegFacts) if f.name == field)
    return str(wire)


def _str(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    raise SnapshotError(name, f"expected a string, got {type(value).__name__}")


def _opt_str(name: str, value: Any) -> str | None:
    return None if value is None else _str(name, value)


def _int(name: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise SnapshotError(name, f"expected an integer, got {type(value).__name__}")


def _opt_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise SnapshotError(name, f"expected an integer or null, got {type(value).__name__}")


def _enum(enum: type[StrEnum]) -> Callable[[str, Any], Any]:
    def read(name: str, value: Any) -> Any:
        try:
            return enum(value)
        except ValueError:
            raise SnapshotError(
                name, f"{value!r} is not one of {[m.value for m in enum]}"
            ) from None

    return read


#: How a field of each declared type is read from JSON.
_READERS: dict[str, Callable[[str, Any], Any]] = {
    "str": _str,
    "str | None": _opt_str,
    "int": _int,
    "int | None": _opt_int,
    "CallState": _enum(CallState),
    "DeskState": _enum(DeskState),
}
_GROUPS = (LegFacts, LegSnapshot, LegConfig)


def _read(data: Mapping[str, Any], group: type) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in _own_fields(group):
        name = f.metadata.get(WIRE, f.name)
        if name not in data:
            raise SnapshotError(name, "missing")
        values[f.name] = _READERS[str(f.type)](name, data[name])
    return values
