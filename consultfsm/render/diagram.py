"""Pictures of the leg, generated from the transition table and nothing else.

Pure, like the rest of the library: the generators return text (DOT,
Mermaid) and :func:`text_artifacts` / :func:`render_jobs` return the plan of
files to write and renderings to make. Nothing here runs Graphviz's ``dot`` or
touches a file: :mod:`consultfsm.render.files` (used by ``consultfsm diagram``)
does both. Every output is stable: states and inputs in their declaration
order, no timestamps, no absolute paths, so the files committed under
``diagrams/`` are golden and ``tests/test_diagrams.py`` fails when the table
moves on without them.

What is drawn
-------------
* :func:`state_dot` / :func:`state_mermaid`: the three orthogonal regions of a
  leg as clusters (Mermaid: concurrent composite states separated by ``--``).
  Applied rows are edges; rows that share source, target and input share one
  edge, one label line per row, so nothing is dropped. Duplicate and absorbed
  rows are self-loops that would bury the picture: they are listed in small
  print inside their state instead.
* A guard that reads *another* region than the row's own is written
  ``«region» guard`` (and coloured in DOT): that is where one region changes
  what another does, e.g. ``[«desk_b» b_offline]`` on a call edge means B's
  desk being down makes the CCM report the leg instead of the desk.
* :func:`transitions_dot`: the same table through ``transitions``' own
  ``HierarchicalGraphMachine.get_graph()``, for comparison. It draws the
  parallel regions as plain clusters and its labels carry input and guards
  only (no events, no timers), which is why the table-rendered diagram is the
  primary one.
* :func:`case_mermaid`: a ``sequenceDiagram`` of one scenario, from the events
  the real :class:`~consultfsm.core.leg.Leg` emitted for it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from enum import StrEnum
from html import escape

import attrs

from consultfsm.core import events as ev
from consultfsm.core.errors import ConsultFsmError
from consultfsm.core.events import label
from consultfsm.core.executor import LegState
from consultfsm.core.guards import GUARDS, Guard
from consultfsm.core.states import (
    ACCEPTED_ENDINGS,
    INITIAL,
    INPUT_REGION,
    REGION_STATES,
    TERMINAL_CALL_STATES,
    UNACCEPTED_ENDINGS,
    CallState,
    CustomerState,
    DeskState,
    InputKind,
    Region,
)
from consultfsm.core.table import TABLE, Disposition, Emit, Row, rows_for
from consultfsm.render.ccm_diagram import CCM_DIAGRAM, ccm_dot
from consultfsm.render.desk_diagram import DESK_DIAGRAM, desk_dot
from consultfsm.verify.scenarios import CASES, Case, CaseResult, run_case

#: The file stem of the main state diagram, and of the ``transitions`` variant.
STATE_DIAGRAM = "leg"
TRANSITIONS_DIAGRAM = "leg-transitions"
#: Where per-case sequence diagrams go, relative to the output directory.
CASES_DIR = "cases"
#: Every output format, in the order they are produced.
FORMATS: tuple[str, ...] = ("dot", "svg", "png", "mmd")
RENDERED: frozenset[str] = frozenset({"svg", "png"})

INSTALL_HINT = "install Graphviz (Debian/Ubuntu: apt-get install graphviz)"


class DotNotFound(ConsultFsmError):
    """Graphviz's ``dot`` executable is missing, so SVG/PNG cannot be rendered.

    Raised by :mod:`consultfsm.render.files`, which runs ``dot``. ``written``
    names the DOT files that were written anyway (empty when the caller only
    asked to render in memory).
    """

    def __init__(self, written: Sequence[str] = ()) -> None:
        self.written = tuple(written)
        where = f"; the DOT source was written to {', '.join(self.written)}" if written else ""
        super().__init__(
            f"Graphviz's `dot` executable was not found on PATH, so SVG/PNG cannot be "
            f"rendered{where}. To render, {INSTALL_HINT} and run `consultfsm diagram` again."
        )


# --- what guards read ----------------------------------------------------------------


class _View:
    """A GuardView over plain states."""

    def __init__(self, states: Sequence[StrEnum]) -> None:
        self.call = CallState(states[0])
        self.desk_a = DeskState(states[1])
        self.desk_b = DeskState(states[2])
        self.customer = CustomerState(states[3])


def _views() -> Iterable[tuple[StrEnum, ...]]:
    return itertools.product(*(REGION_STATES[r] for r in Region))


@functools.cache  # pure, and called for every label
def guard_reads(guard: Guard) -> frozenset[Region]:
    """The regions whose state ``guard`` depends on, found by evaluating it.

    Derived, not declared, so a new guard is classified correctly with no
    second edit.
    """
    fn = GUARDS[guard]
    reads: set[Region] = set()
    for states in _views():
        value = fn(_View(states))
        for i, region in enumerate(Region):
            for other in REGION_STATES[region]:
                changed = list(states)
                changed[i] = other
                if fn(_View(changed)) != value:
                    reads.add(region)
    return frozenset(reads)


def guard_meaning(guard: Guard) -> str:
    """What a guard tests, in table terms, e.g. ``desk_b in connected, restored``."""
    (region,) = guard_reads(guard)  # every static guard reads one region; a second would show here
    index = list(Region).index(region)
    initial = [INITIAL[r] for r in Region]
    holds = []
    for state in REGION_STATES[region]:
        view = list(initial)
        view[index] = state
        if GUARDS[guard](_View(view)):
            holds.append(state.value)
    return f"{region.value} in {', '.join(holds)}"


def _foreign(guard: Guard, region: Region) -> Region | None:
    """The other region a row's guard reads, or None when it reads its own."""
    reads = guard_reads(guard) - {region}
    return sorted(reads, key=list(Region).index)[0] if reads else None


