"""Every reachable state of the desk machine under every input
(:mod:`consultfsm.verify.desk`), and broken tables it must catch."""

from __future__ import annotations

import attrs
import pytest

from consultfsm.desk.table import DESK_TABLE, DeskCall, DeskRow, Effect, Emit
from consultfsm.verify.desk import explore_desk


def test_the_desk_table_holds_every_rule_in_every_reachable_state() -> None:
    report = explore_desk()
    assert report.ok, "\n".join(map(str, report.violations))
    assert report.rows_missed == []  # every row is reachable and taken
    # Both roles, every call state, with and without what was sent.
    assert report.states > 2 * len(DeskCall)


def _broken(key: str, **change: object) -> tuple[DeskRow, ...]:
    (row,) = [r for r in DESK_TABLE if r.key == key]
    return tuple(attrs.evolve(r, **change) if r is row else r for r in DESK_TABLE)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "change", "rule"),
    [
        # The consult ended and the settle window passed: the end is never sent.
        ("b:closing--settle_timeout", {"emits": ()}, "reached the end without sending it"),
        # A second start for the same consult.
        ("b:held--answered", {"emits": (Emit(Effect.SEND_STARTED), Emit(Effect.SEND_RESUME))},
         "CALL_LEG_STARTED sent twice"),
        # A late alert revives a consult that is over.
        ("b:ended--alerting", {"target": DeskCall.RINGING}, "left the terminal state"),
        # A resume while not held.
        ("a:talking--listed_talking", {"emits": (Emit(Effect.SEND_RESUME),)}, "out of turn"),
    ],
)  # fmt: skip
def test_a_broken_table_is_caught_with_the_path_that_shows_it(
    key: str, change: dict[str, object], rule: str
) -> None:
    report = explore_desk(_broken(key, **change))
    assert not report.ok
    hits = [v for v in report.violations if rule in v.detail]
    assert hits, report.violations
    assert hits[0].path[-1] == key.split("--")[1]  # the path ends with the broken row's input
