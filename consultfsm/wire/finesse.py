"""Cisco Finesse dialog notifications and REST bodies, read into frozen values.

What an AgentDesk receives from Finesse about calls, in the shapes Finesse
really sends (``docs/finesse.md`` lists the sources):

* an XMPP ``<Update>`` whose ``<data>`` holds ``<dialogs><Dialog>...`` when a
  dialog is added to (``POST``) or removed from (``DELETE``) the user's dialog
  collection, ``<dialog>`` when one dialog changed (``PUT``), or
  ``<apiErrors>`` when a request the desk made failed;
* REST bodies: ``GET /finesse/api/Dialog/{id}`` (a ``<Dialog>``) and
  ``GET /finesse/api/User/{id}/Dialogs`` (a ``<Dialogs>`` list), which a desk
  reads when its page comes back;
* the same documents as JSON objects, as the Finesse JavaScript library hands
  them to a gadget (one key per element; repeated elements become a list).

Quirks of the real wire, kept as what they mean rather than as they look:

* ``<associatedDialogUri></associatedDialogUri>`` is on every UCCE dialog that
  is not a consult: an empty element is an absent value (``None``), never an
  empty URI. The same holds for every optional text (``stateCause``,
  ``mediaAddressType``, ``secondaryId``...).
* A ``DELETE`` carries the dialog's *last* state, which need not be
  ``DROPPED``: a withdrawn alert is deleted while it still says ``ALERTING``.
  The parser reports what was sent; what it means is the desk's business.
* After a Finesse failover ``callType`` may read ``NULL``: that is ``None``.
* ``event`` may come in lower case (``put`` on an error update).
* Elements this parser does not model are not an error (Finesse adds fields
  from release to release); their names are kept in ``Dialog.unknown``.

Untrusted XML is read with :mod:`defusedxml` and no DTD is accepted, so entity
expansion and external entities cannot happen. Parsing is total: each
function returns its value or raises :class:`FinesseParseError` naming the
element (a slash path such as ``Update/data/dialog/participants/Participant[1]/state``);
nothing else escapes. Sans-I/O: nothing here reads a clock, a file or a socket.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

import attrs
import defusedxml
import defusedxml.ElementTree as SafeET

from consultfsm.core.errors import ConsultFsmError

# --- errors ---------------------------------------------------------------------------


class FinesseError(ConsultFsmError, ValueError):
    """A Finesse document could not be read; ``element`` names where (a slash
    path from the root, ``$`` for the document itself) and ``why`` says what
    is wrong."""

    def __init__(self, element: str, why: str) -> None:
        self.element = element
        self.why = why
        super().__init__(f"Finesse element {element}: {why}")


class FinesseParseError(FinesseError):
    """Malformed or hostile input: not XML, a DTD or entity, a missing or
    repeated element, a value outside its set."""


# --- the vocabulary ---------------------------------------------------------------------


class UpdateEvent(StrEnum):
    """``<event>`` of an ``<Update>``: what happened to the ``<source>``."""

    POST = "POST"  # a dialog was added to the user's collection
    PUT = "PUT"  # one dialog changed
    DELETE = "DELETE"  # a dialog was removed from the user's collection


class DialogState(StrEnum):
    """A dialog's ``<state>`` (Finesse Web Services, Dialog object, voice)."""

    INITIATING = "INITIATING"
    INITIATED = "INITIATED"
    ALERTING = "ALERTING"
    ACTIVE = "ACTIVE"
    FAILED = "FAILED"
    DROPPED = "DROPPED"
    ACCEPTED = "ACCEPTED"  # outbound preview only


class ParticipantState(StrEnum):
    """A participant's ``<state>``. The dialog stays ``ACTIVE`` while one
    participant is, so a participant can be ``DROPPED`` in an active dialog."""

    INITIATING = "INITIATING"
    INITIATED = "INITIATED"
    ALERTING = "ALERTING"
    ACTIVE = "ACTIVE"
    HELD = "HELD"
    DROPPED = "DROPPED"
    FAILED = "FAILED"  # busy, bad destination, other (see stateCause)
    WRAP_UP = "WRAP_UP"
    ACCEPTED = "ACCEPTED"  # outbound preview only


