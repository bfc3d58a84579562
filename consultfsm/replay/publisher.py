"""The CCM's part in a replay: B's desk messages, and the conversation topic.

What B's desk sends goes through a real CIM encode/parse round trip, so the
CCM reads the same bytes a deployed CCM would. The CCM publishes on the
conversation topic at most once per leg and intent; a report of something
already published is suppressed, not re-published. A repeatable intent
(``CALL_HOLD``, ``CALL_RESUME``: a consult can be held again) is once per
leg, intent and time instead: each hold is published once.

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
from consultfsm.wire.cim import (
    REPEATABLE,
    ChannelSessionRef,
    CimCodec,
    CimMessage,
    DeskEvent,
    MessageIntent,
    Publication,
    occurrence_of,
    parse_message,
)

from . import records
from .journal import Journal
from .records import Record

CIM_EVENTS = (ev.CimCallLegStarted, ev.CimCallLegEnded, ev.CimCallHold, ev.CimCallResume)
PUBLICATIONS = (ev.CallLegStarted, ev.CallLegEnded, ev.CallHeld, ev.CallResumed)

#: What the CCM publishes once: a leg, an intent, and for a repeatable intent
#: the leg-clock time of that occurrence (None for the once-per-leg intents).
Key = tuple[str, str, int | None]


def key_of(leg: str, intent: MessageIntent, at: int) -> Key:
    """The publication key of ``intent`` for ``leg`` happening at ``at``."""
    return (leg, intent.value, occurrence_of(intent, at))


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
    """The CCM's memory of what it published: per leg and intent (and time,
    for a repeatable intent), and the id of the CIM message behind each."""

    __slots__ = ("_ids", "_journal", "_published", "_stamped")

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._published: set[Key] = set()
        self._ids: dict[str, Key] = {}  # message id -> what it was published as
        # (leg, intent, wall-clock ms) of each repeatable publication: a desk's
        # own report of a hold says which hold by its header.timestamp.
        self._stamped: set[Key] = set()

    def has_published(self, leg: str, intent: MessageIntent, at: int | None = None) -> bool:
        """True once ``intent`` went out for ``leg`` (a repeatable one: at ``at``)."""
        occurrence = None if at is None else occurrence_of(intent, at)
        return (leg, intent.value, occurrence) in self._published

    def reports_published(self, leg: str, message: CimMessage) -> bool:
        """True when a desk's own ``message`` about ``leg`` reports something
        already published: a message the CCM published (by its id); else, for a
        once-per-leg intent, the leg's publication of that intent; for a
        repeatable one, the publication of that intent at the message's
        ``header.timestamp`` (wall time, as the message behind it said)."""
        intent = message.header.intent
        known = self._ids.get(message.id)
        if known is not None and known[:2] == (leg, intent.value):
            return True
        if intent not in REPEATABLE:
            return self.has_published(leg, intent)
        return (leg, intent.value, message.header.timestamp_ms) in self._stamped

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

    def _receive(self, codec: CimCodec, event: DeskEvent) -> tuple[CimMessage, Record]:
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
        key = key_of(event.leg, MessageIntent(intent), event.at)
        # Defence in depth: the table emits a once-per-leg intent once. A
        # repeatable one from the leg's own step is always a new occurrence,
        # even a second hold within the same millisecond as the first.
        if key in self._published and key[2] is None:
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
        self._journal.keep_item(self._ids, message.id)
        self._ids[message.id] = key
        if key[2] is not None:
            stamped = (event.leg, intent, message.header.timestamp_ms)
            self._journal.keep_member(self._stamped, stamped)
            self._stamped.add(stamped)
        return records.published(
            event, facts, codec.channel_session(ref), codec.conversation_event(event, ref, message)
        )
