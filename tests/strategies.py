"""Shared Hypothesis strategies for consult legs (like attrs' tests/strategies.py).

A generated run is a list of :class:`Move`: an input and when it arrives,
either some milliseconds after the previous one (including 0: the same
instant) or relative to the next pending deadline (exactly at it, just before,
just after), so inputs meet timers at their edges. :func:`cti_script` builds a
plausible CTI sequence for one leg and then duplicates and reorders it the way
Finesse does; :func:`moves` mixes those with arbitrary (often illegal) inputs.

:func:`replay_jsonl` renders a run as a ``consultfsm replay`` trace, so a
failing example can be replayed outside the tests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs
from hypothesis import strategies as st

from consultfsm.core.facts import LegConfig
from consultfsm.core.states import INPUT_REGION, TIMER_OF_INPUT, VALUE_OF_INPUT, InputKind, Region
from consultfsm.verify.explore import LegSpec, consult_line, input_line
from consultfsm.verify.scenarios import LEG_FACTS


def json_values(
    leaves: st.SearchStrategy[Any], *, size: int = 3, key_size: int = 6, max_leaves: int = 8
) -> st.SearchStrategy[Any]:
    """Any JSON value built from ``leaves``: lists and objects of up to
    ``size`` members (keys up to ``key_size`` characters), nested."""
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=size)
            | st.dictionaries(st.text(max_size=key_size), inner, max_size=size)
        ),
        max_leaves=max_leaves,
    )


# The customer of the design note's leg (LEG_FACTS); runs draw agents among AGENTS.
SESSION: str = LEG_FACTS["channel_session_id"]
CONVERSATION: str = LEG_FACTS["conversation_id"]
CUSTOMER_ANI: str = LEG_FACTS["customer_ani"]
AGENTS = ("A", "B", "C")
#: Every (agent_a, agent_b) a leg can have: two different agents.
PAIRS = [(a, b) for a in AGENTS for b in AGENTS if a != b]

CALL_INPUTS = tuple(k for k in InputKind if INPUT_REGION[k] is Region.CALL)
#: CTI reports about the consult dialog (value inputs excluded: see VALUES).
CTI_INPUTS = tuple(k for k in CALL_INPUTS if k not in TIMER_OF_INPUT and k not in VALUE_OF_INPUT)
TIMER_INPUTS = tuple(TIMER_OF_INPUT)
#: What happens to agents' desks and to the customer (not the consult dialog).
BROWSER_INPUTS = tuple(
    k for k in InputKind if INPUT_REGION[k] is not Region.CALL and k not in TIMER_OF_INPUT
)
#: The ways a CTI script ends a leg.
ENDINGS = (
    InputKind.RONA, InputKind.DROPPED_BY_A, InputKind.DROPPED_BY_B, InputKind.FAILED,
    InputKind.TRANSFERRED, InputKind.CONFERENCED, InputKind.RING_TIMEOUT,
)  # fmt: skip
#: Values for the inputs that carry one: the leg's own agent B or another one
#: (a contradiction), a dialog the leg has or has not had.
VALUES: dict[InputKind, tuple[str, ...]] = {
    InputKind.OFFERED: ("B", "C"),
    InputKind.REKEYED: ("D2", "D3", "D9"),
}


@attrs.frozen
class Move:
    """One input of a generated run. ``dt`` is the delay after the previous
    input; when ``dt`` is None the input arrives at the leg's next pending
    deadline plus ``offset`` (or with no delay when nothing is pending)."""

    kind: InputKind
    dt: int | None = 0
    offset: int = 0
    value: str | None = None  # for an input that carries one (VALUES)

    def at(self, now: int, deadlines: Sequence[int]) -> int:
        """The absolute time of this move, given the clock and pending deadlines."""
        if self.dt is not None:
            return now + self.dt
        later = [d for d in deadlines if d + self.offset >= now]
        return min(later) + self.offset if later else now


def configs() -> st.SearchStrategy[LegConfig]:
    """Timer windows: the usual ones, ties, and small random ones."""
    usual = st.sampled_from([
        LegConfig(15_000, 60_000), LegConfig(15_000, 10_000), LegConfig(10_000, 10_000),
        LegConfig(None, 60_000), LegConfig(15_000, 60_000, 30_000),
    ])  # fmt: skip
    small = st.builds(
        LegConfig, st.none() | st.integers(1, 5_000), st.integers(1, 5_000),
        st.none() | st.integers(1, 5_000),
    )  # fmt: skip
    return st.one_of(usual, small)


def leg_facts() -> st.SearchStrategy[dict[str, Any]]:
    """Identifying facts of a leg on the customer's session (A != B)."""
    return st.sampled_from(PAIRS).map(lambda ab: {
        "agent_a": ab[0], "agent_b": ab[1], "customer_ani": CUSTOMER_ANI,
        "conversation_id": CONVERSATION, "channel_session_id": SESSION,
    })  # fmt: skip