# --- the values ---------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Participant:
    """One party of a dialog. Times are epoch milliseconds (UTC); Finesse
    resets ``start_time`` when the participant becomes active."""

    media_address: str  # the extension or number
    state: ParticipantState
    media_address_type: str | None = None  # AGENT_DEVICE for an agent's phone
    state_cause: str | None = None  # BUSY, BAD_DESTINATION, OTHER; mostly absent
    start_time: int | None = None
    state_change_time: int | None = None
    actions: tuple[str, ...] = ()  # what the user may do now (ANSWER, DROP, HOLD...)


@attrs.frozen(slots=True)
class MediaProperties:
    """``<mediaProperties>``: call type, numbers and call data. ECC variables
    are the call variables named ``user.*``; the ten ``callVariableN`` are the
    rest (both kept in the order sent)."""

    call_type: str | None = None  # None when absent or "NULL" (after a failover)
    dnis: str | None = None
    dialed_number: str | None = None
    call_variables: tuple[tuple[str, str], ...] = ()
    ecc_variables: tuple[tuple[str, str], ...] = ()
    other: tuple[tuple[str, str], ...] = ()  # wrapUpReason, outboundClassification...

    def variable(self, name: str) -> str | None:
        """The value of call or ECC variable ``name`` (``callVariable1``,
        ``user.foo``), ``None`` when the dialog does not carry it."""
        for key, value in (*self.call_variables, *self.ecc_variables):
            if key == name:
                return value
        return None


@attrs.frozen(slots=True)
class Dialog:
    """One Finesse dialog: a call, as seen from one user's collection."""

    id: str
    state: DialogState
    uri: str | None = None
    associated_dialog_uri: str | None = None  # set on a UCCE consult: the customer's dialog
    secondary_id: str | None = None  # on transfer / conference: the consult dialog's id
    from_address: str | None = None
    to_address: str | None = None
    media_type: str | None = None
    media_properties: MediaProperties = MediaProperties()
    participants: tuple[Participant, ...] = ()
    unknown: tuple[str, ...] = ()  # names of elements not modelled here

    @property
    def associated_dialog_id(self) -> str | None:
        """The id at the end of ``associated_dialog_uri`` (``.../Dialog/{id}``)."""
        uri = self.associated_dialog_uri
        return None if uri is None else uri.rstrip("/").rpartition("/")[2] or None

    def participant(self, media_address: str) -> Participant | None:
        """The participant on ``media_address`` (an extension), if any."""
        for p in self.participants:
            if p.media_address == media_address:
                return p
        return None


@attrs.frozen(slots=True)
class ApiError:
    """One ``<apiError>``: a request the desk made was refused."""

    error_type: str | None = None
    error_message: str | None = None
    error_data: str | None = None


@attrs.frozen(slots=True)
class Update:
    """One XMPP notification. ``dialogs`` holds the dialog of a collection
    ``POST`` / ``DELETE`` or of a ``PUT``; ``errors`` the ``<apiErrors>``."""

    event: UpdateEvent
    source: str
    request_id: str | None = None
    dialogs: tuple[Dialog, ...] = ()
    errors: tuple[ApiError, ...] = ()

    @property
    def user_id(self) -> str | None:
        """The user whose collection changed (``/finesse/api/User/{id}/Dialogs``)."""
        parts = self.source.strip("/").split("/")
        if len(parts) == 5 and parts[:3] == ["finesse", "api", "User"] and parts[4] == "Dialogs":
            return parts[3]
        return None


# --- a neutral element tree (XML and JSON read alike) ------------------------------------