def guard_text(row: Row) -> str:
    """``[g1 & «region» g2]``: a row's guards, cross-region reads marked; '' if none."""
    if not row.guards:
        return ""
    parts = []
    for g in row.guards:
        other = _foreign(g, row.region)
        parts.append(f"«{other.value}» {g.value}" if other else g.value)
    return "[" + " & ".join(parts) + "]"


# --- what rows do --------------------------------------------------------------------

#: Short names of the consumers, as the diagrams print them.
CONSUMER_SHORT: dict[ev.Consumer, str] = {
    ev.Consumer.AGENTDESK_A: "desk A",
    ev.Consumer.AGENTDESK_B: "desk B",
    ev.Consumer.CCM: "CCM",
    ev.Consumer.CONVERSATION: "topic",
    ev.Consumer.ROUTING_ENGINE: "RE",
    ev.Consumer.AGENT_MANAGER: "AM",
    ev.Consumer.HOST: "host",
}


def emit_text(e: Emit) -> str:
    """An emitted event as the diagrams print it, e.g. ``CIM CALL_LEG_STARTED→CCM``."""
    cls = e.event
    params = dict(e.params)
    if issubclass(cls, ev.CimCallLegStarted | ev.CimCallLegEnded):  # named by its intent
        name = f"CIM {cls.intent.value}"
    else:
        name = cls.kind.value
    if params.get("reported_by") is ev.Reporter.CCM:
        name += " by CCM"
    rest = {k: v for k, v in params.items() if k != "reported_by"}
    if rest:
        name += "(" + ",".join(f"{k}={getattr(v, 'value', v)}" for k, v in rest.items()) + ")"
    return f"{name}→{CONSUMER_SHORT[cls.to]}"


def effects(row: Row) -> list[str]:
    """A row's effects in the order the runtime produces them: cancel, events, start."""
    out = [f"cancel {row.cancel.value}"] if row.cancel is not None else []
    out += [emit_text(e) for e in row.emits]
    if row.start is not None:
        out.append(f"start {row.start.value}")
    return out


