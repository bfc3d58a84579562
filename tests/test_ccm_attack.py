"""An adversarial pass over the CCM engine's promises (:mod:`consultfsm.ccm.engine`).

The promises, as the engine's docstrings state them:

1. **All or nothing.** A refused input (malformed JSON or CIM, an intent that is
   not a leg report, a bad ``consultRole``, no dialog id, a malformed leg
   string, a bad or backwards time, a session that cannot be found or is
   ambiguous, two live legs named at once) raises a
   :class:`~consultfsm.core.errors.ConsultFsmError` and leaves
   :meth:`CcmEngine.snapshot` exactly as it was; nothing else escapes.
2. **Exactly once.** Whatever A's and B's desks send, twice, late or out of
   order, with desks coming and going and timers at any time, each consult
   dialog gets at most one ``CALL_LEG_STARTED`` and one ``CALL_LEG_ENDED``,
   the start first and nothing after the end; a report after the end
   (the leg evicted, its dialog a tombstone) is ``late`` and publishes nothing.
3. **Snapshots.** ``CcmEngine.restore(json.loads(json.dumps(e.snapshot())), codec)``
   continues exactly like ``e``: the same ``Published.json``, in the same order.
4. **Events parse.** Every ``Published.json`` reads back with
   :func:`~consultfsm.wire.cim.parse_conversation_event`.

Generated runs (:class:`Run`) drive an engine with two consult dialogs on one
customer session; every input of every run is checked against promises 1 and
4 as it is applied. Defects it found are fixed; their tests are at the end.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import json_values

from consultfsm.ccm import ChannelSession
from consultfsm.ccm.correlation import CorrelationError
from consultfsm.ccm.engine import CcmEngine, Published
from consultfsm.ccm.machine import CcmConfig
from consultfsm.ccm.table import Intent
from consultfsm.core.errors import ConsultFsmError
from consultfsm.core.states import CimReason
from consultfsm.wire.cim import (
    CimCodec,
    CimMessage,
    CimParseError,
    MessageIntent,
    TimestampForm,
    loads_json,
    parse_conversation_event,
)

# --- the world -------------------------------------------------------------------------

ANI = "+923001234567"
TWIN_ANI = "+923009999999"  # two sessions share it (and a dialog): ambiguous evidence
SESSIONS = (
    ChannelSession("S1", "C1", ANI, dialog_id="CUST1"),
    ChannelSession("S2", "C2", TWIN_ANI, dialog_id="CUSTZ"),
    ChannelSession("S3", "C3", TWIN_ANI, dialog_id="CUSTZ"),
)
DIALOGS = ("D1", "D2")
ROLE = {"a": "CONSULTING", "b": "CONSULTED"}
#: Each consult dialog's agents: A and B are different people, as on a real consult.
DISJOINT = {"D1": {"a": "1001", "b": "1002"}, "D2": {"a": "1003", "b": "1004"}}
#: ... and the same B consulted on both (presence news then reaches two legs).
SHARED_B = {"D1": {"a": "1001", "b": "1002"}, "D2": {"a": "1003", "b": "1002"}}
INTENTS = {
    "started": MessageIntent.CALL_LEG_STARTED,
    "held": MessageIntent.CALL_HOLD,
    "resumed": MessageIntent.CALL_RESUME,
    "ended": MessageIntent.CALL_LEG_ENDED,
}
REASON = {
    MessageIntent.CALL_LEG_STARTED: CimReason.CONSULT,
    MessageIntent.CALL_LEG_ENDED: CimReason.CONSULT_ENDED,
}
CODECS = (
    CimCodec("8000"),
    CimCodec("8000", TimestampForm.EPOCH_MS, 1_700_000_000_000),
)
CONFIGS = (CcmConfig(), CcmConfig(), CcmConfig(50, 50, 300), CcmConfig(1, 2, 3))
CODEC = CODECS[0]


def new_engine(codec: CimCodec = CODEC, config: CcmConfig | None = None) -> CcmEngine:
    engine = CcmEngine(codec, config=config)
    for session in SESSIONS:
        assert engine.start_session(session, at=0) == ()
    return engine


def desk_message(
    agents: dict[str, dict[str, str]], dialog: str, party: str, intent: MessageIntent,
    stamp: int, *, shape: str = "both", evidence: str = "ani", codec: CimCodec = CODEC,
) -> CimMessage:  # fmt: skip
    """A desk's CIM message. ``shape``: which of body.leg / body.callId name the
    dialog; ``evidence``: how a first message finds the customer's session."""
    agent = agents[dialog][party]
    customer, uri, session = ANI, None, None
    if evidence == "uri":
        customer, uri = "anonymous", "/finesse/api/Dialog/CUST1"
    elif evidence == "session":
        customer, session = "unknown", "S1"
    message = codec.agent_message(
        leg=f"7{agent[1:]}:{agent}:{dialog}", at=stamp, intent=intent, agent=agent,
        customer=customer, call_id=dialog if shape != "leg" else None,
        reason=REASON.get(intent), channel_session_id=session, associated_dialog_uri=uri,
        consult_role=ROLE[party],
    )  # fmt: skip
    if shape == "call":
        message = attrs.evolve(message, body=attrs.evolve(message.body, leg=None))
    return message


