"""The design-review pages: each machine's table, diagram and cases in one static page.

Pure, like :mod:`consultfsm.render.diagram`: this module builds the data a page
shows (a JSON model of the machine's regions, states and rows, and of every
case of ``consultfsm cases`` stepped through the real leg), the DOT of each
region's panel and the HTML around them. It renders nothing and reads no
file: :mod:`consultfsm.render.files` runs ``dot`` on :func:`panel_jobs` and
hands the SVGs, the page script and the style sheet to :func:`review_pages`.

Everything comes from the tables and the existing pictures:

* The panels are the clusters of :func:`~consultfsm.render.diagram.state_dot`,
  :func:`~consultfsm.render.desk_diagram.desk_dot` and
  :func:`~consultfsm.render.ccm_diagram.ccm_dot`, one region each, with an
  ``id`` added to every state and edge, so the page can light up what the
  model names. An edge's rows are the table rows of its region that leave its
  source for its target on one of the inputs its label names.
* A case's steps come from :func:`~consultfsm.verify.scenarios.run_case` (the
  states after each input and the events) and from the leg's own
  :class:`~consultfsm.core.step.Step` (the row that decided), so the page never
  re-implements the machine: it only shows what Python computed.
* Events go to the lanes of the case sequence diagrams
  (:data:`~consultfsm.render.diagram.LANES`).
* On the desk and CCM pages a case's steps come from
  :func:`~consultfsm.verify.ccm.case_states`, the case run through the
  composition (the leg model as the world, both desk machines, the CCM engine):
  per input, each desk's and the CCM leg's state and the rows their own steps
  took, then a last step for what settles after the inputs. Their lanes are
  what each desk posted to the CCM and what the CCM published.

Output is stable: declaration order, sorted JSON keys, ids from positions in
the tables, no timestamps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from html import escape
from typing import Any

import attrs

from consultfsm.ccm import table as ccm
from consultfsm.ccm.table import CCM_TABLE, CcmCall, CcmInput, Presence
from consultfsm.core.states import INITIAL, REGION_STATES, Region
from consultfsm.core.table import TABLE, Disposition, Row
from consultfsm.desk.table import DESK_TABLE, PAGE_MOVES, DeskCall, DeskPage, DeskRole, DeskTimer
from consultfsm.verify.ccm import SETTLED, ComposedStep, Message, case_states
from consultfsm.verify.scenarios import CASES, Case, inputs_of, new_leg, run_case

from .ccm_diagram import ccm_dot
from .desk_diagram import desk_dot

# LANE_OF and event_message are the sequence diagrams' own lane of each consumer
# and text of each event: the page's lanes are those, not a second copy.
from .diagram import (
    LANE_OF,
    LANES,
    Artifact,
    RenderJob,
    effects,
    emit_text,
    event_message,
    guard_text,
    state_dot,
)

#: Where the pages go, relative to the diagrams' output directory.
REVIEW_DIR = "review"
#: The packaged files each page inlines (``consultfsm/render/review_assets/``).
ASSETS: tuple[str, ...] = ("review.css", "review.js")


@attrs.frozen(slots=True)
class ModelRow:
    """One row of a machine as the page lists it."""

    id: str  # stable: the machine and the row's position
    key: str  # the table's own key (``Row.key``), which the tests compare
    region: str
    source: str
    input: str
    guards: str
    target: str
    events: tuple[str, ...]
    timers: str
    disposition: str


@attrs.frozen(slots=True)
class ModelRegion:
    """One region: its panel's title, its states in order and where it starts."""

    id: str
    title: str
    states: tuple[str, ...]
    initial: str


@attrs.frozen(slots=True)
class Machine:
    """A machine to review: its regions, its rows and its DOT picture."""

    name: str  # the file stem, ``leg``
    title: str
    source: str  # the table it is generated from
    regions: tuple[ModelRegion, ...]
    rows: tuple[ModelRow, ...]
    dot: Callable[[], str]
    #: DOT node name -> (region, state); None for the start points and the legend.
    node: Callable[[str], tuple[str, str] | None]


