"""What an applied row does besides moving its region, written once.

Table rule 5 in code: cancel the row's timer (``timer_cancelled`` with its
deadline), consume the timer the input reports, build the row's events from the
leg *after* the move, start the row's timer (``timer_started`` with the absolute
deadline). The table interpreters -- the ``transitions`` machine
(:mod:`consultfsm.interop.transitions_machine`) and the explorer's
:class:`~consultfsm.verify.explore.TableLeg`
-- call :func:`apply_effects`; the runtime (:mod:`consultfsm.core.leg`) compiles the
same sequence into straight-line code per row, and the differential tests keep
the three in agreement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from . import events as ev
from .states import TIMER_OF_INPUT, Timer
from .table import Disposition, Row

if TYPE_CHECKING:
    from .leg import Leg, Step


def apply_effects(leg: Any, deadlines: dict[Timer, int], row: Row, at: int) -> Step:
    """Run an applied ``row``'s effects at ``at`` on ``leg``, whose region has
    already moved to ``row.target``; ``deadlines`` are the leg's pending ones.

    ``leg`` is anything with a :class:`~consultfsm.core.leg.Leg`'s identifying
    attributes, ``config`` and a writable ``last_at`` (the event builders read
    the former). Returns the step, events in the documented order.
    """
    from .leg import Step  # leg.py compiles the table at import; avoid the cycle

    built: list[ev.Event] = []
    if row.cancel is not None:
        built.append(ev.TimerCancelled(leg.leg_id, at, row.cancel, deadlines.pop(row.cancel)))
    fired = TIMER_OF_INPUT.get(row.input)
    if fired is not None:
        deadlines.pop(fired, None)
    leg.last_at = at
    facts = cast("Leg", leg)
    for emit in row.emits:
        built.append(emit.event.build(facts, at, **dict(emit.params)))
    if row.start is not None:
        deadline = at + leg.config.window(row.start)
        deadlines[row.start] = deadline
        built.append(ev.TimerStarted(leg.leg_id, at, row.start, deadline))
    return Step(Disposition.APPLIED, row, tuple(built))
