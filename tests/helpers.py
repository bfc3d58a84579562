"""What the tests share beside the Hypothesis strategies (those are in strategies.py).

Import it as the strategies are imported (``tests/`` is on ``sys.path``)::

    from helpers import new_leg, unchanged

- legs: :func:`new_leg` on the design note's facts
  (:data:`~consultfsm.verify.scenarios.LEG_FACTS`), :func:`feed`,
  :func:`attempt`, :func:`unchanged`, :func:`json_round_trip`,
  :func:`new_observer`, and :data:`each_case` to run a test on every case;
- broken copies of the table: :func:`edit_table` with :func:`row_is`,
  :func:`without_event`, :func:`plus_events`, explored by :func:`explorer`;
- the repository: :data:`ROOT`, :func:`design_note`, :func:`assert_current`
  for generated files, :func:`run_python` for the examples and the CLI.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest

from consultfsm.core import events as ev
from consultfsm.core.errors import InputRejected
from consultfsm.core.leg import Leg
from consultfsm.core.snapshot import LegSnapshot
from consultfsm.core.states import InputKind
from consultfsm.core.step import Step
from consultfsm.core.table import TABLE, Emit, Row
from consultfsm.render.diagram import Artifact
from consultfsm.render.files import stale
from consultfsm.verify.explore import Report, explore, table_leg_factory
from consultfsm.verify.invariants import Observer
from consultfsm.verify.scenarios import CASES, LEG_FACTS

# --- legs -------------------------------------------------------------------------------


def new_leg(**changes: Any) -> Leg:
    """A fresh leg on :data:`LEG_FACTS` (A consults B on session S1), with
    ``changes`` replacing or adding keyword arguments (``config=...``)."""
    return Leg(**(LEG_FACTS | changes))


def feed(leg: Leg, steps: Iterable[tuple[int, InputKind]]) -> list[ev.Event]:
    """Handle each ``(at, input)`` in turn (the order of ``Case.steps``);
    the events of every step, in order."""
    out: list[ev.Event] = []
    for at, kind in steps:
        out.extend(leg.handle(kind, at).events)
    return out


def attempt(
    handle: Callable[..., Step], kind: InputKind, at: int, value: str | None = None
) -> Step | InputRejected:
    """``handle(kind, at, value)``, returning a rejection instead of raising it."""
    try:
        return handle(kind, at, value)
    except InputRejected as exc:
        return exc


@contextmanager
def unchanged(leg: Leg) -> Iterator[None]:
    """Assert that the ``with`` block leaves ``leg``'s snapshot as it was
    (put it before ``pytest.raises``: the check runs after the refusal)."""
    before = leg.snapshot()
    yield
    assert leg.snapshot() == before, "the leg changed"


def json_round_trip(leg: Leg) -> Leg:
    """A new leg restored from ``leg``'s snapshot written as JSON text and read back."""
    text = json.dumps(leg.snapshot().to_dict())
    return Leg.restore(LegSnapshot.from_dict(json.loads(text)))


def new_observer() -> Observer:
    """An observer that also checks every publication stays in
    :data:`LEG_FACTS`' customer session and conversation."""
    return Observer(
        session=LEG_FACTS["channel_session_id"], conversation=LEG_FACTS["conversation_id"]
    )


#: ``@each_case``: run the test once per case of the design note, named after it.
each_case = pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)


# --- broken copies of the table ---------------------------------------------------------


def edit_table(match: Callable[[Row], bool], change: Callable[[Row], Row]) -> tuple[Row, ...]:
    """A copy of the table with the matching rows changed (the real one is untouched)."""
    hits = [r for r in TABLE if match(r)]
    assert hits, "the edit matched no row"
    return tuple(change(r) if match(r) else r for r in TABLE)


def row_is(key: str) -> Callable[[Row], bool]:
    """Matches the row with this key."""
    return lambda r: r.key == key


def without_event(cls: type[ev.Event]) -> Callable[[Row], Row]:
    """Drops the emission of ``cls`` from a row."""
    return lambda r: attrs.evolve(r, emits=tuple(e for e in r.emits if e.event is not cls))


def plus_events(*extra: Emit) -> Callable[[Row], Row]:
    """Adds emissions at the end of a row."""
    return lambda r: attrs.evolve(r, emits=(*r.emits, *extra))


def explorer(table: Sequence[Row]) -> Callable[..., Report]:
    """:func:`~consultfsm.verify.explore.explore`, on legs that run ``table``."""
    return functools.partial(explore, factory=table_leg_factory(table), table=table)


# --- the repository ---------------------------------------------------------------------

#: The repository's root directory.
ROOT = Path(__file__).resolve().parent.parent
#: The design note, beside the repository (not part of it).
NOTE = ROOT.parent / "shared" / "spec" / "000_59ee4761f826d21a.txt"
#: How to bring generated files up to date.
REGENERATE = "regenerate with `consultfsm diagram --docs` (from the repository root) and commit"


def design_note() -> str:
    """The design note's text; skips the test when the note is not beside the repository."""
    if not NOTE.exists():
        pytest.skip(f"design note not found at {NOTE}")
    return NOTE.read_text(encoding="utf-8")


def assert_current(artifacts: Iterable[Artifact], where: Path) -> None:
    """Assert that every generated file is committed under ``where`` as generated."""
    outdated = stale(list(artifacts), where)
    assert not outdated, f"stale or missing under {where.name}/: {outdated}; {REGENERATE}"


def run_python(*args: str) -> str:
    """Run ``python *args`` from the repository root; assert it succeeds and return its stdout."""
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