def _values(states: Iterable[StrEnum]) -> tuple[str, ...]:
    return tuple(s.value for s in states)


def _split_node(regions: Iterable[str]) -> Callable[[str], tuple[str, str] | None]:
    known = set(regions)

    def node(name: str) -> tuple[str, str] | None:
        region, sep, state = name.rpartition("__")
        return (region, state) if sep and region in known and state != "start" else None

    return node


# --- the three machines --------------------------------------------------------------


def _leg_timers(row: Row) -> str:
    # The transition table's own column: cancel / start, then fires.
    texts = [t for t in effects(row) if t.startswith(("cancel ", "start "))]
    if row.fires is not None:
        texts.append(f"fires {row.fires.value}")
    return ", ".join(texts)


def leg_machine() -> Machine:
    """The leg: four orthogonal regions, :data:`~consultfsm.core.table.TABLE`."""
    regions = tuple(
        ModelRegion(r.value, f"region {r.value}", _values(REGION_STATES[r]), INITIAL[r].value)
        for r in Region
    )
    rows = tuple(
        ModelRow(
            f"leg-{n}", row.key, row.region.value, row.source.value, row.input.value,
            guard_text(row).strip("[]"), row.target.value,
            tuple(emit_text(e) for e in row.emits), _leg_timers(row), row.disposition.value,
        )
        for n, row in enumerate(TABLE, 1)
    )  # fmt: skip
    return Machine(
        "leg", "consult leg", "consultfsm.core.table.TABLE", regions, rows, state_dot,
        _split_node(r.id for r in regions),
    )  # fmt: skip


def desk_machine() -> Machine:
    """The AgentDesk: the call region per role, and the page region both share."""
    call = _values(DeskCall)
    regions = (
        ModelRegion("b", "B's desk (the consulted agent): region call", call, DeskCall.NONE),
        ModelRegion("a", "A's desk (the consulting agent): region call", call, DeskCall.NONE),
        ModelRegion("page", "region page (both roles)", _values(DeskPage), DeskPage.UP),
    )
    settle = f"arms {DeskTimer.SETTLE.value} (while the page is up)"
    rows = [
        ModelRow(
            f"desk-{n}", r.key, r.role.value, r.source.value, r.input.value, "", r.target.value,
            tuple(str(e) for e in r.emits),
            settle if r.target is DeskCall.CLOSING and r.source is not DeskCall.CLOSING else "",
            r.disposition.value,
        )
        for n, r in enumerate(DESK_TABLE, 1)
    ]  # fmt: skip
    rows += [
        ModelRow(f"desk-page-{n}", f"page:{was}--{kind}", "page", was.value, kind.value, "",
                 now.value, (), "", disposition.value)
        for n, ((was, kind), (now, disposition)) in enumerate(PAGE_MOVES.items(), 1)
    ]  # fmt: skip
    return Machine(
        "desk", "AgentDesk consult machine", "consultfsm.desk.table.DESK_TABLE", regions,
        tuple(rows), desk_dot, _split_node(r.id for r in regions),
    )  # fmt: skip


def _ccm_timers(source: CcmCall, kind: CcmInput, target: CcmCall) -> str:
    texts = []
    if kind in ccm.TIMER_OF_INPUT:
        texts.append(f"fires {ccm.TIMER_OF_INPUT[kind].value}")
    if target is not source and target in ccm.STATE_TIMERS:
        texts.append(f"arms {ccm.STATE_TIMERS[target].value}")
    if target is not source and target in ccm.AWAY_STATES:
        texts.append("arms away while no desk is up")
    return ", ".join(texts)


