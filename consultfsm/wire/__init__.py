"""The wire: what crosses a process boundary, parsed and encoded.

``cim`` is the CIM codec (the messages AgentDesks post to the CCM and the
conversation events the CCM publishes, schema-valid: a leg's start and end,
and each of its holds and resumes). Parsers turn untrusted input into frozen
values or a typed error naming the path; nothing here keeps state or decides
behaviour. ``finesse`` reads Finesse's dialog notifications and REST bodies;
``legref`` is the ``<extension>:<agentId>:<dialogId>`` string desks put on
their messages. Depends on ``core`` only.
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
from consultfsm.wire.finesse import (
    Dialog,
    FinesseError,
    FinesseParseError,
    Participant,
    Update,
    parse_dialog,
    parse_dialogs,
    parse_document,
    parse_update,
)
from consultfsm.wire.legref import LegRef, LegRefError, parse_leg_ref

__all__ = [
    "CimCodec",
    "CimEncodeError",
    "CimError",
    "CimMessage",
    "CimParseError",
    "ConversationEvent",
    "DeskEvent",
    "Dialog",
    "FinesseError",
    "FinesseParseError",
    "LegRef",
    "LegRefError",
    "MessageIntent",
    "Participant",
    "Publication",
    "TimestampForm",
    "Update",
    "message_id",
    "parse_conversation_event",
    "parse_dialog",
    "parse_dialogs",
    "parse_document",
    "parse_leg_ref",
    "parse_message",
    "parse_update",
]
