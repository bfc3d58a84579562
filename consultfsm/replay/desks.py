"""The AgentDesks of a replay: agents whose desk is fed Finesse, not CTI.

A trace declares such a desk (``agent_desk``) and then feeds it what its page
receives: XMPP notifications (``finesse``), the page's lifecycle (the agent
inputs ``browser_disconnected`` / ``logged_out``: the socket closed;
``browser_restored``: a new page, restored from the old one's snapshot through
JSON, as ``localStorage`` would) and the dialog list a returning page reads
(``dialogs``). Each desk is a real :class:`~consultfsm.desk.AgentDesk`; its
effects become records: what the desk shows, addressed to the desk, and each
CIM message it posts, handed to the system, which delivers it to the CCM.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import partial

from consultfsm.desk import AgentDesk, CustomerNumberSource, DeskEffect
from consultfsm.desk.machine import Desk, DeskStep, observed_desk_class
from consultfsm.desk.table import DeskTimer
from consultfsm.wire.cim import CimCodec, CimMessage

from . import records
from .journal import Journal
from .records import Record
from .trace import AgentDeskOpened, DeskFeed, FinesseUpdate, TraceInputKind

#: What a desk does: a record of what it shows, or a CIM message it posts
#: (at, leg, agent, message).
Sent = Record | tuple[int, str, str, CimMessage]


#: Told of each step a desk's consult machine takes (``--states``): the agent,
#: the machine, the step (None: the machine was only touched).
Note = Callable[[str, Desk, DeskStep | None], None]


class Desks:
    """Every AgentDesk of the replay, by agent id; every change goes through
    the journal, so a rejected input leaves each desk as it was. With
    ``note`` (``--states``), the desks report their machines' steps."""

    __slots__ = ("_desks", "_journal", "_note")

    def __init__(self, journal: Journal, note: Note | None = None) -> None:
        self._journal = journal
        self._desks: dict[str, AgentDesk] = {}
        self._note = note

    def _new(self, agent: str, desk: AgentDesk) -> AgentDesk:
        """``agent``'s ``desk``, its machines observed when the replay reports states."""
        if self._note is None:
            return desk
        return AgentDesk.restore(
            desk.snapshot(), desk_class=observed_desk_class(partial(self._note, agent))
        )

    def _touched(self, agent: str, desk: AgentDesk) -> None:
        """Every consult of a desk that was fed has its state reported."""
        if self._note is not None:
            for machine in desk.consults.values():
                self._note(agent, machine, None)

    def __contains__(self, agent: object) -> bool:
        return agent in self._desks

    def sender_id(self, agent: str) -> str:
        """Who ``agent``'s posts come from: its desk's Finesse user id, or the
        trace's agent id for an agent with no ``agent_desk``."""
        desk = self._desks.get(agent)
        return agent if desk is None else desk.agent_id

    def open(self, item: AgentDeskOpened) -> None:
        """A new AgentDesk for ``item.agent``."""
        default = CustomerNumberSource()
        separator = default.separator if item.customer_separator is None else (
            item.customer_separator or None)  # fmt: skip
        source = CustomerNumberSource(
            item.customer_variable or default.variable, separator,
            default.part if item.customer_part is None else item.customer_part,
        )  # fmt: skip
        self._journal.keep_item(self._desks, item.agent)
        self._desks[item.agent] = self._new(
            item.agent, AgentDesk(item.agent_id, item.extension, customer_number=source)
        )

    def feed(self, item: DeskFeed, codec: CimCodec) -> Iterator[Sent]:
        """A notification or a dialog list reaching the agent's page."""
        desk = self._kept(item.agent)
        if isinstance(item, FinesseUpdate):
            effects = desk.on_update(item.update, item.at)
        else:
            effects = desk.on_dialogs(item.dialogs, item.at)
        return self._records(item.agent, desk, effects, codec)

    def page(self, agent: str, kind: TraceInputKind, at: int, codec: CimCodec) -> Iterator[Sent]:
        """The agent's page went away (socket closed) or a new page came up."""
        desk = self._kept(agent)
        if kind is not TraceInputKind.BROWSER_RESTORED:
            return self._records(agent, desk, desk.on_socket_down(at), codec)
        # A reload: the new page knows only what the old one stored.
        fresh = self._new(agent, AgentDesk.restore(json.loads(json.dumps(desk.snapshot()))))
        self._desks[agent] = fresh
        return self._records(agent, fresh, fresh.on_page_loaded(at), codec)

    def next_deadline(self) -> tuple[int, str] | None:
        """The earliest desk deadline and its agent, or None."""
        due = [(d, agent) for agent, desk in self._desks.items()
               if (d := desk.next_deadline()) is not None]  # fmt: skip
        return min(due, default=None)

    def fire(self, agent: str, deadline: int, codec: CimCodec) -> Iterator[Sent]:
        """Fire the agent's deadlines due at ``deadline``."""
        desk = self._kept(agent)
        effects = desk.handle_timers(deadline)
        legs = dict.fromkeys(e.leg for e in effects)
        timers = [records.timer_fired(deadline, leg, DeskTimer.SETTLE.value) for leg in legs]
        return iter([*timers, *self._records(agent, desk, effects, codec)])

    def _kept(self, agent: str) -> AgentDesk:
        desk = self._desks[agent]
        if self._journal.first(("desk", agent)):
            self._journal.on_undo(partial(self._put_back, agent, desk.snapshot()))
        return desk

    def _put_back(self, agent: str, snapshot: dict[str, object]) -> None:
        self._desks[agent] = self._new(agent, AgentDesk.restore(snapshot))

    def _records(
        self, agent: str, desk: AgentDesk, effects: list[DeskEffect], codec: CimCodec
    ) -> Iterator[Sent]:
        self._touched(agent, desk)
        out: list[Sent] = []
        for effect in effects:
            if not effect.is_send:
                out.append(records.desk_effect(effect.at, effect.leg, agent, effect.effect.value,
                                               effect.reason))  # fmt: skip
            else:
                out.append((effect.at, effect.leg, agent, desk.cim_message(effect, codec)))
        return iter(out)


__all__ = ["Desks"]