def check_event(p: Published) -> None:
    """Promise 4: the published JSON reads back, as what it says it is."""
    event = parse_conversation_event(p.json)
    assert event.name.value == p.intent.value
    assert event.data.header.intent.value == p.intent.value
    assert event.timestamp_ms == p.event.timestamp_ms


def frozen(engine: CcmEngine) -> str:
    return json.dumps(engine.snapshot(), sort_keys=True)


def refused(engine: CcmEngine, attack: Callable[[], object]) -> ConsultFsmError:
    """Promise 1 for one input that must be refused: a typed error, nothing moved."""
    before, deadline = frozen(engine), engine.next_deadline()
    with pytest.raises(ConsultFsmError) as info:
        attack()
    assert frozen(engine) == before
    assert engine.next_deadline() == deadline
    return info.value


# --- generated runs ---------------------------------------------------------------------

#: When an input arrives: ("dt", ms after the last one) or ("deadline", ms from
#: the next pending deadline), so inputs meet timers at their edges.
WHEN = st.one_of(
    st.tuples(st.just("dt"), st.integers(0, 20)),
    st.tuples(st.just("dt"), st.integers(0, 20)),
    st.tuples(st.just("dt"), st.integers(0, 20)),
    st.tuples(st.just("dt"), st.sampled_from([0, 1, 49, 50, 51, 400, 2_000, 600_000])),
    st.tuples(st.just("deadline"), st.sampled_from([-1, 0, 0, 1])),
)
SHAPES = st.sampled_from(("both", "both", "leg", "call"))
EVIDENCE = st.sampled_from(("ani", "uri", "session"))
#: A report's own stamp: ("lag", ms before it arrives; -5: the desk's clock is
#: ahead) or ("at", the time the desk saw it happen).
SEND = st.tuples(
    st.just("send"), st.sampled_from(DIALOGS), st.sampled_from(("a", "b")),
    st.sampled_from(tuple(INTENTS)),
    st.tuples(st.just("lag"), st.sampled_from((0, 0, 1, 30, 1_000, -5))), SHAPES, EVIDENCE,
)  # fmt: skip
NOISE = st.one_of(
    SEND,
    st.tuples(st.just("resend"), st.integers(0, 50)),  # an earlier message again, verbatim
    st.tuples(st.just("resend_hold"), st.integers(0, 50)),  # ... an old hold or resume
    st.tuples(st.sampled_from(("up", "down")), st.sampled_from(DIALOGS), st.sampled_from("ab")),
    st.tuples(st.sampled_from(("up", "down")), st.sampled_from(DIALOGS), st.sampled_from("ab")),
    st.tuples(st.just("timers")),
    st.tuples(st.just("timers")),
)


@st.composite
def runs(draw: st.DrawFn, max_noise: int = 15) -> list[tuple[tuple[Any, ...], tuple[str, int]]]:
    """Each consult's life as both desks report it (either may miss it all),
    merged, duplicated and reordered, with noise between; sometimes the
    customer's session ends on the way."""
    ops: list[tuple[Any, ...]] = []
    for dialog in DIALOGS:
        holds = ["held", "resumed"] * draw(st.sampled_from((0, 1, 2, 2)))
        life = ["started", *holds[: len(holds) - draw(st.integers(0, 1))]]
        if draw(st.booleans()):
            life.append("ended")
        seen = [0]  # the time each step happened, on the desks' clock
        for _ in life[1:]:
            seen.append(seen[-1] + draw(st.sampled_from([0, 1, 20, 500])))
        copies = []
        for party in "ab":
            if not draw(st.integers(0, 4)):
                continue  # this desk never reports (its page was away)
            copy: list[tuple[Any, ...]] = [
                ("send", dialog, party, intent, ("at", t), draw(SHAPES), draw(EVIDENCE))
                for intent, t in zip(life, seen, strict=True)
            ]  # fmt: skip
            if draw(st.booleans()):  # the desk goes away on the way, maybe back
                gone = draw(st.integers(1, len(copy)))
                copy.insert(gone, ("down", dialog, party))
                if draw(st.booleans()):
                    copy.insert(draw(st.integers(gone + 1, len(copy))), ("up", dialog, party))
            copies.append(copy)
        while any(copies):
            copies = [c for c in copies if c]
            ops.append(copies[draw(st.integers(0, len(copies) - 1))].pop(0))
    for i in draw(st.lists(st.integers(0, max(0, len(ops) - 1)), max_size=6)):
        if ops:  # a copy, or a re-send, arriving any time later
            ops.insert(draw(st.integers(i + 1, len(ops))), ops[i])
    for i in draw(st.lists(st.integers(0, max(0, len(ops) - 2)), max_size=6)):
        if i + 1 < len(ops):
            ops[i], ops[i + 1] = ops[i + 1], ops[i]  # overtaken
    for op in draw(st.lists(NOISE, max_size=max_noise)):
        ops.insert(draw(st.integers(0, len(ops))), op)
    if not draw(st.integers(0, 4)):
        ops.insert(draw(st.integers(0, len(ops))), ("end_session",))
    return [(op, draw(WHEN)) for op in ops]


OPS = runs()