def ccm_machine() -> Machine:
    """The CCM: the call region, and the two desk-presence regions."""
    regions = (
        ModelRegion("call", "region call (what the conversation topic was told)",
                    _values(CcmCall), CcmCall.UNSEEN),
        ModelRegion("desk_a", "region desk_a (the socket layer)", _values(Presence),
                    Presence.UNKNOWN),
        ModelRegion("desk_b", "region desk_b (the socket layer)", _values(Presence),
                    Presence.UNKNOWN),
    )  # fmt: skip
    rows = [
        ModelRow(
            f"ccm-{n}", r.key, "call", r.source.value, r.input.value,
            "" if r.guard is None else r.guard.value, r.target.value,
            tuple(str(e) for e in r.emits), _ccm_timers(r.source, r.input, r.target),
            r.disposition.value,
        )
        for n, r in enumerate(CCM_TABLE, 1)
    ]  # fmt: skip
    moves = [
        (kind, f"desk_{party.value}", was, now)
        for kind, (party, now) in ccm.PRESENCE_MOVES.items()
        for was in Presence
        if was is not now
    ]
    rows += [
        ModelRow(f"ccm-desk-{n}", f"{region}:{was}--{kind}", region, was.value, kind.value, "",
                 now.value, (), "", Disposition.APPLIED.value)
        for n, (kind, region, was, now) in enumerate(moves, 1)
    ]  # fmt: skip
    return Machine(
        "ccm", "CCM consult machine", "consultfsm.ccm.table.CCM_TABLE", regions, tuple(rows),
        ccm_dot, _split_node(r.id for r in regions),
    )  # fmt: skip


def machines() -> tuple[Machine, ...]:
    """Every machine with a review page, in the order the index lists them."""
    return (leg_machine(), desk_machine(), ccm_machine())


# --- panels: one region's cluster of the machine's DOT, with ids -----------------------

_CLUSTER = re.compile(r"^  subgraph cluster_(\w+) \{$")
_NODE = re.compile(r"^(\s+)(\w+) \[")
_EDGE = re.compile(r"^(\s+)(\w+) -> (\w+) \[label=(<.*>), (.*)$")
_INPUT = re.compile(r"<b>([^<]+)</b>")


@attrs.frozen(slots=True)
class Panel:
    """One region's picture (or the legend's): its DOT and the rows of each edge."""

    machine: str
    region: str  # a region id, or ``legend``
    title: str
    dot: str
    edges: tuple[tuple[str, tuple[str, ...]], ...]  # edge id -> row ids


def _clusters(dot: str) -> tuple[list[str], dict[str, list[str]]]:
    """The DOT's lines before its first cluster, and each top-level cluster's lines."""
    head: list[str] = []
    clusters: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in dot.splitlines():
        match = _CLUSTER.match(line)
        if match:
            current = clusters.setdefault(match.group(1), [])
        if current is not None:
            current.append(line)
            if line == "  }":
                current = None
        elif not clusters:
            head.append(line)
    return head, clusters


def panels(machine: Machine) -> list[Panel]:
    """The machine's panels: each region's cluster (in the model's region order),
    then the legend, each a DOT graph of its own with ids on states and edges."""
    head, clusters = _clusters(machine.dot())
    by_edge: dict[tuple[str, str, str, str], list[str]] = {}
    for row in machine.rows:
        if row.disposition == Disposition.APPLIED.value:
            key = (row.region, row.source, row.target, row.input)
            by_edge.setdefault(key, []).append(row.id)
    out: list[Panel] = []
    titles = {r.id: r.title for r in machine.regions}
    for region in [*titles, "legend"]:
        lines: list[str] = []
        edges: list[tuple[str, tuple[str, ...]]] = []
        for text in clusters[region]:
            line = text
            edge = _EDGE.match(text)
            node = _NODE.match(text)
            if edge:
                indent, src, dst, label_, rest = edge.groups()
                edge_id = f"e-{machine.name}-{region}-{len(edges) + 1}"
                where, to = machine.node(src), machine.node(dst)
                rows: list[str] = []
                if where and to:
                    for kind in _INPUT.findall(label_):
                        rows += by_edge.get((where[0], where[1], to[1], kind), [])
                edges.append((edge_id, tuple(rows)))
                line = f'{indent}{src} -> {dst} [id="{edge_id}", label={label_}, {rest}'
            elif node and node.group(2) not in ("graph", "node", "edge"):
                indent, name = node.groups()
                line = f'{indent}{name} [id="n-{machine.name}-{name}", {line[node.end() :]}'
            lines.append(line)
        dot = "\n".join([*head, '  graph [label=""];', *lines, "}", ""])
        out.append(Panel(machine.name, region, titles.get(region, "How to read it"), dot,
                         tuple(edges)))  # fmt: skip
    return out


