"""Exhaustive bounded exploration of consult legs, checking every invariant.

Breadth-first over the product of the call and browser regions of one leg, or
of two legs that share the customer's channel session (A consults B, and A
consults C, at the same time), up to a depth. From each reached node every
action is tried:

* every call input of every leg (CTI events, and the ring timer's expiry,
  which is a due firing, an early stray or a late one depending on the clock);
* a browser going away or coming back, *per agent*: it reaches every leg the
  agent is in, as it would in the system; and every leg's grace expiry;
* a time jump to the next pending deadline, exactly (so inputs can arrive at
  the very instant a timer is due, before or after it fires).

The :class:`~consultfsm.verify.invariants.Observer` checks every step. Nodes are
deduplicated on what can influence the future: region states, deadlines
*relative to now*, and the observer's per-leg digest. Several timer
configurations are explored (ring window shorter than, longer than and equal
to the grace window), because which timer expires first matters.

Default depth (:data:`DEFAULT_DEPTHS`): 8 actions (inputs and time jumps) for
one leg, which covers every case of the design note (the longest, "Browser-B
didn't restore within x seconds", needs 7) with one to spare for a duplicate or
a reordering; 6 for two legs, which covers every interaction of the two legs
through A's shared browser, within seconds.

Sans-I/O: progress goes to an optional callback; :mod:`consultfsm.cli.check`
prints.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Any

import attrs

from consultfsm.core.executor import LegState
from consultfsm.core.facts import DEFAULT_CONFIG, LegConfig
from consultfsm.core.leg import Leg, leg_class
from consultfsm.core.states import INPUT_REGION, TIMER_OF_INPUT, CallState, InputKind, Region
from consultfsm.core.step import Step
from consultfsm.core.table import TABLE, Row

from .invariants import ObservedLeg, Observer, Violation

#: Default exploration depth (actions per path) by number of legs; see docs/verification.md.
DEFAULT_DEPTHS: dict[int, int] = {1: 8, 2: 6}
DEFAULT_DEPTH = DEFAULT_DEPTHS[1]

#: Timer windows explored by default: ring < grace, grace < ring, ring == grace,
#: and a direct consult (no ring window) to a queue with a time to live.
DEFAULT_CONFIGS: tuple[LegConfig, ...] = (
    LegConfig(ring_ms=15_000, grace_ms=60_000),
    LegConfig(ring_ms=15_000, grace_ms=10_000),
    LegConfig(ring_ms=10_000, grace_ms=10_000),
    LegConfig(ring_ms=None, grace_ms=10_000, queue_ttl_ms=10_000),
)

SESSION = "S1"
CONVERSATION = "C1"
CUSTOMER_ANI = "+923001234567"
DIALOG = "D1"


@attrs.frozen
class LegSpec:
    """The identity of one explored leg. A queue consult starts with no agent
    and is offered to ``agent_b``."""

    leg_id: str
    agent_a: str
    agent_b: str
    queue: bool = False


#: One leg, and two legs sharing the customer's session and agent A.
LEG_SETS: dict[int, tuple[LegSpec, ...]] = {
    1: (LegSpec("L1", "A", "B"),),
    2: (LegSpec("L1", "A", "B"), LegSpec("L2", "A", "C")),
}
#: The one-leg explorations: a consult to an agent, and one to a queue.
ROOT_SETS: dict[int, tuple[tuple[LegSpec, ...], ...]] = {
    1: (LEG_SETS[1], (LegSpec("Q1", "A", "B", queue=True),)),
    2: (LEG_SETS[2],),
}
#: The dialog id a re-keying moves the explored leg to.
REKEYED_DIALOG = "D1-surviving"


#: Builds a leg: ``factory(spec, config)``.
LegFactory = Callable[[LegSpec, LegConfig], ObservedLeg]


def runtime_leg(spec: LegSpec, config: LegConfig) -> Leg:
    """The compiled runtime leg (the default)."""
    if spec.queue:
        return Leg.queue_consult(
            spec.leg_id, spec.agent_a, CUSTOMER_ANI, conversation_id=CONVERSATION,
            channel_session_id=SESSION, call_id=DIALOG, service_identifier="8001",
            config=config,
        )  # fmt: skip
    return Leg(
        spec.leg_id,
        spec.agent_a,
        spec.agent_b,
        CUSTOMER_ANI,
        conversation_id=CONVERSATION,
        channel_session_id=SESSION,
        call_id=DIALOG,
        service_identifier="8001",
        config=config,
    )


def table_leg_factory(table: Sequence[Row]) -> LegFactory:
    """A factory of legs that run ``table`` (e.g. a broken copy) with the one
    executor (:func:`consultfsm.core.leg.leg_class`)."""
    cls = leg_class(tuple(table))

    def make(spec: LegSpec, config: LegConfig) -> ObservedLeg:
        return cls.restore(runtime_leg(spec, config).snapshot())

    return make


# --- actions --------------------------------------------------------------------------


class Browser(StrEnum):
    """What an agent's browser does, or Finesse does to the agent (fanned out
    to the agent's legs)."""

    DISCONNECTED = "browser_disconnected"
    RESTORED = "browser_restored"
    LOGGED_OUT = "logged_out"