class Run:
    """One engine under a generated run. Every input is checked against
    promise 1 (a refusal is typed and changes nothing) and promise 4."""

    def __init__(self, codec: CimCodec, config: CcmConfig, agents: dict[str, dict[str, str]]):
        self.codec, self.agents = codec, agents
        self.engine = new_engine(codec, config)
        self.sent: list[CimMessage] = []
        self.published: list[Published] = []

    def earlier(self, op: tuple[Any, ...]) -> CimMessage | None:
        """The earlier message a resend op sends again, or None."""
        pool = self.sent
        if op[0] == "resend_hold":
            pool = [m for m in pool if m.header.intent in (INTENTS["held"], INTENTS["resumed"])]
        return pool[op[1] % len(pool)] if pool else None

    def at(self, when: tuple[str, int]) -> int:
        kind, n = when
        now = self.engine.now
        if kind == "dt":
            return now + n
        deadline = self.engine.next_deadline()
        return now if deadline is None else max(now, deadline + n)

    def apply(self, op: tuple[Any, ...], when: tuple[str, int]) -> tuple[Any, ...]:
        """Apply one input; a comparable record of what it did."""
        at = self.at(when)
        engine = self.engine
        before = frozen(engine)
        try:
            if op[0] in ("send", "resend", "resend_hold"):
                if op[0] == "send":
                    _, dialog, party, intent, (kind, n), shape, evidence = op
                    stamp = max(0, at - n) if kind == "lag" else n
                    message = desk_message(
                        self.agents, dialog, party, INTENTS[intent], stamp, shape=shape,
                        evidence=evidence, codec=self.codec,
                    )  # fmt: skip
                    self.sent.append(message)
                else:
                    message = self.earlier(op)  # type: ignore[assignment]
                    if message is None:
                        return ("nothing",)
                outcome = engine.receive(message, at)
                out = outcome.published
                record: tuple[Any, ...] = (
                    "receive", outcome.leg, outcome.disposition, outcome.late,
                )  # fmt: skip
            elif op[0] in ("up", "down"):
                agent = self.agents[op[1]][op[2]]
                out = (engine.desk_up if op[0] == "up" else engine.desk_down)(agent, at)
                record = (op[0],)
            elif op[0] == "timers":
                out = engine.handle_timers(at)
                record = ("timers",)
            else:
                if engine.sessions.get("S1") is None:
                    return ("nothing",)
                out = engine.end_session("S1", at)
                record = ("end_session",)
        except ConsultFsmError as exc:
            # Promise 1: nothing moved. The one refusal a valid run can meet:
            # a first report of a consult after its customer's session ended.
            assert frozen(engine) == before, f"{type(exc).__name__} after a change: {exc}"
            assert isinstance(exc, CorrelationError), exc
            return ("refused", type(exc).__name__, str(exc))
        for p in out:
            check_event(p)
        self.published += out
        return (*record, tuple(p.json for p in out))


def _settings(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )


# --- promise 2: exactly once ------------------------------------------------------------


def assert_once(intents: list[Intent], dialog: str) -> None:
    assert intents.count(Intent.STARTED) <= 1, (dialog, intents)
    assert intents.count(Intent.ENDED) <= 1, (dialog, intents)
    if intents:
        assert intents[0] is Intent.STARTED, (dialog, intents)
    if Intent.ENDED in intents:
        assert intents[-1] is Intent.ENDED, (dialog, intents)


@_settings(400)
@given(
    ops=OPS,
    codec=st.sampled_from(CODECS),
    config=st.sampled_from(CONFIGS),
    agents=st.sampled_from((DISJOINT, SHARED_B)),
)
def test_each_consult_dialog_starts_and_ends_at_most_once(
    ops: list[tuple[tuple[Any, ...], tuple[str, int]]], codec: CimCodec, config: CcmConfig,
    agents: dict[str, dict[str, str]],
) -> None:  # fmt: skip
    run = Run(codec, config, agents)
    for op, when in ops:
        ended = {d for d in DIALOGS if any(
            p.leg == d and p.intent is Intent.ENDED for p in run.published)}  # fmt: skip
        seen = len(run.published)
        record = run.apply(op, when)
        new = run.published[seen:]
        for dialog in DIALOGS:
            assert_once([p.intent for p in run.published if p.leg == dialog], dialog)
        if record[0] == "receive":
            message = run.sent[-1] if op[0] == "send" else run.earlier(op)
            assert message is not None
            dialog = message.body.call_id or (message.body.leg or "").rsplit(":", 1)[1]
            if dialog in ended:  # the leg is gone: a tombstone answers, nothing is published
                assert record[3] is True, record
                assert record[2] is not None and record[2].value == "absorbed"
                assert not [p for p in new if p.leg == dialog]
                assert run.engine.leg(dialog) is None
    # Presence and timers after every report: still nothing more for a finished dialog.
    later: list[Published] = []
    for agent in sorted({a for by_party in agents.values() for a in by_party.values()}):
        later += run.engine.desk_down(agent, run.engine.now)
    later += run.engine.handle_timers(run.engine.now + 10 * config.away_ms)
    for p in later:
        check_event(p)
    run.published += later
    for dialog in DIALOGS:
        intents = [p.intent for p in run.published if p.leg == dialog]
        assert_once(intents, dialog)
        if intents:  # table rule 6: started, nobody up, the away window long past: ended
            assert intents[-1] is Intent.ENDED, (dialog, intents)


