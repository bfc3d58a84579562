"""What one input did: the executor's answer to ``Leg.handle``."""

from __future__ import annotations

import attrs

from .events import Event
from .table import Disposition, Row


@attrs.frozen(slots=True)
class Step:
    """What one input did: its disposition, the row that decided, the events.

    ``row`` is None only for an input the executor's own rules absorbed: a
    timer expiry that was not pending or not yet due (rule 5), or a stale CTI
    report (rule 8).
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
#: The one answer to a CTI report older than the leg's last CTI transition
#: (rule 8): stale, so nothing happens, whatever the table says of it.
STALE = Step(Disposition.ABSORBED, None)
