"""``consultfsm cases``: the design note's cases as the machine computes them."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from consultfsm.core.events import label
from consultfsm.verify.scenarios import CASES, CaseResult, find_case, run_all, run_case

EPILOG = """\
exit status:
  0  every case passed
  1  at least one case failed (its row says FAIL and why)
  2  usage error, or no case with that NAME
"""


def register(sub: Any) -> None:
    """Add the ``cases`` subcommand to the CLI."""
    parser = sub.add_parser(
        "cases",
        help="run the design note's cases and print the failover table",
        description=(
            "Run every case of the design note (its 14 cases, its failover table and a few "
            "edge cases) through the machine and print what each AgentDesk and the CCM do, "
            "checked against the expectation. With NAME, print that case's full timeline."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="one case's name (see the table)")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    parser.set_defaults(run=run)


def _desk_column(result: CaseResult) -> str:
    parts = [
        f"{who}: {', '.join(result.actual[column])}"
        for who, column in (("A", "desk_a"), ("B", "desk_b"))
        if result.actual[column]
    ]
    return "; ".join(parts) or "-"


def _ccm_column(result: CaseResult) -> str:
    return ", ".join(result.actual["ccm"]) or "-"


def _summary(result: CaseResult) -> dict[str, Any]:
    case = result.case
    return {
        "name": case.name,
        "source": case.source,
        "title": case.title,
        "completed_from_cut_text": case.completed,
        "agentdesk_a": list(result.actual["desk_a"]),
        "agentdesk_b": list(result.actual["desk_b"]),
        "ccm": list(result.actual["ccm"]),
        "routing": list(result.actual["routing"]),
        "final_state": str(result.final),
        "passed": result.passed,
        "mismatches": result.mismatches,
    }


def _timeline(result: CaseResult) -> dict[str, Any]:
    out = _summary(result)
    out["timeline"] = [
        {
            "at": m.at,
            "input": m.input.value,
            **({"value": m.value} if m.value is not None else {}),
            **({"source_at": m.source_at} if m.source_at is not None else {}),
            "disposition": m.disposition.value if m.disposition else "rejected",
            "state": str(m.state),
            "error": m.error,
            "events": [e.to_dict() for e in m.events],
        }
        for m in result.timeline
    ]
    return out


def _print_table(results: list[CaseResult], out: TextIO) -> None:
    rows = [
        (
            r.case.source,
            r.case.name,
            _desk_column(r),
            _ccm_column(r),
            "pass" if r.passed else "FAIL",
        )
        for r in results
    ]
    header = ("source", "case", "AgentDesk", "CCM", "result")
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *rows):
        out.write(
            "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        )
        out.write("\n")
    failed = [r for r in results if not r.passed]
    for r in failed:
        out.write(f"\nFAIL {r.case.name}:\n")
        for problem in r.mismatches:
            out.write(f"  {problem}\n")
    out.write(f"\n{len(results)} cases: {len(results) - len(failed)} pass, {len(failed)} fail\n")


def _print_timeline(result: CaseResult, out: TextIO) -> None:
    case = result.case
    out.write(f"{case.name} ({case.source}): {case.title}\n")
    if case.completed:
        out.write("  (the note's text is cut off here; completed as in docs/cases.md)\n")
    out.write(f"  config: ring {case.config.ring_ms} ms, grace {case.config.grace_ms} ms\n\n")
    for m in result.timeline:
        outcome = m.disposition.value if m.disposition else f"REJECTED: {m.error}"
        out.write(f"{m.at:>8} ms  {m.text:<24} {outcome:<10} -> {m.state}\n")
        for e in m.events:
            out.write(f"{'':>12}{e.to.value:<16} {label(e)}\n")
    out.write(f"\nfinal state: {result.final}\n")
    out.write("result: pass\n" if result.passed else "result: FAIL\n")
    for problem in result.mismatches:
        out.write(f"  {problem}\n")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run the ``cases`` command; returns the exit status."""
    out = sys.stdout if out is None else out
    if args.name is not None:
        try:
            result = run_case(find_case(args.name))
        except KeyError as exc:
            sys.stderr.write(f"consultfsm cases: {exc.args[0]}\n")
            return 2
        if args.format == "json":
            out.write(json.dumps(_timeline(result), indent=2) + "\n")
        else:
            _print_timeline(result, out)
        return 0 if result.passed else 1
    results = run_all(CASES)
    if args.format == "json":
        out.write(json.dumps([_summary(r) for r in results], indent=2) + "\n")
    else:
        _print_table(results, out)
    return 0 if all(r.passed for r in results) else 1