def row_text(row: Row, *, with_input: bool = True) -> str:
    """One row as one line: ``input [guards] / effects``."""
    parts = [row.input.value] if with_input else []
    if row.guards:
        parts.append(guard_text(row))
    if row.emits or row.start or row.cancel:
        parts.append("/ " + ", ".join(effects(row)))
    return " ".join(parts)


@attrs.frozen
class Edge:
    """The applied rows of one region from ``source`` to ``target`` on ``input``."""

    region: Region
    source: StrEnum
    target: StrEnum
    input: InputKind
    rows: tuple[Row, ...]


def _order(region: Region, state: StrEnum) -> int:
    return REGION_STATES[region].index(state)


def edges(region: Region) -> list[Edge]:
    """The region's applied rows grouped into edges, in state and input order."""
    groups: dict[tuple[StrEnum, StrEnum, InputKind], list[Row]] = {}
    for row in rows_for(region):
        if row.disposition is Disposition.APPLIED:
            groups.setdefault((row.source, row.target, row.input), []).append(row)
    inputs = list(InputKind)
    keys = sorted(
        groups,
        key=lambda k: (_order(region, k[0]), _order(region, k[1]), inputs.index(k[2])),
    )
    return [Edge(region, s, t, i, tuple(groups[(s, t, i)])) for s, t, i in keys]


def self_loops(region: Region, state: StrEnum) -> dict[Disposition, list[str]]:
    """The inputs a state answers with ``duplicate`` or ``absorbed``, as short text.

    When a state absorbs every input of its region except its duplicates (the
    terminal call states, rule 6), the absorbed list is the single phrase
    ``every other input``.
    """
    out: dict[Disposition, list[str]] = {Disposition.DUPLICATE: [], Disposition.ABSORBED: []}
    plain_absorbed: set[InputKind] = set()
    for row in rows_for(region):
        if row.source is state and row.disposition is not Disposition.APPLIED:
            out[row.disposition].append(row_text(row))
            if row.disposition is Disposition.ABSORBED and not row.guards:
                plain_absorbed.add(row.input)
    alphabet = {i for i in InputKind if INPUT_REGION[i] is region}
    duplicated = {r.input for r in rows_for(region) if r.source is state
                  and r.disposition is Disposition.DUPLICATE}  # fmt: skip
    if len(plain_absorbed) > 1 and plain_absorbed == alphabet - duplicated:
        out[Disposition.ABSORBED] = ["every other input"]
    return out


def _terminal(region: Region, state: StrEnum) -> bool:
    return region is Region.CALL and state in TERMINAL_CALL_STATES


def _node_id(region: Region, state: StrEnum) -> str:
    return f"{region.value}__{state.value}"


# --- DOT -----------------------------------------------------------------------------

#: Per region: cluster fill, node fill, and the ink of text that reads that region.
_COLORS: dict[Region, tuple[str, str, str]] = {
    Region.CALL: ("#eef4fb", "#d6e6f7", "#1f5fa8"),
    Region.DESK_A: ("#eef8ee", "#d5efd5", "#2e7d32"),
    Region.DESK_B: ("#fdf3e7", "#fbe0c0", "#c05800"),
    Region.CUSTOMER: ("#f4eefa", "#e4d6f2", "#6a3d9a"),
}
_CONSUMER_REGION: dict[ev.Consumer, Region] = {
    ev.Consumer.AGENTDESK_A: Region.DESK_A,
    ev.Consumer.AGENTDESK_B: Region.DESK_B,
}
_WRAP = 46  # characters per label line before an effect list wraps
_TITLE = "consult leg: four orthogonal regions (generated from consultfsm.core.table.TABLE)"


def _html(markup: str) -> str:
    """Wrap HTML-like label markup; Graphviz 2.43 rejects a ']' right after a tag
    inside a table cell, so square brackets travel as character references."""
    return "<" + markup.replace("[", "&#91;").replace("]", "&#93;") + ">"