@attrs.frozen(slots=True)
class _Node:
    name: str
    path: str
    text: str  # stripped; "" for an empty element
    children: tuple[_Node, ...]

    def all(self, name: str) -> tuple[_Node, ...]:
        return tuple(c for c in self.children if c.name == name)

    def one(self, name: str) -> _Node | None:
        found = self.all(name)
        if len(found) > 1:
            raise FinesseParseError(found[1].path, f"<{name}> may appear once in <{self.name}>")
        return found[0] if found else None

    def need(self, name: str) -> _Node:
        node = self.one(name)
        if node is None:
            raise FinesseParseError(f"{self.path}/{name}", f"<{self.name}> must have a <{name}>")
        return node

    def text_of(self, name: str) -> str | None:
        node = self.one(name)
        if node is None:
            return None
        if node.children:
            raise FinesseParseError(node.path, f"<{name}> must be text, not elements")
        return node.text or None


#: Finesse documents are at most eight elements deep; anything far deeper is
#: refused before it can exhaust the stack.
MAX_DEPTH = 32


def _numbered(path: str, name: str, index: int, total: int) -> str:
    return f"{path}/{name}[{index}]" if total > 1 else f"{path}/{name}"


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]  # namespaces play no part in Finesse's documents


def _from_element(element: ET.Element, path: str, depth: int = 0) -> _Node:
    if depth > MAX_DEPTH:
        raise FinesseParseError(path, f"nested deeper than {MAX_DEPTH} elements")
    kids = [c for c in element if isinstance(c.tag, str)]  # no comments or PIs
    counts: dict[str, int] = {}
    for child in kids:
        counts[_local(child.tag)] = counts.get(_local(child.tag), 0) + 1
    seen: dict[str, int] = {}
    children = []
    for child in kids:
        key = _local(child.tag)
        seen[key] = seen.get(key, 0) + 1
        where = _numbered(path, key, seen[key] - 1, counts[key])
        children.append(_from_element(child, where, depth + 1))
    return _Node(_local(element.tag), path, (element.text or "").strip(), tuple(children))


def _from_json(name: str, value: Any, path: str, depth: int = 0) -> _Node:
    if depth > MAX_DEPTH:
        raise FinesseParseError(path, f"nested deeper than {MAX_DEPTH} objects")
    if value is None:
        return _Node(name, path, "", ())
    if isinstance(value, str):
        _encodable(value, path)
        return _Node(name, path, value.strip(), ())
    if isinstance(value, bool) or not isinstance(value, (Mapping, int, float)):
        raise FinesseParseError(path, f"must be an object or a string, got {type(value).__name__}")
    if not isinstance(value, Mapping):
        try:
            return _Node(name, path, str(value), ())
        except ValueError:  # (an int past Python's limit on digits it writes)
            raise FinesseParseError(path, "a number too long to be any Finesse value") from None
    children = []
    for key, item in value.items():
        if not isinstance(key, str):
            raise FinesseParseError(path, "object keys must be strings")
        _encodable(key, path)
        items = item if isinstance(item, list) else [item]
        for i, one in enumerate(items):
            children.append(_from_json(key, one, _numbered(path, key, i, len(items)), depth + 1))
    return _Node(name, path, "", tuple(children))


def _encodable(text: str, path: str) -> None:
    # A lone surrogate is valid in a Python str (and in JSON) but not in UTF-8,
    # so it could not be written on anywhere; refuse it here, at the boundary.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise FinesseParseError(path, "holds text that is not valid Unicode") from None


def _root(document: str | bytes | Mapping[str, Any], names: tuple[str, ...]) -> _Node:
    """The document's root element, which must be one of ``names``."""
    if isinstance(document, Mapping):
        keys = list(document)
        if len(keys) != 1 or not isinstance(keys[0], str):
            raise FinesseParseError("$", f"a JSON document must have one key, one of {names}")
        _encodable(keys[0], "$")
        root = _from_json(keys[0], document[keys[0]], keys[0])
    elif isinstance(document, (str, bytes)):
        element = _parse_xml(document)
        root = _from_element(element, _local(element.tag))
    else:
        raise FinesseParseError(
            "$", f"expected XML text or a JSON object, got {type(document).__name__}"
        )
    if root.name not in names:
        raise FinesseParseError(root.path, f"the document must be one of {', '.join(names)}")
    return root


