"""Exhaustive exploration of the desk machine: every reachable state, every input.

The desk's state space is finite and small, so this is not bounded like the
leg's exploration (:mod:`consultfsm.verify.explore`): from a new desk of each
role, breadth first, every input is tried in every reachable state, run by the
real :class:`~consultfsm.desk.machine.Desk` (or a class running another table,
:func:`~consultfsm.desk.machine.desk_class`), and after every step:

* **all or nothing**: a refused input leaves the desk exactly as it was;
* **the page rules**: a Finesse input reaches no page that is ``down``, a
  list only a page that is ``reading``; a list, or live news reaching a
  ``reading`` page, brings the page ``up``;
* **the messages**: ``CALL_LEG_STARTED`` at most once, ``CALL_LEG_ENDED`` at
  most once and only after it, hold and resume alternating and only in
  between, nothing sent after the end; and a desk that sent the start never
  reaches a terminal state without sending the end;
* **terminal** states are never left;
* **the settle timer** is armed exactly while ``closing`` with the page ``up``,
  and its expiry is taken at its deadline, never before;
* **snapshots** round-trip through their dict form.

What a state is, for the search: the machine's regions, whether the timer is
armed, and what the desk has sent so far (started, ended, held). Time is
normalised (every state is re-entered at time 0 with the deadline a full
window away), so the search is finite. Afterwards: every reachable state that
is not terminal must still be able to reach a terminal one, and every row of
the table is reported as covered or not.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import attrs

from consultfsm.core.errors import ConsultFsmError
from consultfsm.desk.machine import Desk, DeskFacts, DeskSnapshot, DeskStep
from consultfsm.desk.table import (
    DESK_TABLE,
    FINESSE_INPUTS,
    LIST_INPUTS,
    TERMINAL,
    DeskCall,
    DeskInput,
    DeskPage,
    DeskRole,
    DeskRow,
    Effect,
)

_SETTLE = 1_000


@attrs.frozen(slots=True)
class Node:
    """One state of the search: the machine, and what it has sent so far."""

    role: DeskRole
    call: DeskCall
    page: DeskPage
    armed: bool
    started: bool = False
    ended: bool = False
    held: bool = False

    def __str__(self) -> str:
        sent = "".join(f for f, on in (("S", self.started), ("E", self.ended), ("H", self.held))
                       if on)  # fmt: skip
        return f"{self.role}:{self.call}/{self.page}{'+timer' if self.armed else ''}[{sent}]"


@attrs.frozen(slots=True)
class Violation:
    """A broken rule, with the shortest path of inputs that shows it."""

    rule: str
    path: tuple[str, ...]
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail} (after {' -> '.join(self.path) or 'nothing'})"


@attrs.frozen(slots=True)
class DeskReport:
    states: int
    steps: int
    rows_covered: frozenset[str]
    rows_total: frozenset[str]
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def rows_missed(self) -> list[str]:
        return sorted(self.rows_total - self.rows_covered)


def _desk(cls: type[Desk], node: Node) -> Desk:
    facts = DeskFacts(node.role, "7002:1002:16777301", "+923001234567", "7001")
    deadline = _SETTLE if node.armed else None
    return cls.restore(DeskSnapshot(facts, node.call, node.page, deadline, 0, _SETTLE))


def _after(node: Node, desk: Desk, step: DeskStep) -> tuple[Node, list[str]]:
    """The next node, and the message rules the step broke."""
    problems: list[str] = []
    started, ended, held = node.started, node.ended, node.held
    for e in step.emits:
        if e.effect is Effect.SEND_STARTED:
            problems += ["CALL_LEG_STARTED sent twice"] if started else []
            started = True
        elif e.effect is Effect.SEND_ENDED:
            if ended or not started:
                problems.append("CALL_LEG_ENDED sent twice or without a start")
            ended = True
        elif e.effect in (Effect.SEND_HOLD, Effect.SEND_RESUME):
            hold = e.effect is Effect.SEND_HOLD
            if not started or ended or held == hold:
                problems.append(f"{e.effect} out of turn")
            held = hold
    if desk.call in TERMINAL and started and not ended:
        problems.append("a desk that sent the start reached the end without sending it")
    nxt = Node(node.role, desk.call, desk.page, desk.settle_deadline is not None,
               started, ended, held)  # fmt: skip
    return nxt, problems


def _check_state(desk: Desk, node: Node, kind: DeskInput | None) -> list[str]:
    problems = []
    should_arm = desk.call is DeskCall.CLOSING and desk.page is DeskPage.UP
    if (desk.settle_deadline is not None) != should_arm:
        problems.append(f"settle timer {'armed' if desk.settle_deadline else 'not armed'} "
                        f"in {desk.state}")  # fmt: skip
    if node.call in TERMINAL and desk.call is not node.call:
        problems.append(f"left the terminal state {node.call}")
    if kind in LIST_INPUTS and desk.page is not DeskPage.UP:
        problems.append("a list read did not bring the page up")
    if kind in FINESSE_INPUTS and node.page is DeskPage.READING and desk.page is not DeskPage.UP:
        problems.append("live news did not bring a reading page up")
    snap = desk.snapshot()
    if DeskSnapshot.from_dict(snap.to_dict()) != snap:
        problems.append("the snapshot does not round-trip")
    return problems


def explore_desk(rows: tuple[DeskRow, ...] = DESK_TABLE) -> DeskReport:
    """Every reachable state of both roles under every input, with the checks above."""
    from consultfsm.desk.machine import desk_class

    cls = Desk if rows is DESK_TABLE else desk_class(rows)
    start = [Node(role, DeskCall.NONE, DeskPage.UP, False) for role in DeskRole]
    paths: dict[Node, tuple[str, ...]] = dict.fromkeys(start, ())
    edges: dict[Node, set[Node]] = {}
    queue = deque(start)
    covered: set[str] = set()
    violations: list[Violation] = []
    steps = 0
    while queue:
        node = queue.popleft()
        edges[node] = set()
        for kind, at in _actions():
            desk = _desk(cls, node)
            before = desk.snapshot()
            steps += 1
            label = kind.value
            try:
                step = (desk.handle_timer(_SETTLE) if kind is DeskInput.SETTLE_TIMEOUT
                        else desk.handle(kind, at))  # fmt: skip
            except ConsultFsmError:
                if desk.snapshot() != before:
                    why = f"{kind} was refused but changed {node}"
                    violations.append(Violation("all or nothing", paths[node], why))
                if kind in FINESSE_INPUTS and node.page is not DeskPage.DOWN:
                    violations.append(Violation("totality", paths[node],
                                                f"{kind} refused in {node}"))  # fmt: skip
                if kind in LIST_INPUTS and node.page is DeskPage.READING:
                    violations.append(Violation("totality", paths[node],
                                                f"{kind} refused in {node}"))  # fmt: skip
                continue
            if kind in FINESSE_INPUTS and node.page is DeskPage.DOWN:
                violations.append(Violation("page", paths[node], f"{kind} reached a page down"))
            if kind in LIST_INPUTS and node.page is not DeskPage.READING:
                violations.append(Violation("page", paths[node], f"{kind} taken by a page not "
                                                                 "reading"))  # fmt: skip
            if step.row is not None:
                covered.add(step.row.key)
            nxt, problems = _after(node, desk, step)
            problems += _check_state(desk, node, kind)
            violations += [Violation("rules", (*paths[node], label), p) for p in problems]
            edges[node].add(nxt)
            if nxt not in paths:
                paths[nxt] = (*paths[node], label)
                queue.append(nxt)
    violations += _stuck(edges, paths)
    return DeskReport(len(paths), steps, frozenset(covered),
                      frozenset(r.key for r in rows), tuple(violations))  # fmt: skip


def _actions() -> Iterable[tuple[DeskInput, int]]:
    # Every input at time 1 (before any deadline), and the timer at its own.
    for kind in DeskInput:
        yield kind, (_SETTLE if kind is DeskInput.SETTLE_TIMEOUT else 1)


def _stuck(edges: dict[Node, set[Node]], paths: dict[Node, tuple[str, ...]]) -> list[Violation]:
    """The reachable states from which no terminal state can be reached."""
    done = {n for n in edges if n.call in TERMINAL}
    changed = True
    while changed:
        changed = False
        for node, nexts in edges.items():
            if node not in done and nexts & done:
                done.add(node)
                changed = True
    return [Violation("liveness", paths[n], f"no terminal state is reachable from {n}")
            for n in edges if n not in done]  # fmt: skip


__all__ = ["DeskReport", "Node", "Violation", "explore_desk"]
