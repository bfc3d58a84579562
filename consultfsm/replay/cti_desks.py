"""The desks of the replay's CTI-driven legs: what each posts to the CCM.

The leg model knows the world; the CCM knows only what desks post. For a leg
the trace drives by CTI inputs, its desks are these stand-ins:

* B's desk posts the messages the leg model emits (its ``Cim*`` events);
* A's desk, which sees the consult dialog too, posts what the leg model says
  the CCM must learn while B's page is away (rule 7: a publication
  ``reported_by=ccm``);
* when A's page is away as well, the news is *owed*: the first of the leg's
  pages to come back reads its dialogs and posts it.

Each post goes through a real encode → JSON → parse round trip, and becomes a
``cim_message`` record and a deferred call to the CCM
(:class:`~consultfsm.replay.ccm_answers.CcmAnswers`). Owed news goes through
the journal, so a rejected input leaves it as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import attrs

from consultfsm.core import events as ev
from consultfsm.core.facts import LegFacts
from consultfsm.core.states import CimReason
from consultfsm.desk.agentdesk import CONSULT_ROLE
from consultfsm.desk.table import DeskRole
from consultfsm.wire.cim import (
    REPEATABLE,
    CimCodec,
    CimMessage,
    MessageIntent,
    Publication,
    parse_message,
)

from . import records
from .ccm_answers import CcmAnswers, Out
from .journal import Journal
from .presence import Presence

#: The ``extension`` part of the leg strings of the replay's CTI-driven desks
#: (a trace names no phones): ``-:<agent>:<leg>``.
NO_EXTENSION = "-"


@attrs.frozen(slots=True)
class _Owed:
    """A publication the CCM has not heard of from any desk: both were away."""

    at: int
    intent: MessageIntent
    reason: CimReason | None


class CtiDesks:
    """What the desks of CTI-driven legs post; ``codec`` gives the current
    wire form (a ``config`` line may change it)."""

    __slots__ = ("_answers", "_codec", "_journal", "_owed", "_presence", "_repeats")

    def __init__(self, journal: Journal, presence: Presence, answers: CcmAnswers,
                 codec: Callable[[], CimCodec]) -> None:  # fmt: skip
        self._journal = journal
        self._presence = presence
        self._answers = answers
        self._codec = codec
        self._owed: dict[str, tuple[LegFacts, tuple[_Owed, ...]]] = {}
        #: leg -> (agent, intent) -> (ms, holds or resumes posted in it), as an
        #: AgentDesk counts them: news owed and paid at once (a hold, a resume,
        #: a hold) is three messages with three ids, not two holds under one.
        self._repeats: dict[str, dict[tuple[str, MessageIntent], tuple[int, int]]] = {}

    def post(self, at: int, leg: str, agent: str, message: CimMessage) -> Out:
        """A desk posts ``message``: a record of it, then the CCM's answer."""
        codec = self._codec()
        received = parse_message(codec.dumps(message))  # as the CCM reads it
        record = records.cim_received(at, leg, records.desk(agent), received.header.intent.value,
                                      codec.encode(received))  # fmt: skip
        return [record, partial(self._answers.receive, leg, agent, received, at)]

    def send(
        self, facts: LegFacts, agent: str, intent: MessageIntent | ev.CimIntent,
        reason: CimReason | None, at: int,
    ) -> Out:  # fmt: skip
        """``agent``'s desk of the leg posts ``intent``: sender ``agent``, the
        consult dialog as ``callId``, the leg string ``-:<agent>:<leg>``."""
        intent = MessageIntent(intent)
        message = self._codec().agent_message(
            leg=f"{NO_EXTENSION}:{agent}:{facts.leg_id}", at=at, intent=MessageIntent(intent),
            agent=agent, customer=facts.customer_ani, call_id=facts.call_id or facts.leg_id,
            reason=reason, service=facts.service_identifier,
            channel_session_id=facts.channel_session_id, conversation_id=facts.conversation_id,
            associated_dialog_uri=facts.associated_dialog_uri,
            consult_role=CONSULT_ROLE[DeskRole.A if agent == facts.agent_a else DeskRole.B],
            repeat=self._repeat(facts.leg_id, agent, intent, at),
        )  # fmt: skip
        return self.post(at, facts.leg_id, agent, message)

    def _repeat(self, leg: str, agent: str, intent: MessageIntent, at: int) -> int:
        """How many of ``intent`` ``agent``'s desk posted for ``leg`` before, in
        the ms ``at`` (:func:`~consultfsm.wire.cim.occurrence_of`)."""
        if intent not in REPEATABLE:
            return 0
        counts = self._repeats.get(leg, {})
        last, count = counts.get((agent, intent), (at, 0))
        repeat = count if last == at else 0
        self._journal.keep_item(self._repeats, leg)
        self._repeats[leg] = {**counts, (agent, intent): (at, repeat + 1)}
        return repeat

    def tell_ccm(self, facts: LegFacts, event: Publication) -> Out:
        """The leg model says the CCM must learn of ``event`` while B's desk
        is away: A's desk reports it; when A's is away as well, it is owed."""
        if self._presence.away(facts.agent_a) is None:
            return self.send(facts, facts.agent_a, event.intent, event.reason, event.at)
        owed = _Owed(event.at, MessageIntent(event.intent), event.reason)
        self._journal.keep_item(self._owed, facts.leg_id)
        before = self._owed.get(facts.leg_id, (facts, ()))[1]
        self._owed[facts.leg_id] = (facts, (*before, owed))
        return []

    def pay_owed(self, agent: str, at: int) -> Out:
        """``agent``'s page is back and reads its dialogs: it reports, for each
        of its consults, what changed while no desk was there to say so."""
        out: Out = []
        for key in [k for k, (f, _) in self._owed.items() if agent in (f.agent_a, f.agent_b)]:
            facts, owed = self._owed[key]
            self._journal.keep_item(self._owed, key)
            del self._owed[key]
            for o in owed:
                out += self.send(facts, agent, o.intent, o.reason, at)
        return out

    def forget(self, leg: str) -> None:
        """The replay forgets ``leg``: nothing owed of it will be posted."""
        self._owed.pop(leg, None)
        self._repeats.pop(leg, None)


__all__ = ["NO_EXTENSION", "CtiDesks"]