def _parse_xml(document: str | bytes) -> ET.Element:
    try:
        return SafeET.fromstring(document, forbid_dtd=True)
    except defusedxml.DTDForbidden:
        raise FinesseParseError("$", "a DTD is not accepted (Finesse never sends one)") from None
    except defusedxml.EntitiesForbidden as e:
        raise FinesseParseError("$", f"entity declaration {e.name!r} is not accepted") from None
    except defusedxml.ExternalReferenceForbidden:
        raise FinesseParseError("$", "an external reference is not accepted") from None
    except defusedxml.DefusedXmlException as e:  # any other refusal of hostile input
        raise FinesseParseError("$", f"refused: {e}") from None
    except ET.ParseError as e:
        line, column = e.position
        raise FinesseParseError(
            "$", f"not well-formed XML (line {line}, column {column})"
        ) from None
    except (ValueError, TypeError) as e:  # e.g. a str with an encoding declaration
        raise FinesseParseError("$", f"cannot be read as XML: {e}") from None


# --- readers ---------------------------------------------------------------------------------


def _enum(node: _Node, name: str, kind: type[StrEnum], *, upper: bool = False) -> Any:
    text = node.text_of(name)
    if text is None:
        raise FinesseParseError(f"{node.path}/{name}", f"<{name}> must not be empty")
    try:
        return kind(text.upper() if upper else text)
    except ValueError:
        allowed = ", ".join(k.value for k in kind)
        raise FinesseParseError(
            f"{node.path}/{name}", f"{text!r} is not one of {allowed}"
        ) from None