def test_a_report_after_the_end_is_late_and_publishes_nothing() -> None:
    engine = new_engine()
    agents = DISJOINT
    b_start = desk_message(agents, "D1", "b", MessageIntent.CALL_LEG_STARTED, 10)
    b_end = desk_message(agents, "D1", "b", MessageIntent.CALL_LEG_ENDED, 20)
    first = engine.receive(b_start, 10)
    assert [p.intent for p in first.published] == [Intent.STARTED]
    last = engine.receive(b_end, 20)
    assert [p.intent for p in last.published] == [Intent.ENDED]
    assert engine.leg("D1") is None and engine.is_finished("D1")
    for intent in INTENTS.values():
        for party in "ab":
            for shape in ("both", "leg", "call"):
                late = desk_message(agents, "D1", party, intent, 30, shape=shape)
                outcome = engine.receive(late, 30)
                assert outcome.late and outcome.published == ()
                assert engine.leg("D1") is None
    # ... and still within the tombstone horizon, a day later less a ms.
    edge = 20 + engine.tombstone_ms - 1
    outcome = engine.receive(b_start, edge)
    assert outcome.late and outcome.published == ()
    assert engine.desk_down(agents["D1"]["b"], edge) == ()


# --- promise 3: snapshots ---------------------------------------------------------------


@_settings(500)
@given(
    ops=OPS,
    splits=st.one_of(st.sets(st.integers(0, 45), max_size=6), st.just(set(range(60)))),
    codec=st.sampled_from(CODECS),
    config=st.sampled_from(CONFIGS),
)
def test_a_restored_engine_continues_exactly_like_the_original(
    ops: list[tuple[tuple[Any, ...], tuple[str, int]]], splits: set[int], codec: CimCodec,
    config: CcmConfig,
) -> None:  # fmt: skip
    original, twin = Run(codec, config, DISJOINT), Run(codec, config, DISJOINT)
    for i, (op, when) in enumerate(ops):
        if i in splits:  # the twin goes through JSON and comes back (again; maybe every step)
            data = json.loads(json.dumps(twin.engine.snapshot()))
            twin.engine = CcmEngine.restore(data, codec)
            assert twin.engine.snapshot() == original.engine.snapshot()
        assert original.apply(op, when) == twin.apply(op, when), (i, op)
        assert twin.engine.next_deadline() == original.engine.next_deadline()
        assert len(twin.engine) == len(original.engine)
    assert twin.engine.snapshot() == original.engine.snapshot()
    end = original.engine.now + 10 * config.away_ms
    assert [p.json for p in original.engine.handle_timers(end)] == [
        p.json for p in twin.engine.handle_timers(end)
    ]


# --- promise 1: refusals, in any state ------------------------------------------------------


def _base(now: int) -> dict[str, Any]:
    """A valid first report of a dialog no run uses, as a JSON-ready dict."""
    return CODEC.encode(
        desk_message({"D7": DISJOINT["D1"]}, "D7", "b", MessageIntent.CALL_HOLD, now)
    )


