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
  customer; B is the other agent on it. The customer's number reaches B only
  in call data copied from the customer's call; where, and in what format, is a deployment's choice
  (:class:`CustomerNumberSource`; Expertflow desks use ``callVariable1`` as
  ``<ANI>:<primaryDN>``).

What a dialog shows of the consult (:func:`read_consult`) is read from its
participants alone, so the same function reads a live update and a dialog in
the list read on return:

* the dialog ``FAILED`` (or A's participant failed): ``failed``;
* someone dropped or went to wrap-up (or the dialog was deleted): whoever left first, by
  ``stateChangeTime`` (Finesse's ``stateCause`` never says who hung up); a tie,
  or a deletion in which nobody is shown dropped, is read as A's doing, which
  the desk table treats as the safe reading (a cancelled alert, or a closing
  consult that a transfer may still follow);
* a participant ``HELD``: ``held``; B ``ACTIVE``: ``answered``; B
  ``ALERTING``: ``alerting``; nothing else is news for the desk (A dialling).

A transfer or conference shows on *another* dialog, the one that survives,
which names the consult as its ``secondaryId`` (:func:`read_successor`).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

import attrs

from consultfsm.core.errors import ConfigError
from consultfsm.wire.ani import is_placeholder
from consultfsm.wire.finesse import Dialog, DialogState, Participant, UpdateEvent
from consultfsm.wire.finesse import ParticipantState as P

from .table import DeskInput


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
        missing, has no such part, or holds no number (``"null"``, a blank:
        :func:`~consultfsm.wire.ani.is_placeholder`; the number may come later)."""
        value = dialog.media_properties.variable(self.variable)
        if not value:
            return None
        parts = [value] if self.separator is None else value.split(self.separator)
        number = parts[self.part].strip() if self.part < len(parts) else ""
        return None if is_placeholder(number) else number


def consult_parties(
    dialog: Dialog, a_extension: str, me: str | None = None
) -> tuple[Participant | None, Participant | None]:
    """A's and B's participants on a consult dialog: A is on ``a_extension``
    (the consult's ``fromAddress``); B is, on the desk of ``me`` (the
    extension reading it) when it is not A, that desk's own phone; else the
    other agent's phone (``AGENT_DEVICE``; a queue's port is not B), one still
    on the call first, or, when no participant says its type, the other
    participant. (A consult a queue offers again may still list the agent who
    left it: the new one is B, whatever the order.)"""
    a = dialog.participant(a_extension)
    others = [p for p in dialog.participants if p.media_address != a_extension]
    if me is not None and me != a_extension:
        own = next((p for p in others if p.media_address == me), None)
        if own is not None:
            return a, own
    agents = [p for p in others if p.media_address_type == "AGENT_DEVICE"]
    if agents or any(p.media_address_type for p in dialog.participants):
        # Types are given: only an agent's phone is B. A queue's port or a
        # CTI route point (UCCX, a queue consult) connected first is not.
        staying = [p for p in agents if p.state not in _LEFT]
        return a, (staying or agents)[0] if agents else None
    return a, others[0] if others else None


#: A participant in wrap-up has left the call as surely as one dropped.
_LEFT = frozenset({P.DROPPED, P.WRAP_UP})


def _changed_at(p: Participant) -> int:
    return p.state_change_time if p.state_change_time is not None else -1


def read_consult(
    dialog: Dialog, a_extension: str, event: UpdateEvent | None = None, *, me: str | None = None
) -> DeskInput | None:
    """What ``dialog`` (the consult) shows now, as a desk input; ``None`` when
    it is no news for a desk. ``event`` is the update's (``DELETE``: the dialog
    left the collection, whatever state it last had); ``me``: the reading
    desk's extension (:func:`consult_parties`)."""
    a, b = consult_parties(dialog, a_extension, me)
    if dialog.state is DialogState.FAILED or (a is not None and a.state is P.FAILED):
        return DeskInput.FAILED
    a_gone = a is not None and a.state in _LEFT
    b_gone = b is not None and b.state in _LEFT
    if a_gone and b_gone:
        assert a is not None and b is not None
        return DeskInput.DROPPED_B if _changed_at(b) < _changed_at(a) else DeskInput.DROPPED_A
    if b_gone:
        return DeskInput.DROPPED_B
    if a_gone or event is UpdateEvent.DELETE or dialog.state is DialogState.DROPPED:
        return DeskInput.DROPPED_A
    if any(p.state is P.HELD for p in (a, b) if p is not None):
        return DeskInput.HELD
    if b is not None and b.state is P.ACTIVE:
        return DeskInput.ANSWERED
    if b is not None and b.state is P.ALERTING:
        return DeskInput.ALERTING
    return None


def read_successor(dialog: Dialog, consult_id: str) -> DeskInput | None:
    """``transferred`` or ``conferenced`` when ``dialog`` is the call the
    consult ``consult_id`` became (it names it as ``secondaryId``), else None."""
    if dialog.secondary_id != consult_id or dialog.id == consult_id:
        return None
    if dialog.media_properties.call_type == "CONFERENCE":
        return DeskInput.CONFERENCED
    return DeskInput.TRANSFERRED


_LISTED = {
    DeskInput.ALERTING: DeskInput.LISTED_RINGING,
    DeskInput.ANSWERED: DeskInput.LISTED_TALKING,
    DeskInput.HELD: DeskInput.LISTED_HELD,
    DeskInput.TRANSFERRED: DeskInput.LISTED_TRANSFERRED,
    DeskInput.CONFERENCED: DeskInput.LISTED_CONFERENCED,
}


def read_list(
    dialogs: Iterable[Dialog], consult_id: str, a_extension: str, *, me: str | None = None
) -> DeskInput:
    """What the dialog list a returning page read shows of the consult: still
    ringing, on, held, not yet offered or left by B (A's list), become another call, or gone
    (ended, or dropped and about to leave the list: Finesse lists no history)."""
    dialogs = tuple(dialogs)
    # The call the consult became, if the list holds it, is what it shows (as
    # a live update of it is): at B a transfer's POST of the customer's dialog
    # and the DELETE of the consult come in no order (brief 6b), so a list may
    # hold both, the consult in whatever state it last had.
    for dialog in dialogs:
        if (after := read_successor(dialog, consult_id)) is not None:
            return _LISTED[after]
    for dialog in dialogs:
        if dialog.id == consult_id:
            seen = read_consult(dialog, a_extension, me=me)
            if seen in _LISTED:
                return _LISTED[seen]
            # Only A's list can hold the consult without B on it: not yet
            # offered to anyone, or B left it.
            if consult_parties(dialog, a_extension, me)[1] is None:
                return DeskInput.LISTED_DIALLING
            if seen is DeskInput.DROPPED_B:
                return DeskInput.LISTED_WITHOUT_B
            return DeskInput.LISTED_ABSENT
    return DeskInput.LISTED_ABSENT