def panel_path(panel: Panel) -> str:
    """A panel's rendering, as :func:`panel_jobs` names it (never written)."""
    return f"{REVIEW_DIR}/{panel.machine}-{panel.region}.svg"


def panel_jobs() -> list[RenderJob]:
    """The SVG renderings every page needs, in page order."""
    return [RenderJob(panel_path(p), p.dot, "svg") for m in machines() for p in panels(m)]


# --- cases: stepped through the real leg --------------------------------------------------

#: The lanes events go to, left to right as in the sequence diagrams: consumer -> name.
LANE_NAMES: dict[str, str] = dict(LANES)


def _lanes() -> list[dict[str, str]]:
    by_lane = {lane: consumer for consumer, lane in LANE_OF.items()}
    return [{"to": by_lane[lane].value, "name": name} for lane, name in LANES if lane in by_lane]


def _state(state: Any) -> dict[str, str]:
    return {r.value: getattr(state, r.value).value for r in Region}


def case_model(case: Case, row_ids: Mapping[str, str]) -> dict[str, Any]:
    """One case as the page steps it: the leg's state before the first input, then
    per input the row that decided (by the leg's own ``Step.row``), the states
    after it and the events, as :func:`~consultfsm.verify.scenarios.run_case` saw them."""
    result = run_case(case)
    leg = new_leg(case)
    start = _state(leg.state)
    steps = []
    for step_in, moment in zip(inputs_of(case), result.timeline, strict=True):
        try:
            row = leg.handle(step_in.kind, step_in.at, step_in.value,
                             source_at=step_in.source_at).row  # fmt: skip
        except Exception:  # rejected: run_case recorded why, and nothing moved
            row = None
        steps.append(
            {
                "at": moment.at,
                "input": moment.input.value,
                "text": moment.text,
                "disposition": moment.disposition.value if moment.disposition else "rejected",
                "error": moment.error,
                "row": None if row is None else row_ids[row.key],
                "state": _state(moment.state),
                "events": [
                    {"to": e.to.value, "event": e.kind.value, "label": event_message(e)}
                    for e in moment.events
                ],
            }
        )
    return {
        "name": case.name,
        "source": case.source,
        "title": case.title,
        "passed": result.passed,
        "start": start,
        "steps": steps,
    }


#: The lanes of a case on the desk and CCM pages: what each desk posted, what the CCM published.
POSTED_LANES = [
    {"to": f"posted_{role.value}", "name": f"{role.value.upper()}'s desk posted (to the CCM)"}
    for role in DeskRole
]
PUBLISHED_LANE = {"to": "conversation", "name": "Conversation topic (what the CCM published)"}
_SETTLED_TEXT = "settled: both pages back, every message delivered, every deadline fired"


def _composed_state(machine: str, step: ComposedStep) -> dict[str, Any]:
    """The page's regions after a composed step: on the desk page each role's
    call region and the page region of each desk (``{role: state}``); on the
    CCM page its three regions. A machine not there yet has no entry."""
    if machine == "ccm":
        return dict(step.ccm.state or {})
    out: dict[str, Any] = {}
    page: dict[str, str] = {}
    for role, desk in step.desks.items():
        if desk.state is not None:
            out[role.value] = desk.state["call"]
            page[role.value] = desk.state["page"]
    if page:
        out["page"] = page
    return out


def _posted(message: Message) -> dict[str, str]:
    """A desk's CIM message on its desk's lane, named as the CCM's publications are."""
    return {"to": f"posted_{message.role.value}", "event": message.intent.value,
            "label": f"post {message.what} at {message.at}"}  # fmt: skip


