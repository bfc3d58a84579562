"""The CCM engine's costs, measured in one run: per desk message against plain
JSON, flat with the number of live legs and sessions, and its memory.

    python benchmarks/ccm.py            # the full run (several minutes), writes CCM_RESULTS.md
    python benchmarks/ccm.py --quick    # small counts, under a minute

Each consult is what two desks post: A's and B's ``CALL_LEG_STARTED``, then
A's and B's ``CALL_LEG_ENDED`` (B's published, A's a duplicate), as JSON text
built beforehand (the desks' cost is not the CCM's). The customer's session is
started before its consult and ended after it, and is found by the customer's
ANI: the slowest evidence. The steady state keeps ``live`` consults going: each
round starts one and ends the oldest.

* **per message**: the engine's ``receive`` (parse, correlate, step, build and
  serialise what is published) against ``json.loads`` + ``json.dumps`` of the
  same messages and ``json.dumps`` of what they published, on the same messages
  in the same run. Target: at most 3x.
* **flat**: the per-message cost with many live legs (and as many sessions),
  after ten times as many legs ever (1,000,000 in the full run), against the
  cost at 1,000 live legs. Target: at most 1.2x.
* **ANI lookup**: one consult's first message, found by ANI, among 1,000 and
  among many active sessions (independent of the count: the index).
* **memory**: bytes per live leg (tracemalloc, the growth while the consults
  start), bytes per tombstone (the generation sets and the dialog id strings
  they keep alive, by ``sys.getsizeof``). Targets: 2 KB, 200 bytes.
* **replay**: ``consultfsm replay`` of a trace from ``benchmarks/traces.py``
  (1,000,000 lines in the full run; about 1,000 consults going at once, the
  outcome and evidence mix of that module), in a child process, output to
  ``/dev/null``: its peak RSS (its own high-water mark, ``VmHWM``; target 200 MB), its
  CPU time per line, and that cost against a trace a tenth as long (flat: the
  replay's memory and cost follow what is live, not what it has seen).

Timings are noise on shared machines: every figure is a ratio of two
measurements taken here, and nothing is rounded in anyone's favour.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import NamedTuple

from consultfsm.ccm import ChannelSession
from consultfsm.ccm.engine import CcmEngine
from consultfsm.core.states import CimReason
from consultfsm.wire.cim import CimCodec, MessageIntent

CODEC = CimCodec("8000")
STARTED, ENDED = MessageIntent.CALL_LEG_STARTED, MessageIntent.CALL_LEG_ENDED


def log(msg: str) -> None:
    print(f"ccm bench: {msg}", file=sys.stderr, flush=True)


def ani(i: int) -> str:
    return f"+92300{i % 10_000_000:07d}"


def messages(i: int, at: int) -> tuple[list[str], list[str]]:
    """Consult ``i``'s start messages and end messages, as the desks post them."""
    dialog = f"D{i}"
    a, b = f"a{i % 997}", f"b{i % 991}"

    def one(agent: str, ext: str, role: str, intent: MessageIntent, t: int) -> str:
        reason = CimReason.CONSULT_ENDED if intent is ENDED else None
        return CODEC.dumps(CODEC.agent_message(
            leg=f"{ext}:{agent}:{dialog}", at=t, intent=intent, agent=agent, customer=ani(i),
            call_id=dialog, reason=reason, consult_role=role,
        ))  # fmt: skip

    start = [one(a, "7001", "CONSULTING", STARTED, at), one(b, "7002", "CONSULTED", STARTED, at)]
    end = [one(a, "7001", "CONSULTING", ENDED, at + 1), one(b, "7002", "CONSULTED", ENDED, at + 1)]
    return start, end


class Steady:
    """An engine holding ``live`` consults, and the next consults to run through it."""

    def __init__(self, live: int) -> None:
        self.engine = CcmEngine(CODEC)
        self.live = live
        self.next = 0
        self.now = 0
        self.ends: dict[int, list[str]] = {}
        for _ in range(live):
            for text in self._open():
                self.now += 1
                self.engine.receive(text, self.now)

    def _open(self) -> list[str]:
        """Start the next consult's session (unmeasured); its desks' start messages."""
        i = self.next
        self.next += 1
        self.now += 1
        self.engine.start_session(ChannelSession(f"S{i}", f"C{i}", ani(i)), self.now)
        start, self.ends[i] = messages(i, self.now)
        return start

    def churn(self, n: int, keep: bool = True) -> tuple[float, int, list[str], list[str]]:
        """Run ``n`` rounds (one consult started, the oldest ended); the time in
        ``receive`` only, how many messages, and the messages and publications."""
        spent = 0.0
        count = 0
        texts: list[str] = []
        published: list[str] = []
        for _ in range(n):
            start = self._open()
            oldest = self.next - 1 - self.live
            batch = [*start, *self.ends.pop(oldest)]
            for text in batch:
                self.now += 1
                t0 = time.perf_counter()
                out = self.engine.receive(text, self.now)
                spent += time.perf_counter() - t0
                if keep:
                    published += [p.json for p in out.published]
            count += len(batch)
            if keep:
                texts += batch
            self.engine.end_session(f"S{oldest}", self.now)
        return spent, count, texts, published