def _with(now: int, change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    message = _base(now)
    change(message)
    return message


def _attr(message: dict[str, Any], key: str, value: Any) -> None:
    attributes = message["header"]["channelData"].setdefault("additionalAttributes", [])
    attributes[:] = [a for a in attributes if a["key"] != key]
    attributes.append({"key": key, "type": "String2000", "value": value})


def _body(**fields: Any) -> Callable[[dict[str, Any]], object]:
    def change(message: dict[str, Any]) -> None:
        for key, value in fields.items():
            if value is _DROP:
                message["body"].pop(key, None)
            else:
                message["body"][key] = value

    return change


_DROP = object()


def _text(now: int, change: Callable[[dict[str, Any]], object]) -> str:
    return json.dumps(_with(now, change))


def _new(customer: str, *, uri: str | None = None, session: str | None = None) -> CimMessage:
    agents = {"D8": {"a": "1001", "b": "1002"}}
    message = desk_message(agents, "D8", "a", MessageIntent.CALL_LEG_STARTED, 1)
    header = message.header
    attributes = header.channel_data.additional_attributes
    if uri is not None:
        attributes = (
            *attributes,
            attrs.evolve(attributes[0], key="associatedDialogUri", value=uri),
        )
    channel = attrs.evolve(
        header.channel_data, channel_customer_identifier=customer,
        additional_attributes=attributes,
    )  # fmt: skip
    return attrs.evolve(
        message, header=attrs.evolve(header, channel_data=channel, channel_session_id=session)
    )


#: Inputs every engine must refuse, whatever its state: (engine, a time at or
#: after its clock, often past its deadlines) -> the call.
ATTACKS: dict[str, Callable[[CcmEngine, int], object]] = {
    "not JSON": lambda e, t: e.receive("{", t),
    "empty text": lambda e, t: e.receive("", t),
    "not UTF-8": lambda e, t: e.receive(b'{"id": "\xff"}', t),
    "NaN literal": lambda e, t: e.receive('{"id": NaN}', t),
    "too deep for the parser": lambda e, t: e.receive("[" * 100_000 + "]" * 100_000, t),
    "an array": lambda e, t: e.receive("[]", t),
    "a number": lambda e, t: e.receive(7, t),  # type: ignore[arg-type]
    "None": lambda e, t: e.receive(None, t),  # type: ignore[arg-type]
    "no header": lambda e, t: e.receive(_with(t, lambda m: m.pop("header")), t),
    "body null": lambda e, t: e.receive(_with(t, lambda m: m.update(body=None)), t),
    "body type null": lambda e, t: e.receive(_with(t, _body(type=None)), t),
    "chat body": lambda e, t: e.receive(_with(t, _body(type="CHAT")), t),
    "id a number": lambda e, t: e.receive(_with(t, lambda m: m.update(id=5)), t),
    "START_CHAT": lambda e, t: e.receive(
        _with(t, lambda m: m["header"].update(intent="START_CHAT")), t),
    "NONE intent": lambda e, t: e.receive(_with(t, lambda m: m["header"].update(intent="NONE")), t),
    "WRAPUP": lambda e, t: e.receive(_with(t, lambda m: m["header"].update(intent="WRAPUP")), t),
    "unknown intent": lambda e, t: e.receive(
        _with(t, lambda m: m["header"].update(intent="CALL_PARKED")), t),
    "role lower case": lambda e, t: e.receive(
        _with(t, lambda m: _attr(m, "consultRole", "consulted")), t),
    "role padded": lambda e, t: e.receive(
        _with(t, lambda m: _attr(m, "consultRole", "CONSULTED ")), t),
    "role null": lambda e, t: e.receive(_with(t, lambda m: _attr(m, "consultRole", None)), t),
    "role number": lambda e, t: e.receive(_with(t, lambda m: _attr(m, "consultRole", 1)), t),
    "role list": lambda e, t: e.receive(
        _with(t, lambda m: _attr(m, "consultRole", ["CONSULTED"])), t),
    "role object": lambda e, t: e.receive(
        _with(t, lambda m: _attr(m, "consultRole", {"CONSULTED": 1})), t),
    "role the other key": lambda e, t: e.receive(
        _text(t, lambda m: _attr(m, "consultRole", "AGENT_B")), t),
    "no leg, no callId": lambda e, t: e.receive(_with(t, _body(leg=_DROP, callId=_DROP)), t),
    "null leg, blank callId": lambda e, t: e.receive(_with(t, _body(leg=None, callId="  ")), t),
    "leg of two parts": lambda e, t: e.receive(_with(t, _body(leg="7002:D7")), t),
    "leg of four parts": lambda e, t: e.receive(_with(t, _body(leg="7002:1002:D7:x")), t),
    "leg, empty part": lambda e, t: e.receive(_with(t, _body(leg="7002::D7")), t),
    "leg, empty dialog": lambda e, t: e.receive(_with(t, _body(leg="7002:1002:")), t),
    "leg, spaces": lambda e, t: e.receive(_with(t, _body(leg="7002:1002:D7 ")), t),
    "leg empty": lambda e, t: e.receive(_with(t, _body(leg="")), t),
    "leg a number": lambda e, t: e.receive(_with(t, _body(leg=7)), t),
    "leg, lone surrogate": lambda e, t: e.receive(_text(t, _body(leg="7002:1002:D\ud800")), t),
    "time backwards": lambda e, t: e.receive(_base(t), e.now - 1),
    "time a float": lambda e, t: e.receive(_base(t), float(t)),  # type: ignore[arg-type]
    "time a string": lambda e, t: e.receive(_base(t), str(t)),  # type: ignore[arg-type]
    "time a bool": lambda e, t: e.receive(_base(t), True),
    "time None": lambda e, t: e.receive(_base(t), None),  # type: ignore[arg-type]
    "time past year 9999": lambda e, t: e.receive(_base(t), 10**20),
    "no such ANI": lambda e, t: e.receive(_new("+923000000001"), t),
    "no such session id": lambda e, t: e.receive(_new("unknown", session="S9"), t),
    "no usable evidence": lambda e, t: e.receive(_new("anonymous"), t),
    "ambiguous ANI": lambda e, t: e.receive(_new(TWIN_ANI), t),
    "ambiguous dialog URI": lambda e, t: e.receive(
        _new("anonymous", uri="/finesse/api/Dialog/CUSTZ"), t),
    "desk_up, empty agent": lambda e, t: e.desk_up("", t),
    "desk_down, agent None": lambda e, t: e.desk_down(None, t),  # type: ignore[arg-type]
    "desk_up, time backwards": lambda e, t: e.desk_up("1002", e.now - 1),
    "desk_down, time a float": lambda e, t: e.desk_down("1002", t + 0.5),  # type: ignore[arg-type]
    "timers backwards": lambda e, t: e.handle_timers(e.now - 1),
    "timers, a float": lambda e, t: e.handle_timers(float(t)),  # type: ignore[arg-type]
    "timers, a bool": lambda e, t: e.handle_timers(False),
    "timers past year 9999": lambda e, t: e.handle_timers(10**20),
    "end an unknown session": lambda e, t: e.end_session("S9", t),
    "end a session, time backwards": lambda e, t: e.end_session("S2", e.now - 1),
    "start a session twice": lambda e, t: e.start_session(SESSIONS[1], t),
    "start an ended session": lambda e, t: e.start_session(
        ChannelSession("S8", "C8", ANI, active=False), t),
    "start a non-session": lambda e, t: e.start_session("S8", t),  # type: ignore[arg-type]
    "start a session, time backwards": lambda e, t: e.start_session(
        ChannelSession("S8", "C8", ANI), e.now - 1),
}  # fmt: skip


def _two_live_legs(e: CcmEngine, t: int) -> object:
    """Names D1 by its leg string and D2 by callId: refused while both are live."""
    message = desk_message(DISJOINT, "D1", "b", MessageIntent.CALL_HOLD, t)
    return e.receive(attrs.evolve(message, body=attrs.evolve(message.body, call_id="D2")), t)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_a_refused_input_is_typed_and_changes_nothing(name: str) -> None:
    engine = new_engine(config=CcmConfig(50, 50, 300))
    a_start = desk_message(DISJOINT, "D1", "a", MessageIntent.CALL_LEG_STARTED, 5)
    engine.receive(a_start, 5)  # D1 waits for B's start, a deadline at 55
    assert engine.next_deadline() == 55
    refused(engine, lambda: ATTACKS[name](engine, 1_000))  # past the deadline: nothing fires


def test_naming_two_live_legs_is_refused_and_changes_nothing() -> None:
    engine = new_engine()
    for dialog in DIALOGS:
        engine.receive(desk_message(DISJOINT, dialog, "b", MessageIntent.CALL_LEG_STARTED, 1), 1)
    refused(engine, lambda: _two_live_legs(engine, 700_000))


@_settings(200)
@given(
    ops=OPS,
    attacks=st.lists(
        st.tuples(st.integers(0, 45), st.sampled_from(sorted(ATTACKS)), st.integers(0, 700_000)),
        max_size=6,
    ),
    config=st.sampled_from(CONFIGS),
)
def test_refusals_in_any_state_change_nothing_and_nothing_later(
    ops: list[tuple[tuple[Any, ...], tuple[str, int]]],
    attacks: list[tuple[int, str, int]],
    config: CcmConfig,
) -> None:
    """An engine that was sent refused inputs along the way behaves exactly
    like one that was not: each refusal changed nothing."""
    clean, attacked = Run(CODEC, config, DISJOINT), Run(CODEC, config, DISJOINT)
    for i, (op, when) in enumerate(ops):
        for at, name, dt in attacks:
            if at == i:
                engine = attacked.engine
                refused(engine, lambda name=name, e=engine, dt=dt: ATTACKS[name](e, e.now + dt))  # type: ignore[misc]
        if engine_has_two_live_legs(attacked.engine):
            refused(attacked.engine, lambda: _two_live_legs(attacked.engine, attacked.engine.now))
        assert clean.apply(op, when) == attacked.apply(op, when), (i, op)
    assert clean.engine.snapshot() == attacked.engine.snapshot()


def engine_has_two_live_legs(engine: CcmEngine) -> bool:
    d1, d2 = engine.leg("D1"), engine.leg("D2")
    return d1 is not None and d2 is not None and d1 is not d2


# --- promises 1 and 4 on mutated messages ----------------------------------------------------

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from([
        "", " ", "CONSULTING", "CONSULTED", "7001:1001:D1", "7002:1002:D2", "a:b:c", "D1", "D2",
        "D3", "CALL_HOLD", "CALL_RESUME", "CALL_LEG_ENDED", "START_CHAT", "VOICE", "S1", "S9",
        ANI, TWIN_ANI, "anonymous", "/finesse/api/Dialog/CUST1", "2024-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z",
    ]),
)  # fmt: skip
JSON_VALUES = json_values(SCALARS, max_leaves=6)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
        out.append((*prefix, "extra"))  # a key the message did not have
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


