"""``consultfsm check``: exhaustive exploration with every invariant checked.

Explores one leg and two legs sharing the customer's session (or one of them
with ``--legs``), bounded by depth, and the desk machine, every reachable state
of both roles (:mod:`consultfsm.verify.desk`); prints what was reached and
covered, and on a violation the shortest counterexample (for a leg, as a trace
``consultfsm replay`` accepts). Progress goes to stderr; leg configurations are
explored in parallel processes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TextIO

from consultfsm.core.facts import LegConfig
from consultfsm.core.table import TABLE
from consultfsm.desk.table import DESK_TABLE
from consultfsm.verify.ccm import DEFAULT_DEPTH as CCM_DEPTH
from consultfsm.verify.ccm import CcmReport, action_lines, explore_ccm, replay_actions
from consultfsm.verify.desk import DeskReport, explore_desk
from consultfsm.verify.explore import CONFIGS_FOR, DEFAULT_DEPTHS, Report, explore, trace_lines
from consultfsm.verify.invariants import Invariant

from .argtypes import positive

EPILOG = """\
default depth: 8 actions for one leg, 6 for two legs (every case of the design
note needs at most 7). An action is an input or a jump of the clock to the next
pending deadline. The desk machine is small enough to explore whole: no depth.
The composition (the world, both desks, the network, the CCM) goes to depth 6.

exit status:
  0  no invariant broke
  1  an invariant broke: the counterexample is printed as a replay trace
  2  usage error