def _time(node: _Node, name: str) -> int | None:
    """An ISO 8601 UTC time (``2020-05-08T01:22:42.009Z``) as epoch milliseconds."""
    text = node.text_of(name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FinesseParseError(
            f"{node.path}/{name}", f"{text!r} is not an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        raise FinesseParseError(f"{node.path}/{name}", f"{text!r} has no time zone")
    return round(moment.timestamp() * 1000)


_DIALOG_FIELDS = frozenset({
    "id", "state", "uri", "associatedDialogUri", "secondaryId", "fromAddress", "toAddress",
    "mediaType", "mediaProperties", "participants",
})  # fmt: skip
_MEDIA_FIELDS = frozenset({"callType", "DNIS", "dialedNumber", "callvariables"})


def _participant(node: _Node) -> Participant:
    actions = node.one("actions")
    return Participant(
        media_address=node.text_of("mediaAddress") or "",
        state=_enum(node, "state", ParticipantState),
        media_address_type=node.text_of("mediaAddressType"),
        state_cause=node.text_of("stateCause"),
        start_time=_time(node, "startTime"),
        state_change_time=_time(node, "stateChangeTime"),
        actions=()
        if actions is None
        else tuple(_action(a) for a in actions.all("action") if a.text or a.children),
    )


def _action(node: _Node) -> str:
    if node.children:
        raise FinesseParseError(node.path, "<action> must be text, not elements")
    return node.text


def _variables(node: _Node | None) -> Iterator[tuple[str, str]]:
    if node is None:
        return
    for var in node.all("CallVariable"):
        name = var.text_of("name")
        if name is None:
            raise FinesseParseError(f"{var.path}/name", "a call variable must have a name")
        yield name, var.text_of("value") or ""


def _media(node: _Node | None) -> MediaProperties:
    if node is None:
        return MediaProperties()
    call_type = node.text_of("callType")
    variables = list(_variables(node.one("callvariables")))
    return MediaProperties(
        call_type=None if call_type in (None, "NULL") else call_type,
        dnis=node.text_of("DNIS"),
        dialed_number=node.text_of("dialedNumber"),
        call_variables=tuple(v for v in variables if not v[0].startswith("user.")),
        ecc_variables=tuple(v for v in variables if v[0].startswith("user.")),
        other=tuple(
            (c.name, c.text) for c in node.children if c.name not in _MEDIA_FIELDS and c.text
        ),
    )


def _dialog(node: _Node) -> Dialog:
    dialog_id = node.text_of("id")
    if dialog_id is None:
        raise FinesseParseError(f"{node.path}/id", "a dialog must have an id")
    participants = tuple(
        _participant(p) for group in node.all("participants") for p in group.all("Participant")
    )
    unknown = [c.path for c in node.children if c.name not in _DIALOG_FIELDS]
    unknown += [
        c.path for g in node.all("participants") for c in g.children if c.name != "Participant"
    ]
    # Media properties Finesse may add as structures: kept by name, not read.
    unknown += [
        c.path for m in node.all("mediaProperties") for c in m.children
        if c.name not in _MEDIA_FIELDS and c.children
    ]  # fmt: skip
    return Dialog(
        id=dialog_id,
        state=_enum(node, "state", DialogState),
        uri=node.text_of("uri"),
        associated_dialog_uri=node.text_of("associatedDialogUri"),
        secondary_id=node.text_of("secondaryId"),
        from_address=node.text_of("fromAddress"),
        to_address=node.text_of("toAddress"),
        media_type=node.text_of("mediaType"),
        media_properties=_media(node.one("mediaProperties")),
        participants=participants,
        unknown=tuple(unknown),
    )


def _api_error(node: _Node) -> ApiError:
    return ApiError(
        error_type=node.text_of("errorType"),
        error_message=node.text_of("errorMessage"),
        error_data=node.text_of("errorData"),
    )


def _update(root: _Node) -> Update:
    data = root.need("data")
    dialogs: tuple[Dialog, ...] = ()
    errors: tuple[ApiError, ...] = ()
    held = [name for name in ("dialogs", "dialog", "apiErrors") if data.one(name) is not None]
    if len(held) > 1:
        raise FinesseParseError(data.path, f"<data> must hold one of {', '.join(held)}, not all")
    if (collection := data.one("dialogs")) is not None:
        dialogs = tuple(_dialog(d) for d in collection.all("Dialog"))
    elif (one := data.one("dialog")) is not None:
        dialogs = (_dialog(one),)
    elif (api_errors := data.one("apiErrors")) is not None:
        errors = tuple(_api_error(e) for e in api_errors.all("apiError"))
    else:
        raise FinesseParseError(data.path, "<data> must hold <dialogs>, <dialog> or <apiErrors>")
    source = root.text_of("source")
    if source is None:
        raise FinesseParseError(f"{root.path}/source", "an update must name its source")
    return Update(
        event=_enum(root, "event", UpdateEvent, upper=True),
        source=source,
        request_id=root.text_of("requestId"),
        dialogs=dialogs,
        errors=errors,
    )


# --- the public entry points ---------------------------------------------------------------

Document = str | bytes | Mapping[str, Any]


def parse_update(document: Document) -> Update:
    """An XMPP ``<Update>`` notification (XML text, or its JSON object form)."""
    return _update(_root(document, ("Update",)))


def parse_dialog(document: Document) -> Dialog:
    """A REST ``GET /finesse/api/Dialog/{id}`` body: one ``<Dialog>``."""
    return _dialog(_root(document, ("Dialog",)))


def parse_dialogs(document: Document) -> tuple[Dialog, ...]:
    """A REST ``GET /finesse/api/User/{id}/Dialogs`` body: the user's dialogs
    now (an empty ``<Dialogs/>`` when there are none)."""
    root = _root(document, ("Dialogs",))
    return tuple(_dialog(d) for d in root.all("Dialog"))


def parse_document(document: Document) -> Update | Dialog | tuple[Dialog, ...]:
    """Any of the three, told apart by the root element."""
    root = _root(document, ("Update", "Dialog", "Dialogs"))
    if root.name == "Update":
        return _update(root)
    if root.name == "Dialog":
        return _dialog(root)
    return tuple(_dialog(d) for d in root.all("Dialog"))
