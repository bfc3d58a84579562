"""What one input did: the executor's answer to ``Leg.handle``."""

from __future__ import annotations

import attrs

from .events import Event
from .table import Disposition, Row


@attrs.frozen(slots=True)
class Step:
    """What one input did: its disposition, the row that decided, the events.

    ``row`` is None only for a timer expiry that table rule 5 absorbed: the
    timer was not pending (cancelled, fired, never armed) or not yet due.
    """

    disposition: Disposition
    row: Row | None
    events: tuple[Event, ...] = ()

    @property
    def applied(self) -> bool:
        """True when the input changed the leg."""
        return self.disposition is Disposition.APPLIED


#: The one answer to a stale or early timer expiry (rule 5): nothing happens.
EXPIRY_ABSORBED = Step(Disposition.ABSORBED, None)