def composed_case_model(case: Case, machine: str, row_ids: Mapping[str, str]) -> dict[str, Any]:
    """One case as the desk or the CCM page steps it: per input (and the
    settling after the inputs) the machine's states and the rows its own steps
    took, as :func:`~consultfsm.verify.ccm.case_states` observed them, and what
    the CCM published meanwhile."""
    composed, _ = case_states(case)
    texts = [m.text for m in run_case(case).timeline] + [_SETTLED_TEXT]
    steps = []
    for step, text in zip(composed, texts, strict=True):
        if machine == "ccm":
            keys = list(step.ccm.rows)
        else:
            keys = [k for d in step.desks.values() for k in d.rows]
        steps.append(
            {
                "at": step.at,
                "input": step.input,
                "text": text,
                "rows": [row_ids[k] for k in keys],
                "state": _composed_state(machine, step),
                "events": [_posted(m) for m in step.posted]
                + [
                    {"to": PUBLISHED_LANE["to"], "event": p.split()[1].split("(")[0], "label": p}
                    for p in step.published
                ],
            }
        )
    assert steps[-1]["input"] == SETTLED
    return {
        "name": case.name,
        "source": case.source,
        "title": case.title,
        "composed": True,
        "lanes": [*POSTED_LANES, PUBLISHED_LANE],
        "start": {},
        "steps": steps,
    }


# --- the pages ---------------------------------------------------------------------------


def page_model(machine: Machine, panel_list: Sequence[Panel]) -> dict[str, Any]:
    """The JSON the page script reads: the machine, its panels' edges, its cases."""
    edge_of = {row: edge for p in panel_list for edge, rows in p.edges for row in rows}
    rows = [attrs.asdict(r) | {"edge": edge_of.get(r.id)} for r in machine.rows]
    ids = {r.key: r.id for r in machine.rows}
    if machine.name == "leg":  # `consultfsm cases` runs the leg
        cases = [case_model(c, ids) for c in CASES]
    else:  # the case run through the composition: desks and CCM
        cases = [composed_case_model(c, machine.name, ids) for c in CASES]
    return {
        "machine": machine.name,
        "title": machine.title,
        "regions": [attrs.asdict(r) for r in machine.regions],
        "rows": rows,
        "edges": {edge: list(rows) for p in panel_list for edge, rows in p.edges},
        "lanes": _lanes(),
        "cases": cases,
    }


def _json(data: Any) -> str:
    # Inside <script>: no "</" may close it early.
    return json.dumps(data, sort_keys=True, ensure_ascii=True, indent=None,
                      separators=(",", ":")).replace("</", "<\\/")  # fmt: skip


_SVG_PROLOG = re.compile(r"\A.*?(?=<!-- Generated by graphviz)", re.S)
_SVG_FILE_TITLE = re.compile(r"<!-- Title: .*? -->\n")


def _inline_svg(svg: str) -> str:
    """An SVG file as markup to inline: without its XML prolog and doctype (the
    ``Generated by graphviz`` comment stays: it says which ``dot`` drew it)."""
    return _SVG_FILE_TITLE.sub("", _SVG_PROLOG.sub("", svg, count=1)).strip()


def _nav(current: str, names: Sequence[tuple[str, str]]) -> str:
    links = [("index", "Index"), *names]
    items = []
    for stem, title in links:
        attr = ' aria-current="page"' if stem == current else ""
        items.append(f'<li><a href="{stem}.html"{attr}>{escape(title)}</a></li>')
    return f'<nav aria-label="Machines"><ul>{"".join(items)}</ul></nav>'


def _page(title: str, nav: str, body: str, assets: Mapping[str, str], model: str | None) -> str:
    style, script = assets["review.css"], assets["review.js"]
    # A machine page has a button per state before its player: the keyboard's
    # way past them (each link shows when it has the focus).
    skip = (
        '<nav class="skip" aria-label="skip links"><a href="#player">Skip to the stepping'
        ' controls</a> <a href="#rows-section">Skip to the rows</a></nav>\n'
        if model is not None
        else ""
    )
    data = (
        f'<script type="application/json" id="model">{model}</script>\n'
        f"<script>\n{script}</script>\n"
        if model is not None
        else ""
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        "<!-- Generated by consultfsm.render.review from the machines' tables. Do not edit;"
        " regenerate with `consultfsm diagram --docs`. -->\n"
        f"<style>\n{style}</style>\n</head>\n<body>\n{skip}"
        f"<header><h1>{escape(title)}</h1>{nav}</header>\n{body}\n{data}</body>\n</html>\n"
    )


