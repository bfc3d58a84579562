"""Issue 7: a leg is plain, acyclic data, freed by reference counting alone.

Legs are driven through every kind of lifecycle (every terminal state, desks
going away, coming back and being lost, timers firing, late and duplicate
inputs, snapshot/restore), then dropped with the garbage collector disabled.
If any leg, step or event were part of a reference cycle it would survive the
drop (and ``gc.collect()`` would find it); neither may happen.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

from consultfsm.core import events as ev
from consultfsm.core.errors import InputRejected
from consultfsm.core.facts import LegConfig, LegFacts
from consultfsm.core.leg import Leg
from consultfsm.core.snapshot import LegSnapshot
from consultfsm.core.states import TERMINAL_CALL_STATES, CallState, DeskState, InputKind, Timer
from consultfsm.core.step import Step
from consultfsm.core.table import Disposition

PREFIX = "gc-test-"
CONFIG = LegConfig(ring_ms=15_000, grace_ms=60_000, queue_ttl_ms=30_000)
# Time steps: simultaneous, small, past the ring window, past the grace window.
GAPS = (0, 1, 250, 16_000, 61_000)


class Coverage:
    def __init__(self) -> None:
        self.calls: set[CallState] = set()
        self.desks: set[DeskState] = set()
        self.dispositions: set[Disposition] = set()
        self.events: set[type[ev.Event]] = set()
        self.fired: set[Timer] = set()
        self.restored = 0


def _walk(seed: int, cov: Coverage, keep: list[Any]) -> None:
    """One random lifecycle: random accepted inputs at random gaps, until the
    leg is finished (or 40 inputs), with a snapshot/restore now and then."""
    rng = random.Random(seed)
    facts: dict[str, Any] = {
        "conversation_id": f"conv-{seed}", "channel_session_id": f"cs-{seed}",
        "call_id": f"call-{seed}", "service_identifier": "8001",
        "associated_dialog_uri": f"/finesse/api/Dialog/{seed}", "config": CONFIG,
    }  # fmt: skip
    agent_b = f"agent-b-{seed}"
    if seed % 4 == 0:  # a consult to a queue, offered to B later
        leg = Leg.queue_consult(f"{PREFIX}{seed}", f"agent-a-{seed}", f"+9230012{seed:05d}",
                                **facts)  # fmt: skip
    else:
        leg = Leg(f"{PREFIX}{seed}", f"agent-a-{seed}", agent_b, f"+9230012{seed:05d}",
                  **facts)  # fmt: skip
    values = {InputKind.OFFERED: agent_b}
    at = 0
    for n in range(40):
        at += rng.choice(GAPS)
        values[InputKind.REKEYED] = f"call-{seed}-{n}"
        options = [
            k for k in InputKind
            if leg.accepts(k, at) or (k in values and _takes(leg, k, at, values[k]))
        ]  # fmt: skip
        kind = rng.choice(options)
        before = leg.deadlines
        step = leg.handle(kind, at, values.get(kind))
        keep.append(step)  # held until the leg is dropped, then dropped with it
        cov.dispositions.add(step.disposition)
        cov.events.update(type(e) for e in step.events)
        if step.applied and kind.value.endswith(("timeout", "timeout_a", "timeout_b")):
            cov.fired.update(t for t in before if t not in leg.deadlines)
        state = leg.state
        cov.calls.add(state.call)
        cov.desks.update((state.desk_a, state.desk_b))
        if rng.random() < 0.1:
            leg = Leg.restore(LegSnapshot.from_dict(leg.snapshot().to_dict()))
            cov.restored += 1
        if leg.is_finished and rng.random() < 0.7:
            break
    keep.append(leg)


def _takes(leg: Leg, kind: InputKind, at: int, value: str) -> bool:
    # accepts() cannot say for a value input: try it on a copy.
    try:
        Leg.restore(leg.snapshot()).handle(kind, at, value)
    except InputRejected:
        return False
    return True


def _plain(value: Any) -> bool:
    """A value an event may hold: strings, ints, None, enum members (and its
    own class, which the collector lists among an instance's referents), or a
    tuple of strings (a leg's former dialog ids)."""
    if value.__class__ is tuple:
        return all(v.__class__ is str for v in value)
    return value is None or isinstance(value, str | int | Enum | type)


def _ours(obj: Any) -> bool:
    """A leg, step or event created by this test (found by its leg id)."""
    if isinstance(obj, Leg):
        return obj.leg_id.startswith(PREFIX)
    if isinstance(obj, ev.Event):
        return obj.leg.startswith(PREFIX)
    if isinstance(obj, Step):
        return any(e.leg.startswith(PREFIX) for e in obj.events)
    return False


@contextmanager
def _gc_disabled() -> Iterator[None]:
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _drive(cov: Coverage, walks: int = 1500) -> list[Any]:
    keep: list[Any] = []
    for seed in range(walks):
        _walk(seed, cov, keep)
    return keep


def test_every_kind_of_lifecycle_is_covered() -> None:
    cov = Coverage()
    _drive(cov)
    assert cov.calls >= TERMINAL_CALL_STATES
    assert set(DeskState) <= cov.desks
    assert set(Disposition) <= cov.dispositions
    assert set(Timer) <= cov.fired, "every timer must have fired at least once"
    assert cov.restored > 0
    assert set(ev.EVENT_CLASSES) <= cov.events, set(ev.EVENT_CLASSES) - cov.events


def test_legs_steps_and_events_are_freed_by_reference_counting_alone() -> None:
    with _gc_disabled():
        keep = _drive(Coverage())
        legs = [o for o in keep if isinstance(o, Leg)]
        steps = [o for o in keep if isinstance(o, Step)]
        assert legs and steps and any(s.events for s in steps)
        tracked_before = sum(1 for o in gc.get_objects() if _ours(o))
        assert tracked_before >= len(legs)
        del keep, legs, steps
        # With the collector off, only reference counting has run: nothing of
        # ours may be left (a cycle would keep it alive until a collection) ...
        leftovers = [o for o in gc.get_objects() if _ours(o)]
        assert leftovers == [], f"{len(leftovers)} objects kept alive by cycles: {leftovers[:3]}"
        # ... and a collection finds no unreachable cycles at all.
        assert gc.collect() == 0


def test_a_leg_and_its_events_hold_only_plain_values() -> None:
    cov = Coverage()
    keep = _drive(cov, walks=300)
    legs = [o for o in keep if isinstance(o, Leg)]
    for leg in legs:
        for ref in gc.get_referents(leg):
            assert _plain(ref) or isinstance(ref, LegConfig | LegFacts), (leg, ref)
    for step in (o for o in keep if isinstance(o, Step)):
        assert not any(isinstance(r, Leg) for r in gc.get_referents(step))
        for event in step.events:
            referents = gc.get_referents(event)
            assert all(_plain(r) for r in referents), (event, referents)
            assert not any(isinstance(r, Leg) for r in referents)
