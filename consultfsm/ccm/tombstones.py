"""Tombstones: the ids of finished things, remembered for a horizon.

A CCM must recognise a late report of a leg it has finished (and never
publish it again), but cannot remember every leg forever. Ids are kept in
generations, each covering ``horizon_ms / 8`` of time: burying adds to the
newest generation, and a whole generation is dropped at once when its newest
possible member is past the horizon. So an id is remembered for at least
``horizon_ms`` and at most an eighth longer, at the cost of one set member
(no per-id timestamp), and expiry is O(1) per generation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

#: Ids are kept in this many generations; a whole generation expires at once.
GENERATIONS = 8


class Tombstones:
    """Finished ids, each remembered for at least ``horizon_ms``.

    >>> tombs = Tombstones(800)
    >>> tombs.bury(["D1"], at=0)
    >>> "D1" in tombs, tombs.expire(800), "D1" in tombs
    (True, None, True)
    >>> tombs.expire(900); "D1" in tombs
    False
    """

    __slots__ = ("_generations", "horizon_ms")

    def __init__(self, horizon_ms: int) -> None:
        self.horizon_ms = horizon_ms
        self._generations: deque[tuple[int, set[str]]] = deque()  # (its start ms, ids)

    @property
    def _span(self) -> int:
        return max(1, self.horizon_ms // GENERATIONS)

    def __contains__(self, item: object) -> bool:
        return any(item in ids for _, ids in self._generations)

    def holds(self, item: str, now: int) -> bool:
        """``item`` is remembered and its generation not past the horizon at
        ``now`` (one that is, not yet dropped by :meth:`expire`, no longer counts)."""
        span = self._span
        return any(item in ids for start, ids in self._generations
                   if start + span + self.horizon_ms > now)  # fmt: skip

    def __len__(self) -> int:
        return sum(len(ids) for _, ids in self._generations)

    def __iter__(self) -> Iterator[str]:
        for _, ids in self._generations:
            yield from ids

    def generation_of(self, at: int) -> int:
        """The start of the generation an id buried at ``at`` joins (the
        clock never goes back): a store that keeps each id's time loads it
        there, and the id expires as it would have here."""
        return at - at % self._span

    def bury(self, ids: Iterable[str], at: int) -> None:
        """Remember ``ids`` as finished at ``at``."""
        span = self._span
        if not self._generations or at - self._generations[-1][0] >= span:
            self._generations.append((at - at % span, set()))
        self._generations[-1][1].update(ids)

    def expire(self, now: int) -> None:
        """Forget every generation wholly past the horizon at ``now``."""
        span = self._span
        while self._generations and self._generations[0][0] + span + self.horizon_ms <= now:
            self._generations.popleft()

    def ids(self) -> set[str]:
        """Every id held, whatever its generation."""
        return set().union(*(ids for _, ids in self._generations))

    def starts(self) -> dict[str, int]:
        """Every id held, with the start of its (newest) generation."""
        return {i: start for start, ids in self._generations for i in ids}

    def to_list(self) -> list[list[object]]:
        """JSON-ready: ``[[start ms, sorted ids], ...]``, oldest first."""
        return [[start, sorted(ids)] for start, ids in self._generations]

    @classmethod
    def from_list(cls, horizon_ms: int, data: Iterable[Sequence[Any]]) -> Tombstones:
        """The tombstones :meth:`to_list` wrote: generations oldest first, each
        a start (ms) and a list of ids; :class:`ValueError` for anything else."""
        tombs = cls(horizon_ms)
        for start, ids in data:
            if start.__class__ is not int or (tombs._generations
                                               and start < tombs._generations[-1][0]):  # fmt: skip
                raise ValueError(f"tombstones: {start!r:.40} is no start after the one before")
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise ValueError(f"tombstones: {ids!r:.40} is no list of ids")
            tombs._generations.append((start, set(ids)))
        return tombs