@attrs.frozen
class Action:
    """One explored move. Exactly one of ``kind`` (to ``leg``), ``browser``
    (for ``agent``) or ``advance`` (jump to the next deadline) is set."""

    at: int
    leg: str | None = None
    kind: InputKind | None = None
    agent: str | None = None
    browser: Browser | None = None
    advance: bool = False

    def __str__(self) -> str:
        if self.advance:
            return f"@{self.at} time advances"
        if self.browser is not None:
            return f"@{self.at} {self.browser.value} agent={self.agent}"
        return f"@{self.at} {self.kind} leg={self.leg}"


_BROWSER_INPUT: dict[tuple[Browser, bool], InputKind] = {
    (Browser.DISCONNECTED, True): InputKind.BROWSER_DISCONNECTED_A,
    (Browser.RESTORED, True): InputKind.BROWSER_RESTORED_A,
    (Browser.LOGGED_OUT, True): InputKind.LOGGED_OUT_A,
    (Browser.DISCONNECTED, False): InputKind.BROWSER_DISCONNECTED_B,
    (Browser.RESTORED, False): InputKind.BROWSER_RESTORED_B,
    (Browser.LOGGED_OUT, False): InputKind.LOGGED_OUT_B,
}
#: Inputs told to one leg (the rest are per agent, fanned out).
_LEG_INPUTS = tuple(
    k for k in InputKind
    if INPUT_REGION[k] in (Region.CALL, Region.CUSTOMER) or k in TIMER_OF_INPUT
)  # fmt: skip


#: The inputs told to each leg, by number of legs explored. Two legs interact
#: only through the agents they share (A's desk fans out to both), so the two
#: leg exploration keeps to the inputs that start and end a leg; one leg
#: explores them all. (Every input at depth 6 with two legs is hours of work.)
LEG_INPUTS: dict[int, tuple[InputKind, ...]] = {
    1: _LEG_INPUTS,
    2: (
        InputKind.ALERTING, InputKind.ACCEPTED, InputKind.RONA, InputKind.DROPPED_BY_A,
        InputKind.DROPPED_BY_B, InputKind.RING_TIMEOUT, InputKind.GRACE_TIMEOUT_A,
        InputKind.GRACE_TIMEOUT_B,
    ),
}  # fmt: skip
#: The agent-wide inputs, by number of legs explored (likewise).
AGENT_INPUTS: dict[int, tuple[Browser, ...]] = {
    1: tuple(Browser),
    2: (Browser.DISCONNECTED, Browser.RESTORED),
}
#: The timer windows explored, by number of legs (two legs: no queue consult there).
CONFIGS_FOR: dict[int, tuple[LegConfig, ...]] = {1: DEFAULT_CONFIGS, 2: DEFAULT_CONFIGS[:3]}


def value_for(spec: LegSpec, kind: InputKind) -> str | None:
    """The value an explored input carries (``VALUE_OF_INPUT``), else None."""
    if kind is InputKind.OFFERED:
        return spec.agent_b
    if kind is InputKind.REKEYED:
        return REKEYED_DIALOG
    return None


