"""All or nothing: the undo log of one input.

Every change the replay makes while applying an input is announced here
first, with how to take it back. If the input is rejected part-way (after
due timers fired, after a leg moved), :meth:`Journal.undo` takes every change
back, latest first, so the system is as it was before the input; if it goes
through, :meth:`Journal.commit` forgets them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, MutableMapping
from functools import partial
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class Journal:
    """How to take back each change of the current input, in the order made.

    >>> seen: dict[str, int] = {"a": 1}
    >>> journal = Journal()
    >>> journal.keep_item(seen, "a"); seen["a"] = 2
    >>> journal.keep_item(seen, "b"); seen["b"] = 3
    >>> journal.undo()
    >>> seen
    {'a': 1}
    """

    __slots__ = ("_first", "_undo")

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []
        self._first: set[Hashable] = set()

    def on_undo(self, undo: Callable[[], None]) -> None:
        """Remember how to take back a change about to be made."""
        self._undo.append(undo)

    def first(self, key: Hashable) -> bool:
        """True the first time ``key`` is asked about during this input: lets a
        caller remember an expensive "before" (a leg's snapshot) only once."""
        if key in self._first:
            return False
        self._first.add(key)
        return True

    def keep_item(self, mapping: MutableMapping[K, V], key: K) -> None:
        """Before ``mapping[key]`` is set: remember its value, or that it had none."""
        if key in mapping:
            self._undo.append(partial(mapping.__setitem__, key, mapping[key]))
            return

        def forget() -> None:
            mapping.pop(key, None)

        self._undo.append(forget)

    def keep_member(self, members: set[T], item: T) -> None:
        """Before ``item`` is added to or removed from ``members``."""
        self._undo.append(partial(members.add if item in members else members.discard, item))

    def undo(self) -> None:
        """Take back every change of this input, latest first."""
        undo = self._undo
        self.commit()
        for step in reversed(undo):
            step()

    def commit(self) -> None:
        """Keep every change of this input: forget how to take them back."""
        self._undo = []
        self._first.clear()
