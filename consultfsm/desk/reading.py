"""What a desk can read off one Finesse dialog, before any state is kept: is
it a consult, on which platform, and who is the customer.

Rules, from the platforms' documented behaviour (``docs/finesse.md``):

* **UCCE** marks a consult by a non-empty ``associatedDialogUri`` pointing at
  the customer's dialog; a direct consult arrives with callType ``OUT`` or
  ``AGENT_INSIDE``, which alone says nothing (the same types carry ordinary
  outbound and internal calls). Every other UCCE dialog carries the element
  empty.
* **UCCX** has no associated dialog: a consult arrives with callType
  ``CONSULT``.
* On both, the consult dialog's ``fromAddress`` is Agent A's extension, not the
  customer. The customer's number reaches B only in call data copied from the
  customer's call; where, and in what format, is a deployment's choice
  (:class:`CustomerNumberSource`; Expertflow desks use ``callVariable1`` as
  ``<ANI>:<primaryDN>``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import attrs

from consultfsm.core.errors import ConfigError
from consultfsm.wire.finesse import Dialog


class Platform(StrEnum):
    """The Cisco contact center behind Finesse, as the consult dialog shows it."""

    UCCE = "ucce"  # Unified CCE / Packaged CCE
    UCCX = "uccx"  # Unified CCX


#: callType of a UCCX consult (CTI CallType 12).
UCCX_CONSULT_CALL_TYPE = "CONSULT"


def consult_platform(dialog: Dialog) -> Platform | None:
    """The platform whose consult ``dialog`` is, or ``None`` when it is not a
    consult (an inbound, transferred or outbound call)."""
    if dialog.associated_dialog_uri is not None:
        return Platform.UCCE
    if dialog.media_properties.call_type == UCCX_CONSULT_CALL_TYPE:
        return Platform.UCCX
    return None


def _check(instance: CustomerNumberSource, attribute: attrs.Attribute[Any], value: Any) -> None:
    name = attribute.name
    if name == "variable" and (not isinstance(value, str) or not value):
        raise ConfigError(name, "must name a call variable (e.g. callVariable1)")
    if name == "separator" and value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(name, "must be a non-empty string, or None for the whole value")
    if name == "part" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ConfigError(name, "must be an index from 0")


@attrs.frozen(slots=True)
class CustomerNumberSource:
    """Where a consult dialog carries the customer's number: call (or ECC)
    variable ``variable``, split on ``separator`` (``None``: the whole value),
    part number ``part``.

    >>> from consultfsm.wire.finesse import Dialog, DialogState, MediaProperties
    >>> media = MediaProperties(call_variables=(("callVariable1", "+923001234567:7001"),))
    >>> consult = Dialog("D2", DialogState.ALERTING, media_properties=media)
    >>> CustomerNumberSource().read(consult)
    '+923001234567'
    """

    variable: str = attrs.field(default="callVariable1", validator=_check)
    separator: str | None = attrs.field(default=":", validator=_check)
    part: int = attrs.field(default=0, validator=_check)

    def read(self, dialog: Dialog) -> str | None:
        """The customer's number on ``dialog``, ``None`` when the variable is
        missing, empty, or has no such part."""
        value = dialog.media_properties.variable(self.variable)
        if not value:
            return None
        parts = [value] if self.separator is None else value.split(self.separator)
        number = parts[self.part].strip() if self.part < len(parts) else ""
        return number or None