def _ink(text: str, region: Region | None, *, bold: bool = False) -> str:
    out = escape(text, quote=False)
    if bold:
        out = f"<b>{out}</b>"
    if region is not None:
        out = f'<font color="{_COLORS[region][2]}">{out}</font>'
    return out


def _wrap(items: list[tuple[str, str]], first: str) -> list[str]:
    """Join (plain, markup) items with commas into lines of about ``_WRAP`` chars."""
    lines: list[str] = []
    plain, markup = first, escape(first, quote=False)
    for i, (p, m) in enumerate(items):
        sep = ", " if i else ""
        if i and len(plain) + len(sep) + len(p) > _WRAP:
            lines.append(markup + ",")
            plain, markup = "    " + p, "&nbsp;&nbsp;&nbsp;&nbsp;" + m
        else:
            plain, markup = plain + sep + p, markup + sep + m
    lines.append(markup)
    return lines


def _guard_markup(row: Row) -> str:
    parts = []
    for g in row.guards:
        other = _foreign(g, row.region)
        text = f"«{other.value}» {g.value}" if other else g.value
        parts.append(_ink(text, other, bold=other is not None))
    return "[" + " &amp; ".join(parts) + "]"


def _effect_items(row: Row) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    if row.cancel is not None:
        items.append((f"cancel {row.cancel.value}", f"<i>cancel {row.cancel.value}</i>"))
    for e in row.emits:
        text = emit_text(e)
        items.append((text, _ink(text, _CONSUMER_REGION.get(e.event.to))))
    if row.start is not None:
        items.append((f"start {row.start.value}", f"<i>start {row.start.value}</i>"))
    return items


def _edge_label(edge: Edge) -> str:
    lines = [f"<b>{escape(edge.input.value)}</b>"]
    for row in edge.rows:
        guard = _guard_markup(row) if row.guards else ""
        items = _effect_items(row)
        if not items:
            if guard:
                lines.append(guard)
            continue
        head = guard + " / " if guard else "/ "
        wrapped = _wrap(items, "")
        lines.append(head + wrapped[0])
        lines.extend(wrapped[1:])
    return _html('<br align="left"/>'.join(lines) + '<br align="left"/>')


def _node_label(region: Region, state: StrEnum) -> str:
    rows = [f'<tr><td align="center"><b>{escape(state.value)}</b></td></tr>']
    for disposition, prefix in ((Disposition.DUPLICATE, "dup"), (Disposition.ABSORBED, "absorbs")):
        texts = self_loops(region, state)[disposition]
        if not texts:
            continue
        markup = []
        for plain in texts:
            # Colour the cross-region guard inside the loop text, like on edges.
            text = plain
            for g in Guard:
                other = _foreign(g, region)
                marked = f"«{other.value}» {g.value}" if other else None
                if marked and marked in text:
                    text = text.replace(marked, "\0" + marked + "\1")
            pieces = escape(text, quote=False).split("\0")
            out = pieces[0]
            for piece in pieces[1:]:
                inside, _, after = piece.partition("\1")
                reg = Region(inside[1 : inside.index("»")])
                out += _ink(inside, reg) + after
            markup.append(out)
        body = f"{prefix}: " + "<br/>".join(markup)
        rows.append(f'<tr><td><font point-size="9" color="#555555">{body}</font></td></tr>')
    return _html('<table border="0" cellborder="0" cellspacing="1">' + "".join(rows) + "</table>")


