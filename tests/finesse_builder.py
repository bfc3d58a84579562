"""Consult notifications as Finesse sends them, for the desk tests.

None of the real captures is a consult (their SOURCE.md says so), so the
consult sequences are built here from Cisco's documented CTI-to-dialog mapping
(consult, transfer, conference, hold: domain brief 3.1 and 6b), written in the
captures' exact element order and shapes: the empty ``associatedDialogUri`` and
``stateCause``, ISO times with milliseconds, ``AGENT_DEVICE`` participants, a
``DELETE`` that carries the dialog's last state.

:class:`Consult` is one consult of A (extension 7001, user 1001) to B (7002,
user 1002) about the customer +923001234567, on UCCE or UCCX. Each world event
(``ring``, ``answer``, ``hold``...) returns what each desk's page receives: a
``{"a": [xml...], "b": [xml...]}`` of updates, and :meth:`Consult.listing`
gives the dialog list a page reading ``GET .../Dialogs`` would get now.
"""

from __future__ import annotations

from datetime import UTC, datetime

A_EXT, A_USER, B_EXT, B_USER = "7001", "1001", "7002", "1002"
CUSTOMER = "+923001234567"
CUSTOMER_DIALOG = "16777300"
EPOCH_BASE = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _time(ms: int) -> str:
    moment = datetime.fromtimestamp(EPOCH_BASE.timestamp() + ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _participant(ext: str, state: str, at: int, actions: tuple[str, ...]) -> str:
    acts = "".join(f"<action>{a}</action>" for a in actions)
    return (
        f"<Participant><actions>{acts}</actions><mediaAddress>{ext}</mediaAddress>"
        f"<mediaAddressType>AGENT_DEVICE</mediaAddressType><startTime>{_time(at)}</startTime>"
        f"<state>{state}</state><stateCause></stateCause>"
        f"<stateChangeTime>{_time(at)}</stateChangeTime></Participant>"
    )


ACTIONS = {
    "INITIATED": ("DROP",), "ALERTING": ("ANSWER",), "ACTIVE": ("HOLD", "DROP"),
    "HELD": ("RETRIEVE", "DROP"), "DROPPED": (), "FAILED": ("DROP",), "WRAP_UP": (),
}  # fmt: skip


class Consult:
    """One consult from A to B; ``platform`` is ``ucce`` or ``uccx``."""

    def __init__(self, platform: str = "ucce", dialog_id: str = "16777301") -> None:
        self.platform = platform
        self.id = dialog_id
        self.dialog_state = "INITIATED"
        #: extension -> (state, time of its last change)
        self.parties: dict[str, tuple[str, int]] = {}
        self.gone = False  # deleted from both collections
        self.successor: str | None = None  # the dialog B holds after a transfer / conference
        self.survivor_has_a = False  # a conference: A is on the surviving dialog too

    # --- the dialog as XML ---------------------------------------------------------------------

    def dialog_xml(self, dialog_id: str | None = None, call_type: str | None = None,
                   secondary: str | None = None, parties: dict[str, tuple[str, int]] | None = None,
                   state: str | None = None) -> str:  # fmt: skip
        dialog_id = dialog_id or self.id
        ucce = self.platform == "ucce"
        assoc = f"/finesse/api/Dialog/{CUSTOMER_DIALOG}" if ucce and dialog_id == self.id else ""
        if call_type is None:
            call_type = "AGENT_INSIDE" if ucce else "CONSULT"
        second = f"<secondaryId>{secondary}</secondaryId>" if secondary else ""
        parties = self.parties if parties is None else parties
        people = "".join(
            _participant(ext, st, at, ACTIONS[st]) for ext, (st, at) in parties.items()
        )
        return (
            f"<Dialog><associatedDialogUri>{assoc}</associatedDialogUri>"
            f"<fromAddress>{A_EXT}</fromAddress><id>{dialog_id}</id><mediaProperties>"
            f"<DNIS>{B_EXT}</DNIS><callType>{call_type}</callType>"
            f"<dialedNumber>{B_EXT}</dialedNumber><outboundClassification></outboundClassification>"
            f"<callvariables><CallVariable><name>callVariable1</name>"
            f"<value>{CUSTOMER}:3000</value></CallVariable></callvariables></mediaProperties>"
            f"<mediaType>Voice</mediaType><participants>{people}</participants>{second}"
            f"<state>{state or self.dialog_state}</state><toAddress>{B_EXT}</toAddress>"
            f"<uri>/finesse/api/Dialog/{dialog_id}</uri></Dialog>"
        )

    @staticmethod
    def update(event: str, user: str, dialog: str, dialog_id: str) -> str:
        if event == "PUT":
            data, source = f"<dialog>{dialog[8:-9]}</dialog>", f"/finesse/api/Dialog/{dialog_id}"
        else:
            data, source = f"<dialogs>{dialog}</dialogs>", f"/finesse/api/User/{user}/Dialogs"
        return (f"<Update><data>{data}</data><event>{event}</event><requestId></requestId>"
                f"<source>{source}</source></Update>")  # fmt: skip

    def _both(self, a_event: str, b_event: str | None) -> dict[str, list[str]]:
        dialog = self.dialog_xml()
        out = {"a": [self.update(a_event, A_USER, dialog, self.id)], "b": []}
        if b_event is not None:
            out["b"].append(self.update(b_event, B_USER, dialog, self.id))
        return out

    # --- world events (what each page receives) -------------------------------------------------

    def dial(self, at: int) -> dict[str, list[str]]:
        self.parties = {A_EXT: ("INITIATED", at)}
        return {"a": [self.update("POST", A_USER, self.dialog_xml(), self.id)], "b": []}

    def ring(self, at: int) -> dict[str, list[str]]:
        self.dialog_state = "ALERTING"
        self.parties[B_EXT] = ("ALERTING", at)
        return self._both("PUT", "POST")

    def answer(self, at: int) -> dict[str, list[str]]:
        self.dialog_state = "ACTIVE"
        self.parties = {A_EXT: ("ACTIVE", at), B_EXT: ("ACTIVE", at)}
        return self._both("PUT", "PUT")

    def hold(self, at: int, by: str = B_EXT) -> dict[str, list[str]]:
        self.parties[by] = ("HELD", at)
        return self._both("PUT", "PUT")

    def retrieve(self, at: int, by: str = B_EXT) -> dict[str, list[str]]:
        self.parties[by] = ("ACTIVE", at)
        return self._both("PUT", "PUT")

    def hang_up(self, at: int, by: str) -> dict[str, list[str]]:
        """``by`` hangs up; the other end clears 1 ms later and the dialog is
        deleted from both collections, carrying its last state."""
        other = B_EXT if by == A_EXT else A_EXT
        self.parties[by] = ("DROPPED", at)
        if other in self.parties:
            self.parties[other] = ("DROPPED", at + 1)
        self.dialog_state = "DROPPED"
        self.gone = True
        return self._both("DELETE", "DELETE" if B_EXT in self.parties else None)

    def rona(self, at: int) -> dict[str, list[str]]:
        """The routing gives up on B: B's participant drops while alerting;
        B's collection loses the dialog, A's dialog goes on without B."""
        self.parties[B_EXT] = ("DROPPED", at)
        dialog = self.dialog_xml()
        del self.parties[B_EXT]
        self.dialog_state = "INITIATED"
        return {"a": [self.update("PUT", A_USER, dialog, self.id)],
                "b": [self.update("DELETE", B_USER, dialog, self.id)]}  # fmt: skip

    def cancel(self, at: int) -> dict[str, list[str]]:
        """A hangs up the consult before B answers (a withdrawn alert)."""
        return self.hang_up(at, A_EXT)

    def fail(self, at: int) -> dict[str, list[str]]:
        """Busy or a bad destination: on A's side, before B is a participant."""
        self.dialog_state = "FAILED"
        self.parties[A_EXT] = ("FAILED", at)
        return self._both("PUT", None)

    def transfer(self, at: int, post_first: bool) -> dict[str, list[str]]:
        """A completes the transfer: the consult is deleted on both desks and
        the customer's dialog is posted to B, naming the consult; at B the two
        come in either order."""
        call_type = "CONSULT_OFFERED" if self.platform == "ucce" else "TRANSFER"
        return self._became(at, CUSTOMER_DIALOG, call_type, post_first)

    def conference(self, at: int, post_first: bool) -> dict[str, list[str]]:
        """A conferences B in: one dialog (on UCCX a third id) with all three."""
        survivor = CUSTOMER_DIALOG if self.platform == "ucce" else "16777399"
        return self._became(at, survivor, "CONFERENCE", post_first)

    def _became(
        self, at: int, survivor: str, call_type: str, post_first: bool
    ) -> dict[str, list[str]]:
        last = dict(self.parties)
        self.parties = dict.fromkeys(last, ("DROPPED", at))
        self.dialog_state = "DROPPED"
        self.gone = True
        self.successor = survivor
        deleted = self.dialog_xml()
        joined = {"+923001234567": ("ACTIVE", at), B_EXT: ("ACTIVE", at)}
        if call_type == "CONFERENCE":
            joined[A_EXT] = ("ACTIVE", at)
        self._survivor = self.dialog_xml(survivor, call_type, self.id, joined, "ACTIVE")
        self.survivor_has_a = call_type == "CONFERENCE"

        def to(user: str) -> list[str]:
            post = self.update("POST", user, self._survivor, survivor)
            delete = self.update("DELETE", user, deleted, self.id)
            return [post, delete] if post_first else [delete, post]

        # A is on a conference's dialog too; a transfer's is B's alone.
        a_gets = to(A_USER) if self.survivor_has_a else [self.update("DELETE", A_USER, deleted,
                                                                     self.id)]  # fmt: skip
        return {"a": a_gets, "b": to(B_USER)}

    # --- what a returning page reads -----------------------------------------------------------

    def listing(self, desk: str) -> str:
        """``GET /finesse/api/User/{id}/Dialogs`` for desk ``a`` or ``b`` now."""
        dialogs = []
        ext = A_EXT if desk == "a" else B_EXT
        if not self.gone and ext in self.parties:
            dialogs.append(self.dialog_xml())
        if self.successor is not None and (desk == "b" or self.survivor_has_a):
            dialogs.append(self._survivor)
        return "<Dialogs>" + "".join(dialogs) + "</Dialogs>"
