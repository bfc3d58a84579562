"""``consultfsm replay --states``: after each input, the state of what it moved.

The replay's machines are the real ones, so each step already says which row
of its own table decided (the leg's :class:`~consultfsm.core.step.Step`, the
CCM's :class:`~consultfsm.ccm.machine.CcmStep`, an AgentDesk's
:class:`~consultfsm.desk.machine.DeskStep`). :class:`States` collects them
while an input is applied, and :meth:`States.records` turns them into one
``states`` record per leg the input touched: each machine's state of that
leg and the keys (``Row.key``) of the rows it took, in the order taken. Nothing
here decides a transition; it only reads what the machines did.

Sans-I/O, like the rest of the replay. The desks of CTI-driven legs are
stand-ins with no machine (:mod:`~consultfsm.replay.cti_desks`), so only
``agent_desk`` agents have desk states.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consultfsm.ccm.machine import CcmLeg, CcmStep
from consultfsm.core.leg import Leg
from consultfsm.core.states import Region
from consultfsm.core.step import Step
from consultfsm.desk.machine import Desk, DeskStep
from consultfsm.wire.legref import LegRefError, parse_leg_ref

from .records import Record

#: The ``to`` of a states record: no consumer receives it; it is for readers
#: that step the machines (the design-review page).
STATES_TO = "review"
STATES_EVENT = "states"


def dialog_of(leg_string: str) -> str:
    """The CCM's name for a desk's leg (``<extension>:<agentId>:<dialogId>``): its dialog."""
    try:
        return parse_leg_ref(leg_string).dialog_id
    except LegRefError:  # pragma: no cover - an AgentDesk writes only valid leg strings
        return leg_string


class States:
    """The steps of one input, by leg, in the order legs were first touched."""

    __slots__ = ("_ccm", "_desks", "_legs", "_order")

    def __init__(self) -> None:
        self._order: dict[str, None] = {}
        self._legs: dict[str, tuple[Leg, list[str]]] = {}
        self._ccm: dict[str, tuple[CcmLeg, list[str]]] = {}
        self._desks: dict[tuple[str, str], tuple[Desk, list[str]]] = {}  # (leg, agent)

    def reset(self) -> None:
        """A new input: forget the last one's steps (a rejected input's included)."""
        for seen in (self._order, self._legs, self._ccm, self._desks):
            seen.clear()

    def leg_step(self, leg: Leg, step: Step | None) -> None:
        """``step`` is None for a leg just created (its first state)."""
        rows = self._note(self._legs, leg.leg_id, leg)
        if step is not None and step.row is not None:
            rows.append(step.row.key)

    def ccm_step(self, machine: CcmLeg, step: CcmStep) -> None:
        rows = self._note(self._ccm, machine.leg, machine)
        if step.row is not None:
            rows.append(step.row.key)

    def desk_step(self, agent: str, machine: Desk, step: DeskStep | None) -> None:
        """``step`` is None for a desk that was only touched (its page moved)."""
        leg = dialog_of(machine.facts.leg)
        self._order.setdefault(leg)
        _, rows = self._desks.setdefault((leg, agent), (machine, []))
        if step is not None and step.row is not None:
            rows.append(step.row.key)

    def _note(self, where: dict[str, Any], leg: str, machine: Any) -> list[str]:
        self._order.setdefault(leg)
        if leg not in where:
            where[leg] = (machine, [])
        rows: list[str] = where[leg][1]
        return rows

    def records(
        self, at: int, line: int | None, input: str, leg_of: Callable[[str], Leg | None],
        ccm_of: Callable[[str], CcmLeg | None],
    ) -> list[Record]:  # fmt: skip
        """One ``states`` record per leg touched by the input on trace line
        ``line`` (its kind ``input``). A machine that holds the leg but did not
        move gives its state and no rows; ``null`` where a machine has no such
        leg (or has finished and dropped it before this input). ``desks`` lists
        only the AgentDesks that were fed."""
        out: list[Record] = []
        for leg in self._order:
            model, leg_rows = self._legs.get(leg, (leg_of(leg), []))
            ccm, ccm_rows = self._ccm.get(leg, (ccm_of(leg), []))
            desks = [
                {"agent": agent, "role": machine.facts.role.value,
                 "state": {"call": machine.call.value, "page": machine.page.value},
                 "rows": rows}
                for (key, agent), (machine, rows) in self._desks.items() if key == leg
            ]  # fmt: skip
            out.append({
                "at": at, "leg": leg, "to": STATES_TO, "event": STATES_EVENT,
                "line": line, "input": input,
                "leg_model": None if model is None else {
                    "state": {r.value: getattr(model.state, r.value).value for r in Region},
                    "rows": leg_rows,
                },
                "ccm": None if ccm is None else {
                    "state": {"call": ccm.call.value, "desk_a": ccm.desk_a.value,
                              "desk_b": ccm.desk_b.value},
                    "rows": ccm_rows,
                },
                "desks": desks,
            })  # fmt: skip
        return out


__all__ = ["STATES_EVENT", "STATES_TO", "States", "dialog_of"]