def plain_json(texts: list[str], published: list[str]) -> float:
    """``json.loads`` + ``json.dumps`` of each message, ``json.dumps`` of each publication."""
    objects = [json.loads(p) for p in published]
    t0 = time.perf_counter()
    for text in texts:
        json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    for obj in objects:
        json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return time.perf_counter() - t0


def per_message(live: int, rounds: int, repeats: int, ever: int = 0) -> tuple[float, float]:
    """(µs per message in the engine, µs per message of plain JSON), best of
    ``repeats``, measured once ``ever`` legs have gone through the engine."""
    steady = Steady(live)
    while steady.next < ever:
        log(f"  {steady.next:,} legs ever")
        steady.churn(min(100_000, ever - steady.next), keep=False)
    best_engine = best_json = float("inf")
    for _ in range(repeats):
        gc.collect()
        spent, count, texts, published = steady.churn(rounds)
        best_engine = min(best_engine, spent / count * 1e6)
        best_json = min(best_json, plain_json(texts, published) / count * 1e6)
    return best_engine, best_json


def ani_lookup(sessions: int, consults: int) -> float:
    """µs for a consult's first message, found by ANI, among ``sessions`` active ones."""
    engine = CcmEngine(CODEC)
    for i in range(sessions):
        engine.start_session(ChannelSession(f"S{i}", f"C{i}", ani(i)), 0)
    firsts = [messages(i * (sessions // consults), 1)[0][1] for i in range(consults)]
    gc.collect()
    t0 = time.perf_counter()
    for text in firsts:
        engine.receive(text, 1)
    return (time.perf_counter() - t0) / consults * 1e6


def memory(live: int, ended: int) -> tuple[float, float]:
    """(bytes per live leg, bytes per tombstone), by tracemalloc."""
    engine = CcmEngine(CODEC)
    ends = []
    for i in range(live):
        engine.start_session(ChannelSession(f"S{i}", f"C{i}", ani(i)), 1)
    starts = []
    for i in range(live):
        start, end = messages(i, 2)
        starts.append(start)
        ends.append(end)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for start in starts:
        for text in start:
            engine.receive(text, 3)
    legs = tracemalloc.get_traced_memory()[0]
    for i in range(ended):
        engine.receive(ends[i][1], 4)
    tracemalloc.stop()
    assert len(engine) == live - ended and engine.tombstones == ended
    per_leg = (legs - before) / live
    # A tombstone is a dialog id kept in a generation's set: count the sets
    # and the id strings they keep alive (exact, no subtraction of estimates).
    sets = [ids for _, ids in engine._tombs._generations]
    held = sum(sys.getsizeof(ids) + sum(sys.getsizeof(d) for d in ids) for ids in sets)
    return per_leg, held / ended


#: The child: ``consultfsm replay FILE`` through the CLI's own entry point,
#: then its peak RSS (Linux's VmHWM, which exec resets; elsewhere ru_maxrss).
_CHILD = """\
import resource, sys
from consultfsm.cli import main
status = main(["replay", sys.argv[1]])
try:
    with open("/proc/self/status", encoding="ascii") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
except OSError:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"peak-rss-kb {kb}", file=sys.stderr)
sys.exit(status)
"""


def replay_run(lines: int, live: int = 1_000) -> tuple[float, float, int]:
    """(peak RSS in MB, CPU µs per line, rejected lines) of ``consultfsm replay``
    on a generated trace of ``lines`` lines, run in a child process."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.traces import generate

    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.jsonl"
        with trace.open("w", encoding="utf-8") as f:
            for line in generate(lines, live=live):
                f.write(line + "\n")
        with open(os.devnull, "wb") as sink:
            child = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(trace)], stdout=sink, stderr=subprocess.PIPE,
            )  # fmt: skip
            assert child.stderr is not None
            err = child.stderr.read().decode("utf-8", "replace")
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
    rejected = 0
    if child.returncode not in (0, 1):  # 1: some lines were rejected (counted on stderr)
        raise RuntimeError(f"consultfsm replay failed ({child.returncode}): {err}")
    if child.returncode == 1:  # "consultfsm replay: N input(s) rejected"
        found = re.search(r"(\d+) input\(s\) rejected", err)
        rejected = int(found.group(1)) if found else -1
    cpu = usage.ru_utime + usage.ru_stime
    found = re.search(r"^peak-rss-kb (\d+)$", err, re.M)
    # ru_maxrss would count the benchmark's own heap, which the child shares
    # between fork and exec: the child reports its own high-water mark.
    peak_kb = int(found.group(1)) if found else usage.ru_maxrss
    return peak_kb / 1024, cpu / lines * 1e6, rejected


class Row(NamedTuple):
    name: str
    value: str
    target: str
    met: bool | None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="small counts, under a minute")
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "CCM_RESULTS.md")  # fmt: skip
    args = ap.parse_args(argv)
    big = 10_000 if args.quick else 100_000
    rounds, repeats = (2_000, 3) if args.quick else (10_000, 5)

    log(f"per message at 1,000 live legs ({rounds} rounds x {repeats})")
    small_us, json_us = per_message(1_000, rounds, repeats)
    ever = 10 * big
    log(f"per message at {big:,} live legs, after {ever:,} legs ever")
    big_us, big_json_us = per_message(big, rounds, repeats, ever)
    log(f"ANI lookup among 1,000 and {big:,} sessions")
    ani_small = min(ani_lookup(1_000, 500) for _ in range(repeats))
    ani_big = min(ani_lookup(big, 500) for _ in range(repeats))
    log(f"memory at {big:,} live legs")
    per_leg, per_tomb = memory(big, big // 2)
    long_trace = 100_000 if args.quick else 1_000_000
    log(f"replay of a {long_trace // 10:,}-line trace")
    _, short_us, short_rejected = replay_run(long_trace // 10)
    log(f"replay of a {long_trace:,}-line trace (minutes)")
    rss_mb, long_us, long_rejected = replay_run(long_trace)

    ratio = small_us / json_us
    flat = big_us / small_us
    rows = [
        Row("µs per desk message, 1,000 live legs", f"{small_us:.1f}", "", None),
        Row(
            "µs per message, json.loads + json.dumps (same messages and publications)",
            f"{json_us:.1f}",
            "",
            None,
        ),
        Row("engine / plain JSON", f"{ratio:.2f}x", "≤ 3x", ratio <= 3),
        Row(
            f"µs per desk message, {big:,} live legs and sessions, {ever:,} legs ever",
            f"{big_us:.1f}",
            "",
            None,
        ),
        Row(f"flat: cost at {big:,} live / at 1,000", f"{flat:.2f}x", "≤ 1.2x", flat <= 1.2),
        Row("µs per consult found by ANI among 1,000 sessions", f"{ani_small:.1f}", "", None),
        Row(
            f"µs per consult found by ANI among {big:,} sessions",
            f"{ani_big:.1f}",
            "independent of the count",
            None,
        ),
        Row("ANI lookup: among many / among 1,000", f"{ani_big / ani_small:.2f}x", "≈ 1x", None),
        Row(
            f"bytes per live leg ({big:,} live, tracemalloc)",
            f"{per_leg:.0f}",
            "≤ 2,048",
            per_leg <= 2048,
        ),
        Row(
            "bytes per tombstone (its set slot and dialog id)",
            f"{per_tomb:.0f}",
            "≤ 200",
            per_tomb <= 200,
        ),
        Row(
            f"replay of a {long_trace:,}-line trace: peak RSS, MB",
            f"{rss_mb:.1f}",
            "< 200",
            rss_mb < 200,
        ),
        Row(f"replay: CPU µs per line, {long_trace:,} lines", f"{long_us:.1f}", "", None),
        Row(f"replay: CPU µs per line, {long_trace // 10:,} lines", f"{short_us:.1f}", "", None),
        Row(
            "replay flat: per line, long / short trace", f"{long_us / short_us:.2f}x", "≈ 1x", None
        ),
        Row(
            "replay: rejected lines (the generator writes valid traces)",
            f"{short_rejected + long_rejected}",
            "0",
            short_rejected + long_rejected == 0,
        ),
    ]
    quick = " --quick" if args.quick else ""
    cpu = platform.processor() or platform.machine()
    lines = [
        "# CCM engine benchmark",
        "",
        f"`python benchmarks/ccm.py{quick}` on {cpu}, Python {platform.python_version()}. "
        "Method: the module docstring of `benchmarks/ccm.py`. Ratios are of two measurements "
        "of this run.",
        "",
        "| measure | value | target | met |",
        "|---|---|---|---|",
    ]
    for r in rows:
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(f"| {r.name} | {r.value} | {r.target} | {met} |")
    lines += [
        "",
        f"Plain JSON at {big:,} live legs, for reference: {big_json_us:.1f} µs per message.",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