def _mutate(message: dict[str, Any], path: tuple[Any, ...], value: Any, drop: bool) -> Any:
    if not path:
        return value
    parent = message
    for step in path[:-1]:
        parent = parent[step]
    if drop and isinstance(parent, dict):
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value
    return message


def _prefixed_engine() -> CcmEngine:
    """D1 waits for B's start; D2 has started and ended (a tombstone); S1's ANI is known."""
    engine = new_engine(config=CcmConfig(50, 50, 300))
    engine.receive(desk_message(DISJOINT, "D1", "a", MessageIntent.CALL_LEG_STARTED, 5), 5)
    for intent in (MessageIntent.CALL_LEG_STARTED, MessageIntent.CALL_LEG_ENDED):
        engine.receive(desk_message(DISJOINT, "D2", "b", intent, 6), 6)
    engine.desk_up("1002", 7)
    return engine


@_settings(400)
@given(
    data=st.data(),
    dialog=st.sampled_from(("D1", "D2", "D3")),
    party=st.sampled_from("ab"),
    intent=st.sampled_from(tuple(INTENTS.values())),
    dt=st.sampled_from([0, 1, 60, 5_000]),
)
def test_mutated_messages_are_taken_whole_or_refused_whole(
    data: st.DataObject, dialog: str, party: str, intent: MessageIntent, dt: int
) -> None:
    engine = _prefixed_engine()
    agents = {**DISJOINT, "D3": {"a": "1005", "b": "1006"}}
    message = CODEC.encode(desk_message(agents, dialog, party, intent, 10))
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(_paths(message)), label="path")
        value = data.draw(JSON_VALUES, label="value")
        message = _mutate(message, path, value, data.draw(st.booleans(), label="drop"))
    text = json.dumps(message, allow_nan=False)
    before = frozen(engine)
    try:
        outcome = engine.receive(text, engine.now + dt)
    except ConsultFsmError:
        assert frozen(engine) == before
        return
    for p in outcome.published:
        check_event(p)