def inputs() -> st.SearchStrategy[InputKind]:
    """Any input, legal in the current state or not."""
    return st.sampled_from(list(InputKind))


def delays() -> st.SearchStrategy[int]:
    """Time between inputs: none, a millisecond, or a big jump past timers."""
    return st.one_of(
        st.just(0), st.just(1), st.integers(0, 2_000), st.sampled_from([10_000, 15_000, 60_000])
    )


def _valued(move: st.SearchStrategy[Move]) -> st.SearchStrategy[Move]:
    # An input that carries a value gets one of VALUES (rarely none: refused).
    def add(draw: st.DrawFn) -> Move:
        m = draw(move)
        choices = VALUES.get(m.kind)
        if choices is None or not draw(st.integers(0, 9)):
            return m
        return attrs.evolve(m, value=draw(st.sampled_from(choices)))

    return st.composite(add)()


def move() -> st.SearchStrategy[Move]:
    """One move: after a delay, at a pending deadline (-1, 0, +1 ms), or 1 ms in the past."""
    timed = st.builds(Move, inputs(), delays())
    at_deadline = st.builds(Move, inputs(), st.none(), st.sampled_from([-1, 0, 0, 1]))
    in_the_past = st.builds(Move, inputs(), st.just(-1))  # refused: time went backwards
    return _valued(st.one_of(timed, at_deadline, in_the_past))


@st.composite
def cti_script(draw: st.DrawFn) -> list[Move]:
    """A plausible CTI sequence for one leg, then duplicated and reordered."""
    script: list[InputKind] = []
    if draw(st.booleans()):
        script.append(InputKind.ALERTING)
    if draw(st.booleans()):
        script.append(InputKind.ACCEPTED)
    if draw(st.booleans()):
        script.append(InputKind.HELD)
        if draw(st.booleans()):
            script.append(InputKind.RETRIEVED)
    script.append(draw(st.sampled_from(ENDINGS)))
    # Finesse repeats dialog updates to every participant ...
    for i in draw(st.lists(st.integers(0, len(script) - 1), max_size=3)):
        script.insert(i, script[i])
    # ... and gives no ordering guarantee between them.
    for i in draw(st.lists(st.integers(0, max(0, len(script) - 2)), max_size=2)):
        if i + 1 < len(script):
            script[i], script[i + 1] = script[i + 1], script[i]
    return [Move(kind, draw(delays())) for kind in script]


def moves(max_size: int = 25) -> st.SearchStrategy[list[Move]]:
    """A run of one leg: a CTI script interleaved with arbitrary moves."""

    @st.composite
    def build(draw: st.DrawFn) -> list[Move]:
        script = draw(cti_script())
        noise = draw(st.lists(move(), max_size=max_size))
        out = list(noise)
        for m in script:
            out.insert(draw(st.integers(0, len(out))), m)
        return out

    return build()


# --- replay traces of failing examples ------------------------------------------------