def browser_inputs(spec: LegSpec, agent: str, browser: Browser) -> InputKind | None:
    """The input ``agent``'s browser event is for ``spec``'s leg, if any."""
    if agent == spec.agent_a:
        return _BROWSER_INPUT[(browser, True)]
    if agent == spec.agent_b:
        return _BROWSER_INPUT[(browser, False)]
    return None


# --- the search ----------------------------------------------------------------------


@attrs.define
class _Node:
    now: int
    legs: dict[str, ObservedLeg]
    observer: Observer
    parent: _Node | None
    action: Action | None
    depth: int


@attrs.frozen
class Counterexample:
    """A shortest path to a violation, replayable."""

    config: LegConfig
    specs: tuple[LegSpec, ...]
    actions: tuple[Action, ...]
    violations: tuple[Violation, ...]


@attrs.frozen
class Report:
    """What an exploration found."""

    depth: int
    legs: int
    states: int  # distinct nodes reached (per config, summed)
    region_states: frozenset[tuple[LegState, ...]]  # region-state combinations reached
    steps: int  # inputs fed
    checks: int  # invariant evaluations
    rows_covered: frozenset[str]
    rows_total: frozenset[str]
    counterexample: Counterexample | None

    @property
    def ok(self) -> bool:
        """True when no invariant broke."""
        return self.counterexample is None

    def merge(self, other: Report) -> Report:
        """The union of two explorations of the same depth and legs (other configs)."""
        return Report(
            self.depth, self.legs, self.states + other.states,
            self.region_states | other.region_states, self.steps + other.steps,
            self.checks + other.checks, self.rows_covered | other.rows_covered,
            self.rows_total, self.counterexample or other.counterexample,
        )  # fmt: skip

    @property
    def rows_missed(self) -> list[str]:
        """Table rows no explored step used."""
        return sorted(self.rows_total - self.rows_covered)


Progress = Callable[[str], None]


def _key(node: _Node) -> tuple[Any, ...]:
    out: list[Any] = []
    for leg_id, leg in node.legs.items():
        rec = node.observer.records.get(leg_id)
        out.append(
            (
                leg.state,
                tuple(sorted((t, d - node.now) for t, d in leg.deadlines.items())),
                rec.key() if rec else None,
            )
        )
    return tuple(out)


def _actions(node: _Node, specs: Sequence[LegSpec]) -> Iterable[Action]:
    now = node.now
    for spec in specs:
        for kind in LEG_INPUTS[len(specs)]:
            yield Action(now, leg=spec.leg_id, kind=kind)
    for agent in dict.fromkeys(a for s in specs for a in (s.agent_a, s.agent_b)):
        for browser in AGENT_INPUTS[len(specs)]:
            yield Action(now, agent=agent, browser=browser)
    later = [d for leg in node.legs.values() for d in leg.deadlines.values() if d > now]
    if later:
        yield Action(min(later), advance=True)


def _apply(node: _Node, action: Action, specs: Sequence[LegSpec], rows: set[str]) -> _Node:
    legs = {k: copy.copy(v) for k, v in node.legs.items()}
    observer = node.observer.copy()
    by_leg = {s.leg_id: s for s in specs}
    fed: list[tuple[str, InputKind]] = []
    if action.kind is not None and action.leg is not None:
        fed.append((action.leg, action.kind))
    elif action.browser is not None and action.agent is not None:
        # As the system does: every live leg of the agent, all or nothing.
        for spec in specs:
            kind = browser_inputs(spec, action.agent, action.browser)
            if kind is not None and not legs[spec.leg_id].is_finished:
                fed.append((spec.leg_id, kind))
        refused = [
            (leg_id, kind) for leg_id, kind in fed if not legs[leg_id].accepts(kind, action.at)
        ]
        if refused:
            fed = refused[:1]  # the whole input is rejected: nothing else is fed
    for leg_id, kind in fed:
        value = value_for(by_leg[leg_id], kind)
        outcome = observer.step(legs[leg_id], kind, action.at, value)
        if isinstance(outcome, Step) and outcome.row is not None:
            rows.add(outcome.row.key)
    return _Node(action.at, legs, observer, node, action, node.depth + 1)