def test_every_event_of_a_full_consult_parses_back() -> None:
    """Promise 4 over each kind of publication: B's own, implied starts, A's
    while B is away, the CCM's own start and end."""
    engine = new_engine(config=CcmConfig(50, 50, 300))
    agents = {**DISJOINT, "D3": {"a": "1005", "b": "1006"}}
    out: list[Published] = []

    def send(dialog: str, party: str, intent: MessageIntent, at: int) -> None:
        out.extend(engine.receive(desk_message(agents, dialog, party, intent, at), at).published)

    send("D1", "b", MessageIntent.CALL_LEG_ENDED, 1)  # implied start, then B's end
    send("D2", "a", MessageIntent.CALL_LEG_STARTED, 2)
    out.extend(engine.handle_timers(60))  # the CCM's own start
    send("D2", "b", MessageIntent.CALL_HOLD, 61)  # B's desk is learned ...
    out.extend(engine.desk_down("1004", 62))  # ... and goes away
    send("D2", "a", MessageIntent.CALL_RESUME, 63)  # A's resume counts now
    out.extend(engine.handle_timers(10_000))  # nobody up: ended on the CCM's own
    send("D3", "a", MessageIntent.CALL_LEG_ENDED, 10_001)
    out.extend(engine.handle_timers(10_100))  # A's end alone, with the CCM's start
    kinds = [(p.leg, p.intent.value, p.source.value) for p in out]
    assert kinds == [
        ("D1", "CALL_LEG_STARTED", "b"), ("D1", "CALL_LEG_ENDED", "b"),
        ("D2", "CALL_LEG_STARTED", "ccm"), ("D2", "CALL_HOLD", "b"), ("D2", "CALL_RESUME", "a"),
        ("D2", "CALL_LEG_ENDED", "ccm"),
        ("D3", "CALL_LEG_STARTED", "ccm"), ("D3", "CALL_LEG_ENDED", "a"),
    ]  # fmt: skip
    for p in out:
        check_event(p)


# --- defects found ----------------------------------------------------------------------------


def _taken_whole_or_refused_whole(engine: CcmEngine, call: Callable[[], Any]) -> None:
    """Promise 1 and 4 for one input: either refused (typed, nothing moved)
    or taken, with every event parsing back. Other exceptions propagate."""
    before = frozen(engine)
    try:
        result = call()
    except ConsultFsmError:
        assert frozen(engine) == before, "refused after changing the engine"
        return
    published = result.published if hasattr(result, "published") else result
    for p in published:
        check_event(p)


@pytest.mark.parametrize("where", ["body", "header", "attribute"])
def test_defect_overflowing_number_is_refused_before_the_leg_moves(where: str) -> None:
    engine = new_engine()
    message = CODEC.encode(desk_message(DISJOINT, "D1", "b", MessageIntent.CALL_LEG_STARTED, 1))
    if where == "body":
        message["body"]["note"] = "__BIG__"
    elif where == "header":
        message["header"]["note"] = "__BIG__"
    else:
        _attr(message, "note", "__BIG__")
    text = json.dumps(message).replace('"__BIG__"', "1e999")
    _taken_whole_or_refused_whole(engine, lambda: engine.receive(text, 1))


def test_defect_mapping_with_a_value_json_cannot_write() -> None:
    engine = new_engine()
    message = CODEC.encode(desk_message(DISJOINT, "D1", "b", MessageIntent.CALL_LEG_STARTED, 1))
    message["body"]["tags"] = {"x", "y"}
    _taken_whole_or_refused_whole(engine, lambda: engine.receive(message, 1))


def test_defect_deep_nesting_the_parser_accepts() -> None:
    template = json.dumps(
        CODEC.encode(desk_message(DISJOINT, "D1", "b", MessageIntent.CALL_LEG_STARTED, 1)),
        separators=(",", ":"),
    )

    def text(depth: int) -> str:
        return template.replace('"type":"VOICE"', '"type":"VOICE","x":' + "[" * depth + "]" * depth)

    low, high = 1, 200_000  # the deepest nesting the parser takes, from here
    while low < high:
        mid = (low + high + 1) // 2
        try:
            loads_json(text(mid))
            low = mid
        except ConsultFsmError:
            high = mid - 1
    for depth in range(max(1, low - 40), low + 10):
        engine = new_engine()
        _taken_whole_or_refused_whole(engine, lambda d=depth, e=engine: e.receive(text(d), 1))  # type: ignore[misc]


def test_defect_one_agent_on_both_sides() -> None:
    engine = new_engine()
    same = {"D1": {"a": "1001", "b": "1001"}}
    for party, intent, at in (("a", MessageIntent.CALL_LEG_STARTED, 1),
                              ("b", MessageIntent.CALL_LEG_STARTED, 2),
                              ("b", MessageIntent.CALL_LEG_ENDED, 3)):  # fmt: skip
        message = desk_message(same, "D1", party, intent, at)
        _taken_whole_or_refused_whole(engine, lambda m=message, at=at: engine.receive(m, at))  # type: ignore[misc]