def _legend() -> str:
    def row(cells: str) -> str:
        return f"<tr>{cells}</tr>"

    out = [
        row('<td colspan="2" align="left"><b>How to read this diagram</b></td>'),
        row(
            '<td colspan="2" align="left">Each edge: <b>input</b>, then one line per table row: '
            "[guards] / cancelled timer, emitted events→consumer, started timer.</td>"
        ),
        row(
            '<td colspan="2" align="left"><b>«region» guard</b> = the guard reads another '
            "region: there one region changes what another does.</td>"
        ),
        row(
            '<td colspan="2" align="left">dup: / absorbs: inside a state = inputs answered '
            "with <i>duplicate</i> / <i>absorbed</i> (no change, no events).</td>"
        ),
        row(
            '<td colspan="2" align="left">Double border = terminal call state. '
            "Consumers: desk A, desk B, CCM, topic = conversation topic, RE = Routing Engine, "
            "AM = Agent Manager, host = timers.</td>"
        ),
    ]
    for g in Guard:
        reads = guard_reads(g)
        region = sorted(reads, key=list(Region).index)[0] if reads else None
        out.append(
            row(
                f'<td align="left">{_ink(g.value, region, bold=True)}</td>'
                f'<td align="left">{escape(guard_meaning(g), quote=False)}</td>'
            )
        )
    return _html(
        '<table border="0" cellborder="0" cellspacing="2" cellpadding="1">'
        + "".join(out)
        + "</table>"
    )


_GROUP_LABELS = {
    "unaccepted": "ended before B answered: nothing published",
    "accepted": "ended after B answered: CALL_LEG_ENDED published once",
}


def _state_groups(region: Region) -> list[tuple[str, list[StrEnum]]]:
    """The region's states in drawing groups: terminal call states are boxed by
    whether the leg was ever accepted (``states.OUTCOMES``); '' = no box."""
    if region is not Region.CALL:
        return [("", list(REGION_STATES[region]))]
    states = REGION_STATES[region]
    return [
        ("", [s for s in states if s not in TERMINAL_CALL_STATES]),
        ("unaccepted", [s for s in states if s in UNACCEPTED_ENDINGS]),
        ("accepted", [s for s in states if s in ACCEPTED_ENDINGS]),
    ]


def state_dot() -> str:
    """The leg's state diagram as DOT: one cluster per region, from :data:`TABLE`."""
    out = [
        "// Generated by consultfsm.render.diagram from consultfsm.core.table.TABLE. Do not edit;",
        "// regenerate with `consultfsm diagram --docs`.",
        f"digraph {STATE_DIAGRAM} {{",
        f'  graph [label="{_TITLE}", labelloc=t, fontname="Helvetica", fontsize=16,',
        "         rankdir=LR, nodesep=0.25, ranksep=0.5, newrank=true];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11,'
        ' margin="0.08,0.04"];',
        '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];',
    ]
    # In a left-to-right layout dot stacks clusters bottom-up in the order they
    # are written: write the legend first and the regions in reverse, so the
    # call region is on top and the legend at the bottom.
    out += [
        "  subgraph cluster_legend {",
        '    graph [label="", style=rounded, color="#999999"];',
        f"    legend [shape=plaintext, style=solid, fontsize=10, label={_legend()}];",
        "  }",
    ]
    for region in reversed(Region):
        cluster_fill, node_fill, ink = _COLORS[region]
        out += [
            f"  subgraph cluster_{region.value} {{",
            f'    graph [label="region {region.value}", labeljust=l, style="filled,rounded",'
            f' fillcolor="{cluster_fill}", color="{ink}", fontcolor="{ink}", fontsize=14];',
            f'    {region.value}__start [shape=point, width=0.12, color="{ink}"];',
        ]
        for group, states in _state_groups(region):
            indent = "    "
            if group:
                indent = "      "
                out.append(f"    subgraph cluster_{region.value}_{group} {{")
                out.append(
                    f'      graph [label="{_GROUP_LABELS[group]}", labeljust=l,'
                    f' style="dashed,rounded", color="{ink}", fontsize=10];'
                )
            for state in states:
                extra = ", peripheries=2" if _terminal(region, state) else ""
                out.append(
                    f"{indent}{_node_id(region, state)} [label={_node_label(region, state)},"
                    f' fillcolor="{node_fill}", color="{ink}"{extra}];'
                )
            if group:
                out.append("    }")
        out.append(f"    {region.value}__start -> {_node_id(region, INITIAL[region])};")
        for edge in edges(region):
            out.append(
                f"    {_node_id(region, edge.source)} -> {_node_id(region, edge.target)}"
                f' [label={_edge_label(edge)}, color="{ink}"];'
            )
        out.append("  }")
    out += ["}", ""]
    return "\n".join(out)


