"""Stateful property test of the whole replay system (issue 4, over issue 3's System).

A :class:`~hypothesis.stateful.RuleBasedStateMachine` feeds a
:class:`~consultfsm.replay.system.System` trace lines, as ``consultfsm replay`` would:
several legs on one customer session (agents drawn from A, B, C, so desks are
shared; some legs direct, some to a queue, offered to an agent later), both
desks, random interleavings of alerting, offers, accepted, holds and
retrieves, transfers and conferences, re-keyed dialogs, drops by A or B, the
customer hanging up (alone, or with the whole session), RONA, no agent,
failures, browser disconnects, restores and logouts of any agent (duplicates
included), reports with the source's own times (stale ones too), time jumps
that fire timers, CTI scripts duplicated and reordered the way Finesse does,
desks re-sending their CIM messages (both desks reporting the same leg), and
illegal and malformed lines.

After every line the records it produced are checked against what the issue
promises: per leg, at most one ``CALL_LEG_STARTED`` then at most one
``CALL_LEG_ENDED`` on ``conversation``, with ``CALL_HOLD`` / ``CALL_RESUME``
alternating in between, all in the customer's existing channel session,
published exactly when the leg's state says it was accepted / ended after
acceptance / is held; B's task is created with the start and closed (or
converted, after a transfer or conference) with the end; a rejected line
changes no leg and does not move the clock; every CIM object validates
against the upstream schemas (when they are present) and parses back with
the library's own parsers. At teardown the clock jumps far ahead and the
totals are checked once more.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import attrs
from cim_schemas import CimSchemas, schema_dir
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule
from strategies import (
    AGENTS,
    CUSTOMER_ANI,
    Illegal,
    bad_lines,
    cti_script,
    delays,
    illegal_inputs,
)

from consultfsm.ccm.engine import DEFAULT_ENDED_SESSION_MS
from consultfsm.ccm.machine import CcmConfig
from consultfsm.ccm.table import UNOBSERVED
from consultfsm.core.states import (
    ACCEPTED_ENDINGS,
    INPUT_REGION,
    ON_CALL_STATES,
    OUTCOMES,
    TIMER_OF_INPUT,
    CallState,
    InputKind,
    Region,
)
from consultfsm.replay.system import Record, System
from consultfsm.wire.cim import parse_conversation_event, parse_message

SESSION, CONVERSATION = "S1", "C1"
#: A second customer, on another session: no consult may ever land there.
OTHER_SESSION, OTHER_ANI = "S2", "+923337654321"
PAIRS = [(a, b) for a in AGENTS for b in AGENTS if a != b]
#: The CTI inputs of a leg, by trace spelling (``dropped`` is ``by`` someone).
CTI = (
    "alerting", "offered", "accepted", "rona", "no_agent", "held", "retrieved", "transferred",
    "conferenced", "rekeyed", "failed", "dropped_a", "dropped_b", "dropped_customer",
)  # fmt: skip
STARTED, ENDED, HOLD, RESUME = "CALL_LEG_STARTED", "CALL_LEG_ENDED", "CALL_HOLD", "CALL_RESUME"


#: Each leg's consult dialog is its own (Finesse never has two live consults
#: on one dialog); a re-key moves it to another of the leg's own.
def _dialog(leg_id: str, n: int = 0) -> str:
    return f"D-{leg_id}-{n % 3}"


_root = schema_dir()
SCHEMAS = CimSchemas(_root) if (_root / "cim-message.json").is_file() else None


def _was_accepted(call: CallState) -> bool:
    return call in ON_CALL_STATES or call in ACCEPTED_ENDINGS


def _converted(call: CallState) -> bool:
    return call in ACCEPTED_ENDINGS and OUTCOMES[call].task_becomes is not None


@attrs.frozen
class Spec:
    """A leg the machine created: A, and B (for a queue consult, the agent the
    queue will offer it to; the leg knows B only once it is offered)."""

    leg_id: str
    agent_a: str
    agent_b: str
    queue: bool = False


def leg_line(spec: Spec, kind: InputKind, at: int) -> dict[str, Any]:
    """A leg input as a replay line (a timer expiry is a tick: the replay fires timers)."""
    base: dict[str, Any] = {"at": at}
    if kind in TIMER_OF_INPUT:
        return {**base, "input": "tick"}
    by = {InputKind.DROPPED_BY_A: spec.agent_a, InputKind.DROPPED_BY_B: spec.agent_b,
          InputKind.CUSTOMER_LEFT: "customer"}.get(kind)  # fmt: skip
    if by is not None:
        return {**base, "input": "dropped", "leg": spec.leg_id, "by": by}
    if kind is InputKind.OFFERED:
        return {**base, "input": "offered", "leg": spec.leg_id, "agent": spec.agent_b}
    if kind is InputKind.REKEYED:
        return {**base, "input": "rekeyed", "leg": spec.leg_id, "dialog": _dialog(spec.leg_id, at)}
    if INPUT_REGION[kind] is Region.CALL:
        return {**base, "input": kind.value, "leg": spec.leg_id}
    agent = spec.agent_a if INPUT_REGION[kind] is Region.DESK_A else spec.agent_b
    what = next(w for w in ("disconnected", "restored", "logged_out") if w in kind.value)
    return {**base, "input": "logged_out" if what == "logged_out" else f"browser_{what}",
            "agent": agent}  # fmt: skip


class ReplaySystem(RuleBasedStateMachine):
    """A System fed random trace lines; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.system = System()
        self.specs: dict[str, Spec] = {}
        self.lines: list[str] = []  # the trace so far, printed on failure
        self.records: list[Record] = []
        # Per leg: the events on conversation / to the routing engine, in order.
        self.published: dict[str, list[str]] = {}
        self.source_at = 0  # the CTI's own clock, for reports that carry it
        self.tasks: dict[str, list[str]] = {}
        self.sent: dict[tuple[str, str], Any] = {}  # (leg, intent) -> B's CIM message
        # Legs a desk posted about on its own (``desk_resends``): the CCM has
        # no CTI, so what it publishes for them need not follow the world.
        self.strayed: set[str] = set()
        self.seen_ends: set[str] = set()  # legs the CCM published a seen end of
        # When the customer's session ended, and when the CCM first heard of
        # each leg: a consult first heard of past the ended session's horizon
        # finds no session (docs/ccm.md), however the world went on.
        self.session_ended_at: int | None = None
        self.first_heard: dict[str, int] = {}

    # -- feeding --------------------------------------------------------------------

    @property
    def now(self) -> int:
        return self.system.now

    def feed(self, line: str | dict[str, Any]) -> list[Record]:
        """Feed one line, check what it produced, remember it."""
        text = line if isinstance(line, str) else json.dumps(line)
        self.lines.append(text)
        note(text)
        legs_before = {leg.leg_id: leg.snapshot() for leg in self.system.legs}
        sessions_before = dict(self.system.sessions)
        now_before, rejected_before = self.system.now, self.system.rejected
        records = self.system.feed_line(text, len(self.lines))
        rejected = [r for r in records if r["event"] == "input_rejected"]
        if rejected:
            # All or nothing: one record, no leg moved, no timer fired, clock kept.
            assert records == rejected and len(rejected) == 1, records
            assert self.system.rejected == rejected_before + 1
            assert {leg.leg_id: leg.snapshot() for leg in self.system.legs} == legs_before
            assert self.system.sessions == sessions_before
            assert self.system.now == now_before
        else:
            assert self.system.now >= now_before
            assert all(r["at"] <= self.system.now for r in records)
        for record in records:
            self._check_record(record)
        self.records.extend(records)
        self._check_legs()
        return records

    def _check_record(self, record: Record) -> None:
        leg = record["leg"]
        if record["to"] == "conversation":
            events = self.published.setdefault(leg, [])
            events.append(record["event"])
            # Both in the customer's existing session, never a new one.
            assert record["channel_session_id"] == SESSION, record
            assert record["channel_session"]["id"] == SESSION
            event = parse_conversation_event(record["message"])
            assert event.channel_session.id == SESSION
            assert event.conversation_id == CONVERSATION
            # (a desk's own stray post may not name the session)
            assert event.data.header.channel_session_id in (SESSION, None)
            assert event.name.value == record["event"]
            assert _alternates(events), (leg, events)
            if record["event"] == ENDED and record.get("reason") != UNOBSERVED:
                self.seen_ends.add(leg)
        elif record["to"] == "routing_engine":
            tasks = self.tasks.setdefault(leg, [])
            tasks.append(record["event"])
            assert tasks[0] == "task_created" and len(tasks) <= 2, (leg, tasks)
        elif record["event"] == "cim_message":
            self.first_heard.setdefault(leg, record["at"])
            message = parse_message(record["message"])
            assert message.header.channel_session_id in (SESSION, None)
            self.sent[(leg, record["intent"])] = record["message"]
        if SCHEMAS is not None and (
            record["event"] == "cim_message" or record["to"] == "conversation"
        ):
            self._validate(record)

    def _validate(self, record: Record) -> None:
        assert SCHEMAS is not None
        if record["event"] == "cim_message":
            SCHEMAS.check_message(record["message"])
        else:
            SCHEMAS.check_conversation_event(record["message"])

    def _check_legs(self) -> None:
        """After every line: the CCM, which hears only the desks, never
        publishes a start the world did not have, nor an end it did not see
        (other than its last resort); the world's tasks follow the leg."""
        assert set(self.system.sessions) <= {SESSION, OTHER_SESSION}  # none created
        for leg in self.system.legs:
            published = self.published.get(leg.leg_id, [])
            accepted = _was_accepted(leg.call)
            if leg.leg_id not in self.strayed:
                assert STARTED not in published or accepted, (leg, published)
                # (an end seen before the leg was known lost is the leg model's
                # own: A's drop while B's desk was away, say)
                assert leg.leg_id not in self.seen_ends or leg.call in ACCEPTED_ENDINGS, leg
            tasks = self.tasks.get(leg.leg_id, [])
            created = ["task_created"] if accepted else []
            closed = (
                ["task_converted" if _converted(leg.call) else "task_closed"]
                if leg.call in ACCEPTED_ENDINGS
                else []
            )
            assert tasks == created + closed, (leg, tasks)
            assert leg.facts.channel_session_id == SESSION

    # -- setting up -----------------------------------------------------------------

    @initialize(
        windows=st.tuples(st.sampled_from([500, 2_000, 15_000]), st.sampled_from([500, 60_000])),
        epoch=st.sampled_from([0, 1_739_455_031_000]),
        pairs=st.lists(st.sampled_from(PAIRS), min_size=1, max_size=3),
    )
    def start(self, windows: tuple[int, int], epoch: int, pairs: list[tuple[str, str]]) -> None:
        ring, grace = windows
        self.feed({"at": 0, "input": "config", "ring_ms": ring, "grace_ms": grace,
                   "epoch_ms": epoch})  # fmt: skip
        for session, conversation, ani in ((SESSION, CONVERSATION, CUSTOMER_ANI),
                                           (OTHER_SESSION, "C2", OTHER_ANI)):  # fmt: skip
            self.feed({"at": 0, "input": "customer_session_started", "session": session,
                       "conversation": conversation, "customer_ani": ani,
                       "dialog": f"D-{session}", "agents": ["A"]})  # fmt: skip
        for a, b in pairs:
            self._consult(a, b)

    def _consult(self, a: str, b: str, kind: str = "routed") -> None:
        leg_id = f"L{len(self.specs) + 1}"
        spec = Spec(leg_id, a, b, queue=kind == "queue")
        line = {"at": self.now, "input": "consult_initiated", "leg": leg_id, "agent_a": a,
                "agent_b": None if spec.queue else b, "customer_ani": CUSTOMER_ANI,
                "call_id": _dialog(leg_id)}  # fmt: skip
        if kind != "routed":
            line[kind] = True
        if len(self.specs) % 2 == 1:  # UCCE: the dialog URI; else the ANI (CCX)
            line["associated_dialog_uri"] = f"/finesse/api/Dialog/D-{SESSION}"
        records = self.feed(line)
        if SESSION not in self.system.sessions:  # the customer is gone: no consult
            assert [r["event"] for r in records] == ["input_rejected"], records
            return
        self.specs[leg_id] = spec
        resolved = records[0]
        assert resolved["event"] == "session_resolved", resolved
        assert resolved["channel_session_id"] == SESSION

    def _spec(self, data: st.DataObject) -> Spec:
        return self.specs[data.draw(st.sampled_from(sorted(self.specs)))]

    # -- rules ----------------------------------------------------------------------

    @precondition(lambda self: len(self.specs) < 5)
    @rule(pair=st.sampled_from(PAIRS), kind=st.sampled_from(["routed", "direct", "queue"]))
    def new_consult(self, pair: tuple[str, str], kind: str) -> None:
        self._consult(*pair, kind=kind)

    @precondition(lambda self: bool(self.specs))
    @rule(data=st.data(), kind=st.sampled_from(CTI), dt=delays(), source=st.sampled_from(
        [None, None, "now", "stale"]))  # fmt: skip
    def cti(self, data: st.DataObject, kind: str, dt: int, source: str | None) -> None:
        spec = self._spec(data)
        line: dict[str, Any] = {"at": self.now + dt, "leg": spec.leg_id}
        if kind.startswith("dropped"):
            by = {"dropped_a": spec.agent_a, "dropped_b": spec.agent_b}.get(kind, "customer")
            line.update(input="dropped", by=by)
        elif kind == "offered":
            line.update(input=kind, agent=data.draw(st.sampled_from([spec.agent_b, *AGENTS])))
        elif kind == "rekeyed":
            line.update(input=kind, dialog=_dialog(spec.leg_id, data.draw(st.integers(0, 2))))
        else:
            line["input"] = kind
        if source == "now":  # the CTI's clock moves on with every report
            self.source_at += 1 + dt
            line["source_at"] = self.source_at
        elif source == "stale":  # a report from before the last one
            line["source_at"] = max(0, self.source_at - 1)
        self.feed(line)

    @precondition(lambda self: SESSION in self.system.sessions)
    @rule(dt=delays())
    def customer_hangs_up(self, dt: int) -> None:
        """The customer's call ends: every unfinished leg is told, the consults go on."""
        live = [leg for leg in self.system.legs if not leg.is_finished]
        at = self.now + dt
        records = self.feed({"at": at, "input": "customer_session_ended", "session": SESSION})
        if not any(r["event"] == "input_rejected" for r in records):
            assert SESSION not in self.system.sessions
            self.session_ended_at = at
            # Every leg still live when the news reached it was told; one that
            # a timer due by then ended first (it fires before the input) was not.
            assert all(leg.customer.value == "left" or leg.is_finished for leg in live)
            assert any(leg.customer.value == "left" for leg in live) or all(
                leg.is_finished for leg in live)  # fmt: skip

    @precondition(lambda self: bool(self.specs))
    @rule(data=st.data(), script=cti_script())
    def cti_script_duplicated_and_reordered(self, data: st.DataObject, script: list[Any]) -> None:
        spec = self._spec(data)
        at = self.now
        for move in script:
            at += move.dt or 0
            self.feed(leg_line(spec, move.kind, at))
            at = max(at, self.now)

    @rule(
        agent=st.sampled_from([*AGENTS, "Q"]),  # Q has no leg: ignored, never rejected
        kind=st.sampled_from(["browser_disconnected", "browser_restored", "logged_out"]),
        dt=delays(),
        repeat=st.booleans(),
    )
    def browser(self, agent: str, kind: str, dt: int, repeat: bool) -> None:
        line = {"at": self.now + dt, "input": kind, "agent": agent}
        first = self.feed(line)
        if repeat and not any(r["event"] == "input_rejected" for r in first):
            again = self.feed(line)  # a duplicate: ignored, never a rejection
            assert again and all(r["event"] == "input_ignored" for r in again), again

    @rule(dt=st.one_of(delays(), st.integers(0, 200_000)))
    def tick(self, dt: int) -> None:
        self.feed({"at": self.now + dt, "input": "tick"})

    @precondition(lambda self: bool(self.specs))
    @rule(data=st.data(), offset=st.sampled_from([-1, 0, 1]))
    def at_a_deadline(self, data: st.DataObject, offset: int) -> None:
        deadlines = sorted(d for leg in self.system.legs for d in leg.deadlines.values())
        at = max(self.now, deadlines[0] + offset) if deadlines else self.now
        spec = self._spec(data)
        kind = data.draw(st.sampled_from([InputKind.ACCEPTED, InputKind.DROPPED_BY_A,
                                          InputKind.OFFERED]))  # fmt: skip
        self.feed(leg_line(spec, kind, at))

    @precondition(lambda self: bool(self.specs))
    @rule(data=st.data(), sender_is_a=st.booleans(), dt=delays())
    def desk_resends(self, data: st.DataObject, sender_is_a: bool, dt: int) -> None:
        """A desk re-sends B's message, or reports what the CTI has not (yet) said."""
        spec = self._spec(data)
        intent = data.draw(st.sampled_from([STARTED, ENDED, HOLD, RESUME]))
        sender = spec.agent_a if sender_is_a else spec.agent_b
        resent = self.sent.get((spec.leg_id, intent))
        role = [{"key": "consultRole", "type": "String2000",
                 "value": "CONSULTING" if sender_is_a else "CONSULTED"}]  # fmt: skip
        message = resent or {
            "id": f"own-{spec.leg_id}-{intent}",
            "header": {"sender": {"id": sender, "type": "AGENT"},
                       "channelData": {"customerChannelIdentifier": CUSTOMER_ANI,
                                       "serviceIdentifier": "8001",
                                       "additionalAttributes": role},
                       "intent": intent, "timestamp": 1739455031000},
            "body": {"type": "VOICE", "markdownText": None, "leg": f"-:{sender}:{spec.leg_id}"},
        }  # fmt: skip
        if resent is None:
            self.strayed.add(spec.leg_id)
        published = {(r["leg"], r["event"]) for r in self.records if r["to"] == "conversation"}
        records = self.feed(
            {"at": self.now + dt, "input": "cim_message", "from": sender, "message": message}
        )
        # A once-per-leg intent already published is never published again.
        if intent in (STARTED, ENDED) and (spec.leg_id, intent) in published:
            assert (spec.leg_id, intent) not in {
                (r["leg"], r["event"]) for r in records if r["to"] == "conversation"
            }, records

    @rule(line=bad_lines())
    def malformed(self, line: str) -> None:
        (rejected,) = self.feed(line)
        assert rejected["event"] == "input_rejected"

    @rule(illegal=illegal_inputs(), past_a_deadline=st.booleans())
    def illegal(self, illegal: Illegal, past_a_deadline: bool) -> None:
        """Often just past a pending deadline: the timers fire, then the input
        is refused, and all of it must be undone."""
        deadlines = [d for leg in self.system.legs for d in leg.deadlines.values()]
        after = min(deadlines) if past_a_deadline and deadlines else None
        line = illegal.line(self.now, after)
        if line is not None:
            (rejected,) = self.feed(line)
            assert rejected["event"] == "input_rejected"

    # -- the end --------------------------------------------------------------------

    def teardown(self) -> None:
        """Every page comes back and reads its dialogs, every timer runs out:
        then the CCM has published each start the world had, and each end."""
        if not self.specs:
            return
        away = [agent for agent in AGENTS if not self.system.desk_is_up(agent)]
        restored = all(
            not any(r["event"] == "input_rejected" for r in self.feed(
                {"at": self.now, "input": "browser_restored", "agent": agent}))
            for agent in away
        )  # fmt: skip
        self.feed({"at": self.now + CcmConfig().away_ms + 10 * 60_000, "input": "tick"})
        counts = Counter((r["leg"], r["event"]) for r in self.records if r["to"] == "conversation")
        for leg in self.system.legs:
            assert not leg.deadlines, leg
            if leg.leg_id in self.strayed:
                continue
            if self._heard_too_late(leg.leg_id):
                # The session had ended past its horizon when the CCM first
                # heard of the leg: nothing to attach it to, so nothing published.
                assert not any(counts[(leg.leg_id, e)] for e in (STARTED, HOLD, RESUME, ENDED))
                assert any(r["event"] == "ccm_refused" and r["leg"] == leg.leg_id
                           and r["reason"].startswith("SessionNotFound")
                           for r in self.records), leg  # fmt: skip
                continue
            accepted = _was_accepted(leg.call)
            assert counts[(leg.leg_id, STARTED)] <= int(accepted), leg
            if restored:  # someone saw it: it is published, and its end
                assert counts[(leg.leg_id, STARTED)] == int(accepted), leg
                if leg.call in ACCEPTED_ENDINGS:
                    assert counts[(leg.leg_id, ENDED)] == 1, leg

    def _heard_too_late(self, leg_id: str) -> bool:
        first = self.first_heard.get(leg_id)
        ended = self.session_ended_at
        return ended is not None and first is not None and first > ended + DEFAULT_ENDED_SESSION_MS


TestReplaySystem = ReplaySystem.TestCase


def _alternates(published: list[str]) -> bool:
    """STARTED, then holds and resumes alternating, then at most ENDED, last."""
    if not published:
        return True
    inside = published[1:-1] if published[-1] == ENDED and len(published) > 1 else published[1:]
    return published[0] == STARTED and inside == [HOLD, RESUME] * (len(inside) // 2) + (
        [HOLD] if len(inside) % 2 else []
    )
