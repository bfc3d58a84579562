"""Events built by the fast constructors are indistinguishable from attrs-built ones.

The fast path builds events, steps and facts through ``consultfsm.core._speed``,
which fills a same-layout twin and then sets ``__class__``. That relies on
attrs' slotted layout, so check the result against ordinary construction for
every event class: type, fields, equality, hash, repr, frozenness, pickling,
``attrs.evolve`` and ``to_dict``.
"""

from __future__ import annotations

import pickle
from typing import Any

import attrs
import pytest

from consultfsm.core import _speed
from consultfsm.core import events as ev
from consultfsm.core.facts import LegFacts
from consultfsm.core.states import CimReason, EndReason, TaskDirection, Timer
from consultfsm.core.step import Step
from consultfsm.core.table import TABLE, Disposition

VALUES: dict[str, Any] = {
    "leg": "L1", "at": 900, "caller_id": "A", "reason": EndReason.RONA, "agent_b": "B",
    "conversation_id": "C1", "channel_session_id": "S1", "agent": "B",
    "customer_ani": "+923001234567", "call_id": "D2", "service_identifier": "8001",
    "associated_dialog_uri": None, "reported_by": ev.Reporter.CCM, "timer": Timer.RING,
    "deadline": 15_200, "direction": TaskDirection.CONSULT_TRANSFER,
}  # fmt: skip


def _args(cls: type[ev.Event]) -> list[Any]:
    out = []
    for field in attrs.fields(cls):
        value = VALUES[field.name]
        if field.name == "reason" and issubclass(cls, (ev._CimCallLeg, *ev.PUBLICATION_CLASSES)):
            value = CimReason.CONSULT_ENDED
        out.append(value)
    return out


@pytest.mark.parametrize("cls", ev.EVENT_CLASSES, ids=lambda c: c.__name__)
def test_fast_construction_equals_attrs_construction(cls: type[ev.Event]) -> None:
    args = _args(cls)
    fast = _speed.fast_constructor(cls)(*args)
    slow = cls(*args)
    assert type(fast) is cls
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert attrs.asdict(fast) == attrs.asdict(slow)
    assert fast.to_dict() == slow.to_dict()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.at = 1  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(fast)) == slow
    assert attrs.evolve(fast, at=1) == attrs.evolve(slow, at=1)
    assert not hasattr(fast, "__dict__")  # still slotted


def test_the_step_twin_builds_real_steps() -> None:
    row = TABLE[0]
    twin: Any = object.__new__(_speed.layout_twin(Step))
    twin.disposition, twin.row, twin.events = Disposition.APPLIED, row, ()
    twin.__class__ = Step
    assert type(twin) is Step and twin == Step(Disposition.APPLIED, row, ())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        twin.events = ()  # type: ignore[misc]


def test_classes_with_validators_keep_their_own_constructor() -> None:
    @attrs.frozen
    class Checked:
        x: int = attrs.field(validator=attrs.validators.instance_of(int))

    assert _speed.fast_constructor(Checked) is Checked


GOOD = ("L1", "A", "B", "+1", "C1", "S1", "D1", None, None)


def test_fast_facts_equal_validated_facts() -> None:
    make = _speed.fast_facts_constructor()
    fast = make(*GOOD)
    slow = LegFacts(*GOOD[:4], conversation_id="C1", channel_session_id="S1", call_id="D1")
    assert type(fast) is LegFacts and fast == slow and hash(fast) == hash(slow)
    assert pickle.loads(pickle.dumps(fast)) == slow


@pytest.mark.parametrize(
    ("index", "value", "field"),
    [(0, "", "leg_id"), (2, "A", "agent_b"), (3, None, "customer_ani"), (4, 7, "conversation_id"),
     (6, 5, "call_id")],
)  # fmt: skip
def test_fast_facts_send_what_is_wrong_to_the_validators(
    index: int, value: object, field: str
) -> None:
    from consultfsm.core.errors import InvalidLeg

    args: list[object] = list(GOOD)
    args[index] = value
    with pytest.raises(InvalidLeg) as info:
        _speed.fast_facts_constructor()(*args)
    assert info.value.field == field