# --- Mermaid state diagram -------------------------------------------------------------


def _mm(text: str) -> str:
    # Mermaid reads ';' as a statement end and '#' as an entity start; keep them out.
    return text.replace(";", ",").replace("#", "no.")


def state_mermaid() -> str:
    """The leg's state diagram as Mermaid ``stateDiagram-v2`` text.

    The regions are concurrent regions (``--``) of one composite ``leg`` state;
    each applied row is one transition; duplicate and absorbed inputs are the
    state's description text.
    """
    out = [
        "%% Generated by consultfsm.render.diagram from consultfsm.core.table.TABLE. Do not edit.",
        "stateDiagram-v2",
        '    state "consult leg" as leg {',
    ]
    for n, region in enumerate(Region):
        if n:
            out.append("        --")
        out.append(f'        state "region {region.value}" as {region.value} {{')
        for state in REGION_STATES[region]:
            node = _node_id(region, state)
            out.append(f'            state "{state.value}" as {node}')
            loops = self_loops(region, state)
            notes = [f"{d.value} {', '.join(texts)}" for d, texts in loops.items() if texts]
            if notes:
                out.append(f"            {node} : {_mm(' · '.join(notes))}")
        out.append(f"            [*] --> {_node_id(region, INITIAL[region])}")
        for edge in edges(region):
            for row in edge.rows:
                out.append(
                    f"            {_node_id(region, edge.source)} --> "
                    f"{_node_id(region, edge.target)} : {_mm(row_text(row))}"
                )
        for state in REGION_STATES[region]:
            if _terminal(region, state):
                out.append(f"            {_node_id(region, state)} --> [*]")
        out.append("        }")
    out += ["    }", "    [*] --> leg", ""]
    return "\n".join(out)


# --- the transitions-rendered variant ----------------------------------------------------


def transitions_dot() -> str:
    """The table through ``transitions``' own diagram support, as DOT.

    Built like :func:`consultfsm.interop.transitions_machine.build_machine` (same states, one
    transition per applied row, guards as condition names) but on a
    ``HierarchicalGraphMachine``. Duplicate and absorbed rows are left out: they
    are internal transitions that would each be drawn as a self-loop.
    """
    from transitions.extensions import HierarchicalGraphMachine

    from consultfsm.interop.transitions_machine import LegMachine, _states_config, state_name

    class _Machine(HierarchicalGraphMachine):
        # The same "." separator as the runtime machine: our names contain "_".
        state_cls = LegMachine.state_cls

    class _Model:
        """The graph needs a model to draw; it is never triggered."""

    machine = _Machine(
        model=_Model(),
        states=_states_config(LegState(*(INITIAL[r] for r in Region))),  # type: ignore[arg-type]
        initial="leg",
        auto_transitions=False,
        show_conditions=True,
        title="consult leg (rendered by transitions.extensions.diagrams)",
    )
    for row in TABLE:
        if row.disposition is Disposition.APPLIED:
            machine.add_transition(
                row.input.value,
                state_name(row.region, row.source),
                state_name(row.region, row.target),
                conditions=[g.value for g in row.guards],
            )
    header = (
        "// Generated by consultfsm.render.diagram through transitions' HierarchicalGraphMachine,"
        " for comparison.\n// Do not edit; regenerate with `consultfsm diagram --docs`.\n"
    )
    source: str = machine.get_graph().source
    return header + source


# --- sequence diagrams -------------------------------------------------------------------