def replay_jsonl(
    specs: Sequence[LegSpec], config: LegConfig, log: Sequence[tuple[str, InputKind, int]]
) -> str:
    """A run (``(leg, input, at)`` in order) as a ``consultfsm replay`` trace.

    Timer expiries become ``tick`` lines (the replay fires due timers itself);
    browser inputs name the agent, so the replay delivers them to each of the
    agent's live legs. Approximate where the run fed one leg a browser input
    the others did not get, or an input before a timer due at the same ms.
    """
    by_leg = {s.leg_id: s for s in specs}
    lines: list[dict[str, Any]] = [
        {"at": 0, "input": "config", "ring_ms": config.ring_ms, "grace_ms": config.grace_ms,
         "queue_ttl_ms": config.queue_ttl_ms},
        {"at": 0, "input": "customer_session_started", "session": SESSION,
         "conversation": CONVERSATION, "customer_ani": CUSTOMER_ANI, "dialog": "D1"},
    ]  # fmt: skip
    lines += [consult_line(s, config) for s in specs]
    last: dict[str, Any] | None = None
    for leg_id, kind, at in log:
        line = (
            {"at": at, "input": "tick"}
            if kind in TIMER_OF_INPUT
            else input_line(by_leg[leg_id], kind, at)
        )
        if line is not None and line != last:  # one browser input reaches every leg
            lines.append(line)
            last = line
    return "\n".join(json.dumps(line) for line in lines)


# --- whole-system traces (tests/test_system_stateful.py) ------------------------------

#: Lines every replay must reject whatever its state: malformed, unknown, impossible.
BAD_LINES = (
    "this is not json",
    "[1, 2]",
    '{"at": 1.5, "input": "tick"}',
    '{"at": true, "input": "tick"}',
    '{"at": -1, "input": "tick"}',
    '{"at": 0, "input": "teleported", "leg": "L1"}',
    '{"at": 0, "input": "alerting", "leg": "L1", "lge": "L1"}',
    '{"at": 0, "input": "alerting"}',
    '{"at": 0, "input": "dropped", "leg": "L1"}',
    '{"at": 253402300800000, "input": "tick"}',
    '{"at": 400000000000000, "input": "accepted", "leg": "L1"}',
    '{"at": 0, "input": "config", "ring_ms": 0}',
    '{"at": 0, "input": "cim_message", "from": "A"}',
    '{"at": 0, "input": "customer_session_started", "session": "S9"}',
)


def bad_lines() -> st.SearchStrategy[str]:
    """A line the trace reader refuses (see :data:`BAD_LINES`)."""
    return st.sampled_from(BAD_LINES)


#: Well-formed inputs every system refuses: an unknown leg or session (far in
#: the future, it must fire no timer), a stranger hanging up, a bad setting, a
#: consult for nobody, and (see :class:`Illegal`) time going backwards.
ILLEGAL_INPUTS: tuple[dict[str, Any], ...] = (
    {"input": "accepted", "leg": "L404"},
    {"input": "customer_session_ended", "session": "S9"},
    {"input": "dropped", "leg": "L1", "by": "Z"},
    {"input": "config", "default_region": "XX"},
    {"input": "consult_initiated", "leg": "L404", "agent_a": "A", "agent_b": "B",
     "customer_ani": "anonymous"},
    {"input": "tick", "backwards": True},
)  # fmt: skip


@attrs.frozen
class Illegal:
    """One of :data:`ILLEGAL_INPUTS`, ``dt`` ms after the clock (or before it,
    for the backwards tick). Drawn once, placed when the clock is known."""

    fields: dict[str, Any]
    dt: int

    def line(self, now: int, after: int | None = None) -> dict[str, Any] | None:
        """The input for a clock at ``now``: ``dt`` ms after ``after`` (default
        ``now``), or before ``now`` for the backwards tick; None when that would
        not be illegal (nothing is before 0)."""
        fields = dict(self.fields)
        if fields.pop("backwards", False):
            return None if now == 0 else {"at": now - 1 - self.dt % now, **fields}
        return {"at": max(now, now if after is None else after) + self.dt, **fields}


def illegal_inputs() -> st.SearchStrategy[Illegal]:
    """An input the system must refuse, wherever its clock is (see :class:`Illegal`)."""
    dt = st.one_of(st.just(0), st.integers(0, 2_000), st.integers(0, 200_000))
    return st.builds(Illegal, st.sampled_from(ILLEGAL_INPUTS), dt)
