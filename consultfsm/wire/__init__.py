"""The wire: what crosses a process boundary, parsed and encoded.

``cim`` is the CIM codec (the messages AgentDesks post to the CCM and the
conversation events the CCM publishes, schema-valid: a leg's start and end,
and each of its holds and resumes). Parsers turn untrusted input into frozen
values or a typed error naming the path; nothing here keeps state or decides
behaviour. (The Finesse notification parser will live here
too.) Depends on ``core`` only.
"""

from consultfsm.wire.cim import (
    CimCodec,
    CimEncodeError,
    CimError,
    CimMessage,
    CimParseError,
    ConversationEvent,
    DeskEvent,
    MessageIntent,
    Publication,
    TimestampForm,
    message_id,
    parse_conversation_event,
    parse_message,
)

__all__ = [
    "CimCodec",
    "CimEncodeError",
    "CimError",
    "CimMessage",
    "CimParseError",
    "ConversationEvent",
    "DeskEvent",
    "MessageIntent",
    "Publication",
    "TimestampForm",
    "message_id",
    "parse_conversation_event",
    "parse_message",
]
