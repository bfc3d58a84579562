"""The CCM's part in a replay: B's desk messages, and the conversation topic.

What B's desk sends goes through a real CIM encode/parse round trip, so the
CCM reads the same bytes a deployed CCM would. The CCM publishes on the
conversation topic at most once per leg and intent; a report of something
already published is suppressed, not re-published.

A publication that B's desk reports goes out with B's own message, the one
the same step sent with the same intent. The step's messages are all read
before anything is published, so the pairing is by intent, never by where
the table's row happens to list the two events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from consultfsm.ccm.correlation import ChannelSession
from consultfsm.core import events as ev
from consultfsm.core.errors import ConsultFsmError
from consultfsm.core.facts import LegFacts
from consultfsm.wire.cim import ChannelSessionRef, CimCodec, CimMessage, parse_message

from . import records
from .journal import Journal
from .records import Record

CimEvent = ev.CimCallLegStarted | ev.CimCallLegEnded
Publication = ev.CallLegStarted | ev.CallLegEnded
CIM_EVENTS = (ev.CimCallLegStarted, ev.CimCallLegEnded)
PUBLICATIONS = (ev.CallLegStarted, ev.CallLegEnded)


class MissingDeskMessage(ConsultFsmError):
    """A step publishes a leg event as reported by B's desk, but sends no
    message of B's with that intent: a broken table. Raised before anything is
    published, so the replay refuses the input whole."""

    def __init__(self, event: Publication) -> None:
        self.leg = event.leg
        self.intent = event.intent
        super().__init__(
            f"{event.kind.value} of leg {event.leg!r} is reported by B's desk, but the "
            f"step sends no {self.intent.value} CIM message from B's desk"
        )


class Publisher:
    """The CCM's memory of what it published, per leg and intent."""

    __slots__ = ("_journal", "_published")

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._published: set[tuple[str, str]] = set()  # (leg, intent)

    def has_published(self, leg: str, intent: str) -> bool:
        """True once ``intent`` (``CALL_LEG_STARTED`` / ``CALL_LEG_ENDED``) went out for ``leg``."""
        return (leg, intent) in self._published

    def step_records(
        self,
        codec: CimCodec,
        events: Sequence[ev.Event],
        session: ChannelSession,
        facts: LegFacts,
    ) -> dict[int, Record]:
        """The records of a step's CIM messages and publications, by their
        position in ``events``; the other events are not the CCM's."""
        out: dict[int, Record] = {}
        sent: dict[str, CimMessage] = {}  # B's messages of this step, by intent
        for i, event in enumerate(events):
            if isinstance(event, CIM_EVENTS):
                sent[event.intent.value], out[i] = self._receive(codec, event)
        for i, event in enumerate(events):
            if isinstance(event, PUBLICATIONS):
                out[i] = self._publish(codec, event, session, facts, sent)
        return out

    def _receive(self, codec: CimCodec, event: CimEvent) -> tuple[CimMessage, Record]:
        message = codec.message_for(event)
        received = parse_message(codec.dumps(message))
        if received != message:  # pragma: no cover - a codec bug, not an input problem
            raise AssertionError(f"CIM round trip changed {message!r} into {received!r}")
        record = records.cim_received(
            event.at, event.leg, records.desk(event.agent), event.intent.value,
            codec.encode(received),
        )  # fmt: skip
        return received, record

    def _publish(
        self,
        codec: CimCodec,
        event: Publication,
        session: ChannelSession,
        facts: LegFacts,
        sent: Mapping[str, CimMessage],
    ) -> Record:
        intent = event.intent.value
        key = (event.leg, intent)
        if key in self._published:  # defence in depth: the table emits each once
            return records.duplicate_suppressed(event.at, event.leg, "leg", event.kind.value)
        ref = ChannelSessionRef(
            session.id, session.conversation_id, session.customer_ani,
            session.service_identifier, session.active,
        )  # fmt: skip
        if event.reported_by is ev.Reporter.AGENTDESK:
            message = sent.get(intent)
            if message is None:
                raise MissingDeskMessage(event)
        else:
            message = codec.system_message_for(event, ref, facts.call_id)
        self._journal.keep_member(self._published, key)
        self._published.add(key)
        return records.published(
            event, facts, codec.channel_session(ref), codec.conversation_event(event, ref, message)
        )