def _machine_body(machine: Machine, panel_list: Sequence[Panel], svgs: Mapping[str, str]) -> str:
    sections = []
    for panel in panel_list:
        pid = f"panel-{panel.region}"
        states = ""
        region = next((r for r in machine.regions if r.id == panel.region), None)
        if region is not None:
            buttons = "".join(
                f'<button type="button" class="state-button" data-region="{region.id}"'
                f' data-state="{s}">{escape(s)}</button>'
                for s in region.states
            )
            states = (f'<div class="states" role="group" aria-label="states of '
                      f'{escape(region.title)}">{buttons}</div>')  # fmt: skip
        sections.append(
            f'<section class="panel" id="{pid}" data-region="{panel.region}"'
            f' aria-labelledby="{pid}-title">\n'
            f'<div class="panel-head"><h2 id="{pid}-title">{escape(panel.title)}</h2>'
            '<span class="zoom" role="group" aria-label="zoom">'
            '<button type="button" data-zoom="in" aria-label="zoom in">+</button>'
            '<button type="button" data-zoom="out" aria-label="zoom out">&#8722;</button>'
            '<button type="button" data-zoom="fit" aria-label="fit to the panel">fit</button>'
            f"</span></div>\n{states}\n"
            f'<div class="viewport" tabindex="0" role="group" aria-label="diagram of '
            f'{escape(panel.title)}: drag to pan, wheel or + and - to zoom">\n'
            f"{_inline_svg(svgs[panel_path(panel)])}\n</div>\n</section>"
        )
    return (
        '<main>\n<div class="diagrams">\n' + "\n".join(sections) + "\n</div>\n"
        '<aside class="side" aria-label="rows and steps">\n'
        '<section id="player" tabindex="-1" aria-labelledby="player-title">\n'
        '<div class="player-head">\n<h2 id="player-title">Step through</h2>\n'
        '<div class="controls">'
        '<label>case <select id="case-select"></select></label> '
        '<label class="file">replay output <input type="file" id="trace-input"'
        ' accept=".jsonl,.json,.txt"></label> '
        '<label hidden>shown <select id="subject-select"></select></label></div>\n'
        '<div class="controls" role="group" aria-label="stepping">'
        '<button type="button" id="first" aria-label="first step (Home)">&#8676;</button>'
        '<button type="button" id="prev" aria-label="previous step (p, left arrow)">'
        "&#8592; prev</button>"
        '<button type="button" id="next" aria-label="next step (n, right arrow)">'
        "next &#8594;</button>"
        '<button type="button" id="last" aria-label="last step (End)">&#8677;</button>'
        '<span id="position" aria-live="polite"></span>'
        '<label class="follow"><input type="checkbox" id="follow" checked> zoom to each'
        " row taken</label></div>\n"
        '<p class="hint">Keys: <kbd>n</kbd> or <kbd>&#8594;</kbd> next, <kbd>p</kbd> or'
        " <kbd>&#8592;</kbd> previous, <kbd>Home</kbd>, <kbd>End</kbd>.</p>\n"
        "</div>\n"
        '<p id="step-text" aria-live="polite"></p>\n'
        '<table id="state-strip" aria-label="current state of each region"></table>\n'
        '<div id="lanes" aria-label="events per consumer"></div>\n'
        "</section>\n"
        '<section id="rows-section" tabindex="-1" aria-labelledby="rows-title">\n'
        '<h2 id="rows-title">Rows</h2>\n'
        '<p class="hint">In the drawing: <span class="key-current">current state</span>,'
        ' <span class="key-taken">the row taken</span>,'
        ' <span class="key-selected">selected state or row</span>,'
        ' <span class="key-hl">the rows leaving it</span>.</p>\n'
        '<p id="rows-caption">Select a state (in a diagram or'
        " with its button) to list the rows that leave it.</p>\n"
        '<table id="rows"><thead><tr><th scope="col">input</th><th scope="col">guards</th>'
        '<th scope="col">target</th><th scope="col">emits</th><th scope="col">timers</th>'
        '<th scope="col"><abbr title="disposition">disp.</abbr></th></tr></thead>'
        "<tbody></tbody></table>\n"
        "</section>\n</aside>\n</main>"
    )