def _path(node: _Node) -> tuple[Action, ...]:
    out: list[Action] = []
    cur: _Node | None = node
    while cur is not None and cur.action is not None:
        out.append(cur.action)
        cur = cur.parent
    return tuple(reversed(out))


def explore(
    depth: int = DEFAULT_DEPTH,
    legs: int = 1,
    *,
    configs: Sequence[LegConfig] | None = None,
    factory: LegFactory = runtime_leg,
    table: Sequence[Row] = TABLE,
    progress: Progress | None = None,
) -> Report:
    """Explore every interleaving up to ``depth`` actions; stop at the first
    violation (the shortest, since the search is breadth-first)."""
    covered: set[str] = set()
    region_states: set[tuple[LegState, ...]] = set()
    states = steps = checks = 0
    if configs is None:
        configs = CONFIGS_FOR[legs]
    runs = [(specs, config) for specs in ROOT_SETS[legs] for config in configs]
    for specs, config in runs:
        observer = Observer(session=SESSION, conversation=CONVERSATION)
        root_legs = {s.leg_id: factory(s, config) for s in specs}
        for leg in root_legs.values():
            observer.track(leg)
        root = _Node(0, root_legs, observer, None, None, 0)
        seen = {_key(root)}
        frontier = deque([root])
        level = 0
        while frontier:
            node = frontier.popleft()
            if node.depth != level and progress is not None:
                progress(
                    f"config ring={config.ring_ms} grace={config.grace_ms}: depth "
                    f"{node.depth}, {len(seen)} states, frontier {len(frontier) + 1}"
                )
            level = node.depth
            region_states.add(tuple(leg.state for leg in node.legs.values()))
            if node.depth >= depth:
                continue
            for action in _actions(node, specs):
                child = _apply(node, action, specs, covered)
                steps += 1
                checks += child.observer.checks - node.observer.checks
                if child.observer.violations:
                    cex = Counterexample(
                        config, specs, _path(child), tuple(child.observer.violations)
                    )
                    return Report(
                        depth,
                        legs,
                        states + len(seen),
                        frozenset(region_states),
                        steps,
                        checks,
                        frozenset(covered),
                        coverable(table, legs),
                        cex,
                    )
                k = _key(child)
                if k not in seen:
                    seen.add(k)
                    frontier.append(child)
        states += len(seen)
    return Report(
        depth,
        legs,
        states,
        frozenset(region_states),
        steps,
        checks,
        frozenset(covered),
        coverable(table, legs),
        None,
    )


def alphabet(legs: int) -> frozenset[InputKind]:
    """Every input an exploration of ``legs`` legs feeds (timers included)."""
    agent = {_BROWSER_INPUT[(b, side)] for b in AGENT_INPUTS[legs] for side in (True, False)}
    return frozenset({*LEG_INPUTS[legs], *agent, *TIMER_OF_INPUT})


def coverable(table: Iterable[Row], legs: int) -> frozenset[str]:
    """The rows an exploration of ``legs`` legs can cover: those of the inputs
    it feeds, from the call states those inputs reach (the closure over the
    table's call rows, from where the explored legs start)."""
    rows = tuple(table)
    fed = alphabet(legs)
    reached = {CallState.INITIATED, *(CallState.QUEUED for s in ROOT_SETS[legs] if s[0].queue)}
    grew = True
    while grew:
        grew = False
        for r in rows:
            if (r.region is Region.CALL and r.input in fed and r.source in reached
                    and r.target not in reached):  # fmt: skip
                reached.add(r.target)  # type: ignore[arg-type]
                grew = True
    return frozenset(
        r.key for r in rows
        if r.input in fed and (r.region is not Region.CALL or r.source in reached)
    )  # fmt: skip


# --- traces ---------------------------------------------------------------------------


