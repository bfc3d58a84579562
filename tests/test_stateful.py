"""Stateful property test: several legs on one customer, every input, any order.

Each run creates one to three legs on the customer's session (agents drawn
from A, B, C, so desks are shared between legs) and interleaves CTI inputs,
browser disconnects and restores (fanned out to every leg of the agent, as
the system does), time jumps that fire due timers like a host, inputs exactly
at a deadline (before the host fires it), stray and duplicated expiries,
reordered CTI answers, illegal inputs and inputs in the past. The
:class:`~consultfsm.verify.invariants.Observer` checks every step.

Every leg runs twice: the *main* leg is snapshotted to JSON and restored at
random moments; its *twin* never is. Both get the same inputs and must
produce exactly the same outputs, deadlines included.
"""

from __future__ import annotations

from helpers import attempt, json_round_trip, new_leg, new_observer
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from strategies import (
    AGENTS,
    BROWSER_INPUTS,
    CTI_INPUTS,
    PAIRS,
    TIMER_INPUTS,
    configs,
    cti_script,
    delays,
    inputs,
    replay_jsonl,
)

from consultfsm.core.errors import InputRejected
from consultfsm.core.facts import LegConfig
from consultfsm.core.leg import Leg
from consultfsm.core.states import TIMEOUT_INPUT, InputKind
from consultfsm.core.step import Step
from consultfsm.verify.explore import Browser as BrowserEvent
from consultfsm.verify.explore import LegSpec, browser_inputs


def _outcome(result: Step | InputRejected) -> tuple[object, ...]:
    if isinstance(result, InputRejected):
        return ("rejected", type(result).__name__, str(result))
    return (
        "step",
        result.disposition,
        None if result.row is None else result.row.key,
        result.events,
    )


