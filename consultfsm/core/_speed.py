"""Every speed trick of the core, in one place, beside the plain path it replaces.

Each trick is generated from a declaration and checked against the plain path
it replaces (``tests/test_events.py``; ``tests/test_differential.py`` runs
``compile_table(table, fast=False)``, the plain path, beside the fast one):

* **Fast constructors.** attrs' ``__init__`` of a frozen class stores each
  field through ``object.__setattr__`` (a call per field), about three times a
  plain slot store. :func:`fast_constructor` allocates an instance of a
  *layout twin* (a subclass with the same slots and plain attribute stores),
  fills the slots, then sets ``__class__`` back: the result *is* an instance of
  the class (same fields, equality, hash, repr, pickling, still frozen); only
  the construction differs. :func:`fast_facts_constructor` does the same for
  :class:`~consultfsm.core.facts.LegFacts` after one cheap test derived from
  the facts' declared kinds; anything that fails it goes to the validating
  attrs constructor, which says what is wrong. :func:`fast_leg_init` builds
  ``Leg.__init__`` the same way, the facts inline, falling back to the plain
  ``__init__`` written in :mod:`consultfsm.core.leg`.
* **Compiling on first use.** :class:`OnFirstUse` defers the compile of the
  real table from ``import consultfsm`` to the first leg that steps: a class
  attribute that computes its value once and then replaces itself with it,
  so every later read is a plain class attribute.
* **Straight-line steps.** :func:`compile_applies` turns every applied row of a
  table into one small function (cancel, fire, move, build, start, with the
  row's slots, constructors and constants written in), all generated in one
  module source and compiled once. It is
  :func:`consultfsm.core.executor.apply_plain` specialised to one row: the same
  effects in the same order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from .events import DERIVED, Event, Origin, TimerCancelled, TimerStarted, sources
from .facts import DIFFERS_FROM, FACT_SLOTS, KIND, OPTIONAL_TIMERS, FactKind, LegFacts
from .states import Region, Timer
from .step import Step
from .table import Disposition, Row


class CompiledRow(Protocol):
    """What :func:`compile_applies` reads of a plan (``executor.Plan``)."""

    row: Row | None
    delta: int
    cancel: Timer | None
    start: Timer | None
    cancel_slot: str
    start_slot: str
    fires_slot: str
    window_field: str
    apply: Callable[[Any, int], Step]


_T = TypeVar("_T")


def layout_twin(cls: type) -> type:
    """A subclass of a frozen, slotted attrs class with the very same slot layout
    and plain attribute stores. An instance built as the twin may have its
    ``__class__`` set back to ``cls``: it then *is* a ``cls`` instance."""
    return type(
        f"_{cls.__name__}Builder",
        (cls,),
        {"__slots__": (), "__setattr__": object.__setattr__, "__delattr__": object.__delattr__},
    )


def _fills(var: str, names: Sequence[str], values: Sequence[str], twin: str, cls: str) -> list[str]:
    """Source lines building ``cls`` into ``var`` through its layout twin."""
    lines = [f"{var} = new_({twin})"]
    lines += [f"{var}.{name} = {value}" for name, value in zip(names, values, strict=True)]
    lines.append(f"{var}.__class__ = {cls}")
    return lines


def _exec(source: str, scope: dict[str, Any]) -> dict[str, Any]:
    # The technique attrs itself uses for the methods it generates.
    exec(compile(source, "<consultfsm._speed>", "exec"), scope)
    return scope


class OnFirstUse:
    """A class attribute computed on first read, then stored in its place.

    ``bind(cls)`` computes the values and sets them on ``cls`` (replacing this
    descriptor and its siblings); the read that triggered it then sees them."""

    def __init__(self, bind: Callable[[type], None]) -> None:
        self.bind = bind
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, owner: type) -> Any:
        for klass in owner.__mro__:  # the class that holds this descriptor
            if klass.__dict__.get(self.name) is self:
                self.bind(klass)
                return klass.__dict__[self.name]
        raise AttributeError(self.name)


def _plain_fields(cls: type) -> list[str] | None:
    """The field names of a class whose construction may skip ``__init__``, or
    None (validators, converters or ``__attrs_post_init__`` must run)."""
    fields = attrs.fields(cls)
    if (
        "__slots__" not in cls.__dict__
        or any(f.validator or f.converter for f in fields)
        or hasattr(cls, "__attrs_post_init__")
    ):
        return None
    return [f.name for f in fields]


def _maker_source(name: str, fields: Sequence[str], twin: str, cls: str) -> str:
    body = _fills("o", fields, fields, twin, cls)
    return (
        f"def {name}({', '.join(fields)}):\n"
        + "".join(f"    {x}\n" for x in body)
        + "    return o\n"
    )


def trusted_constructor(cls: type[_T]) -> Callable[..., _T]:
    """A positional constructor that skips ``cls``'s validators: only for
    values read back from a valid instance (a leg's own facts)."""
    names = [f.name for f in attrs.fields(cls)]  # type: ignore[arg-type]
    scope = _exec(_maker_source("make", names, "twin_", "cls_"),
                  {"new_": object.__new__, "twin_": layout_twin(cls), "cls_": cls})  # fmt: skip
    make: Callable[..., _T] = scope["make"]
    return make


def fast_constructor(cls: type[_T]) -> Callable[..., _T]:
    """A positional constructor for a frozen, slotted attrs class without
    validators, converters or ``__attrs_post_init__`` (for those it returns the
    class itself: skipping ``__init__`` would skip them). Every field is a
    required positional argument, defaults included."""
    fields = _plain_fields(cls)
    if fields is None:
        return cls
    scope = _exec(_maker_source("make", fields, "twin_", "cls_"),
                  {"new_": object.__new__, "twin_": layout_twin(cls), "cls_": cls})  # fmt: skip
    make: Callable[..., _T] = scope["make"]
    make.__qualname__ = f"{cls.__qualname__}._make"
    return make


def _facts_test() -> str:
    """One expression, true when some fact is not of its declared kind."""
    bad: list[str] = []
    for f in attrs.fields(LegFacts):
        kind = f.metadata[KIND]
        # Non-ASCII text takes the validating path, which refuses a lone surrogate.
        if kind is FactKind.OPTIONAL:
            bad.append(f"({f.name} is not None and ({f.name}.__class__ is not str"
                       f" or not {f.name}.isascii()))")  # fmt: skip
        else:
            bad.append(f"{f.name}.__class__ is not str or not {f.name}.isascii()")
            if kind in (FactKind.ID, FactKind.AGENT):  # AGENT: None only via its own path
                bad.append(f"not {f.name}")
        if DIFFERS_FROM in f.metadata:
            bad.append(f"{f.name} == {f.metadata[DIFFERS_FROM]}")
    return " or ".join(bad)


@functools.cache
def fast_facts_constructor() -> Callable[..., LegFacts]:
    """``make(*facts)``, positional in field order: a :class:`LegFacts` built
    without per-field validator calls when one cheap test, derived from each
    field's declared :class:`~consultfsm.core.facts.FactKind`, passes; otherwise
    the validating constructor, which raises the precise ``InvalidLeg``."""
    fields = attrs.fields(LegFacts)
    names = [f.name for f in fields]
    by_keyword = ", ".join(f"{f.name}={f.name}" if f.kw_only else f.name for f in fields)
    lines = [
        f"def make({', '.join(names)}):",
        f"    if {_facts_test()}:",
        f"        return cls_({by_keyword})",
        *(f"    {x}" for x in _fills("o", names, names, "twin_", "cls_")),
        "    return o",
    ]
    scope = _exec("\n".join(lines) + "\n", {"new_": object.__new__, "cls_": LegFacts,
                                            "twin_": layout_twin(LegFacts)})  # fmt: skip
    make: Callable[..., LegFacts] = scope["make"]
    return make


def fast_leg_init(plain: Callable[..., None], slots: dict[str, Any], **defaults: Any) -> Any:
    """A leg's ``__init__`` that stores its facts in their slots
    (``FACT_SLOTS``) after one cheap test instead of a validator call per
    fact, and sets ``slots`` to their constant initial values, with the
    signature of ``plain``: the facts as LegFacts declares them, then
    ``defaults`` (keyword-only). Anything the cheap test refuses goes to
    ``plain``, the validating ``__init__``, which says what is wrong."""
    fields = attrs.fields(LegFacts)
    names = [f.name for f in fields]
    params = [f.name for f in fields if not f.kw_only] + ["*"]
    params += [
        f.name if f.default is attrs.NOTHING else f"{f.name}=None" for f in fields if f.kw_only
    ]
    params += [f"{name}=default_{name}" for name in defaults]
    scope: dict[str, Any] = {"plain_": plain}
    scope.update((f"default_{name}", value) for name, value in defaults.items())
    scope.update((f"slot_{name}", value) for name, value in slots.items())
    everything = [*names, *defaults]
    by_keyword = ", ".join(f"{n}={n}" for n in everything)
    lines = [
        f"def __init__(self, {', '.join(params)}):",
        f"    if ({_facts_test()} or created_at.__class__ is not int"
        " or config.__class__ is not default_config.__class__):",
        f"        return plain_(self, {by_keyword})",
        *(f"    self.{FACT_SLOTS[name]} = {name}" for name in names),
        *(f"    self.{name} = {name}" for name in defaults if name != "created_at"),
        *(f"    self.{name} = slot_{name}" for name in slots),
        "    self.last_at = created_at",
    ]
    init = _exec("\n".join(lines) + "\n", scope)["__init__"]
    init.__doc__, init.__qualname__ = plain.__doc__, plain.__qualname__
    return init


def _event_args(
    cls: type[Event], params: dict[str, Any], row: Row, prefix: str, scope: dict[str, Any]
) -> list[str]:
    """The argument expressions building ``cls`` in a step of ``row``, from the
    declared origin of each field; constants go into ``scope``."""
    args = ["leg._leg_id", "at"]
    # Derived values read the call state after the move: fixed when the row
    # moves the call region, looked up by packed state otherwise.
    moves_call = row.region is Region.CALL
    for j, (name, src) in enumerate(sources(cls)):
        if src.origin is Origin.FACT:
            args.append(f"leg.{FACT_SLOTS[src.arg]}")
        elif src.origin is Origin.DERIVED and not moves_call:
            scope[f"d_{src.arg}"] = DERIVED[src.arg]
            args.append(f"d_{src.arg}(call_of_[leg._state])")
        else:
            if src.origin is Origin.DERIVED:
                value = DERIVED[src.arg](row.target)  # type: ignore[arg-type]
            else:
                value = src.arg if src.origin is Origin.FIXED else params[name]
            scope[f"{prefix}_{j}"] = value
            args.append(f"{prefix}_{j}")
    return args


def compile_applies(plans: Sequence[CompiledRow], decode_call: Sequence[Any]) -> None:
    """Give every applied plan its straight-line ``apply(leg, at) -> Step``,
    generated from the plan's row and compiled in one go.

    ``decode_call[packed]`` is the call state of a packed state, for derived
    values of rows that do not move the call region."""
    scope: dict[str, Any] = {
        "new_": object.__new__, "step_": Step, "step_twin_": layout_twin(Step),
        "applied_": Disposition.APPLIED, "call_of_": decode_call,
    }  # fmt: skip
    makers: dict[type[Event], str] = {}
    source: list[str] = []

    def maker(cls: type[Event]) -> str:
        # Each event class's fast constructor, generated into the same source.
        if cls not in makers:
            name = makers[cls] = f"make_{cls.__name__}"
            fields = _plain_fields(cls)
            if fields is None:
                scope[name] = cls
            else:
                scope[f"{name}_cls"], scope[f"{name}_twin"] = cls, layout_twin(cls)
                source.append(_maker_source(name, fields, f"{name}_twin", f"{name}_cls"))
        return makers[cls]

    for n, plan in enumerate(plans):
        row = plan.row
        assert row is not None and row.disposition is Disposition.APPLIED
        scope[f"row_{n}"] = row
        lines = []
        names: list[str] = []
        maybe_unarmed = False
        if plan.cancel is not None:
            scope[f"cancel_{n}"] = plan.cancel
            # A timer whose window can be None may never have been armed.
            maybe_unarmed = plan.cancel in OPTIONAL_TIMERS
            lines += [f"d_c = leg.{plan.cancel_slot}",
                      f"e_c = {maker(TimerCancelled)}(leg._leg_id, at, cancel_{n}, d_c)",
                      f"leg.{plan.cancel_slot} = None"]  # fmt: skip
            if maybe_unarmed:
                lines[-2] = "e_c = None if d_c is None else " + lines[-2][len("e_c = ") :]
            names.append("e_c")
        if plan.fires_slot:
            lines.append(f"leg.{plan.fires_slot} = None")
        lines += [f"leg._state += {plan.delta}", "leg.last_at = at"]
        for i, emit in enumerate(row.emits):
            args = _event_args(emit.event, dict(emit.params), row, f"v_{n}_{i}", scope)
            lines.append(f"e_{i} = {maker(emit.event)}({', '.join(args)})")
            names.append(f"e_{i}")
        events = "(" + "".join(f"{x}, " for x in names) + ")"
        if maybe_unarmed:  # drop the cancel that did not happen
            rest = "(" + "".join(f"{x}, " for x in names[1:]) + ")"
            lines.append(f"ev_ = {events} if e_c is not None else {rest}")
            events = "ev_"
        if plan.start is not None:  # a window of None: the timer is not used
            scope[f"start_{n}"] = plan.start
            started = f"{maker(TimerStarted)}(leg._leg_id, at, start_{n}, d_)"
            lines += [f"w_ = leg.config.{plan.window_field}",
                      "if w_ is None:",
                      f"    ev_ = {events}",
                      "else:",
                      "    d_ = at + w_",
                      f"    leg.{plan.start_slot} = d_",
                      f"    ev_ = {events} + ({started},)"]  # fmt: skip
            events = "ev_"
        lines += _fills("o_", ("disposition", "row", "events"),
                        ("applied_", f"row_{n}", events), "step_twin_", "step_")  # fmt: skip
        lines.append("return o_")
        source.append(f"def apply_{n}(leg, at):\n" + "".join(f"    {x}\n" for x in lines))
    _exec("\n".join(source), scope)
    for n, plan in enumerate(plans):
        plan.apply = scope[f"apply_{n}"]
