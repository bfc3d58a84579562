"""The CCM's answers, as replay records.

The replay's CCM is a real :class:`~consultfsm.ccm.engine.CcmEngine`. Each
call the system makes to it (a desk's post, a socket's news, a session, the
time passing) comes back here as records: what it published on the
conversation topic, a post it took and published nothing for
(``duplicate_suppressed``, with the engine's disposition), or a post it
refused (``ccm_refused``: the CCM's answer to the desk, not a rejected trace
line; the engine changed nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from consultfsm.ccm.engine import CcmEngine, Published
from consultfsm.core.errors import ConsultFsmError
from consultfsm.core.table import Disposition
from consultfsm.wire.cim import CimMessage

from . import records
from .records import Record

#: What an input produced, in order: records, and calls to the CCM that are
#: made (and turned into records) once the world has taken the input.
Out = list[Record | Callable[[], list[Record]]]


class CcmAnswers:
    """Calls to ``engine``, each returned as the records of what it did.
    ``agent_b_of(leg)`` names the consulted agent of a leg the replay still
    holds (None once it is forgotten), for the published records."""

    __slots__ = ("_agent_b_of", "engine")

    def __init__(self, engine: CcmEngine, agent_b_of: Callable[[str], str | None]) -> None:
        self.engine = engine
        self._agent_b_of = agent_b_of

    def advance(self, at: int) -> list[Record]:
        """The time passes to ``at``: the CCM's deadlines due by then fire."""
        return self.published(self.engine.handle_timers(at))

    def call(self, method: Callable[[Any, int], tuple[Published, ...]], what: Any,
             at: int) -> list[Record]:  # fmt: skip
        """A session or socket call (``start_session``, ``desk_up``, ...)."""
        return self.published(method(what, at))

    def receive(self, leg: str, agent: str, message: CimMessage, at: int) -> list[Record]:
        """A desk's post: what the CCM published, or why it published nothing."""
        sender = records.desk(agent)
        intent = message.header.intent.value
        try:
            outcome = self.engine.receive(message, at)
        except ConsultFsmError as exc:
            return [records.ccm_refused(at, leg, sender, intent, f"{type(exc).__name__}: {exc}")]
        out = self.published(outcome.published)
        own = any(p.leg == outcome.leg and p.at == at for p in outcome.published)
        if not own and (outcome.late or outcome.disposition not in (Disposition.APPLIED, None)):
            disposition = "late" if outcome.late else outcome.disposition.value  # type: ignore[union-attr]
            out.append(records.duplicate_suppressed(
                at, outcome.leg or leg, sender, intent, message.id, disposition=disposition
            ))  # fmt: skip
        return out

    def published(self, published: Iterable[Published]) -> list[Record]:
        """Publications as records: who reported each, the session, the event."""
        out: list[Record] = []
        for p in published:
            emitter = p.event.event_emitter
            by = "ccm" if emitter.type == "SYSTEM" else records.desk(emitter.id)
            out.append(records.published(p, self._agent_b_of(p.leg), by,
                                         self.engine.codec.encode_event(p.event)))  # fmt: skip
        return out


__all__ = ["CcmAnswers", "Out"]