class ConsultLegs(RuleBasedStateMachine):
    """Legs on one customer session, driven at random; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.observer = new_observer()
        self.legs: dict[str, Leg] = {}
        self.twins: dict[str, Leg] = {}
        self.specs: list[LegSpec] = []
        self.config = LegConfig()
        self.now = 0
        self.log: list[tuple[str, object, int]] = []

    @initialize(
        config=configs(),
        pairs=st.lists(st.sampled_from(PAIRS), min_size=1, max_size=3),
    )
    def create_legs(self, config: LegConfig, pairs: list[tuple[str, str]]) -> None:
        self.config = config
        for i, (a, b) in enumerate(pairs, 1):
            spec = LegSpec(f"L{i}", a, b)
            self.specs.append(spec)
            for legs in (self.legs, self.twins):
                legs[spec.leg_id] = new_leg(
                    leg_id=spec.leg_id, agent_a=a, agent_b=b, call_id=f"D{i}", config=config
                )
            self.observer.track(self.legs[spec.leg_id])

    # -- feeding -----------------------------------------------------------------

    def feed(self, leg_id: str, kind: object, at: int) -> Step | InputRejected:
        """One input to the main leg (observed) and its twin; they must agree."""
        assert isinstance(kind, type(TIMER_INPUTS[0]))
        self.log.append((leg_id, kind, at))
        main = self.observer.step(self.legs[leg_id], kind, at)
        twin = attempt(self.twins[leg_id].handle, kind, at)
        assert _outcome(main) == _outcome(twin), f"restored leg diverged: {main!r} != {twin!r}"
        return main

    def fire_due(self) -> None:
        """What a host does when its clock reaches ``now``: fire due timers in order."""
        while True:
            due = sorted(
                (d, leg_id, t)
                for leg_id, leg in self.legs.items()
                for t, d in leg.deadlines.items()
                if d <= self.now
            )
            if not due:
                return
            deadline, leg_id, timer = due[0]
            self.feed(leg_id, TIMEOUT_INPUT[timer], max(deadline, self.legs[leg_id].last_at))

    def leg_ids(self) -> st.SearchStrategy[str]:
        return st.sampled_from(sorted(self.legs))

    # -- rules -------------------------------------------------------------------

    @rule(data=st.data(), kind=st.sampled_from(CTI_INPUTS), dt=delays())
    def cti(self, data: st.DataObject, kind: object, dt: int) -> None:
        """A CTI event for one leg, after a delay (due timers fire first)."""
        self.now += dt
        self.fire_due()
        self.feed(data.draw(self.leg_ids()), kind, self.now)

    @rule(data=st.data(), dt=delays())
    def accepted_input(self, data: st.DataObject, dt: int) -> None:
        """A CTI or browser input the leg accepts now: keeps the walk out of dead ends.
        (Hypothesis tries rules in name order first; this one should lead.)"""
        self.now += dt
        self.fire_due()
        leg_id = data.draw(self.leg_ids())
        legal = [
            k for k in (*CTI_INPUTS, *BROWSER_INPUTS) if self.legs[leg_id].accepts(k, self.now)
        ]
        if legal:
            self.feed(leg_id, data.draw(st.sampled_from(legal)), self.now)

    @rule(data=st.data())
    def call_script(self, data: st.DataObject) -> None:
        """A plausible CTI sequence for one leg, duplicated and reordered like Finesse."""
        leg_id = data.draw(self.leg_ids())
        for move in data.draw(cti_script()):
            self.now += move.dt or 0
            self.fire_due()
            self.feed(leg_id, move.kind, self.now)

    @rule(agent=st.sampled_from(AGENTS), event=st.sampled_from(list(BrowserEvent)), dt=delays())
    def browser(self, agent: str, event: BrowserEvent, dt: int) -> None:
        """An agent's browser goes away or comes back: every leg of the agent hears it."""
        self.now += dt
        self.fire_due()
        for spec in self.specs:
            kind = browser_inputs(spec, agent, event)
            if kind is not None:
                self.feed(spec.leg_id, kind, self.now)

    @rule(dt=delays())
    def time_passes(self, dt: int) -> None:
        """The clock jumps; the host fires whatever became due."""
        self.now += dt
        self.fire_due()

    @precondition(lambda self: any(leg.deadlines for leg in self.legs.values()))
    @rule(data=st.data(), kind=inputs(), offset=st.sampled_from([-1, 0, 0, 1]))
    def at_deadline(self, data: st.DataObject, kind: object, offset: int) -> None:
        """Any input at (or 1 ms around) a pending deadline, *before* the host fires it."""
        deadline = min(d for leg in self.legs.values() for d in leg.deadlines.values())
        self.now = max(self.now, deadline + offset)
        self.feed(data.draw(self.leg_ids()), kind, self.now)

    @rule(data=st.data(), kind=st.sampled_from(TIMER_INPUTS))
    def stray_expiry(self, data: st.DataObject, kind: object) -> None:
        """A timer input now: early, late, duplicated or for a timer never armed."""
        self.feed(data.draw(self.leg_ids()), kind, self.now)

    @precondition(lambda self: bool(self.log))
    @rule(dt=st.sampled_from([0, 1, 500]))
    def duplicate(self, dt: int) -> None:
        """The last input again (Finesse repeats dialog updates)."""
        leg_id, kind, _ = self.log[-1]
        self.now += dt
        self.feed(leg_id, kind, self.now)

    @precondition(lambda self: any(leg.call.value == "initiated" for leg in self.legs.values()))
    @rule(data=st.data())
    def answer_before_alert(self, data: st.DataObject) -> None:
        """CTI reordering: ESTABLISHED before DELIVERED, at the same instant."""
        leg_id = data.draw(self.leg_ids())
        for kind in (InputKind.ACCEPTED, InputKind.ALERTING):
            self.feed(leg_id, kind, self.now)

    @rule(data=st.data(), kind=inputs())
    def illegal(self, data: st.DataObject, kind: object) -> None:
        """An input the leg does not accept now (if it accepts it, nothing to do)."""
        leg_id = data.draw(self.leg_ids())
        assert isinstance(kind, type(TIMER_INPUTS[0]))
        if not self.legs[leg_id].accepts(kind, self.now):
            result = self.feed(leg_id, kind, self.now)
            assert isinstance(result, InputRejected), f"accepts() said no, handle() said {result}"

    @rule(data=st.data(), kind=inputs())
    def in_the_past(self, data: st.DataObject, kind: object) -> None:
        """An input stamped before the leg's clock is refused, changing nothing."""
        leg_id = data.draw(self.leg_ids())
        leg = self.legs[leg_id]
        if leg.last_at > 0:
            result = self.feed(leg_id, kind, leg.last_at - 1)
            assert isinstance(result, InputRejected)

    @rule(data=st.data())
    def snapshot_restore(self, data: st.DataObject) -> None:
        """Persist a leg as JSON and continue with the restored copy."""
        leg_id = data.draw(self.leg_ids())
        restored = json_round_trip(self.legs[leg_id])
        assert restored.snapshot() == self.twins[leg_id].snapshot()
        assert restored.deadlines == self.twins[leg_id].deadlines
        self.legs[leg_id] = restored

    # -- checks ------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        if self.observer.violations:
            trace = replay_jsonl(self.specs, self.config, self.log)  # type: ignore[arg-type]
            note(f"replay trace:\n{trace}")
            raise AssertionError("\n".join(str(v) for v in self.observer.violations))

    @invariant()
    def twins_agree(self) -> None:
        for leg_id, leg in self.legs.items():
            assert leg.snapshot() == self.twins[leg_id].snapshot()

    def teardown(self) -> None:
        # Let every timer run out, as a host would: each fires exactly once.
        if self.legs and self.observer.ok:  # (a failure was already reported)
            self.now = self.observer.drain(self.legs, self.now)
            self.invariants_hold()


TestConsultLegs = ConsultLegs.TestCase
