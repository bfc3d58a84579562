"""The replay's output records: one JSON object per thing that happens.

Every record starts ``at``, ``leg``, ``to``, ``event``, then what that event
carries, in a fixed key order: the replay promises the same bytes for the same
trace (``examples/traces/*.expected.jsonl``), so each kind of record is built
in exactly one place, here. See ``docs/trace-format.md``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from consultfsm.core import events as ev
from consultfsm.core.facts import LegFacts

if TYPE_CHECKING:
    from consultfsm.ccm.engine import Published

Record = dict[str, Any]


def dumps_record(record: Record) -> str:
    """One output line: compact JSON, keys in emission order, ASCII only, so
    the same trace always gives the same bytes."""
    return json.dumps(record, separators=(",", ":"))


def desk(agent: str) -> str:
    """The ``to`` / ``from`` of an agent's desk."""
    return f"agentdesk:{agent}"


def address(to: ev.Consumer, facts: LegFacts) -> str:
    """The output ``to`` of a consumer: desks are named by their agent."""
    if to is ev.Consumer.AGENTDESK_A:
        return desk(facts.agent_a)
    if to is ev.Consumer.AGENTDESK_B:
        # A queue consult has no B until it is offered, and nothing goes to B before.
        assert facts.agent_b is not None, f"leg {facts.leg_id} has no agent B to address"
        return desk(facts.agent_b)
    return to.value


def event_record(event: ev.Event, facts: LegFacts) -> Record:
    """A leg's event as it reaches its consumer: the event's own fields."""
    out = event.to_dict()
    record: Record = {"at": event.at, "leg": event.leg, "to": address(event.to, facts),
                      "event": out.pop("event")}  # fmt: skip
    for key in ("to", "leg", "at"):
        del out[key]
    record.update(out)
    return record


def desk_effect(at: int, leg: str, agent: str, effect: str, reason: str | None) -> Record:
    """What an AgentDesk fed Finesse shows (``alert_shown``, ``consult_restored``,
    ...), addressed to that desk; ``reason`` only where the effect has one."""
    record: Record = {"at": at, "leg": leg, "to": desk(agent), "event": effect}
    if reason is not None:
        record["reason"] = str(reason)
    return record


# -- the host ---------------------------------------------------------------------


def input_rejected(
    at: int | None, leg: str | None, line: int | None, input: str | None, reason: str
) -> Record:
    """An input refused whole: it changed nothing."""
    return {
        "at": at, "leg": leg, "to": "host", "event": "input_rejected",
        "line": line, "input": input, "reason": reason,
    }  # fmt: skip


def input_ignored(
    at: int, leg: str | None, input: str, disposition: str, agent: str | None = None
) -> Record:
    """An input that changed nothing by design (a duplicate, a late expiry, no live leg)."""
    record: Record = {"at": at, "leg": leg, "to": "host", "event": "input_ignored", "input": input}
    if agent is not None:
        record["agent"] = agent
    record["disposition"] = disposition
    return record


def timer_fired(at: int, leg: str, timer: str) -> Record:
    """A timer fell due and its expiry is fed to its leg."""
    return {"at": at, "leg": leg, "to": "host", "event": "timer_fired", "timer": timer}


# -- the CCM ----------------------------------------------------------------------


def session_resolved(
    at: int, leg: str, *, session: str, conversation: str, evidence: str, customer: str
) -> Record:
    """A new leg attached to the customer's existing channel session."""
    return {
        "at": at, "leg": leg, "to": "ccm", "event": "session_resolved",
        "channel_session_id": session, "conversation_id": conversation,
        "evidence": evidence, "customer_identifier": customer,
    }  # fmt: skip


def cim_received(at: int, leg: str, sender: str, intent: str, message: dict[str, Any]) -> Record:
    """A desk's CIM message, as the CCM read it off the wire."""
    return {
        "at": at, "leg": leg, "to": "ccm", "event": ev.EventKind.CIM_MESSAGE.value,
        "from": sender, "intent": intent, "message": message,
    }  # fmt: skip


def duplicate_suppressed(
    at: int, leg: str, sender: str, intent: str, message_id: str, *, disposition: str
) -> Record:
    """A desk's message the CCM took but published nothing for: a repeat of
    what it already published (``duplicate``), an older report (``stale``),
    one it absorbed (``absorbed``), or one of a leg it has finished (``late``)."""
    return {
        "at": at, "leg": leg, "to": "ccm", "event": "duplicate_suppressed",
        "from": sender, "intent": intent, "message_id": message_id, "disposition": disposition,
    }  # fmt: skip


def ccm_refused(at: int, leg: str, sender: str, intent: str, reason: str) -> Record:
    """A desk's message the CCM refused (it names no leg it can place, no
    session, ...): the CCM changed nothing."""
    return {
        "at": at, "leg": leg, "to": "ccm", "event": "ccm_refused",
        "from": sender, "intent": intent, "reason": reason,
    }  # fmt: skip


def published(p: Published, agent: str | None, reported_by: str, message: dict[str, Any]) -> Record:
    """What the CCM published on the conversation topic: the leg, the
    consulted agent (None when the replay no longer holds the leg), the
    reason (left out for ``CALL_HOLD`` / ``CALL_RESUME``, whose CIM message
    has none), who reported it (``agentdesk:<agent>``, or ``ccm`` on its
    own), the session and the CIM event it went out as."""
    event = p.event
    record: Record = {
        "at": p.at, "leg": p.leg, "to": ev.Consumer.CONVERSATION.value, "event": event.name.value,
        "channel_session_id": event.channel_session.id,
        "conversation_id": event.conversation_id, "agent": agent,
    }  # fmt: skip
    if p.reason is not None:
        record["reason"] = p.reason
    record["reported_by"] = reported_by
    record["channel_session"] = message["channelSession"]
    record["message"] = message
    return record
