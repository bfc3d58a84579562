"""Shared for the durable tests: a generated stream of CCM inputs, applied to
the in-memory :class:`CcmEngine` (the reference) and to a
:class:`DurableCcm` on any store, with the time the test says.

An input is a tuple: ``("recv", who, intent, dialog, reason)`` (a desk's CIM
message), ``("up" | "down", agent)``, ``("end", session id)`` or
``("tick",)``; each comes with the milliseconds that passed before it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from consultfsm.ccm import ChannelSession
from consultfsm.ccm.engine import DEFAULT_ENDED_SESSION_MS, DEFAULT_TOMBSTONE_MS, CcmEngine
from consultfsm.core.errors import ConsultFsmError
from consultfsm.core.states import CimReason
from consultfsm.durable.engine import DurableCcm
from consultfsm.durable.store import Store
from consultfsm.wire.cim import CimCodec, MessageIntent, parse_message

CODEC = CimCodec("8000")
#: The commit points issue 14 names, in the order an input passes them.
POINTS_IN_ORDER = ("before_lock", "after_apply", "after_outbox", "before_commit", "after_commit")
ANI = "+923001234567"
SESSIONS = (
    ChannelSession("S1", "C1", ANI, "D0", "8000", agents=frozenset({"1001"})),
    ChannelSession("S2", "C2", "+923009999999", "D9"),
)
A, B, B2 = ("1001", "7001"), ("1002", "7002"), ("1003", "7003")  # (agent, extension)
INTENTS = (MessageIntent.CALL_LEG_STARTED, MessageIntent.CALL_LEG_ENDED,
           MessageIntent.CALL_HOLD, MessageIntent.CALL_RESUME)  # fmt: skip


def message(who: tuple[str, str], intent: MessageIntent, at: int, dialog: str,
            reason: CimReason | None = None) -> str:  # fmt: skip
    """A desk's message, as the JSON text it POSTs."""
    role = "CONSULTING" if who == A else "CONSULTED"
    if intent is MessageIntent.CALL_LEG_ENDED and reason is None:
        reason = CimReason.CONSULT_ENDED
    if intent is not MessageIntent.CALL_LEG_ENDED:
        reason = None
    return CODEC.dumps(CODEC.agent_message(
        leg=f"{who[1]}:{who[0]}:{dialog}", at=at, intent=intent, agent=who[0], customer=ANI,
        call_id=dialog, reason=reason, consult_role=role,
    ))  # fmt: skip


_reasons = st.sampled_from([None, CimReason.CONSULT_ENDED, CimReason.CONSULT_TRANSFER])
_recv = st.tuples(st.just("recv"), st.sampled_from([A, B, B2]), st.sampled_from(INTENTS),
                  st.sampled_from(["D1", "D2"]), _reasons)  # fmt: skip
_presence = st.tuples(st.sampled_from(["up", "down"]), st.sampled_from([a for a, _ in (A, B, B2)]))
_input = st.one_of(_recv, _recv, _presence, st.tuples(st.just("end"), st.just("S1")),
                   st.tuples(st.just("tick")))  # fmt: skip
#: (ms that passed, input): the gaps cross the CCM's short waits and, now and
#: then, the ten-minute away deadline.
inputs = st.lists(
    st.tuples(st.one_of(st.integers(0, 3_000), st.just(700_000)), _input), max_size=25
)

#: The same inputs, with gaps that land near the short horizons' edges (a
#: tombstone generation is an eighth of its horizon: 100 ms of 800) as well.
inputs_near_horizons = st.lists(
    st.tuples(st.one_of(st.sampled_from([0, 1, 60, 99, 101, 700, 790, 810, 899, 901, 1_600]),
                        st.integers(0, 3_000)), _input),
    max_size=25,
)  # fmt: skip


Said = tuple[list[str], str | None]  # what was published, and the error's name if refused


def reference(tombstone_ms: int = DEFAULT_TOMBSTONE_MS,
              ended_session_ms: int = DEFAULT_ENDED_SESSION_MS) -> CcmEngine:  # fmt: skip
    """The engine in memory, its sessions started."""
    ccm = CcmEngine(CODEC, tombstone_ms=tombstone_ms, ended_session_ms=ended_session_ms)
    for s in SESSIONS:
        ccm.start_session(s, 0)
    return ccm


class Clocked:
    """A durable CCM whose clock the test sets (``t``)."""

    def __init__(self, store: Store, tombstone_ms: int = DEFAULT_TOMBSTONE_MS,
                 ended_session_ms: int = DEFAULT_ENDED_SESSION_MS) -> None:  # fmt: skip
        self.t = 0
        self.ccm = DurableCcm(store, CODEC, clock=lambda tx: self.t, tombstone_ms=tombstone_ms,
                              ended_session_ms=ended_session_ms)  # fmt: skip
        for s in SESSIONS:
            self.ccm.start_session(s)


def apply_reference(ccm: CcmEngine, item: tuple[Any, ...], at: int,
                    inbox: set[str] | None = None) -> Said:  # fmt: skip
    """The JSON the engine publishes for one input (its due deadlines first),
    and the name of the error it raised, if it refused the input. ``inbox``:
    the ids of the messages applied so far, as a durable CCM remembers them
    (a message sent again gets its first answer, publishing nothing, however
    long after: the test never tidies), kept up to date here."""
    out = [p.json for p in ccm.handle_timers(at)]
    try:
        kind = item[0]
        if kind == "recv":
            text = message(item[1], item[2], at, item[3], item[4])
            message_id = parse_message(text).id
            if inbox is not None and message_id in inbox:
                return out, None
            out += [p.json for p in ccm.receive(text, at).published]
            if inbox is not None:
                inbox.add(message_id)
        elif kind in ("up", "down"):
            out += [p.json for p in (ccm.desk_up if kind == "up" else ccm.desk_down)(item[1], at)]
        elif kind == "end":
            out += [p.json for p in ccm.end_session(item[1], at)]
    except ConsultFsmError as exc:
        return out, type(exc).__name__
    return out, None


def send(ccm: DurableCcm, item: tuple[Any, ...], at: int, n: int) -> None:
    """Hand input number ``n`` to the durable CCM, with an id its retry keeps."""
    kind = item[0]
    if kind == "recv":
        ccm.receive(message(item[1], item[2], at, item[3], item[4]))
    elif kind in ("up", "down"):
        (ccm.desk_up if kind == "up" else ccm.desk_down)(item[1], input_id=f"in:{n}")
    elif kind == "end":
        ccm.end_session(item[1], input_id=f"in:{n}")


class Crash(BaseException):
    """A worker dying at a commit point (nothing catches it on the way out)."""


def apply_durable(world: Clocked, item: tuple[Any, ...], at: int, n: int = 0,
                  restart: Callable[[], None] | None = None) -> Said:  # fmt: skip
    """The same for the durable CCM: sweep what is due, take the input, and
    read what the outbox got (then empty it, as a relay would). When a
    :class:`Crash` stops a worker, ``restart`` brings one up and the client
    sends the same input again, as a desk retries an unanswered POST."""
    world.t = at
    error = None
    while True:
        try:
            while world.ccm.sweep(limit=1_000):
                pass
            send(world.ccm, item, at, n)
        except ConsultFsmError as exc:
            error = type(exc).__name__
        except Crash:
            assert restart is not None
            restart()
            continue
        break
    ccm = world.ccm
    with ccm.store.transaction() as tx:
        rows = tx.pending(None, 10_000)
        tx.delete_sent(rows)
    return [r.body for r in rows], error
