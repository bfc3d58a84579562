"""The desk machine's picture and table page, from :data:`~consultfsm.desk.table.DESK_TABLE`.

Pure, like :mod:`consultfsm.render.diagram`: text in, text out, stable order.
One cluster per role (B's desk on top: it is the design note's; A's below),
each the ``call`` region of that role's rows, and one cluster for the ``page``
region the two share (:data:`~consultfsm.desk.table.PAGE_MOVES`). Applied rows
that share source and target share one edge, one label line per input; the
self-loops (duplicate, absorbed) are listed inside their state, and the
terminal states' absorbing of all late news is said once in the legend rather
than sixteen times in each state.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape

from consultfsm.core.table import Disposition
from consultfsm.desk.table import (
    DEFAULT_SETTLE_MS,
    DESK_TABLE,
    PAGE_MOVES,
    SENDS,
    TERMINAL,
    DeskCall,
    DeskPage,
    DeskRole,
    DeskRow,
)

from .dot_parts import html_label, legend_label, preamble, state_label

DESK_DIAGRAM = "desk"

_ROLE_TITLE = {
    DeskRole.B: "B's desk (the consulted agent)",
    DeskRole.A: "A's desk (the consulting agent)",
}
#: cluster fill, node fill, ink; the same hues as the leg's desk regions.
_COLORS = {
    DeskRole.B: ("#fdf3e7", "#fbe0c0", "#c05800"),
    DeskRole.A: ("#eef8ee", "#d5efd5", "#2e7d32"),
}
_PAGE_COLORS = ("#f3f3f3", "#e2e2e2", "#444444")
_SEND_INK = "#1f5fa8"


def _emits(row: DeskRow) -> str:
    """The effects of a row as label markup: CIM messages to the CCM in blue."""
    parts = []
    for e in row.emits:
        text = escape(str(e), quote=False)
        parts.append(f'<font color="{_SEND_INK}">{text}</font>' if e.effect in SENDS else text)
    return ", ".join(parts)


def _node(role: DeskRole, state: DeskCall) -> str:
    return f"{role.value}__{state.value}"


def _rows(role: DeskRole) -> list[DeskRow]:
    return [r for r in DESK_TABLE if r.role is role]


def _edge_label(rows: list[DeskRow]) -> str:
    lines = []
    for r in rows:
        emits = _emits(r)
        lines.append(f"<b>{escape(r.input.value)}</b>" + (f" / {emits}" if emits else ""))
    return html_label("<br/>".join(lines))


def _node_label(role: DeskRole, state: DeskCall) -> str:
    notes = []
    if state not in TERMINAL:
        for disposition, prefix in ((Disposition.DUPLICATE, "dup"),
                                    (Disposition.ABSORBED, "absorbs")):  # fmt: skip
            names = [r.input.value for r in _rows(role)
                     if r.source is state and r.disposition is disposition]  # fmt: skip
            if names:
                notes.append(f"{prefix}: {', '.join(names)}")
    return state_label(state.value, notes)


def _legend() -> str:
    lines = [
        "<b>How to read this diagram</b>",
        "Each edge: one line per row, <b>input</b> / what the desk shows, "
        f'<font color="{_SEND_INK}">the CIM messages it sends to the CCM</font>.',
        "dup: / absorbs: inside a state = inputs answered <i>duplicate</i> / <i>absorbed</i>.",
        "Double border = terminal: every later Finesse or list input is absorbed there.",
        "Finesse inputs need the page up; list inputs (listed_*) only a page reading its"
        " dialogs, and bring it up.",
        f"closing arms the settle timer ({DEFAULT_SETTLE_MS} ms by default) while the page is"
        " up; its expiry (settle_timeout) ends the consult as A's hang-up.",
    ]
    return legend_label(lines)


def desk_dot() -> str:
    """The desk machine as DOT: a cluster per role, and the page region."""
    out = preamble(
        DESK_DIAGRAM,
        "consultfsm.render.desk_diagram from consultfsm.desk.table.DESK_TABLE",
        "AgentDesk consult machine: one per desk and consult", _legend(), ranksep=0.6,
    )  # fmt: skip
    # Clusters stack bottom-up in writing order: the page, then A, then B on top.
    fill, node_fill, ink = _PAGE_COLORS
    out += [
        "  subgraph cluster_page {",
        f'    graph [label="region page (both roles)", labeljust=l, style="filled,rounded",'
        f' fillcolor="{fill}", color="{ink}", fontcolor="{ink}", fontsize=14];',
        f'    page__start [shape=point, width=0.12, color="{ink}"];',
    ]
    for page in DeskPage:
        out.append(f'    page__{page.value} [label="{page.value}", fillcolor="{node_fill}",'
                   f' color="{ink}"];')  # fmt: skip
    out.append(f"    page__start -> page__{DeskPage.UP.value};")
    moves: dict[tuple[DeskPage, DeskPage], list[str]] = defaultdict(list)
    for (was, kind), (now, disposition) in PAGE_MOVES.items():
        if disposition is Disposition.APPLIED:
            moves[(was, now)].append(kind.value)
    moves[(DeskPage.READING, DeskPage.UP)].append("listed_* (the list read)")
    for (was, now), kinds in moves.items():
        label = html_label("<br/>".join(f"<b>{escape(k)}</b>" for k in kinds))
        out.append(f'    page__{was.value} -> page__{now.value} [label={label},'
                   f' color="{ink}"];')  # fmt: skip
    out.append("  }")
    for role in (DeskRole.A, DeskRole.B):
        fill, node_fill, ink = _COLORS[role]
        out += [
            f"  subgraph cluster_{role.value} {{",
            f'    graph [label="{_ROLE_TITLE[role]}: region call", labeljust=l,'
            f' style="filled,rounded", fillcolor="{fill}", color="{ink}", fontcolor="{ink}",'
            " fontsize=14];",
            f'    {role.value}__start [shape=point, width=0.12, color="{ink}"];',
        ]
        for state in DeskCall:
            extra = ", peripheries=2" if state in TERMINAL else ""
            out.append(f"    {_node(role, state)} [label={_node_label(role, state)},"
                       f' fillcolor="{node_fill}", color="{ink}"{extra}];')  # fmt: skip
        out.append(f"    {role.value}__start -> {_node(role, DeskCall.NONE)};")
        edges: dict[tuple[DeskCall, DeskCall], list[DeskRow]] = defaultdict(list)
        for r in _rows(role):
            if r.disposition is Disposition.APPLIED:
                edges[(r.source, r.target)].append(r)
        for (source, target), rows in edges.items():
            out.append(f"    {_node(role, source)} -> {_node(role, target)}"
                       f' [label={_edge_label(rows)}, color="{ink}"];')  # fmt: skip
        out.append("  }")
    out += ["}", ""]
    return "\n".join(out)


__all__ = ["DESK_DIAGRAM", "desk_dot"]