def _index_body(ms: Sequence[Machine], case_list: Sequence[Case]) -> str:
    items = []
    for m in ms:
        counts = {d.value: sum(r.disposition == d.value for r in m.rows) for d in Disposition}
        what = ", ".join(f"{n} {d}" for d, n in counts.items() if n)
        regions = ", ".join(r.id for r in m.regions)
        items.append(
            f'<li><a href="{m.name}.html">{escape(m.title)}</a>: regions {escape(regions)};'
            f" {len(m.rows)} rows ({what}), from <code>{m.source}</code></li>"
        )
    cases = "".join(
        f'<li><a href="leg.html#case={c.name}">{escape(c.name)}</a> ({escape(c.source)}):'
        f' {escape(c.title)} (also on the <a href="desk.html#case={c.name}">desk</a> and'
        f' <a href="ccm.html#case={c.name}">CCM</a> pages)</li>'
        for c in case_list
    )
    return (
        '<main class="index">\n<p>One page per machine: its diagram, one panel per region'
        " (drag to pan, wheel or the buttons to zoom); select a state to list the rows that"
        " leave it, and a row to light up its edge. On every page each case of"
        " <code>consultfsm cases</code> can be stepped (keys: n / p or the arrows, Home,"
        " End): on the leg's page through the leg model, on the desk and CCM pages through"
        " the composition (both desk machines and the CCM, fed what the desks post), and"
        " the JSON Lines output of <code>consultfsm replay</code> can be loaded"
        " and stepped the same way: its events by consumer and, from"
        " <code>consultfsm replay --states</code>, each machine's states and rows per"
        " input (a leg picked when there are several).</p>\n"
        f'<h2>Machines</h2>\n<ul id="machines">{"".join(items)}</ul>\n'
        f'<h2>Cases</h2>\n<ul id="cases">{cases}</ul>\n</main>'
    )


def review_pages(svgs: Mapping[str, str], assets: Mapping[str, str]) -> list[Artifact]:
    """The pages (``review/index.html`` and one per machine) as
    :class:`~consultfsm.render.diagram.Artifact`, from the rendered panels
    (:func:`panel_jobs`' paths -> SVG text) and the packaged ``assets``."""
    ms = machines()
    names = [(m.name, m.title) for m in ms]
    out = [
        Artifact(
            f"{REVIEW_DIR}/index.html",
            _page("consultfsm design review", _nav("index", names), _index_body(ms, CASES),
                  assets, None).encode("utf-8"),
        )
    ]  # fmt: skip
    for m in ms:
        panel_list = panels(m)
        html = _page(
            f"{m.title}: design review", _nav(m.name, names),
            _machine_body(m, panel_list, svgs), assets,
            _json(page_model(m, panel_list)),
        )  # fmt: skip
        out.append(Artifact(f"{REVIEW_DIR}/{m.name}.html", html.encode("utf-8")))
    return out


__all__ = [
    "ASSETS",
    "LANE_NAMES",
    "PUBLISHED_LANE",
    "REVIEW_DIR",
    "Machine",
    "ModelRegion",
    "ModelRow",
    "Panel",
    "case_model",
    "ccm_machine",
    "composed_case_model",
    "desk_machine",
    "leg_machine",
    "machines",
    "page_model",
    "panel_jobs",
    "panel_path",
    "panels",
    "review_pages",
]
