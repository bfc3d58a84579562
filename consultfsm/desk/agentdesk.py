"""One agent's AgentDesk: feed it exactly what its page receives.

:class:`AgentDesk` is what an AgentDesk backend embeds. It takes the Finesse
notifications the page gets (XML, JSON, or parsed), the page's lifecycle (a
fresh page, socket down, socket up) and the dialog list it reads on return,
and runs one desk machine (:class:`~consultfsm.desk.machine.Desk`) per consult
it learns of. It answers with the effects to carry out: what to show, and the
CIM messages to POST to the CCM. It keeps its machines, the ids re-keyed
consults had before and those of consults it was told to :meth:`forget`;
:meth:`AgentDesk.snapshot` is the whole of it, for ``localStorage``.

Which dialogs are consults (:func:`~consultfsm.desk.reading.consult_platform`)
and what each update means (:mod:`consultfsm.desk.reading`) is decided per
dialog; which consult a transfer or conference ends is read from the new
dialog's ``secondaryId``. Updates about other calls (the customer's own dialog,
inbound calls) are no news here and produce nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from consultfsm.core.errors import (
    ConfigError,
    ConsultFsmError,
    SnapshotError,
)
from consultfsm.core.events import REPEATABLE_INTENTS, CimIntent
from consultfsm.wire.cim import CimCodec, CimEncodeError, CimMessage, ConsultRole, MessageIntent
from consultfsm.wire.finesse import (
    Dialog,
    Document,
    Update,
    UpdateEvent,
    parse_dialogs,
    parse_update,
)
from consultfsm.wire.legref import LegRef

from .machine import (
    Desk,
    DeskEffect,
    DeskFacts,
    DeskIllegalInput,
    DeskSnapshot,
    DeskStep,
    check_settle_ms,
    check_time,
)
from .reading import CustomerNumberSource, consult_platform, read_consult, read_list, read_successor
from .table import (
    DEFAULT_SETTLE_MS,
    PAGE_MOVES,
    WITHOUT_B,
    DeskCall,
    DeskInput,
    DeskPage,
    DeskRole,
)

#: The ``consultRole`` each desk writes (:data:`consultfsm.wire.cim.CONSULT_ROLE_KEY`).
CONSULT_ROLE: dict[DeskRole, str] = {
    DeskRole.A: ConsultRole.CONSULTING,
    DeskRole.B: ConsultRole.CONSULTED,
}
#: How long a forgotten consult's dialog id is remembered (ms).
FORGET_MS = 3_600_000
#: What a dialog shows when it ends.
_ENDS = frozenset({
    DeskInput.DROPPED_A, DeskInput.DROPPED_B, DeskInput.FAILED, DeskInput.TRANSFERRED,
    DeskInput.CONFERENCED,
})  # fmt: skip
_SUCCESSORS = frozenset({DeskInput.TRANSFERRED, DeskInput.CONFERENCED})
#: What a dialog shows when B is offered it, or on it.
_OFFERED = frozenset({DeskInput.ALERTING, DeskInput.ANSWERED, DeskInput.HELD})


class UnknownConsult(ConsultFsmError, KeyError):
    """A send effect of a consult this desk no longer has (it was forgotten)."""

    def __init__(self, leg: str) -> None:
        self.leg = leg
        super().__init__(f"no consult of this desk has the leg {leg!r} (forgotten?)")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class NotASend(ConsultFsmError, ValueError):
    """:meth:`AgentDesk.cim_message` asked for an effect that posts nothing
    (:attr:`DeskEffect.is_send` is False: an alert to show, a timer)."""

    def __init__(self, effect: DeskEffect) -> None:
        self.effect = effect
        super().__init__(f"{effect.effect.value} of leg {effect.leg!r} posts no CIM message")


#: The states in which a consult may still be re-posted under another id.
_NOT_YET_ANSWERED = frozenset({DeskCall.NONE, DeskCall.RINGING})
#: What a consult missed by B's leaving it unanswered shows (a RONA, live or
#: in a list): a queue may offer that dialog again, to B or another agent.
_RANG_OUT = frozenset({DeskInput.DROPPED_B, *WITHOUT_B})

#: Expertflow's desks: ``callVariable1`` holds ``<ANI>:<primaryDN>``.
EXPERTFLOW_CUSTOMER_NUMBER = CustomerNumberSource()


class AgentDesk:
    """The desk of agent ``agent_id`` on phone ``extension``."""

    def __init__(
        self,
        agent_id: str,
        extension: str,
        *,
        customer_number: CustomerNumberSource = EXPERTFLOW_CUSTOMER_NUMBER,
        settle_ms: int = DEFAULT_SETTLE_MS,
        desk_class: type[Desk] = Desk,
    ) -> None:
        LegRef(extension, agent_id, "0")  # the same rules as the leg string's parts
        if not isinstance(customer_number, CustomerNumberSource):
            raise ConfigError("customer_number", "must be a CustomerNumberSource")
        if not (isinstance(desk_class, type) and issubclass(desk_class, Desk)):
            raise ConfigError("desk_class", "must be Desk or a subclass of it")
        #: The machine each consult gets (a subclass may watch its steps:
        #: :func:`~consultfsm.desk.machine.observed_desk_class`).
        self.desk_class = desk_class
        self.agent_id = agent_id
        self.extension = extension
        self.customer_number = customer_number
        check_settle_ms(settle_ms)  # now, not at the first consult
        self.settle_ms = settle_ms
        self.page = DeskPage.UP
        self.now = 0
        #: The desk machine of each consult, by its (current) dialog id.
        self.consults: dict[str, Desk] = {}
        #: Dialog ids a consult had before it was re-keyed -> the id it moved to.
        self.rekeyed: dict[str, str] = {}
        #: Finished consults whose machine was dropped (:meth:`forget`) -> when.
        self.forgotten: dict[str, int] = {}
        #: The end of a consult this desk last knew ringing, seen live while its
        #: dialog list was in flight: held back until the list lands, which
        #: may show B answered meanwhile (an answer is never lost to an order).
        self.deferred: dict[str, DeskInput] = {}
        #: Missed consults B left ringing (a RONA): only these may be offered
        #: again on their dialog; an update about another missed one (a ring
        #: re-delivered after A cancelled) is late news.
        self.rang_out: set[str] = set()
        #: Holds and resumes sent within the ms ``repeat_at``, by (leg,
        #: intent): a second hold in one ms is the leg's repeat 1, not its
        #: first hold again (both had one message id, and the CCM dropped one).
        self.repeat_at = -1
        self.repeats: dict[tuple[str, CimIntent], int] = {}

    # --- what the page receives -------------------------------------------------------

    def on_update(self, update: Update | Document, at: int) -> list[DeskEffect]:
        """A Finesse notification (parsed, or as received)."""
        if not isinstance(update, Update):
            update = parse_update(update)
        self._check(at, "finesse update")
        if self.page is DeskPage.DOWN:
            raise self._illegal("finesse update", at, "the page is down: Finesse cannot reach it")
        return self._atomically(lambda: self._on_update(update, at))

    def _on_update(self, update: Update, at: int) -> list[DeskEffect]:
        self.now = at
        out: list[DeskEffect] = []
        for dialog in update.dialogs:
            out += self._on_dialog(dialog, update.event, at)
        return out

    def on_page_loaded(self, at: int) -> list[DeskEffect]:
        """A fresh page (restored from :meth:`snapshot`): it must read its dialogs."""
        return self._all(DeskInput.PAGE_LOADED, at)

    def on_socket_down(self, at: int) -> list[DeskEffect]:
        return self._all(DeskInput.SOCKET_DOWN, at)

    def on_socket_up(self, at: int) -> list[DeskEffect]:
        """The socket is back: read ``GET /finesse/api/User/{id}/Dialogs`` next."""
        return self._all(DeskInput.SOCKET_UP, at)

    def on_dialogs(self, dialogs: Iterable[Dialog] | Document, at: int) -> list[DeskEffect]:
        """The dialog list read after the page came back (parsed, or the
        ``<Dialogs>`` body as received): every known consult is reconciled with
        it, and a consult first seen here gets its machine."""
        if isinstance(dialogs, str | bytes | Mapping):
            dialogs = parse_dialogs(dialogs)
        dialogs = tuple(dialogs)
        self._check(at, "dialog list")
        if self.page is not DeskPage.READING:
            raise self._illegal(
                "dialog list", at, "a dialog list is read only by a page coming back"
            )
        return self._atomically(lambda: self._on_dialogs(dialogs, at))

    def _on_dialogs(self, dialogs: tuple[Dialog, ...], at: int) -> list[DeskEffect]:
        self.now = at
        out: list[DeskEffect] = []
        for dialog in dialogs:  # a consult re-posted under a new id while the page was away
            if self._unknown_consult(dialog):
                self._rekeyed(dialog)
        for dialog_id, desk in self.consults.items():
            if desk.page is DeskPage.READING:
                a = desk.facts.a_extension or ""
                out += self._feed(desk, read_list(dialogs, dialog_id, a, me=self.extension), at)
        for dialog in dialogs:
            if self._unknown_consult(dialog):
                desk = self._new_desk(dialog, at)
                desk.handle(DeskInput.PAGE_LOADED, at)
                a = desk.facts.a_extension or ""
                out += self._feed(desk, read_list(dialogs, dialog.id, a, me=self.extension), at)
        self.page = DeskPage.UP  # rule 1: a list input brings the page up
        for dialog_id, kind in self.deferred.items():  # what came live after the list
            if dialog_id in self.consults:
                out += self._feed(self.consults[dialog_id], kind, at)
        self.deferred = {}
        return out

    # --- time -------------------------------------------------------------------------

    def next_deadline(self) -> int | None:
        """The earliest settle deadline of any consult, or None."""
        deadlines = [d for desk in self.consults.values() if (d := desk.get_timer()) is not None]
        return min(deadlines, default=None)

    def handle_timers(self, now: int) -> list[DeskEffect]:
        """Fire every deadline due at ``now``, each at its own time."""
        self._check(now, "timers")
        self.now = now
        out: list[DeskEffect] = []
        due = sorted(
            (d, dialog_id) for dialog_id, desk in self.consults.items()
            if (d := desk.get_timer()) is not None and d <= now
        )  # fmt: skip
        for deadline, dialog_id in due:
            out += self._step(self.consults[dialog_id].handle_timer(deadline))
        return out

    def forget(self, dialog_id: str) -> None:
        """Drop a finished consult's machine, to keep the snapshot small. Its
        dialog id is kept for :data:`FORGET_MS` (an id, not a machine), so a
        late update about it still does nothing; after that window Finesse has
        long stopped talking about it. A consult still going is kept."""
        desk = self.consults.get(dialog_id)
        if desk is not None and desk.is_finished:
            del self.consults[dialog_id]
            old_ids = [old for old, new in self.rekeyed.items() if new == dialog_id]
            for old in old_ids:
                del self.rekeyed[old]
            for gone in (dialog_id, *old_ids):
                self.forgotten[gone] = self.now
                self.rang_out.discard(gone)
        self.forgotten = {k: t for k, t in self.forgotten.items() if self.now - t <= FORGET_MS}

    # --- the CIM messages ------------------------------------------------------------

    def cim_message(self, effect: DeskEffect, codec: CimCodec) -> CimMessage:
        """The CIM message to POST to the CCM for a send effect
        (:attr:`DeskEffect.is_send`), sender this agent.

        ``channelCustomerIdentifier`` is the customer's number from the call
        data (the design note's solution: the CCM finds the session by it when
        there is no ``associatedDialogUri``). Without one, the consult's UCCE
        ``associatedDialogUri`` still finds the session, and the number falls
        back to A's extension, what deployed desks send today; with neither
        (UCCX, the call variable missing) :class:`CimEncodeError` names the
        field, as the CCM could not place the consult. ``body.callId`` is the
        consult's dialog id, ``body.leg`` this desk's leg string, and the
        ``consultRole`` attribute says which agent of the consult this desk is
        (the CCM keeps one report of the two)."""
        intent = effect.cim_intent
        if intent is None:
            raise NotASend(effect)
        dialog_id, desk = self._desk_of(effect)
        facts = desk.facts
        customer = facts.customer_number
        if customer is None and facts.associated_dialog_uri is not None:
            customer = facts.a_extension
        if customer is None:
            raise CimEncodeError(
                "header.channelData.channelCustomerIdentifier",
                f"no customer number in the call data ({self.customer_number.variable}) and no "
                "associatedDialogUri: the CCM could not find the customer's session",
            )
        return codec.agent_message(
            leg=facts.leg, at=effect.at, intent=MessageIntent(intent.value), agent=self.agent_id,
            customer=customer, call_id=dialog_id,
            reason=effect.cim_reason, associated_dialog_uri=facts.associated_dialog_uri,
            consult_role=CONSULT_ROLE[facts.role], repeat=effect.repeat,
        )  # fmt: skip

    def _desk_of(self, effect: DeskEffect) -> tuple[str, Desk]:
        for dialog_id, desk in self.consults.items():
            if desk.facts.leg == effect.leg:
                return dialog_id, desk
        raise UnknownConsult(effect.leg)

    # --- snapshots --------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole desk, JSON-ready (``localStorage``)."""
        return {
            "v": 1, "agent_id": self.agent_id, "extension": self.extension,
            "page": self.page.value, "now": self.now, "settle_ms": self.settle_ms,
            "customer_number": [self.customer_number.variable, self.customer_number.separator,
                                self.customer_number.part],
            "consults": {k: d.snapshot().to_dict() for k, d in self.consults.items()},
            "rekeyed": dict(self.rekeyed), "forgotten": dict(self.forgotten),
            "deferred": {k: v.value for k, v in self.deferred.items()},
            "rang_out": sorted(self.rang_out),
            # (only within the ms they were counted in: later, none can repeat them)
            **({"repeats": [[leg, intent.value, n] for (leg, intent), n in self.repeats.items()]}
               if self.repeats and self.repeat_at == self.now else {}),
        }  # fmt: skip

    @classmethod
    def restore(cls, data: Mapping[str, Any], *, desk_class: type[Desk] = Desk) -> AgentDesk:
        """The desk :meth:`snapshot` wrote, its consults' machines of
        ``desk_class``; :class:`SnapshotError` names a bad field."""
        try:
            variable, separator, part = data["customer_number"]
            desk = cls(
                data["agent_id"], data["extension"], settle_ms=data["settle_ms"],
                customer_number=CustomerNumberSource(variable, separator, part),
                desk_class=desk_class,
            )  # fmt: skip
            desk.page = DeskPage(data["page"])
            consults = data["consults"]
            if data["v"] != 1 or not isinstance(consults, Mapping):
                raise SnapshotError("v", "not a version 1 AgentDesk snapshot")
            rekeyed = data["rekeyed"]
            if not isinstance(rekeyed, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in rekeyed.items()
            ):
                raise SnapshotError("rekeyed", "must map dialog ids to dialog ids")
            desk.rekeyed = dict(rekeyed)
            forgotten = data["forgotten"]
            if not isinstance(forgotten, Mapping) or not all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                for k, v in forgotten.items()
            ):
                raise SnapshotError("forgotten", "must map dialog ids to times")
            desk.forgotten = dict(forgotten)
            deferred = data["deferred"]
            if not isinstance(deferred, Mapping):
                raise SnapshotError("deferred", "must map dialog ids to desk inputs")
            desk.deferred = {str(k): DeskInput(v) for k, v in deferred.items()}
            if not set(desk.deferred.values()) <= _ENDS:
                raise SnapshotError("deferred", "only a consult's end is ever held back")
            now = data["now"]
            if isinstance(now, bool) or not isinstance(now, int) or now < 0:
                raise SnapshotError("now", "must be a non-negative integer")
            desk.now = now
        except (KeyError, TypeError, ValueError) as e:
            raise SnapshotError("$", f"not an AgentDesk snapshot: {e}") from None
        for dialog_id, snap in consults.items():
            consult = desk_class.restore(DeskSnapshot.from_dict(snap))
            if consult.now > desk.now:
                raise SnapshotError("now", f"is before consult {dialog_id}'s last input")
            desk.consults[str(dialog_id)] = consult
        rang_out = data.get("rang_out")
        if rang_out is None:  # (written before it was kept: every missed one, as then)
            rang_out = [k for k, c in desk.consults.items() if c.call is DeskCall.MISSED]
        if not isinstance(rang_out, list) or not all(isinstance(k, str) for k in rang_out):
            raise SnapshotError("rang_out", "must list dialog ids")
        desk.rang_out = set(rang_out)
        repeats = data.get("repeats", [])
        try:
            desk.repeats = {(leg, CimIntent(intent)): n for leg, intent, n in repeats}
        except (TypeError, ValueError):
            raise SnapshotError("repeats", "must list [leg, intent, count] triples") from None
        if len(desk.repeats) != len(repeats):
            raise SnapshotError("repeats", "names a leg's intent twice")
        if not all(
            isinstance(leg, str) and intent in REPEATABLE_INTENTS and type(n) is int and n > 0
            for (leg, intent), n in desk.repeats.items()
        ):
            raise SnapshotError("repeats", "counts holds and resumes of legs, each at least once")
        desk.repeat_at = desk.now if desk.repeats else -1
        return desk

    # --- inside -----------------------------------------------------------------------

    def _on_dialog(self, dialog: Dialog, event: UpdateEvent, at: int) -> list[DeskEffect]:
        out: list[DeskEffect] = []
        for consult_id, desk in self.consults.items():
            if (after := read_successor(dialog, consult_id)) is None:
                continue
            if self._defers(desk, after):
                self._defer(consult_id, after)
            else:
                out += self._feed(desk, after, at)
        # The call a consult this desk has not met yet became (the list in
        # flight may still show that consult): how it ended, once the list lands.
        named = dialog.secondary_id
        pending = self.page is DeskPage.READING and named not in self.consults
        if named is not None and pending and (after := read_successor(dialog, named)):
            self._defer(named, after)
        if dialog.id in self.rekeyed or dialog.id in self.forgotten:
            return out  # an id the consult had before, or one forgotten: late news
        desk_or_none = self.consults.get(dialog.id)
        if desk_or_none is None:
            if consult_platform(dialog) is None:
                return out  # not a consult
            if event is UpdateEvent.DELETE:
                if self.page is DeskPage.READING:  # the list in flight may still show it
                    a = dialog.from_address or ""
                    self._defer(
                        dialog.id,
                        read_consult(dialog, a, event, me=self.extension) or DeskInput.DROPPED_A,
                    )
                return out  # one this desk never knew
            desk_or_none = self._rekeyed(dialog) or self._new_desk(dialog, at)
        a = desk_or_none.facts.a_extension or ""
        seen = read_consult(dialog, a, event, me=self.extension)
        if (
            seen in _OFFERED
            and desk_or_none.call is DeskCall.MISSED
            and dialog.id in self.rang_out
            and event is not (UpdateEvent.DELETE)
        ):
            # Offered again on the same dialog (a queue re-offers it after a
            # RONA): a new offer, with a machine of its own. Never after an
            # answer (an answered consult's dialog is not offered again), nor
            # after A cancelled it or it became another call.
            self.rang_out.discard(dialog.id)
            desk_or_none = self._new_desk(dialog, at)
        if desk_or_none.facts.customer_number is None:  # call data may come later
            number = self.customer_number.read(dialog)
            if number is not None:
                desk_or_none.facts = attrs.evolve(desk_or_none.facts, customer_number=number)
        if seen is not None and self._defers(desk_or_none, seen):
            self._defer(dialog.id, seen)
        elif seen is not None:
            out += self._feed(desk_or_none, seen, at)
        return out

    def _defer(self, dialog_id: str, kind: DeskInput) -> None:
        # A transfer or conference says more than the drops that go with it,
        # in whichever order the two updates come.
        if self.deferred.get(dialog_id) not in _SUCCESSORS:
            self.deferred[dialog_id] = kind

    def _defers(self, desk: Desk, seen: DeskInput) -> bool:
        # A ringing consult's end, while a dialog list is in flight: that list
        # may still show B on the call (answered while the page was away).
        return (desk.page is DeskPage.READING and desk.call in _NOT_YET_ANSWERED
                and seen in _ENDS)  # fmt: skip

    def _unknown_consult(self, dialog: Dialog) -> bool:
        # (a forgotten consult is known: a list still showing it is late news)
        return (dialog.id not in self.consults and dialog.id not in self.rekeyed
                and dialog.id not in self.forgotten
                and consult_platform(dialog) is not None)  # fmt: skip

    def _rekeyed(self, dialog: Dialog) -> Desk | None:
        """The consult ``dialog`` continues, if it is one this desk already
        knows under another id (a CVP temporary dialog replaced by the real
        one): the same A, customer call and number, not yet answered. A has
        one consult at a time, so a second consult dialog while the first
        still rings can only be the same consult re-posted. Its machine moves
        to the new id; the old id is kept, and what still comes about it is
        absorbed. A number missing from either dialog's call data (CVP's
        temporary dialog may carry none yet) does not tell them apart; two
        different numbers do."""
        number = self.customer_number.read(dialog)
        for old_id, desk in self.consults.items():
            facts = desk.facts
            if (
                desk.call in _NOT_YET_ANSWERED
                and facts.a_extension == dialog.from_address
                and facts.associated_dialog_uri == dialog.associated_dialog_uri
                and (None in (facts.customer_number, number) or facts.customer_number == number)
            ):
                del self.consults[old_id]
                self.consults[dialog.id] = desk
                self.rekeyed[old_id] = dialog.id
                return desk
        return None

    def _new_desk(self, dialog: Dialog, at: int) -> Desk:
        a_extension = dialog.from_address
        role = DeskRole.A if a_extension == self.extension else DeskRole.B
        leg = str(LegRef(self.extension, self.agent_id, dialog.id))
        facts = DeskFacts(role, leg, self.customer_number.read(dialog), a_extension,
                          dialog.associated_dialog_uri)  # fmt: skip
        desk = self.desk_class(facts, settle_ms=self.settle_ms, created_at=at)
        if self.page is not DeskPage.UP:
            desk.page = self.page
        self.consults[dialog.id] = desk
        return desk

    def _atomically(self, work: Callable[[], list[DeskEffect]]) -> list[DeskEffect]:
        # The table has a row for every Finesse and list input in every state
        # and no desk's time is past the AgentDesk's, so feeding a machine
        # cannot fail; but a new consult's facts can (a dialog id that cannot
        # be part of a leg string), maybe after an earlier dialog of the same
        # update was fed. All or nothing: put everything back.
        before = self.snapshot()
        try:
            return work()
        except BaseException:
            restored = AgentDesk.restore(before, desk_class=self.desk_class)
            self.page, self.now, self.consults = restored.page, restored.now, restored.consults
            self.rekeyed, self.forgotten = restored.rekeyed, restored.forgotten
            self.deferred, self.rang_out = restored.deferred, restored.rang_out
            self.repeat_at, self.repeats = restored.repeat_at, restored.repeats
            raise

    def _feed(self, desk: Desk, kind: DeskInput, at: int) -> list[DeskEffect]:
        before = desk.call
        out = self._step(desk.handle(kind, at))
        if desk.call is DeskCall.MISSED and before is not DeskCall.MISSED and kind in _RANG_OUT:
            self.rang_out.update(k for k, d in self.consults.items() if d is desk)
        return out

    def _step(self, step: DeskStep) -> list[DeskEffect]:
        out = list(step.emits)
        for i, effect in enumerate(out):
            intent = effect.cim_intent
            if intent not in REPEATABLE_INTENTS:
                continue
            if effect.at != self.repeat_at:  # a new ms: nothing sent in it yet
                self.repeat_at, self.repeats = effect.at, {}
            key = (effect.leg, intent)
            repeat = self.repeats.get(key, 0)
            self.repeats[key] = repeat + 1
            if repeat:
                out[i] = attrs.evolve(effect, repeat=repeat)
        return out

    def _all(self, kind: DeskInput, at: int) -> list[DeskEffect]:
        self._check(at, kind)
        self.now = at
        out: list[DeskEffect] = []
        for desk in self.consults.values():
            out += self._feed(desk, kind, at)
        self.page = PAGE_MOVES[(self.page, kind)][0]
        return out

    def _check(self, at: int, what: str) -> None:
        check_time(self._name, str(self.page), what, at, self.now)

    def _illegal(self, what: str, at: int, why: str) -> DeskIllegalInput:
        return DeskIllegalInput(self._name, str(self.page), what, at, why)

    @property
    def _name(self) -> str:
        return f"{self.extension}:{self.agent_id}"