#: Lanes, left to right: (mermaid id, shown name).
LANES: tuple[tuple[str, str], ...] = (
    ("CTI", "CTI (Finesse)"),
    ("A", "AgentDesk A"),
    ("B", "AgentDesk B"),
    ("Leg", "consultfsm leg"),
    ("CCM", "CCM"),
    ("Topic", "Conversation topic"),
    ("RE", "Routing Engine"),
    ("AM", "Agent Manager"),
    ("Host", "Host timers"),
)

#: Who hands an event to its consumer in the picture. The leg decides every
#: event; the arrow starts where the design note says the message comes from:
#: B's desk sends the CIM messages, the CCM publishes on the topic, RE acts on
#: the topic's leg events and calls Agent Manager. Everything else comes
#: straight from the leg.
_SENDER: dict[ev.Consumer, str] = {
    ev.Consumer.CCM: "B",
    ev.Consumer.CONVERSATION: "CCM",
    ev.Consumer.ROUTING_ENGINE: "Topic",
    ev.Consumer.AGENT_MANAGER: "RE",
}
#: The lane of each consumer in the case sequence diagrams (and the review pages).
LANE_OF: dict[ev.Consumer, str] = {
    ev.Consumer.AGENTDESK_A: "A",
    ev.Consumer.AGENTDESK_B: "B",
    ev.Consumer.CCM: "CCM",
    ev.Consumer.CONVERSATION: "Topic",
    ev.Consumer.ROUTING_ENGINE: "RE",
    ev.Consumer.AGENT_MANAGER: "AM",
    ev.Consumer.HOST: "Host",
}
#: Where each input comes from.
#: (The CTI reports the customer's own dialog too.)
_INPUT_LANE: dict[Region, str] = {
    Region.CALL: "CTI", Region.DESK_A: "A", Region.DESK_B: "B", Region.CUSTOMER: "CTI",
}  # fmt: skip


def _input_lane(kind: InputKind) -> str:
    if kind.value.endswith("_timeout"):
        return "Host"
    return _INPUT_LANE[INPUT_REGION[kind]]


def event_message(event: ev.Event) -> str:
    """An event as its arrow in a sequence diagram reads (and a review page's lane)."""
    if isinstance(event, ev.TimerStarted):
        return f"start {event.timer.value} timer, due t={event.deadline}"
    if isinstance(event, ev.TimerCancelled):
        return f"cancel {event.timer.value} timer"
    return label(event)


def _state_note(state: LegState) -> str:
    return (
        f"call {state.call.value} · A {state.desk_a.value} · B {state.desk_b.value}"
        f" · customer {state.customer.value}"
    )


def case_mermaid(case: Case, result: CaseResult | None = None) -> str:
    """A Mermaid ``sequenceDiagram`` of ``case``, from the events the leg emitted.

    Each input is an arrow into the leg (dashed when it was a duplicate or
    absorbed), followed by the region states it left and every event it
    emitted, drawn from its sender to its consumer.
    """
    result = result if result is not None else run_case(case)
    verdict = "machine matches the expected reactions" if result.passed else "MISMATCH"
    out = [
        f"%% {case.source}: {case.name}. Generated by consultfsm.render.diagram from run_case(). "
        "Do not edit.",
        "sequenceDiagram",
    ]
    out += [f"    participant {lane} as {name}" for lane, name in LANES]
    out.append(f"    Note over CTI,Host: {_mm(case.source)}: {_mm(case.title)}")
    for moment in result.timeline:
        src = _input_lane(moment.input)
        text = f"t={moment.at} {moment.text}"
        if moment.disposition is None:
            out.append(f"    {src}-xLeg: {_mm(text)} REJECTED")
            continue
        if moment.disposition is not Disposition.APPLIED:
            out.append(f"    {src}--)Leg: {text} ({moment.disposition.value})")
            continue
        out.append(f"    {src}->>Leg: {text}")
        out.append(f"    Note over Leg: {_state_note(moment.state)}")
        for event in moment.events:
            sender = _SENDER.get(event.to, "Leg")
            out.append(f"    {sender}->>{LANE_OF[event.to]}: {_mm(event_message(event))}")
    out.append(f"    Note over CTI,Host: final {_state_note(result.final)} ({verdict})")
    out.append("")
    return "\n".join(out)