def trace_lines(
    specs: Sequence[LegSpec],
    actions: Sequence[Action],
    config: LegConfig = DEFAULT_CONFIG,
    factory: LegFactory = runtime_leg,
) -> tuple[list[dict[str, Any]], bool]:
    """The path as replay inputs (``consultfsm replay`` JSONL, issue 3 section 4),
    and whether the replay will see exactly the explored order.

    A ``config`` line sets the timer windows; the customer's session starts
    and the legs are initiated at 0. Timer expiries are not trace inputs: the
    replay fires due timers on its virtual clock before the next input, so a
    firing becomes a ``tick`` at its time; stray or early expiries change
    nothing and are left out. The order is exact unless the path fed an input
    at the very millisecond a timer was due *before* firing it (the replay
    always fires first); then the second value is False.
    """
    lines: list[dict[str, Any]] = [
        {"at": 0, "input": "config", "ring_ms": config.ring_ms, "grace_ms": config.grace_ms,
         "queue_ttl_ms": config.queue_ttl_ms},
        {
            "at": 0, "input": "customer_session_started", "session": SESSION,
            "conversation": CONVERSATION, "customer_ani": CUSTOMER_ANI, "dialog": DIALOG,
        },
    ]  # fmt: skip
    legs = {s.leg_id: factory(s, config) for s in specs}
    by_leg = {s.leg_id: s for s in specs}
    for spec in specs:
        lines.append(consult_line(spec, config))
    faithful = True
    for action in actions:
        if action.advance:
            continue
        fired = action.kind in TIMER_OF_INPUT
        if not fired and any(
            d <= action.at for leg in legs.values() for d in leg.deadlines.values()
        ):
            faithful = False  # the replay would fire that timer before this input
        _apply_quietly(legs, action, specs)
        if action.browser is not None:
            lines.append({"at": action.at, "input": action.browser.value, "agent": action.agent})
        elif fired:
            lines.append({"at": action.at, "input": "tick"})
        elif action.kind is not None and action.leg is not None:
            line = input_line(by_leg[action.leg], action.kind, action.at)
            if line is not None:
                lines.append(line)
    return lines, faithful


def _apply_quietly(legs: dict[str, ObservedLeg], action: Action, specs: Sequence[LegSpec]) -> None:
    node = _Node(action.at, legs, Observer(), None, None, 0)
    legs.update(_apply(node, action, specs, set()).legs)


def consult_line(spec: LegSpec, config: LegConfig) -> dict[str, Any]:
    """The replay line that creates ``spec``'s leg at 0."""
    line: dict[str, Any] = {
        "at": 0, "input": "consult_initiated", "leg": spec.leg_id, "agent_a": spec.agent_a,
        "agent_b": None if spec.queue else spec.agent_b, "customer_ani": CUSTOMER_ANI,
        "associated_dialog_uri": None, "call_id": DIALOG,
    }  # fmt: skip
    if spec.queue:
        line["queue"] = True
    elif config.ring_ms is None:
        line["direct"] = True
    return line


#: The replay's ``dropped`` names who hung up.
_DROPPED = {InputKind.DROPPED_BY_A, InputKind.DROPPED_BY_B, InputKind.CUSTOMER_LEFT}
#: Agent-wide replay inputs, by the desk input they fan out as.
_AGENT_LINE = {
    "disconnected": "browser_disconnected", "restored": "browser_restored",
    "logged_out": "logged_out",
}  # fmt: skip


def input_line(spec: LegSpec, kind: InputKind, at: int) -> dict[str, Any] | None:
    """One leg input as a replay line; None for timer expiries (not trace inputs)."""
    base: dict[str, Any] = {"at": at}
    if kind in TIMER_OF_INPUT:
        return None
    if kind in _DROPPED:
        by = {InputKind.DROPPED_BY_A: spec.agent_a, InputKind.DROPPED_BY_B: spec.agent_b}
        return {**base, "input": "dropped", "leg": spec.leg_id, "by": by.get(kind, "customer")}
    if kind is InputKind.OFFERED:
        return {**base, "input": "offered", "leg": spec.leg_id, "agent": value_for(spec, kind)}
    if kind is InputKind.REKEYED:
        return {**base, "input": "rekeyed", "leg": spec.leg_id, "dialog": value_for(spec, kind)}
    if INPUT_REGION[kind] is Region.CALL:
        return {**base, "input": kind.value, "leg": spec.leg_id}
    agent = spec.agent_a if INPUT_REGION[kind] is Region.DESK_A else spec.agent_b
    what = next(line for key, line in _AGENT_LINE.items() if key in kind.value)
    return {**base, "input": what, "agent": agent}
