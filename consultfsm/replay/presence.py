"""Which agents' desks are up, across every leg.

A browser input names an agent, not a leg: each of that agent's unfinished
legs gets it, as ``*_a`` or ``*_b`` by the agent's side in that leg. And a
leg always starts with both desks up (a core limitation), so a leg created
while one of its agents is offline must be told so; :class:`Presence`
remembers who is offline for that.
"""

from __future__ import annotations

from consultfsm.core.facts import LegFacts
from consultfsm.core.states import InputKind

from .journal import Journal

_INPUTS: dict[tuple[bool, bool], InputKind] = {  # (disconnected, agent A) -> input
    (True, True): InputKind.BROWSER_DISCONNECTED_A,
    (True, False): InputKind.BROWSER_DISCONNECTED_B,
    (False, True): InputKind.BROWSER_RESTORED_A,
    (False, False): InputKind.BROWSER_RESTORED_B,
}


def browser_input(facts: LegFacts, agent: str, disconnected: bool) -> InputKind:
    """The leg input for ``agent``'s desk going (``disconnected``) or coming back."""
    return _INPUTS[(disconnected, agent == facts.agent_a)]


class Presence:
    """The agents whose desks are offline now; changes go through the journal."""

    __slots__ = ("_journal", "_offline")

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._offline: set[str] = set()

    def set_offline(self, agent: str, offline: bool) -> None:
        """Record that ``agent``'s desk went (``offline``) or came back."""
        self._journal.keep_member(self._offline, agent)
        if offline:
            self._offline.add(agent)
        else:
            self._offline.discard(agent)

    def absences(self, facts: LegFacts) -> list[InputKind]:
        """What a new leg must be told: a disconnect for each of its desks
        that is already offline (A's first)."""
        return [
            browser_input(facts, agent, disconnected=True)
            for agent in (facts.agent_a, facts.agent_b)
            if agent in self._offline
        ]
