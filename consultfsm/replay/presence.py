"""Which agents' desks are up, across every leg.

An agent input names an agent, not a leg: each of that agent's unfinished
legs gets it, as ``*_a`` or ``*_b`` by the agent's side in that leg. And a
leg always starts with both desks up (a core limitation), so a leg created
while one of its agents is away must be told so, and so must a queue consult
offered to an agent who is away; :class:`Presence` remembers who is away, and
how: a browser that went away (the leg waits for it) or an agent Finesse
logged out (the leg does not).
"""

from __future__ import annotations

from enum import StrEnum

from consultfsm.core.facts import LegFacts
from consultfsm.core.states import InputKind

from .journal import Journal


class Away(StrEnum):
    """How an agent's desk is down."""

    DISCONNECTED = "disconnected"  # the browser went away: a grace window runs
    LOGGED_OUT = "logged_out"  # Finesse logged the agent out: nothing to wait for


#: (how the desk is down, or None when it came back; agent A's side?) -> leg input.
_INPUTS: dict[tuple[Away | None, bool], InputKind] = {
    (Away.DISCONNECTED, True): InputKind.BROWSER_DISCONNECTED_A,
    (Away.DISCONNECTED, False): InputKind.BROWSER_DISCONNECTED_B,
    (Away.LOGGED_OUT, True): InputKind.LOGGED_OUT_A,
    (Away.LOGGED_OUT, False): InputKind.LOGGED_OUT_B,
    (None, True): InputKind.BROWSER_RESTORED_A,
    (None, False): InputKind.BROWSER_RESTORED_B,
}


def desk_input(away: Away | None, *, side_a: bool) -> InputKind:
    """The leg input for a desk going ``away`` (None: coming back), on A's side or B's."""
    return _INPUTS[(away, side_a)]


def agent_input(facts: LegFacts, agent: str, away: Away | None) -> InputKind:
    """The leg input for ``agent``'s desk going ``away`` (None: coming back)."""
    return desk_input(away, side_a=agent == facts.agent_a)


class Presence:
    """The agents whose desks are down now, and how; changes go through the journal."""

    __slots__ = ("_away", "_journal")

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._away: dict[str, Away] = {}

    def away(self, agent: str | None) -> Away | None:
        """How ``agent``'s desk is down, or None when it is up."""
        return None if agent is None else self._away.get(agent)

    def set_away(self, agent: str, away: Away | None) -> None:
        """Record that ``agent``'s desk went ``away``, or came back (None). A
        logged-out agent whose browser then goes away is still logged out."""
        current = self._away.get(agent)
        if current is away or (away is Away.DISCONNECTED and current is Away.LOGGED_OUT):
            return
        self._journal.keep_item(self._away, agent)
        if away is None:
            del self._away[agent]
        else:
            self._away[agent] = away

    def absences(self, facts: LegFacts) -> list[InputKind]:
        """What a new leg must be told: the absence of each of its desks that
        is already down (A's first; a queue consult has no B yet)."""
        out: list[InputKind] = []
        for agent, side_a in ((facts.agent_a, True), (facts.agent_b, False)):
            away = self.away(agent)
            if away is not None:
                out.append(desk_input(away, side_a=side_a))
        return out
