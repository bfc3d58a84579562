"""The ``leg`` string deployed AgentDesks put on the CIM messages they send:
``<extension>:<agentId>:<dialogId>``, so the CCM can find the leg a message is
about.

Each part is a non-empty string without a colon (the separator is not escaped
on the wire, so a colon inside a part could not be read back) and without
surrounding whitespace; :func:`parse_leg_ref` refuses anything else with
:class:`LegRefError`, and :class:`LegRef` cannot be built from such parts.

>>> ref = LegRef(extension="7073", agent_id="901810001", dialog_id="140124631")
>>> str(ref)
'7073:901810001:140124631'
>>> parse_leg_ref("7073:901810001:140124631") == ref
True
"""

from __future__ import annotations

import attrs

from consultfsm.core.errors import ConsultFsmError
from consultfsm.core.text import is_writable


class LegRefError(ConsultFsmError, ValueError):
    """A leg string that is not ``<extension>:<agentId>:<dialogId>``; ``part``
    names the part that is wrong (``leg`` for the whole string)."""

    def __init__(self, part: str, why: str) -> None:
        self.part = part
        self.why = why
        super().__init__(f"leg string {part}: {why}")


def _valid(instance: LegRef, attribute: attrs.Attribute[str], value: str) -> None:
    name = attribute.name
    if not isinstance(value, str):
        raise LegRefError(name, f"must be a string, got {type(value).__name__}")
    if not value or value != value.strip():
        raise LegRefError(name, f"{value!r} must be non-empty, without surrounding spaces")
    if ":" in value:
        raise LegRefError(name, f"{value!r} must not contain ':' (the separator)")
    if not is_writable(value):
        raise LegRefError(name, "holds text that is not valid Unicode")


@attrs.frozen(slots=True)
class LegRef:
    """Which agent's phone, which agent, which Finesse dialog."""

    extension: str = attrs.field(validator=_valid)
    agent_id: str = attrs.field(validator=_valid)
    dialog_id: str = attrs.field(validator=_valid)

    def __str__(self) -> str:
        return f"{self.extension}:{self.agent_id}:{self.dialog_id}"


def parse_leg_ref(text: str) -> LegRef:
    """Read a leg string; :class:`LegRefError` names what is wrong."""
    if not isinstance(text, str):
        raise LegRefError("leg", f"must be a string, got {type(text).__name__}")
    parts = text.split(":")
    if len(parts) != 3:
        raise LegRefError("leg", f"{text!r} must be <extension>:<agentId>:<dialogId>")
    return LegRef(*parts)
