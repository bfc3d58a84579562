"""The CCM machine's picture, from :data:`~consultfsm.ccm.table.CCM_TABLE`.

Pure, like :mod:`consultfsm.render.diagram`: text in, text out, stable order.
One cluster for the ``call`` region (what the conversation topic has been told,
and what the CCM waits for), one for the two desk-presence regions, which move
on their own (:data:`~consultfsm.ccm.table.PRESENCE_MOVES`). Applied rows that
share source and target share one edge, one label line per input and guard;
the rows that change nothing (duplicate, absorbed) are listed inside their
state, and the terminal state's absorbing of every report is said once in the
legend. A state's timer (rules 3 and 6) is written under its name.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape

from consultfsm.ccm.table import (
    AWAY_STATES,
    CCM_TABLE,
    PRESENCE_MOVES,
    STATE_TIMERS,
    TERMINAL,
    CcmCall,
    CcmRow,
    CcmTimer,
    Presence,
)
from consultfsm.core.table import Disposition

from .dot_parts import html_label, legend_label, preamble, state_label

CCM_DIAGRAM = "ccm"

_CALL_COLORS = ("#eaf1fb", "#cfe0f6", "#1f5fa8")  # cluster fill, node fill, ink
_DESK_COLORS = ("#f3f3f3", "#e2e2e2", "#444444")
_PUBLISH_INK = "#8e24aa"


def _node(state: CcmCall) -> str:
    return f"call__{state.value}"


def _edge_label(rows: list[CcmRow]) -> str:
    lines = []
    for r in rows:
        guard = "" if r.guard is None else f" [{escape(r.guard.value)}]"
        emits = ", ".join(escape(str(e), quote=False) for e in r.emits)
        published = f' / <font color="{_PUBLISH_INK}">{emits}</font>' if emits else ""
        lines.append(f"<b>{escape(r.input.value)}</b>{guard}{published}")
    return html_label("<br/>".join(lines))


def _node_label(state: CcmCall) -> str:
    timer = STATE_TIMERS.get(state)
    notes = []
    if timer is not None:
        notes.append(f"arms {timer.value}")
    if state in AWAY_STATES:
        notes.append(f"arms {CcmTimer.AWAY.value} while no desk is up")
    if state not in TERMINAL:
        for disposition, prefix in ((Disposition.DUPLICATE, "dup"),
                                    (Disposition.ABSORBED, "absorbs")):  # fmt: skip
            names = sorted({
                r.input.value + ("" if r.guard is None else f"[{r.guard.value}]")
                for r in CCM_TABLE if r.source is state and r.disposition is disposition
            })  # fmt: skip
            if names:
                notes.append(f"{prefix}: {', '.join(names)}")
    return state_label(state.value, notes)


def _legend() -> str:
    lines = [
        "<b>How to read this diagram</b>",
        "Each edge: one line per row, <b>input</b> [guard] / "
        f'<font color="{_PUBLISH_INK}">what is published on the conversation topic</font>'
        " (INTENT(a|b): that desk's message; INTENT(ccm): the CCM's own, sender SYSTEM).",
        "dup: / absorbs: inside a state = reports answered <i>duplicate</i> / <i>absorbed</i>.",
        "Double border = terminal: every later report is absorbed there.",
        "The desk regions move on the socket layer's news alone; the call region's guards"
        " read them (b_down, b_not_down).",
    ]
    return legend_label(lines)


def ccm_dot() -> str:
    """The CCM machine as DOT: the call region, and the two desk regions."""
    out = preamble(
        CCM_DIAGRAM, "consultfsm.render.ccm_diagram from consultfsm.ccm.table.CCM_TABLE",
        "CCM consult machine: one per consult leg", _legend(), ranksep=0.7,
    )  # fmt: skip
    fill, node_fill, ink = _DESK_COLORS
    for party in ("a", "b"):
        out += [
            f"  subgraph cluster_desk_{party} {{",
            f'    graph [label="region desk_{party} (the socket layer)", labeljust=l,'
            f' style="filled,rounded", fillcolor="{fill}", color="{ink}", fontcolor="{ink}",'
            " fontsize=14];",
            f'    desk_{party}__start [shape=point, width=0.12, color="{ink}"];',
        ]
        for p in Presence:
            out.append(f'    desk_{party}__{p.value} [label="{p.value}",'
                       f' fillcolor="{node_fill}", color="{ink}"];')  # fmt: skip
        out.append(f"    desk_{party}__start -> desk_{party}__{Presence.UNKNOWN.value};")
        moves: dict[Presence, list[str]] = defaultdict(list)
        for kind, (who, now) in PRESENCE_MOVES.items():
            if who.value == party:
                moves[now].append(kind.value)
        for now, kinds in moves.items():
            label = html_label("<br/>".join(f"<b>{escape(k)}</b>" for k in kinds))
            for was in Presence:
                if was is not now:
                    out.append(f"    desk_{party}__{was.value} -> desk_{party}__{now.value}"
                               f' [label={label}, color="{ink}"];')  # fmt: skip
        out.append("  }")
    fill, node_fill, ink = _CALL_COLORS
    out += [
        "  subgraph cluster_call {",
        '    graph [label="region call (what the conversation topic was told)", labeljust=l,'
        f' style="filled,rounded", fillcolor="{fill}", color="{ink}", fontcolor="{ink}",'
        " fontsize=14];",
        f'    call__start [shape=point, width=0.12, color="{ink}"];',
    ]
    for state in CcmCall:
        extra = ", peripheries=2" if state in TERMINAL else ""
        out.append(f"    {_node(state)} [label={_node_label(state)},"
                   f' fillcolor="{node_fill}", color="{ink}"{extra}];')  # fmt: skip
    out.append(f"    call__start -> {_node(CcmCall.UNSEEN)};")
    edges: dict[tuple[CcmCall, CcmCall], list[CcmRow]] = defaultdict(list)
    for r in CCM_TABLE:
        if r.disposition is Disposition.APPLIED:
            edges[(r.source, r.target)].append(r)
    for (source, target), rows in edges.items():
        out.append(f"    {_node(source)} -> {_node(target)}"
                   f' [label={_edge_label(rows)}, color="{ink}"];')  # fmt: skip
    out += ["  }", "}", ""]
    return "\n".join(out)


__all__ = ["CCM_DIAGRAM", "ccm_dot"]
