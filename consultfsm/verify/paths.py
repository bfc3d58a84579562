"""Shortest input paths to every row of the transition table.

Like XState's ``getShortestPaths``: a breadth-first search over one leg's
product of regions, where a move is an input at the current time or a jump of
the clock to the next pending deadline (the time a timer guard needs to become
due). The first step that is decided by a row gives that row its shortest path.
Several timer configurations are searched, since which window is shorter
decides which rows are reachable; the shortest path over all of them wins.

A row without a path is unreachable: the model-based tests fail on it, so a
row cannot be added to the table without becoming reachable.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Sequence

import attrs

from consultfsm.core import events as ev
from consultfsm.core.errors import InputRejected
from consultfsm.core.executor import LegState
from consultfsm.core.facts import LegConfig
from consultfsm.core.leg import Leg, leg_class
from consultfsm.core.states import InputKind
from consultfsm.core.step import Step
from consultfsm.core.table import TABLE, Disposition, Row

from .explore import DEFAULT_CONFIGS, ROOT_SETS, LegSpec, runtime_leg, value_for
from .invariants import ObservedLeg

#: The configurations searched: the explorer's (ring < grace, grace < ring, equal).
CONFIGS: tuple[LegConfig, ...] = DEFAULT_CONFIGS


@attrs.frozen
class Path:
    """Timed inputs from a fresh leg (``new_leg()``); the last one is decided
    by ``row``. An input that carries a value carries ``value(kind)``."""

    row: Row
    config: LegConfig
    steps: tuple[tuple[int, InputKind], ...]
    spec: LegSpec = ROOT_SETS[1][0][0]  # the leg it starts from (a queue consult or not)

    def __str__(self) -> str:
        inputs = ", ".join(f"{kind.value}@{at}" for at, kind in self.steps)
        queue = ", queue consult" if self.spec.queue else ""
        return (
            f"{self.row.key}: [{inputs}] (ring={self.config.ring_ms}, "
            f"grace={self.config.grace_ms}, ttl={self.config.queue_ttl_ms}{queue})"
        )

    def new_leg(self) -> Leg:
        """The fresh leg the path starts from."""
        return runtime_leg(self.spec, self.config)

    def value(self, kind: InputKind) -> str | None:
        """The value a step's input carries, if it carries one."""
        return value_for(self.spec, kind)


def expected_events(row: Row, config: LegConfig) -> tuple[type[ev.Event], ...]:
    """The event classes a row emits under ``config``, in order, timer events
    included (a timer whose window is None is never armed, so never cancelled)."""
    if row.disposition is not Disposition.APPLIED:
        return ()
    used = {t for t in (row.cancel, row.start) if t is not None and config.window(t) is not None}
    cancel = (ev.TimerCancelled,) if row.cancel in used else ()
    start = (ev.TimerStarted,) if row.start in used else ()
    return (*cancel, *(e.event for e in row.emits), *start)


def target_of(row: Row, before: LegState) -> LegState:
    """The whole leg state after ``row`` applies in ``before``."""
    return before._replace(**{row.region.value: row.target})  # type: ignore[arg-type]


#: Builds a fresh leg for a configuration (and the leg it is, queue consult or not).
LegFactory = Callable[[LegConfig, LegSpec], ObservedLeg]


def _factory(table: Sequence[Row]) -> LegFactory:
    """Fresh legs that run ``table`` (the one executor, any table)."""
    cls = Leg if tuple(table) == TABLE else leg_class(tuple(table))

    def new_leg(config: LegConfig, spec: LegSpec) -> ObservedLeg:
        return cls.restore(runtime_leg(spec, config).snapshot())

    return new_leg


def shortest_paths(
    table: Sequence[Row] = TABLE,
    *,
    configs: Sequence[LegConfig] = CONFIGS,
    new_leg: LegFactory | None = None,
    max_depth: int = 12,
) -> dict[str, Path]:
    """A shortest path to each row of ``table`` the leg can reach, by row key
    (legs from ``new_leg``, by default legs that run ``table``)."""
    wanted = {r.key for r in table}
    if new_leg is None:
        new_leg = _factory(table)
    best: dict[str, Path] = {}
    roots = [spec for (spec,) in ROOT_SETS[1]]
    for config in configs:
        for spec in roots:
            found = _search(config, spec, new_leg, wanted, max_depth)
            for key, path in found.items():
                if key not in best or len(path.steps) < len(best[key].steps):
                    best[key] = path
    return best


def unreachable(table: Sequence[Row] = TABLE, **kwargs: object) -> list[str]:
    """Keys of the rows no path reaches (should be empty)."""
    paths = shortest_paths(table, **kwargs)  # type: ignore[arg-type]
    return sorted(r.key for r in table if r.key not in paths)


def _search(
    config: LegConfig, spec: LegSpec, new_leg: LegFactory, wanted: set[str], max_depth: int
) -> dict[str, Path]:
    found: dict[str, Path] = {}
    root = new_leg(config, spec)
    # node: (leg, now, steps so far)
    frontier: deque[tuple[ObservedLeg, int, tuple[tuple[int, InputKind], ...]]] = deque(
        [(root, 0, ())]
    )
    seen = {_key(root, 0)}
    while frontier and len(found) < len(wanted):
        leg, now, steps = frontier.popleft()
        if len(steps) >= max_depth:
            continue
        for kind in InputKind:
            child = copy.copy(leg)
            try:
                step: Step = child.handle(kind, now, value_for(spec, kind))
            except InputRejected:
                continue
            path = (*steps, (now, kind))
            if step.row is None:
                continue  # rule 5 absorbed a stray expiry: no row, nothing changed
            if step.row.key in wanted and step.row.key not in found:
                found[step.row.key] = Path(step.row, config, path, spec)
            k = _key(child, now)
            if k not in seen:
                seen.add(k)
                frontier.append((child, now, path))
        later = [d for d in leg.deadlines.values() if d > now]
        if later:  # let the clock reach the next deadline: no input, same path
            at = min(later)
            k = _key(leg, at)
            if k not in seen:
                seen.add(k)
                frontier.appendleft((leg, at, steps))  # a clock jump costs no input
    return found


def _key(leg: ObservedLeg, now: int) -> tuple[object, ...]:
    return (leg.state, tuple(sorted((t, d - now) for t, d in leg.deadlines.items())))