"""


def register(sub: Any) -> None:
    """Add the ``check`` subcommand to the CLI."""
    parser = sub.add_parser(
        "check",
        help="explore every interleaving up to a depth and check the invariants",
        description=(
            "Breadth-first over the product of the call and browser regions of one leg "
            "and of two legs sharing the customer's session, trying every input, every "
            "browser event and every jump to a pending deadline, and checking every "
            "invariant (exactly-once publication, tasks, alerts, timers, terminal states, "
            "rejections) after every step."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--machine", choices=("all", "leg", "desk", "ccm"), default="all",
        help="which machine to explore (default: all)",
    )  # fmt: skip
    parser.add_argument("--depth", type=positive, help="actions per path (default: 8 / 6)")
    parser.add_argument(
        "--legs", type=int, choices=(1, 2), help="explore only 1 or 2 legs (default: both)"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--replay", metavar="PATH",
        help="run a composition counterexample (the JSON Lines `--machine ccm` prints) again "
             "and print what the CCM published",
    )  # fmt: skip
    parser.add_argument(
        "--jobs", type=positive, default=None, help="processes, for the legs (default: cores)"
    )
    parser.set_defaults(run=run)


def _one(job: tuple[int, int, LegConfig]) -> Report:
    depth, legs, config = job
    return explore(depth, legs, configs=(config,), progress=_progress)


def _progress(message: str) -> None:
    print(f"check: {message}", file=sys.stderr, flush=True)


def check(depth: int | None, legs: Sequence[int], jobs: int) -> list[Report]:
    """Run the explorations (configurations in parallel); one report per leg count."""
    work = [(depth or DEFAULT_DEPTHS[n], n, c) for n in legs for c in CONFIGS_FOR[n]]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            parts = list(pool.map(_one, work))
    else:
        parts = [_one(job) for job in work]
    reports: list[Report] = []
    for n in legs:
        mine = [p for (_, m, _), p in zip(work, parts, strict=True) if m == n]
        merged = mine[0]
        for part in mine[1:]:
            merged = merged.merge(part)
        reports.append(merged)
    return reports


def run(args: argparse.Namespace) -> int:
    """Entry point of ``consultfsm check``."""
    why = _unused(args)
    if why is not None:
        print(f"consultfsm check: error: {why}", file=sys.stderr)
        return 2
    if args.replay is not None:
        return _replay_ccm(args.replay, sys.stdout)
    legs = (args.legs,) if args.legs else (1, 2)
    jobs = args.jobs or os.cpu_count() or 1
    reports = check(args.depth, legs, jobs) if args.machine in ("all", "leg") else []
    desk = None
    if args.machine in ("all", "desk"):
        _progress("desk machine: every reachable state of both roles")
        desk = explore_desk()
    ccm = None
    if args.machine in ("all", "ccm"):
        depth = args.depth or CCM_DEPTH
        _progress(f"composition: the world, both desks, the network and the CCM, depth {depth}")
        ccm = explore_ccm(depth)
    out: TextIO = sys.stdout
    if args.format == "json":
        docs = [_as_json(r) for r in reports] + ([_desk_json(desk)] if desk else [])
        docs += [_ccm_json(ccm)] if ccm else []
        json.dump(docs, out, indent=2)
        out.write("\n")
    else:
        for report in reports:
            _as_text(report, out)
        if desk is not None:
            _desk_text(desk, out)
        if ccm is not None:
            _ccm_text(ccm, out)
    ok = all(r.ok for r in reports) and (desk is None or desk.ok) and (ccm is None or ccm.ok)
    return 0 if ok else 1


def _ccm_json(report: CcmReport) -> dict[str, Any]:
    return {
        "machine": "ccm",
        "depth": report.depth,
        "states": report.states,
        "steps": report.steps,
        "rows_covered": len(report.rows_covered),
        "rows_total": len(report.rows_total),
        "rows_missed": report.rows_missed,
        "ok": report.ok,
        "violations": [
            {"rule": v.rule, "detail": v.detail, "path": action_lines(v.path)}
            for v in report.violations
        ],
    }


def _ccm_text(report: CcmReport, out: TextIO) -> None:
    verdict = "OK" if report.ok else "VIOLATION"
    out.write(
        f"{verdict}: composition (world, desk A, desk B, network, CCM), depth {report.depth}\n"
        f"  states reached:   {report.states}\n"
        f"  actions tried:    {report.steps}\n"
        f"  CCM rows covered: {len(report.rows_covered)} of {len(report.rows_total)}\n"
    )
    if report.ok and report.rows_missed:
        out.write("  rows not covered: " + ", ".join(report.rows_missed) + "\n")
    if report.violations:
        first = report.violations[0]
        out.write(f"counterexample (shortest):\n  {first.rule}: {first.detail}\n")
        out.write("actions (save as .jsonl, run `consultfsm check --replay FILE`):\n")
        for line in action_lines(first.path):
            out.write(line + "\n")


def _unused(args: argparse.Namespace) -> str | None:
    """An option given where it does nothing (a usage error, not silence)."""
    if args.replay is not None:
        given = [o for o, v in (("--machine", args.machine != "all"), ("--depth", args.depth),
                                ("--legs", args.legs), ("--jobs", args.jobs),
                                ("--format json", args.format == "json")) if v]  # fmt: skip
        if given:
            return f"--replay prints the events as JSON Lines: {', '.join(given)} do nothing"
    elif args.machine in ("desk", "ccm") and (args.legs or args.jobs):
        return f"--legs and --jobs are for the legs: --machine {args.machine} takes neither"
    elif args.machine == "desk" and args.depth:
        return "--machine desk explores every state, without a bound: --depth would do nothing"
    return None


def _replay_ccm(path: str, out: TextIO) -> int:
    try:
        with open(path, encoding="utf-8") as f:
            world = replay_actions(f)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        print(f"consultfsm check: cannot replay {path}: {exc}", file=sys.stderr)
        return 2
    for p in world.published:
        out.write(p.json + "\n")
    problems = world.problems() + world.eventual_problems()
    for problem in problems:
        out.write(f"VIOLATION: {problem}\n")
    return 1 if problems else 0


def _desk_json(report: DeskReport) -> dict[str, Any]:
    return {
        "machine": "desk",
        "states": report.states,
        "steps": report.steps,
        "rows_covered": len(report.rows_covered),
        "rows_total": len(report.rows_total),
        "rows_missed": report.rows_missed,
        "ok": report.ok,
        "violations": [
            {"rule": v.rule, "detail": v.detail, "path": list(v.path)} for v in report.violations
        ],
    }


def _desk_text(report: DeskReport, out: TextIO) -> None:
    verdict = "OK" if report.ok else "VIOLATION"
    out.write(
        f"{verdict}: desk machine, both roles, every reachable state\n"
        f"  states reached:   {report.states}\n"
        f"  inputs fed:       {report.steps}\n"
        f"  rows covered:     {len(report.rows_covered)} of {len(DESK_TABLE)}\n"
    )
    if report.rows_missed:
        out.write("  rows not covered: " + ", ".join(report.rows_missed) + "\n")
    for v in report.violations[:20]:
        out.write(f"  {v}\n")


def _trace(report: Report) -> tuple[list[dict[str, Any]], bool]:
    cex = report.counterexample
    assert cex is not None
    return trace_lines(cex.specs, cex.actions, cex.config)


def _as_json(report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {
        "machine": "leg",
        "legs": report.legs,
        "depth": report.depth,
        "states": report.states,
        "region_states": len(report.region_states),
        "steps": report.steps,
        "rows_covered": len(report.rows_covered),
        "rows_total": len(report.rows_total),
        "rows_missed": report.rows_missed,
        "invariants": [i.value for i in Invariant],
        "invariant_checks": report.checks,
        "ok": report.ok,
        "counterexample": None,
    }
    if report.counterexample is not None:
        lines, faithful = _trace(report)
        out["counterexample"] = {
            "violations": [v.to_dict() for v in report.counterexample.violations],
            "steps": [str(a) for a in report.counterexample.actions],
            "trace": lines,
            "trace_exact": faithful,
        }
    return out


def _as_text(report: Report, out: TextIO) -> None:
    verdict = "OK" if report.ok else "VIOLATION"
    total = len(report.rows_total)
    scope = (
        f" (the rows its inputs reach; the table has {len(TABLE)})" if total < len(TABLE) else ""
    )
    out.write(
        f"{verdict}: {report.legs} leg(s), depth {report.depth}, "
        f"{len(CONFIGS_FOR[report.legs])} timer configurations\n"
        f"  states reached:   {report.states} ({len(report.region_states)} region-state "
        f"combinations)\n"
        f"  inputs fed:       {report.steps}\n"
        f"  rows covered:     {len(report.rows_covered)} of {len(report.rows_total)}{scope}\n"
        f"  invariants:       {len(Invariant)} kinds, {report.checks} checks\n"
    )
    if report.ok and report.rows_missed:  # (a violation stops the search early)
        out.write("  rows not covered: " + ", ".join(report.rows_missed) + "\n")
    cex = report.counterexample
    if cex is None:
        return
    out.write("counterexample (shortest):\n")
    for v in cex.violations:
        out.write(f"  {v}\n")
    out.write(f"  timers: ring={cex.config.ring_ms} ms, grace={cex.config.grace_ms} ms\n")
    for action in cex.actions:
        out.write(f"    {action}\n")
    lines, faithful = _trace(report)
    note = "" if faithful else " (approximate: an input met a due timer at the same ms)"
    out.write(f"replay trace{note} (save as .jsonl, run `consultfsm replay`):\n")
    for line in lines:
        out.write(json.dumps(line) + "\n")