# --- files to write (a plan; the CLI does the writing and the rendering) ----------------------


@attrs.frozen
class Artifact:
    """One generated file: its path relative to the output directory, and bytes."""

    path: str
    content: bytes


@attrs.frozen
class RenderJob:
    """One file Graphviz must render: its path relative to the output directory,
    the DOT source and the output format (``svg`` or ``png``). This module only
    plans it; :mod:`consultfsm.render.files` runs ``dot``."""

    path: str
    source: str
    format: str


def _text(path: str, text: str) -> Artifact:
    return Artifact(path, text.encode("utf-8"))


def parse_formats(spec: str) -> tuple[str, ...]:
    """``"dot,svg"`` -> ``("dot", "svg")`` in canonical order; ValueError names a bad one."""
    wanted = {f.strip().lower() for f in spec.split(",") if f.strip()}
    unknown = sorted(wanted - set(FORMATS))
    if unknown or not wanted:
        raise ValueError(
            f"unknown format(s) {', '.join(unknown) or '(none given)'}; choose from "
            f"{','.join(FORMATS)}"
        )
    return tuple(f for f in FORMATS if f in wanted)


def text_artifacts(formats: Iterable[str] = FORMATS) -> list[Artifact]:
    """The DOT and Mermaid files for ``formats`` (no rendering, no I/O)."""
    formats = set(formats)
    out: list[Artifact] = []
    if "dot" in formats:
        out.append(_text(f"{STATE_DIAGRAM}.dot", state_dot()))
        out.append(_text(f"{TRANSITIONS_DIAGRAM}.dot", transitions_dot()))
        out.append(_text(f"{DESK_DIAGRAM}.dot", desk_dot()))
        out.append(_text(f"{CCM_DIAGRAM}.dot", ccm_dot()))
    if "mmd" in formats:
        out.append(_text(f"{STATE_DIAGRAM}.mmd", state_mermaid()))
        out += [_text(f"{CASES_DIR}/{c.name}.mmd", case_mermaid(c)) for c in CASES]
    return out


def render_jobs(formats: Iterable[str] = FORMATS) -> list[RenderJob]:
    """The SVG and PNG renderings of the state diagrams (the leg's two, the
    desk's, the CCM's) that ``formats`` asks for, in output order (no rendering here: see
    :func:`consultfsm.render.files.render`)."""
    wanted = [f for f in FORMATS if f in set(formats) and f in RENDERED]
    out: list[RenderJob] = []
    sources = ((STATE_DIAGRAM, state_dot), (TRANSITIONS_DIAGRAM, transitions_dot),
               (DESK_DIAGRAM, desk_dot), (CCM_DIAGRAM, ccm_dot))  # fmt: skip
    for stem, source in sources:
        text = source() if wanted else ""
        out += [RenderJob(f"{stem}.{fmt}", text, fmt) for fmt in wanted]
    return out


def dot_version_of_svg(svg: bytes) -> str | None:
    """The Graphviz version an SVG says it was made with, or None."""
    marker = b"<!-- Generated by graphviz version "
    start = svg.find(marker)
    if start < 0:
        return None
    end = svg.find(b"\n", start)
    return svg[start + len(marker) : end].decode("ascii", "replace").strip()


__all__ = [
    "CASES_DIR",
    "FORMATS",
    "LANE_OF",
    "RENDERED",
    "STATE_DIAGRAM",
    "TRANSITIONS_DIAGRAM",
    "Artifact",
    "DotNotFound",
    "RenderJob",
    "case_mermaid",
    "dot_version_of_svg",
    "edges",
    "event_message",
    "guard_meaning",
    "guard_reads",
    "parse_formats",
    "render_jobs",
    "self_loops",
    "state_dot",
    "state_mermaid",
    "text_artifacts",
    "transitions_dot",
]
