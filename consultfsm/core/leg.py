"""The runtime: a consult leg that takes inputs and returns the events they emit.

In the style of h2's ``stream.py``: ``(state, input) -> (side effect, next
state)``, where the side effect is the tuple of emitted events. A :class:`Leg`
runs a table compiled by :func:`~consultfsm.core.executor.compile_table` (the
real one by default; :func:`leg_class` gives legs of any other). A step is one
list index, one dict lookup, and the row's straight-line code; it does no work
proportional to the number of legs, allocates no per-leg machine, and keeps no
reference from the leg to anything but shared, immutable data.

Sans-I/O: the leg never reads a clock. Every input carries its time in integer
milliseconds; timers are deadlines kept in the leg (table rule 5). A host asks
the leg: :attr:`Leg.next_deadline` says when to wake up and
:meth:`Leg.handle_timers` fires whatever is due then (aioquic's
``get_timer()`` / ``handle_timer(now)``), so it can never deliver a wrong
expiry. A host that schedules one timer per ``timer_started`` event and feeds
the timeout input instead works too: a stale or early expiry is absorbed.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any, ClassVar

from . import _speed
from .errors import (
    ConfigError,
    IllegalInput,
    InvalidLeg,
    InvalidTime,
    SnapshotError,
    TimeWentBackwards,
)
from .executor import DEADLINE_SLOT, DECODE, ENCODE, LegState, Program, compile_table
from .facts import DEFAULT_CONFIG, FACT_SLOTS, LegConfig, LegFacts
from .snapshot import LegSnapshot
from .states import (
    INITIAL,
    INPUT_REGION,
    TERMINAL_CALL_STATES,
    TIMEOUT_INPUT,
    VALUE_OF_INPUT,
    CallState,
    CustomerState,
    DeskState,
    InputKind,
    Region,
    Timer,
)
from .step import EXPIRY_ABSORBED, STALE, Step
from .table import Disposition, Row
from .text import is_writable

_read_facts = attrgetter(*FACT_SLOTS.values())
_facts_of = _speed.trusted_constructor(LegFacts)  # the values were validated on the way in
_INITIAL_PACKED = ENCODE[LegState(*INITIAL.values())]  # type: ignore[arg-type]
_QUEUED_PACKED = ENCODE[LegState(CallState.QUEUED, *list(INITIAL.values())[1:])]  # type: ignore[arg-type]
_TIMERS = tuple(Timer)  # ties between deadlines fire in this order
_DEADLINE_SLOTS = tuple(DEADLINE_SLOT.values())


def _compile_real(cls: type[Leg]) -> None:
    _bind(cls, compile_table())


class Leg:
    """One consult leg, A -> B, and everything the system must do about it.

    >>> leg = Leg("L1", agent_a="A", agent_b="B", customer_ani="+923001234567",
    ...           conversation_id="C1", channel_session_id="S1")
    >>> [e.kind.value for e in leg.handle(InputKind.ALERTING, at=200).events]
    ['alert_shown', 'timer_started']
    >>> str(leg.state)
    'ringing/connected/connected/present'

    The arguments are the leg's :class:`~consultfsm.core.facts.LegFacts`
    (validated there: facts that cannot be right raise :class:`InvalidLeg`),
    its timer windows and the time it was created.
    """

    __slots__ = (
        "_state", "config", "last_at", "cti_at", "former_call_ids",
        *DEADLINE_SLOT.values(), *FACT_SLOTS.values(),
    )  # fmt: skip

    #: The compiled table this class runs (the real one, compiled when a leg
    #: first steps, not at import); :func:`leg_class` makes others.
    program: ClassVar[Program] = _speed.OnFirstUse(_compile_real)  # type: ignore[assignment]
    _dispatch: ClassVar[tuple[dict[InputKind, Any], ...]] = _speed.OnFirstUse(_compile_real)  # type: ignore[assignment]

    _leg_id: str  # the first fact's slot (FACT_SLOTS), which every error names
    _agent_a: str  # the fact slots a value input checks or re-keys
    _call_id: str | None
    config: LegConfig
    last_at: int
    #: The source time (Finesse ``stateChangeTime``) of the last CTI report
    #: that moved the call region, when reports carry one (rule 8).
    cti_at: int | None
    #: The dialog ids the consult had before it was re-keyed, oldest first.
    former_call_ids: tuple[str, ...]
    ring_deadline: int | None
    queue_deadline: int | None
    grace_a_deadline: int | None
    grace_b_deadline: int | None

    def __init__(
        self,
        leg_id: str,
        agent_a: str,
        agent_b: str,  # None only through queue_consult
        customer_ani: str,
        *,
        conversation_id: str,
        channel_session_id: str,
        call_id: str | None = None,
        service_identifier: str | None = None,
        associated_dialog_uri: str | None = None,
        config: LegConfig = DEFAULT_CONFIG,
        created_at: int = 0,
    ) -> None:
        # The plain path; _speed replaces it below with one built from the same
        # declarations that only falls back here when something is wrong.
        if agent_b is None:
            why = "agent_b must be a string: a consult to a queue (no agent yet) is queue_consult"
            raise InvalidLeg("agent_b", why)
        self._take(LegFacts(
            leg_id, agent_a, agent_b, customer_ani, conversation_id=conversation_id,
            channel_session_id=channel_session_id, call_id=call_id,
            service_identifier=service_identifier, associated_dialog_uri=associated_dialog_uri,
        ))  # fmt: skip
        self._start(config, created_at)

    @classmethod
    def from_facts(
        cls, facts: LegFacts, *, config: LegConfig = DEFAULT_CONFIG, created_at: int = 0
    ) -> Leg:
        """A new leg (every region in its initial state) with these facts."""
        if not isinstance(facts, LegFacts):
            raise InvalidLeg("facts", f"facts must be LegFacts, got {type(facts).__name__}")
        if facts.agent_b is None:
            raise InvalidLeg("agent_b", "a leg without agent_b is a queue consult: "
                             "Leg.queue_consult(...)")  # fmt: skip
        return cls._new(facts, config, created_at)

    @classmethod
    def queue_consult(
        cls,
        leg_id: str,
        agent_a: str,
        customer_ani: str,
        *,
        conversation_id: str,
        channel_session_id: str,
        call_id: str | None = None,
        service_identifier: str | None = None,
        associated_dialog_uri: str | None = None,
        config: LegConfig = DEFAULT_CONFIG,
        created_at: int = 0,
    ) -> Leg:
        """A consult A placed to a queue: it waits there (``queued``) until the
        queue offers it to an agent (input ``offered`` with the agent's id), and
        its time to live (``config.queue_ttl_ms``) runs from ``created_at``.

        >>> leg = Leg.queue_consult("Q1", "A", "+923001234567",
        ...                         conversation_id="C1", channel_session_id="S1")
        >>> str(leg.state), leg.facts.agent_b
        ('queued/connected/connected/present', None)
        >>> [e.kind.value for e in leg.handle(InputKind.OFFERED, 900, "B").events]
        ['alert_shown', 'timer_started']
        """
        facts = LegFacts(
            leg_id, agent_a, None, customer_ani, conversation_id=conversation_id,
            channel_session_id=channel_session_id, call_id=call_id,
            service_identifier=service_identifier, associated_dialog_uri=associated_dialog_uri,
        )  # fmt: skip
        leg = cls._new(facts, config, created_at)
        leg._state = _QUEUED_PACKED
        ttl = config.queue_ttl_ms
        leg.queue_deadline = None if ttl is None else created_at + ttl  # entering queued (rule 5)
        return leg

    @classmethod
    def _new(cls, facts: LegFacts, config: LegConfig, created_at: int) -> Leg:
        leg = cls.__new__(cls)
        leg._take(facts)
        leg._start(config, created_at)
        return leg

    def _take(self, facts: LegFacts) -> None:
        for name, slot in FACT_SLOTS.items():
            setattr(self, slot, getattr(facts, name))

    def _start(self, config: LegConfig, created_at: int) -> None:
        # Everything but the facts, checked: a leg that exists can always step.
        if not isinstance(config, LegConfig):
            raise ConfigError("config", f"config must be a LegConfig, got {type(config).__name__}")
        if created_at.__class__ is not int:
            raise InvalidLeg(
                "created_at", f"created_at must be an integer of ms, got {created_at!r}"
            )
        self.config, self._state, self.last_at = config, _INITIAL_PACKED, created_at
        self.cti_at, self.former_call_ids = None, ()
        for slot in _DEADLINE_SLOTS:
            setattr(self, slot, None)

    # -- reading the state ------------------------------------------------------

    @property
    def facts(self) -> LegFacts:
        """The leg's identifying facts (kept in the leg's own slots)."""
        return _facts_of(*_read_facts(self))

    @property
    def leg_id(self) -> str:
        """The leg's id (its first fact), which every error names."""
        return self._leg_id

    @property
    def state(self) -> LegState:
        """The state of each region."""
        return DECODE[self._state]

    @property
    def call(self) -> CallState:
        """The call region's state."""
        return DECODE[self._state].call

    @property
    def desk_a(self) -> DeskState:
        """A's desk region state."""
        return DECODE[self._state].desk_a

    @property
    def desk_b(self) -> DeskState:
        """B's desk region state."""
        return DECODE[self._state].desk_b

    @property
    def customer(self) -> CustomerState:
        """The customer region's state."""
        return DECODE[self._state].customer

    @property
    def call_ids(self) -> tuple[str, ...]:
        """Every dialog id the consult is known by, current last: a host
        indexes them all so that a late update on an old id still finds it."""
        current = self._call_id
        return self.former_call_ids if current is None else (*self.former_call_ids, current)

    def deadline(self, timer: Timer) -> int | None:
        """The pending deadline of ``timer`` (absolute ms), or None."""
        value: int | None = getattr(self, DEADLINE_SLOT[timer])
        return value

    @property
    def deadlines(self) -> dict[Timer, int]:
        """Every pending deadline."""
        return {t: d for t in _TIMERS if (d := getattr(self, DEADLINE_SLOT[t])) is not None}

    @property
    def next_deadline(self) -> tuple[Timer, int] | None:
        """The earliest pending deadline (ties in :class:`Timer` order), for a
        host that keeps one timer per leg; None when nothing is pending."""
        best: tuple[Timer, int] | None = None
        for timer in _TIMERS:
            deadline = getattr(self, DEADLINE_SLOT[timer])
            if deadline is not None and (best is None or deadline < best[1]):
                best = (timer, deadline)
        return best

    @property
    def is_finished(self) -> bool:
        """The call has ended and no timer is pending: the leg will emit nothing
        more, whatever it is told, and the host may forget it."""
        return DECODE[self._state].call in TERMINAL_CALL_STATES and not any(
            getattr(self, slot) is not None for slot in _DEADLINE_SLOTS
        )

    def __repr__(self) -> str:
        return f"<Leg {self._leg_id} {self.state} at {self.last_at}>"

    # -- the step ----------------------------------------------------------------

    def handle(
        self, kind: InputKind, at: int, value: str | None = None, *, source_at: int | None = None
    ) -> Step:
        """Apply one input at time ``at`` (ms) and return what it did.

        ``value`` is what an input that carries one sets
        (``states.VALUE_OF_INPUT``: the agent of ``offered``, the dialog id of
        ``rekeyed``); ``source_at`` is the time the source itself gives the
        report (Finesse ``stateChangeTime``), which rule 8 uses to absorb a
        stale CTI report.

        Raises :class:`InvalidTime` when ``at`` (or ``source_at``) is not an
        ``int``, :class:`IllegalInput` when no row accepts the input in this
        state (or it lacks, or should not have, a value) and
        :class:`TimeWentBackwards` when ``at`` precedes the last input, checked
        in that order; :class:`InvalidLeg` for a value the fact cannot take.
        In every case the leg is unchanged. A duplicate or a late input
        returns a step with that disposition and no events; so does the expiry
        of a timer that is not pending or not yet due (rule 5).
        """
        if value is not None or source_at is not None:
            return self._handle_reported(kind, at, value, source_at)
        if at.__class__ is not int:  # not a float (NaN would never be due), not a bool
            raise InvalidTime(
                self._leg_id, str(self.state), kind, at, f"time must be integer ms, got {at!r}"
            )
        try:
            plan = self._dispatch[self._state].get(kind)
        except TypeError:  # an unhashable kind (a list, a dict) is no input either
            plan = None
        if plan is None:
            raise IllegalInput(self._leg_id, str(self.state), kind, at, "no transition for it")
        if at < self.last_at:
            raise TimeWentBackwards(
                self._leg_id, str(self.state), kind, at,
                f"the leg is already at {self.last_at} ms",
            )  # fmt: skip
        if plan.due_slot:
            deadline = getattr(self, plan.due_slot)
            if deadline is None or at < deadline:
                return EXPIRY_ABSORBED
        step: Step | None = plan.step
        if step is not None:
            return step
        applied: Step = plan.apply(self, at)
        return applied

    def _handle_reported(
        self, kind: InputKind, at: int, value: str | None, source_at: int | None
    ) -> Step:
        """``handle`` with a value or a source time: the same checks in the
        same order, then rule 8 (stale) and the value's own rules."""
        if at.__class__ is not int or (source_at is not None and source_at.__class__ is not int):
            why = f"times must be integer ms, got {at!r}, source_at={source_at!r}"
            raise InvalidTime(self._leg_id, str(self.state), kind, at, why)
        try:
            known = kind in INPUT_REGION
        except TypeError:  # an unhashable kind (a list, a dict)
            known = False
        if not known:
            raise IllegalInput(self._leg_id, str(self.state), kind, at, "no such input")
        fact = VALUE_OF_INPUT.get(kind)
        if (value is None) != (fact is None):
            why = f"carries {fact}, and none was given" if fact else "carries no value"
            raise IllegalInput(self._leg_id, str(self.state), kind, at, why)
        if fact is not None:
            self._check_value(fact, value)
        # Rule 8 comes before the table: a report older than what the leg
        # already knows from the CTI is old news, whatever it says.
        from_cti = source_at is not None and INPUT_REGION[kind] is Region.CALL
        if from_cti and self.cti_at is not None and source_at < self.cti_at:  # type: ignore[operator]
            if at < self.last_at:
                raise TimeWentBackwards(self._leg_id, str(self.state), kind, at,
                                        f"the leg is already at {self.last_at} ms")  # fmt: skip
            return STALE
        try:
            plan = self._dispatch[self._state].get(kind)
        except TypeError:  # an unhashable kind (a list, a dict) is no input either
            plan = None
        if plan is None:
            raise IllegalInput(self._leg_id, str(self.state), kind, at, "no transition for it")
        if at < self.last_at:
            raise TimeWentBackwards(self._leg_id, str(self.state), kind, at,
                                    f"the leg is already at {self.last_at} ms")  # fmt: skip
        step = (
            self.handle(kind, at) if fact is None else self._apply_value(plan, fact, value, at)  # type: ignore[arg-type]
        )
        if from_cti and step.applied:
            self.cti_at = source_at
        return step

    def _check_value(self, fact: str, value: Any) -> None:
        # The value is the fact it sets, so the fact's own validation applies.
        if value.__class__ is not str or not value:
            raise InvalidLeg(fact, f"{fact} must be a non-empty string, got {value!r}")
        if not is_writable(value):
            raise InvalidLeg(fact, f"{fact} holds text that is not valid Unicode")
        if fact == "agent_b" and value == self._agent_a:
            raise InvalidLeg(fact, f"agent_a and agent_b are both {value!r}: a consult needs two")

    def _apply_value(self, plan: Any, fact: str, value: str, at: int) -> Step:
        row = plan.row
        slot = FACT_SLOTS[fact]
        current = getattr(self, slot)
        if row is None or row.disposition is not Disposition.APPLIED:
            # A repeated offer names the agent already offered, or it is a
            # contradiction (another agent), not a duplicate.
            if fact == "agent_b" and current is not None and value != current:
                raise IllegalInput(self._leg_id, str(self.state), row.input if row else fact, at,
                                   f"the leg is offered to {current!r}, not {value!r}")  # fmt: skip
            return Step(row.disposition, row) if row is not None else EXPIRY_ABSORBED
        if fact == "call_id":
            if value == current:
                return Step(Disposition.DUPLICATE, row)  # the same re-keying again
            if value in self.former_call_ids:
                return Step(Disposition.ABSORBED, row)  # a late update about an old id
            if current is not None:
                self.former_call_ids = (*self.former_call_ids, current)
        setattr(self, slot, value)
        applied: Step = plan.valued_apply(self, at)
        return applied

    def handle_timers(self, now: int) -> tuple[Step, ...]:
        """Fire every timer due at ``now``, earliest first, each at its own
        deadline (or at the leg's last input, if that is later), and return
        the steps; only what is still pending when its turn comes fires.
        Raises like :meth:`handle` for a bad ``now``, and
        :class:`IllegalInput` when a table leaves a due timer pending; either
        way the leg is as it was before the call."""
        if now.__class__ is not int:
            raise InvalidTime(self._leg_id, str(self.state), "timers", now,
                              f"time must be integer ms, got {now!r}")  # fmt: skip
        if now < self.last_at:
            raise TimeWentBackwards(self._leg_id, str(self.state), "timers", now,
                                    f"the leg is already at {self.last_at} ms")  # fmt: skip
        due = self.next_deadline
        if due is None or due[1] > now:
            return ()
        before = self.snapshot()  # all or nothing, like handle
        steps: list[Step] = []
        try:
            while due is not None and due[1] <= now:
                timer, deadline = due
                kind = TIMEOUT_INPUT[timer]
                steps.append(self.handle(kind, max(deadline, self.last_at)))
                due = self.next_deadline
                if due == (timer, deadline):  # not consumed: the table is broken
                    raise IllegalInput(self._leg_id, str(self.state), kind, deadline,
                                       "the due timer's row did not consume it")  # fmt: skip
        except BaseException:
            self.reset(before)
            raise
        return tuple(steps)

    def accepts(self, kind: InputKind, at: int) -> bool:
        """True when :meth:`handle` would not raise for this input."""
        if at.__class__ is not int or at < self.last_at:
            return False
        try:
            plan = self._dispatch[self._state].get(kind)
        except TypeError:  # an unhashable kind (a list, a dict) is no input either
            plan = None
        if plan is None or plan.valued:  # a value input steps only with its value
            return False
        if plan.due_slot and plan.row is None and plan.step is None:
            deadline = getattr(self, plan.due_slot)
            return deadline is None or at < deadline  # absorbed, else no row fires it
        return True

    # -- snapshots ---------------------------------------------------------------

    def snapshot(self) -> LegSnapshot:
        """Everything needed to rebuild this leg, as plain values."""
        state = DECODE[self._state]
        return LegSnapshot(
            self.facts, state.call, state.desk_a, state.desk_b, state.customer,
            self.ring_deadline, self.queue_deadline, self.grace_a_deadline, self.grace_b_deadline,
            self.last_at, self.cti_at, self.former_call_ids, self.config,
        )  # fmt: skip

    @classmethod
    def restore(cls, snap: LegSnapshot) -> Leg:
        """Rebuild a leg from a snapshot. Pending deadlines keep their absolute
        times, so a restored leg continues exactly as the original would."""
        if not isinstance(snap, LegSnapshot):
            raise SnapshotError("<root>", f"expected a LegSnapshot, got {type(snap).__name__}")
        config = DEFAULT_CONFIG if snap.config == DEFAULT_CONFIG else snap.config
        leg = cls.__new__(cls)  # not from_facts: a queue consult may have no agent yet
        leg._take(snap.facts)
        leg._start(config, snap.last_at)
        leg._state = ENCODE[LegState(snap.call, snap.desk_a, snap.desk_b, snap.customer)]
        leg.cti_at, leg.former_call_ids = snap.cti_at, snap.former_call_ids
        for slot in _DEADLINE_SLOTS:  # the snapshot's fields have the slots' names
            setattr(leg, slot, getattr(snap, slot))
        return leg

    def reset(self, snap: LegSnapshot) -> None:
        """Put this very leg back into a snapshot's state, in place, so that
        whoever holds the object sees it (a host undoing a rejected batch)."""
        restored = type(self).restore(snap)
        for slot in Leg.__slots__:
            setattr(self, slot, getattr(restored, slot))


PLAIN_INIT = Leg.__init__
Leg.__init__ = _speed.fast_leg_init(  # type: ignore[method-assign]
    PLAIN_INIT,
    {
        "_state": _INITIAL_PACKED,
        "cti_at": None,
        "former_call_ids": (),
        **dict.fromkeys(_DEADLINE_SLOTS),
    },
    config=DEFAULT_CONFIG,
    created_at=0,
)


def _bind(cls: type[Leg], program: Program) -> None:
    type.__setattr__(cls, "program", program)
    type.__setattr__(cls, "_dispatch", program.dispatch)


def leg_class(table: Program | tuple[Row, ...] | list[Row]) -> type[Leg]:
    """A :class:`Leg` subclass that runs ``table`` (rows, or a compiled
    :class:`Program`): how tests and the explorer run a modified table with
    the one executor."""
    program = table if isinstance(table, Program) else compile_table(table)
    cls = type("Leg", (Leg,), {"__slots__": (), "__module__": __name__})
    _bind(cls, program)
    return cls