def test_defect_session_without_a_customer_number_own_start() -> None:
    # A session must carry a customer identifier (the schema's
    # channelCustomerIdentifier): one without is refused up front, typed,
    # so no consult of it can fail later when its events are written.
    engine = CcmEngine(CODEC)
    before = engine.snapshot()
    with pytest.raises(ConsultFsmError):
        engine.start_session(ChannelSession("S1", "C1", ""), at=0)  # a withheld caller
    assert engine.snapshot() == before


@pytest.mark.parametrize("fields", [("S1", "C1", ""), ("S1", "", ANI), ("S1", "C1", "  ")])
def test_defect_session_whose_events_do_not_parse(fields: tuple[str, str, str]) -> None:
    engine = CcmEngine(CODEC)
    try:  # refused up front, when the session is made or when it starts: fine
        engine.start_session(ChannelSession(*fields), at=0)
    except ConsultFsmError:
        return
    b_start = desk_message(
        DISJOINT, "D1", "b", MessageIntent.CALL_LEG_STARTED, 1, evidence="session"
    )
    try:
        _taken_whole_or_refused_whole(engine, lambda: engine.receive(b_start, 1))
    except Exception as exc:  # the event did not parse
        raise AssertionError(f"published an event that does not parse: {exc}") from exc


def test_defect_hold_stamped_before_the_epoch_restores() -> None:
    codec = CODECS[1]  # epoch_ms: the CCM's clock started at a real wall time
    engine = new_engine(codec)
    hold = desk_message(DISJOINT, "D1", "b", MessageIntent.CALL_HOLD, -5_000, codec=codec)
    engine.receive(hold, 100)
    data = json.loads(json.dumps(engine.snapshot()))
    try:
        twin = CcmEngine.restore(data, codec)
    except ConsultFsmError as exc:
        raise AssertionError(f"the engine's own snapshot is refused: {exc}") from exc
    resume = desk_message(DISJOINT, "D1", "b", MessageIntent.CALL_RESUME, 200, codec=codec)
    assert [p.json for p in engine.receive(resume, 200).published] == [
        p.json for p in twin.receive(resume, 200).published
    ]


def test_defect_presence_news_after_restore_keeps_its_order() -> None:
    engine = new_engine()
    steps = (  # B (1002) is consulted on D1 and D2; learned on D2 first
        ("D1", "a", MessageIntent.CALL_LEG_STARTED), ("D2", "a", MessageIntent.CALL_LEG_STARTED),
        ("D2", "b", MessageIntent.CALL_LEG_STARTED), ("D1", "b", MessageIntent.CALL_LEG_STARTED),
        ("D1", "a", MessageIntent.CALL_LEG_ENDED), ("D2", "a", MessageIntent.CALL_LEG_ENDED),
    )  # fmt: skip
    for at, (dialog, party, intent) in enumerate(steps, start=10):
        engine.receive(desk_message(SHARED_B, dialog, party, intent, at), at)
    twin = CcmEngine.restore(json.loads(json.dumps(engine.snapshot())), CODEC)
    original = [p.json for p in engine.desk_down("1002", 20)]
    restored = [p.json for p in twin.desk_down("1002", 20)]
    assert len(original) == 2  # both legs end on B's absence
    assert restored == original


def test_defect_end_session_with_an_unhashable_id() -> None:
    engine = new_engine()
    refused(engine, lambda: engine.end_session(["S1"], 1))  # type: ignore[arg-type]


@pytest.mark.parametrize("fields", [
    {"customer_ani": 5}, {"dialog_id": ["CUST8"]},
])  # fmt: skip
def test_defect_start_session_with_mistyped_fields(fields: dict[str, Any]) -> None:
    engine = new_engine(config=CcmConfig(50, 50, 300))
    engine.receive(desk_message(DISJOINT, "D1", "a", MessageIntent.CALL_LEG_STARTED, 5), 5)
    before = frozen(engine)  # D1's start is due at 55

    def start() -> object:  # a session of mistyped fields is refused when it is made
        values = {"id": "S8", "conversation_id": "C8", "customer_ani": ANI, **fields}
        return engine.start_session(ChannelSession(**values), 1_000)

    try:
        _taken_whole_or_refused_whole(engine, start)
    except (AttributeError, TypeError) as exc:
        assert frozen(engine) == before, f"{type(exc).__name__} after the clock moved: {exc}"
        raise AssertionError(f"{type(exc).__name__}, not a ConsultFsmError: {exc}") from exc


@pytest.mark.parametrize("field", ["sender", "callId", "extra"])
def test_a_lone_surrogate_anywhere_is_refused_and_changes_nothing(field: str) -> None:
    """Was a defect (issue 15, 1): a ``\\ud800`` escape in sender.id, callId
    or a pass-through field was taken and published, and Published.json could
    not be encoded as UTF-8 for the topic. Now the parser refuses it."""
    engine = new_engine()
    message = CODEC.encode(desk_message(DISJOINT, "D1", "b", MessageIntent.CALL_LEG_STARTED, 1))
    if field == "sender":
        message["header"]["sender"]["id"] = "1002\ud800"
    elif field == "callId":
        message["body"]["callId"] = "D1\ud800"
    else:
        message["body"]["note"] = "\ud800"
    text = json.dumps(message)  # \ud800 escaped: ASCII, valid JSON, valid UTF-8
    text.encode("utf-8")
    before = frozen(engine)
    with pytest.raises(CimParseError, match="not valid Unicode"):
        engine.receive(text, 1)
    assert frozen(engine) == before
