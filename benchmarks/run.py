"""Benchmark consultfsm against transitions, python-statemachine and a hand-written floor.

    python benchmarks/run.py            # the full run (10 to 15 minutes on 2 cores)
    python benchmarks/run.py --quick    # under a minute, smaller counts
    python benchmarks/run.py --out PATH # write the markdown somewhere else

Every implementation runs the same lifecycle (create; alerting; B's browser
disconnects and comes back; B accepts; A drops) and emits the same 14 domain
events; the run checks that first. Timings are taken in one run, interleaved
(every repetition runs every implementation, in rotating order), and the
median of the repetitions is reported, with each implementation's ratio to
the floor's median. Measurements that need many live legs (memory, full GC,
scaling, churn) run in a fresh child process per implementation and
repetition, so one implementation's heap cannot distort another's; the
library peers, 50 to 400 times the floor's cost per leg, run fewer of them.
Import time is measured in fresh interpreters too: ``import consultfsm``
against ``import attrs`` (its one core dependency), pair by pair, and
import + the first step (which compiles the transition table).

Progress goes to stderr; the markdown goes to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import gc
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from array import array
from pathlib import Path
from typing import Any, NamedTuple

#: The markers of benchmarks/durable.py's section of RESULTS.md, kept on a rewrite.
DURABLE_BEGIN, DURABLE_END = "<!-- durable:begin -->", "<!-- durable:end -->"

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.peers.common import (  # noqa: E402
    EVENTS_PER_LIFECYCLE,
    LIFECYCLE,
    Ctx,
    Peer,
    make_ctx,
)

INPUTS_PER_LIFECYCLE = len(LIFECYCLE)
now = time.perf_counter


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- the implementations ------------------------------------------------------------


def load_peers() -> dict[str, Peer]:
    from benchmarks.peers import consultfsm_peer, floor, statemachine_peer, transitions_peer

    return {
        "floor": floor.PEER,
        "consultfsm": consultfsm_peer.PEER,
        "transitions_per_leg": transitions_peer.PER_LEG,
        "transitions_shared": transitions_peer.SHARED_PEER,
        "statemachine": statemachine_peer.PEER,
    }


ORDER = ("floor", "consultfsm", "transitions_per_leg", "transitions_shared", "statemachine")


class Sizes(NamedTuple):
    """How many legs/steps each measurement uses, per implementation."""

    reps: int  # in-process repetitions
    legs: dict[str, int]  # legs per in-process measurement
    live: dict[str, int]  # live legs N for memory / GC / scaling / churn
    live_reps: dict[str, int]  # child processes for scaling, RSS and full GC
    churn_reps: dict[str, int]  # child processes for churn
    small: int  # the "few live legs" of the scaling measurement
    small_batches: dict[str, int]
    snapshots: int  # snapshot round trips per repetition
    add_model_at: tuple[int, ...]  # live models at which the shared add_model is timed
    add_model_batch: int  # add_model calls timed at each of those sizes
    import_pairs: int  # rounds of fresh-process import measurements (attrs, consultfsm)


def per_peer(fast: int, per_leg: int, shared: int, statemachine: int) -> dict[str, int]:
    return {
        "floor": fast,
        "consultfsm": fast,
        "transitions_per_leg": per_leg,
        "transitions_shared": shared,
        "statemachine": statemachine,
    }


def sizes(quick: bool) -> Sizes:
    if quick:
        return Sizes(
            reps=3,
            legs=per_peer(3000, 300, 300, 60),
            live=per_peer(20_000, 10_000, 5_000, 1_000),
            live_reps=per_peer(1, 1, 1, 1),
            churn_reps=per_peer(3, 1, 1, 1),
            small=1_000,
            small_batches=per_peer(5, 2, 2, 1),
            snapshots=3_000,
            add_model_at=(1_000, 2_000, 4_000),
            add_model_batch=50,
            import_pairs=7,
        )
    # The library peers cost 50 to 400 times the floor per leg, so at 100,000 live
    # legs they run one child process each (the floor and consultfsm run 3 for
    # scaling / GC and 5 for churn). The shared Machine stays smaller: its add_model
    # is O(live models), measured separately (add_model_at) up to 100,000.
    return Sizes(
        reps=7,
        legs=per_peer(20_000, 2_000, 2_000, 300),
        live=per_peer(100_000, 100_000, 20_000, 100_000),
        live_reps=per_peer(3, 1, 3, 1),
        churn_reps=per_peer(5, 1, 3, 1),
        small=1_000,
        small_batches=per_peer(20, 5, 5, 2),
        snapshots=20_000,
        add_model_at=(1_000, 10_000, 25_000, 50_000, 100_000),
        add_model_batch=200,
        import_pairs=21,
    )


# --- the lifecycle, checked -----------------------------------------------------------


def describe(event: Any) -> tuple[Any, ...]:
    """An event as (class name, field values in consultfsm's order), to compare peers."""
    import attrs

    from benchmarks.peers import floor

    if attrs.has(type(event)):
        values = tuple(getattr(event, f.name) for f in attrs.fields(type(event)))
    else:
        values = tuple(getattr(event, name) for name in floor.FIELDS[type(event)])
    return (type(event).__name__, *(str(v) if v is not None else None for v in values))


def check_equivalence(peers: dict[str, Peer]) -> None:
    """Every peer given emits the same events, with the same values, as the first of
    them in ``ORDER`` (the floor, whenever it is among them)."""
    names = [n for n in ORDER if n in peers]
    reference: list[tuple[Any, ...]] | None = None
    for name in names:
        peer = peers[name]
        leg = peer.create(make_ctx(7))
        got: list[tuple[Any, ...]] = []
        for kind, (_, at) in zip(peer.inputs, LIFECYCLE, strict=True):
            got.extend(describe(e) for e in peer.events_of(peer.handle(leg, kind, at)))
        peer.release(leg)
        if len(got) != EVENTS_PER_LIFECYCLE:
            raise SystemExit(f"{name}: {len(got)} events per lifecycle, not {EVENTS_PER_LIFECYCLE}")
        if reference is None:
            reference = got
        elif got != reference:
            diff = next((a, b) for a, b in zip(reference, got, strict=True) if a != b)
            raise SystemExit(f"{name} emits different events than {names[0]}: {diff}")
    log(f"equivalence: {', '.join(names)} emit the same {EVENTS_PER_LIFECYCLE} events")


# --- in-process measurements ----------------------------------------------------------


def run_lifecycles(peer: Peer, ctxs: list[Ctx]) -> float:
    """Seconds per full lifecycle (create, 5 inputs, release)."""
    create, handle, release = peer.create, peer.handle, peer.release
    steps = list(zip(peer.inputs, [at for _, at in LIFECYCLE], strict=True))
    gc.collect()
    t0 = now()
    for ctx in ctxs:
        leg = create(ctx)
        for kind, at in steps:
            handle(leg, kind, at)
        release(leg)
    return (now() - t0) / len(ctxs)


def run_create_and_events(peer: Peer, ctxs: list[Ctx]) -> tuple[float, float]:
    """(seconds per created leg, seconds per input on existing legs)."""
    create, handle = peer.create, peer.handle
    gc.collect()
    t0 = now()
    legs = [create(ctx) for ctx in ctxs]
    t_create = (now() - t0) / len(ctxs)
    gc.collect()
    t0 = now()
    for kind, (_, at) in zip(peer.inputs, LIFECYCLE, strict=True):
        for leg in legs:
            handle(leg, kind, at)
    t_event = (now() - t0) / (len(legs) * INPUTS_PER_LIFECYCLE)
    for leg in legs:
        peer.release(leg)
    return t_create, t_event


def run_snapshots(n: int) -> tuple[float, float]:
    """(seconds per consultfsm snapshot->JSON->restore, per json.dumps+loads of its dict)."""
    from benchmarks.peers.consultfsm_peer import create
    from consultfsm import Leg, LegSnapshot
    from consultfsm.core.states import InputKind

    legs = [create(make_ctx(i)) for i in range(n)]
    for leg in legs:  # ringing, B's desk away: deadlines pending, as a reconnect would see
        leg.handle(InputKind.ALERTING, 100)
        leg.handle(InputKind.BROWSER_DISCONNECTED_B, 200)
    dicts = [leg.snapshot().to_dict() for leg in legs]
    dumps, loads = json.dumps, json.loads
    restore, from_dict = Leg.restore, LegSnapshot.from_dict
    gc.collect()
    t0 = now()
    for leg in legs:
        restore(from_dict(loads(dumps(leg.snapshot().to_dict()))))
    t_snap = (now() - t0) / n
    gc.collect()
    t0 = now()
    for d in dicts:
        loads(dumps(d))
    t_json = (now() - t0) / n
    back = restore(from_dict(loads(dumps(legs[0].snapshot().to_dict()))))
    assert back.snapshot() == legs[0].snapshot(), "snapshot round trip changed the leg"
    return t_snap, t_json


# --- child-process measurements (many live legs) ----------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def drive_all(peer: Peer, legs: list[Any], first: int, last: int) -> float:
    """Feed lifecycle inputs first..last-1 to every leg, input-major; seconds taken."""
    handle = peer.handle
    t0 = now()
    for kind, (_, at) in list(zip(peer.inputs, LIFECYCLE, strict=True))[first:last]:
        for leg in legs:
            handle(leg, kind, at)
    return now() - t0


def child_live(peer: Peer, n: int, small: int, batches: int) -> dict[str, float]:
    """Scaling, RSS and full GC, with ``n`` live legs."""
    out: dict[str, float] = {}
    create = peer.create
    # 1. per-input cost with only `small` live legs (fresh legs per batch)
    per: list[float] = []
    for b in range(batches):
        legs = [create(make_ctx(10_000_000 + b * small + i)) for i in range(small)]
        gc.collect()
        per.append(drive_all(peer, legs, 0, INPUTS_PER_LIFECYCLE) / (small * INPUTS_PER_LIFECYCLE))
        for leg in legs:
            peer.release(leg)
        del legs
    out["event_small"] = statistics.median(per)
    gc.collect()
    # 2. n live legs, ringing (a deadline pending): RSS, then full GC
    gc.collect()
    rss0 = rss_bytes()  # before the contexts: their strings are the legs' data
    ctxs = [make_ctx(i) for i in range(n)]
    t0 = now()
    legs = [create(ctx) for ctx in ctxs]
    out["create_live"] = (now() - t0) / n
    del ctxs  # each leg keeps its own references to the context's strings
    elapsed = drive_all(peer, legs, 0, 1)
    gc.collect()
    out["rss_per_leg"] = (rss_bytes() - rss0) / n
    gc.collect()
    pauses = []
    for _ in range(3):
        t0 = now()
        gc.collect()
        pauses.append(now() - t0)
    out["gc_full"] = statistics.median(pauses)
    out["gc_per_leg"] = out["gc_full"] / n
    # 3. the rest of the lifecycle, on all n legs
    elapsed += drive_all(peer, legs, 1, INPUTS_PER_LIFECYCLE)
    out["event_live"] = elapsed / (n * INPUTS_PER_LIFECYCLE)
    return out


class GcRuns:
    """A ``gc.callbacks`` hook: every collection's start and end (perf_counter_ns)
    and generation, so a churn run can tell collector time from the rest."""

    __slots__ = ("ends", "generations", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.generations: list[int] = []

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.starts.append(time.perf_counter_ns())
        else:
            self.ends.append(time.perf_counter_ns())
            self.generations.append(info["generation"])


def child_churn(peer: Peer, n: int) -> dict[str, float]:
    """Churn: ``n`` live legs at every stage of the lifecycle; round robin, one input
    per step; a leg that ends is released and replaced in the same step; automatic
    GC on (default thresholds); 2.5 x n steps (half the population replaced)."""
    create, handle, release = peer.create, peer.handle, peer.release
    steps = n * 5 // 2
    fresh = [make_ctx(n + i) for i in range(steps // INPUTS_PER_LIFECYCLE + 1)]
    pop = [create(make_ctx(i)) for i in range(n)]
    stage = [i % INPUTS_PER_LIFECYCLE for i in range(n)]
    for i, leg in enumerate(pop):
        for k in range(stage[i]):
            handle(leg, peer.inputs[k], LIFECYCLE[k][1])
    kinds = peer.inputs
    times = [at for _, at in LIFECYCLE]
    last = INPUTS_PER_LIFECYCLE - 1
    # each step's start and duration, ns (arrays: no objects, nothing for the GC)
    began = array("q", bytes(8 * steps))
    took = array("q", bytes(8 * steps))
    runs = GcRuns()
    next_ctx = 0
    clock = time.perf_counter_ns
    gc.collect()
    gc.enable()
    gc.callbacks.append(runs)
    t_start = clock()
    for s in range(steps):
        t0 = clock()
        i = s % n
        k = stage[i]
        leg = pop[i]
        handle(leg, kinds[k], times[k])
        if k == last:
            release(leg)
            pop[i] = create(fresh[next_ctx])
            next_ctx += 1
            stage[i] = 0
        else:
            stage[i] = k + 1
        took[s] = clock() - t0
        began[s] = t0
    total = clock() - t_start
    gc.callbacks.remove(runs)
    durations = [end - start for start, end in zip(runs.starts, runs.ends, strict=True)]
    # the steps a collection ran in: the last step that began before it started
    with_gc = {bisect.bisect_right(began, start) - 1 for start in runs.starts}
    ordered = sorted(took)
    return {
        "churn_rate": steps / (total / 1e9),
        "churn_worst": ordered[-1] / 1e9,
        "churn_p999": ordered[math.ceil(0.999 * steps) - 1] / 1e9,
        "churn_gc_max": max(durations, default=0) / 1e9,
        "churn_gc2": sum(1 for g in runs.generations if g == 2),
        "churn_worst_no_gc": max(t for s, t in enumerate(took) if s not in with_gc) / 1e9,
        "churn_gc_runs": len(durations),
        "churn_gc_total": sum(durations) / 1e9,
        "churn_steps": steps,
    }


def child_mem(peer: Peer, n: int) -> dict[str, float]:
    """tracemalloc bytes per live leg (ringing), context strings included."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    legs = [peer.create(make_ctx(i)) for i in range(n)]
    drive_all(peer, legs, 0, 1)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return {"traced_per_leg": used / n}


def child_add_model(at: tuple[int, ...], batch: int) -> dict[str, float]:
    """transitions' shared Machine: what one ``add_model`` / ``remove_model`` costs
    with k live models, and how long building k models from empty takes.

    The automatic GC is off while models are added, so only ``add_model`` itself
    is timed (each model is a cycle through its bound ``partial`` triggers, which
    would otherwise add collections that grow with k too)."""
    from benchmarks.peers import transitions_peer as tp

    machine, clock = tp.SHARED, time.perf_counter_ns
    ctxs = [make_ctx(i) for i in range(max(at) + batch * len(at))]
    gc.collect()
    gc.disable()
    out: dict[str, float] = {}
    built = 0  # ns spent creating legs (TLeg + add_model), cumulative
    next_ctx = 0
    for k in at:
        t0 = clock()
        while len(machine.models) < k:
            tp.create_shared(ctxs[next_ctx])
            next_ctx += 1
        built += clock() - t0
        out[f"build_{k}"] = built / 1e9
        scans, adds, removes = [], [], []
        for _ in range(batch):
            leg = tp.TLeg(ctxs[next_ctx])
            next_ctx += 1
            t0 = clock()
            _ = leg in machine.models  # the membership test add_model starts with
            t1 = clock()
            machine.add_model(leg)
            t2 = clock()
            scans.append(t1 - t0)
            adds.append(t2 - t1)
            middle = machine.models[len(machine.models) // 2]
            t0 = clock()
            machine.remove_model(middle)  # list.remove: compare up to it, shift the rest
            removes.append(clock() - t0)
        out[f"add_{k}"] = statistics.median(adds) / 1e9
        out[f"scan_{k}"] = statistics.median(scans) / 1e9
        out[f"remove_{k}"] = statistics.median(removes) / 1e9
    gc.enable()
    return out


def run_child(mode: str, peer: str, args: list[str]) -> dict[str, float]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--peer", peer, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child {mode} {peer} failed:\n{proc.stderr}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# --- import time (fresh processes) ------------------------------------------------------

#: Timed with perf_counter inside a fresh interpreter: the import, then a leg's
#: creation and first step (the table is compiled on the first step, not at
#: import), then a second leg's, for what the first step costs beyond a step.
FIRST_STEP_CHILD = """\
import time
t0 = time.perf_counter()
import consultfsm
t1 = time.perf_counter()
leg = consultfsm.Leg(
    "L1", "A", "B", "+923001234567", conversation_id="C1", channel_session_id="S1"
)
leg.handle(consultfsm.InputKind.ALERTING, at=200)
t2 = time.perf_counter()
leg = consultfsm.Leg(
    "L2", "A", "B", "+923001234567", conversation_id="C2", channel_session_id="S2"
)
leg.handle(consultfsm.InputKind.ALERTING, at=200)
t3 = time.perf_counter()
print(t1 - t0, t2 - t0, t2 - t1, t3 - t2)
"""
#: ``import attrs`` timed the same way, the pair of the child above.
ATTRS_CHILD = """\
import time
t0 = time.perf_counter()
import attrs
t1 = time.perf_counter()
print(t1 - t0)
"""


def importtime_us(stderr: str, module: str) -> float:
    """The cumulative µs of the top-level ``| module`` line of ``-X importtime``."""
    for line in stderr.splitlines():
        parts = line.split("|")
        # "import time:  self | cumulative | name", name indented two spaces a level
        top_level = len(parts) == 3 and parts[2].rstrip() == f" {module}"
        if top_level and parts[0].startswith("import time:"):
            return float(parts[1])
    raise SystemExit(f"no top-level `{module}` line in -X importtime output:\n{stderr}")


def fresh_python(cache: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``sys.executable`` with bytecode read from and written to ``cache`` only
    (not the source tree, whatever PYTHONDONTWRITEBYTECODE says), from the
    repository root, so the consultfsm measured is this checkout's."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cmd = [sys.executable, "-X", f"pycache_prefix={cache}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return proc


def measure_imports(pairs: int) -> dict[str, list[float]]:
    """Import times in fresh interpreters, in seconds, one sample per round.

    Each round runs attrs, consultfsm, attrs, consultfsm: ``-X importtime`` of
    each, then perf_counter around ``import attrs`` and around consultfsm's import
    + first step. One round before them, discarded, fills the private bytecode
    cache, so what is timed is importing (as from an installed package, whose
    ``.pyc`` files pip writes), not compiling the sources."""
    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="consultfsm-bench-pycache-") as cache:
        for r in range(pairs + 1):
            row: dict[str, float] = {}
            for module in ("attrs", "consultfsm"):
                proc = fresh_python(cache, ["-X", "importtime", "-c", f"import {module}"])
                row[f"importtime_{module}"] = importtime_us(proc.stderr, module) / 1e6
            row["pc_attrs"] = float(fresh_python(cache, ["-c", ATTRS_CHILD]).stdout)
            imp, first, leg1, leg2 = map(
                float, fresh_python(cache, ["-c", FIRST_STEP_CHILD]).stdout.split()
            )
            row |= {
                "pc_consultfsm": imp,
                "first_step": first,
                "first_leg": leg1,
                "second_leg": leg2,
            }
            if r == 0:
                continue  # the warm-up round
            for key, value in row.items():
                out.setdefault(key, []).append(value)
            log(
                f"import round {r}/{pairs}: -X importtime attrs "
                f"{row['importtime_attrs'] * 1e6:,.0f} µs, consultfsm "
                f"{row['importtime_consultfsm'] * 1e6:,.0f} µs; perf_counter attrs "
                f"{row['pc_attrs'] * 1e6:,.0f} µs, consultfsm {imp * 1e6:,.0f} µs, "
                f"+ first leg and step {first * 1e6:,.0f} µs "
                f"(first leg {leg1 * 1e6:,.0f} µs, second {leg2 * 1e6:,.0f} µs)"
            )
    return out


class Imports(NamedTuple):
    """Medians (seconds) of the fresh-process measurements, and paired ratios."""

    rounds: int
    attrs: float  # -X importtime, cumulative, top-level line
    consultfsm: float
    ratio: float  # median of the per-round consultfsm / attrs
    pc_attrs: float  # perf_counter around the import, in the child
    pc_consultfsm: float
    pc_ratio: float
    first_step: float  # import consultfsm + create a Leg + its first step
    first_step_ratio: float  # ... / perf_counter import attrs of the same round
    first_leg: float  # create + first step of the process's first leg
    second_leg: float  # the same for a second leg (the table already compiled)


def summarize_imports(s: dict[str, list[float]]) -> Imports:
    def paired(key: str, to: str) -> float:
        return statistics.median(v / a for v, a in zip(s[key], s[to], strict=True))

    med = {k: statistics.median(v) for k, v in s.items()}
    return Imports(
        rounds=len(s["pc_attrs"]),
        attrs=med["importtime_attrs"],
        consultfsm=med["importtime_consultfsm"],
        ratio=paired("importtime_consultfsm", "importtime_attrs"),
        pc_attrs=med["pc_attrs"],
        pc_consultfsm=med["pc_consultfsm"],
        pc_ratio=paired("pc_consultfsm", "pc_attrs"),
        first_step=med["first_step"],
        first_step_ratio=paired("first_step", "pc_attrs"),
        first_leg=med["first_leg"],
        second_leg=med["second_leg"],
    )


def import_table(im: Imports) -> list[str]:
    def us(x: float) -> str:
        return f"{x * 1e6:,.0f}"

    return [
        "## Import time (fresh processes)",
        "",
        "| measurement | µs (median) | ratio to `import attrs` |",
        "|---|---|---|",
        f"| `import attrs` (-X importtime) | {us(im.attrs)} | 1.00x |",
        f"| `import consultfsm` (-X importtime) | {us(im.consultfsm)} | {im.ratio:.2f}x |",
        f"| `import attrs` (perf_counter) | {us(im.pc_attrs)} | 1.00x |",
        f"| `import consultfsm` (perf_counter) | {us(im.pc_consultfsm)} | {im.pc_ratio:.2f}x |",
        "| `import consultfsm` + create a Leg + first step (perf_counter) | "
        f"{us(im.first_step)} | {im.first_step_ratio:.2f}x |",
        "",
        f"Each row is the median over {im.rounds} fresh `{Path(sys.executable).name}` "
        "processes, run in rounds of attrs, consultfsm, attrs, consultfsm; a ratio is the "
        "median of the per-round ratios to the same round's `import attrs` measured the "
        "same way. The -X importtime rows are the cumulative µs of the top-level line of "
        '`python -X importtime -c "import attrs"` / `"import consultfsm"` (consultfsm\'s '
        "includes importing attrs); the perf_counter rows time, inside the child, the "
        "import, and the import + `Leg(...)` + `leg.handle(InputKind.ALERTING, at=200)`. "
        "Bytecode comes from a private cache (`-X pycache_prefix`) filled by one discarded "
        "round, as an installed package's `.pyc` files would be: importing is timed, not "
        "compiling the sources. consultfsm compiles its transition table on a leg's first "
        f"step, not at import: in that process the first Leg and step took "
        f"{us(im.first_leg)} µs and a second Leg and step {im.second_leg * 1e6:,.1f} µs, so "
        "the first step costs a process about the difference once, on top of the import.",
        "",
    ]


# --- the report -----------------------------------------------------------------------

LABELS = {
    "floor": "floor (no library)",
    "consultfsm": "consultfsm",
    "transitions_per_leg": "transitions: Machine per leg",
    "transitions_shared": "transitions: shared Machine + add_model",
    "statemachine": "python-statemachine: StateMachine per leg",
}


class Metric(NamedTuple):
    key: str
    row: str  # the row's name in the table
    unit: str
    scale: float  # multiply the raw median by this for display
    higher_is_better: bool
    ratio: bool = True  # show the ratio to the floor (not for counts)


METRICS = (
    Metric("lifecycle", "lifecycles/s (create + 5 inputs)", "/s", 1.0, True),
    Metric("event", "inputs/s on existing legs", "/s", 1.0, True),
    Metric("domain_events", "domain events/s on existing legs", "/s", 1.0, True),
    Metric("event_us", "µs per input on existing legs", "µs", 1e6, False),
    Metric("create", "µs to create a leg", "µs", 1e6, False),
    Metric("traced_per_leg", "bytes per live leg (tracemalloc)", "B", 1.0, False),
    Metric("rss_per_leg", "bytes per live leg (RSS)", "B", 1.0, False),
    Metric("event_small", "µs per input, 1,000 live legs", "µs", 1e6, False),
    Metric("event_live", "µs per input, N live legs", "µs", 1e6, False),
    Metric("scaling", "scaling: cost at N live / at 1,000", "x", 1.0, False),
    Metric("gc_full", "ms for a full gc.collect(), N live legs", "ms", 1e3, False),
    Metric("gc_per_leg", "full gc.collect() per live leg, ns", "ns", 1e9, False),
    Metric("churn_rate", "churn: steps/s (GC automatic)", "/s", 1.0, True),
    Metric("churn_worst", "churn: worst single step (pause), ms", "ms", 1e3, False),
    Metric("churn_p999", "churn: p99.9 step time, µs", "µs", 1e6, False),
    Metric("churn_worst_no_gc", "churn: worst step with no GC run in it, ms", "ms", 1e3, False),
    Metric("churn_gc_max", "churn: longest garbage-collector run, ms", "ms", 1e3, False),
    Metric("churn_gc2", "churn: gen-2 (full) collections", "n", 1.0, False, ratio=False),
)


def fmt(value: float, unit: str) -> str:
    if unit == "/s":
        return f"{value:,.0f}"
    if unit == "B":
        return f"{value:,.0f}"
    if unit == "x":
        return f"{value:.2f}"
    if unit == "n":
        return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
    return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"


def versions() -> dict[str, str]:
    out = {}
    for dist in ("consultfsm", "attrs", "transitions", "python-statemachine"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class Target(NamedTuple):
    issue: str  # "#6", or "#6, #10" for a target two issues set
    what: str
    limit: float
    measured: float
    ok: bool


def targets(
    med: dict[str, dict[str, float]],
    ratios: dict[str, dict[str, float]],
    snap_ratio: float,
    imports: Imports,
) -> list[Target]:
    """The targets of issues 6, 7 and 10. Ratios are the median of the per-repetition
    ratios (each repetition measures both sides, close in time)."""
    c, r = med["consultfsm"], ratios["consultfsm"]
    ts = [
        ("#6, #10", "per-input cost on existing legs ≤ 2x floor", 2.0, r["event_us"]),
        ("#6", "creating a leg ≤ 3x floor", 3.0, r["create"]),
        (
            "#6",
            "≤ 1 KB (1,024 B) per live leg at N live legs (tracemalloc)",
            1024.0,
            c["traced_per_leg"],
        ),
        ("#6", "≤ 1 KB (1,024 B) per live leg at N live legs (RSS)", 1024.0, c["rss_per_leg"]),
        ("#6", "scaling: per-input cost at N live ≤ 1.2x cost at 1,000", 1.2, c["scaling"]),
        ("#6", "snapshot -> JSON -> restore ≤ 3x json.dumps + json.loads", 3.0, snap_ratio),
        ("#7", "full gc.collect() at N live legs ≤ 2x floor", 2.0, r["gc_full"]),
        ("#7", "worst churn pause ≤ 2x floor", 2.0, r["churn_worst"]),
        ("#10", "`import consultfsm` ≤ 2.5x `import attrs`", 2.5, imports.ratio),
    ]
    return [Target(i, w, lim, m, m <= lim) for i, w, lim, m in ts]


def add_model_table(am: dict[str, float] | None) -> list[str]:
    """The shared Machine's add_model / remove_model cost at growing model counts."""
    if not am:
        return []
    ks = sorted(int(key.removeprefix("add_")) for key in am if key.startswith("add_"))
    lines = [
        "## transitions shared Machine: add_model with k live models",
        "",
        "| live models k | µs per add_model | of which `model not in models` | "
        "ns per live model (scan / k) | µs per remove_model (middle) | "
        "s to build k from empty |",
        "|---|---|---|---|---|---|",
    ]
    for k in ks:
        lines.append(
            f"| {k:,} | {am[f'add_{k}'] * 1e6:,.1f} | {am[f'scan_{k}'] * 1e6:,.1f} | "
            f"{am[f'scan_{k}'] / k * 1e9:.1f} | {am[f'remove_{k}'] * 1e6:,.1f} | "
            f"{am[f'build_{k}']:,.2f} |"
        )
    lo, hi, mid = ks[0], ks[-1], ks[-2]
    add_lo, add_hi = am[f"add_{lo}"], am[f"add_{hi}"]
    growth = am[f"build_{hi}"] / am[f"build_{mid}"]
    lines += [
        "",
        "`Machine.add_model` begins with `if mod not in self.models`: a scan of a Python "
        "list comparing the new model with every live one; `remove_model` is "
        "`self.models.remove(mod)`, a scan to the model and a shift of the rest. "
        f"From {lo:,} to {hi:,} live models one add_model went from {add_lo * 1e6:,.1f} µs "
        f"to {add_hi * 1e6:,.1f} µs ({add_hi / add_lo:,.0f}x for {hi / lo:,.0f}x the "
        f"models), the scan alone costing about {am[f'scan_{hi}'] / hi * 1e9:.1f} ns per "
        "live model, so building k legs costs about that x k²/2: going from "
        f"{mid:,} to {hi:,} models ({hi / mid:.1f}x) multiplied the build time by "
        f"{growth:.1f} ({hi / mid:.1f}x if linear, {(hi / mid) ** 2:.1f}x if quadratic), "
        f"and {hi:,} models took {am[f'build_{hi}']:,.1f} s to build. A churn at k live "
        "legs pays one add_model and one remove_model per replaced leg. Measured in a "
        "child process with the automatic GC off, to time add_model alone.",
        "",
    ]
    return lines


def churn_note(med: dict[str, dict[str, float]], sz: Sizes) -> list[str]:
    """Two or three sentences on what the churn pause rows mean, with the numbers."""
    f, c = med.get("floor", {}), med.get("consultfsm", {})
    if "churn_worst" not in c or "churn_worst" not in f:
        return []

    def ms(x: float) -> str:
        return f"{x * 1e3:.3f} ms" if x < 0.01 else f"{x * 1e3:,.1f} ms"

    def us(x: float) -> str:
        return f"{x * 1e6:.2f} µs"

    peers = " and ".join(
        f"{ms(med[n]['churn_gc_max'])} with {med[n]['churn_gc2']:,.0f} gen-2 for "
        f"{LABELS[n]} (N = {sz.live[n]:,}, {med[n]['churn_gc_runs']:,.0f} collections)"
        for n in ("transitions_per_leg", "transitions_shared", "statemachine")
        if "churn_gc_max" in med.get(n, {})
    )
    if c["churn_gc_runs"] == 0:
        verdict = (
            "No collection ran at all during consultfsm's churn, so its worst step "
            f"({ms(c['churn_worst'])}) is not a garbage-collector pause but time lost "
            "outside the collector (e.g. the OS running another process)."
        )
    elif c["churn_gc_max"] < c["churn_worst_no_gc"]:
        verdict = (
            f"consultfsm's worst step with no collection in it ({ms(c['churn_worst_no_gc'])})"
            f" is longer than its longest collection ({ms(c['churn_gc_max'])}), so its worst"
            " step is not a garbage-collector pause but time lost outside the collector"
            " (e.g. the OS running another process)."
        )
    else:
        verdict = (
            f"consultfsm's longest collection ({ms(c['churn_gc_max'])}) is at least as long "
            f"as its worst step with no collection in it ({ms(c['churn_worst_no_gc'])}), so "
            "its worst step is a garbage-collector pause."
        )
    return [
        "- *What the churn pause is made of* (medians): the worst single step is the "
        f"maximum over {c['churn_steps']:,.0f} steps of about "
        f"{us(1 / c['churn_rate'])} each, so one preemption of the process decides it; "
        "the target is still judged on it, as issue 7 defines it. The p99.9 step "
        f"({us(f['churn_p999'])} floor, {us(c['churn_p999'])} consultfsm) is the slow "
        "tail without that single outlier, and the longest garbage-collector run "
        "isolates the collector's pauses, which are what issue 7 is about: "
        f"{ms(f['churn_gc_max'])} for the floor and {ms(c['churn_gc_max'])} for "
        f"consultfsm ({f['churn_gc_runs']:,.0f} and {c['churn_gc_runs']:,.0f} "
        f"collections, {f['churn_gc2']:,.0f} and {c['churn_gc2']:,.0f} of them gen-2), "
        f"against {peers}. " + verdict
    ]


def size_note(sz: Sizes, names: list[str]) -> str:
    """Which N and how many child processes each implementation ran, and why."""
    top = max(sz.live[n] for n in names)
    smaller = [n for n in names if sz.live[n] < top]
    fewer = [n for n in names if sz.live_reps[n] < sz.live_reps["floor"]]
    text = f"- N (the live-leg count, see *live legs N*) is {top:,}"
    if smaller:
        text += " except for " + ", ".join(f"{LABELS[n]} ({sz.live[n]:,})" for n in smaller)
    text += (
        ". The transitions shared Machine's `add_model` is O(live models) (table above), "
        "so its churn and its builds of N models grow quadratically; it runs at a smaller "
        "N. "
    )
    if fewer:
        text += (
            "The library peers cost 50 to 400 times the floor per leg, so to keep the full "
            "run within about 15 minutes "
            + ", ".join(LABELS[n] for n in fewer)
            + " run fewer child processes (see *child processes*; with one, the cell is "
            "that single run, not a median). "
        )
    return text + (
        f"The floor and consultfsm, which the targets compare, run {sz.live_reps['floor']} "
        f"(live legs) and {sz.churn_reps['floor']} (churn) child processes. Ratios pair "
        "each run with the floor's run of the same round."
    )


def render(  # noqa: PLR0917
    med: dict[str, dict[str, float]],
    ratios: dict[str, dict[str, float]],
    sz: Sizes,
    snap: tuple[float, float, float],
    add_model: dict[str, float] | None,
    imports: Imports,
    quick: bool,
    wall: float,
) -> str:
    names = [n for n in ORDER if n in med]
    lines = [
        "# consultfsm benchmark results",
        "",
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Mode: {'--quick' if quick else 'full'} "
        f"({sz.reps} interleaved in-process repetitions; child-process repetitions per "
        f"implementation in the table; medians reported; run took {wall:.0f} s)",
        f"- Machine: {cpu_name()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        f"- Python: {platform.python_implementation()} {platform.python_version()}",
        "- Packages: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        "",
        "The same lifecycle for every implementation: create; `alerting`; B's browser "
        "disconnects and is restored; `accepted`; `dropped_by_a` (5 inputs, 14 domain "
        "events, checked equal across implementations before timing). Each cell is the "
        "median over repetitions, then the ratio to the floor: the median of the "
        "per-repetition ratios, each taken between measurements made close together in "
        "the same run, which cancels most of the load noise of a shared machine (for "
        'rates: floor / this, so every ratio reads "times the floor\'s cost").',
        "",
        "| metric | " + " | ".join(LABELS[n] for n in names) + " |",
        "|---|" + "---|" * len(names),
        "| live legs N | " + " | ".join(f"{sz.live[n]:,}" for n in names) + " |",
        "| legs per in-process measurement | "
        + " | ".join(f"{sz.legs[n]:,}" for n in names)
        + " |",
        "| child processes (live legs / churn) | "
        + " | ".join(f"{sz.live_reps[n]} / {sz.churn_reps[n]}" for n in names)
        + " |",
    ]
    for m in METRICS:
        cells = []
        for n in names:
            v = med[n].get(m.key)
            ratio = ratios[n].get(m.key)
            if v is None:
                cells.append("n/a")
            elif not m.ratio:
                cells.append(fmt(v * m.scale, m.unit))
            elif ratio is None:  # the floor measured 0: no ratio
                cells.append(f"{fmt(v * m.scale, m.unit)} (n/a)")
            else:
                cells.append(f"{fmt(v * m.scale, m.unit)} ({ratio:.2f}x)")
        lines.append(f"| {m.row} | " + " | ".join(cells) + " |")
    t_snap, t_json, snap_ratio = snap
    lines += [
        "",
        "## consultfsm snapshot round trip",
        "",
        "| measurement | per second | µs each | ratio |",
        "|---|---|---|---|",
        f"| snapshot -> JSON -> restore | {1 / t_snap:,.0f} | {t_snap * 1e6:.2f} | "
        f"{snap_ratio:.2f}x |",
        f"| json.dumps + json.loads of the same dict | {1 / t_json:,.0f} | "
        f"{t_json * 1e6:.2f} | 1.00x |",
        "",
        *add_model_table(add_model),
        *import_table(imports),
        "## Targets (issues 6, 7 and 10), computed from the medians above",
        "",
        "| issue | target | limit | measured | met |",
        "|---|---|---|---|---|",
    ]
    for t in targets(med, ratios, snap_ratio, imports):
        if t.limit > 100:  # bytes
            limit, measured = f"{t.limit:,.0f} B", f"{t.measured:,.0f} B"
        else:
            limit, measured = f"{t.limit:.2f}x", f"{t.measured:.2f}x"
        lines.append(
            f"| {t.issue} | {t.what} | {limit} | {measured} | {'yes' if t.ok else '**no**'} |"
        )
    lines += [
        "",
        "## How each number is measured",
        "",
        "- *lifecycles/s*: create a leg, feed the 5 inputs, release it; timed over "
        "the in-process count of legs.",
        "- *inputs/s on existing legs*: legs created first (untimed), then the 5 inputs "
        "fed input-major to all of them; *domain events/s* is that rate x 14/5.",
        "- *µs to create a leg*: building that many legs from prepared contexts.",
        "- *bytes per live leg*: N legs built (context strings included, unique ids of "
        "realistic length) and ringing (a deadline pending), kept in a list; "
        "tracemalloc in its own child process, RSS (/proc/self/statm) in another.",
        "- *scaling*: µs per input with 1,000 live legs (fresh batches) vs with N live "
        "legs, in the same child process.",
        "- *full gc.collect()*: median of 3 full collections with N live, ringing legs.",
        "- *churn*: N live legs at every stage of the lifecycle; round robin, one input "
        "per step; a leg that ends is released and replaced by a new one in the same "
        "step; automatic GC on (default thresholds); 2.5 x N steps (half the "
        "population replaced), each step timed. Reported: steps/s; the longest single "
        "step (the value issue 7's target is judged on); the p99.9 step; the longest "
        "step during which no collection ran; the longest garbage-collector run and "
        "the number of generation-2 collections, both from a `gc.callbacks` hook "
        "(start -> stop of each collection).",
        *churn_note(med, sz),
        "- Peers: `transitions` and `python-statemachine` use a flat machine (call and "
        "B's desk folded into one state) with one callback per transition building the "
        "floor's `__slots__` event objects; consultfsm runs its full three-region table "
        "with guards and builds frozen attrs events and a `Step` per input.",
        size_note(sz, names),
    ]
    return "\n".join(lines) + "\n"


def paired_ratio(values: list[float], floors: list[float], higher: bool) -> float | None:
    """The median of per-round ratios to the floor ("times the floor's cost"): round
    r of an implementation is paired with the floor's round r (an implementation
    with fewer rounds pairs with the floor's first ones). None if a denominator is 0."""
    pairs = list(zip(values, floors, strict=False))
    if any((v if higher else f) == 0 for v, f in pairs):
        return None
    return statistics.median((f / v if higher else v / f) for v, f in pairs)


# --- main -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="smaller counts, under a minute")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "RESULTS.md")
    ap.add_argument("--peers", default=",".join(ORDER), help=argparse.SUPPRESS)
    ap.add_argument(
        "--child", choices=("live", "churn", "mem", "add_model"), help=argparse.SUPPRESS
    )
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--small", type=int, default=1000, help=argparse.SUPPRESS)
    ap.add_argument("--batches", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--at", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    peers = load_peers()

    if args.child:
        peer = peers[args.peer]
        if args.child == "live":
            result = child_live(peer, args.n, args.small, args.batches)
        elif args.child == "churn":
            result = child_churn(peer, args.n)
        elif args.child == "mem":
            result = child_mem(peer, args.n)
        else:
            at = tuple(int(k) for k in args.at.split(","))
            result = child_add_model(at, args.batches)
        print(json.dumps(result))
        return 0

    started = now()
    sz = sizes(args.quick)
    asked = args.peers.split(",")
    if unknown := [n for n in asked if n not in ORDER]:
        raise SystemExit(f"--peers: unknown {', '.join(unknown)} (known: {', '.join(ORDER)})")
    chosen = [n for n in ORDER if n in asked]
    if "floor" not in chosen or "consultfsm" not in chosen:
        raise SystemExit("--peers must include floor and consultfsm")
    log(f"consultfsm benchmark ({'quick' if args.quick else 'full'} mode)")
    log("live legs N: " + ", ".join(f"{n}={sz.live[n]:,}" for n in chosen))
    check_equivalence({n: peers[n] for n in chosen})
    imports = summarize_imports(measure_imports(sz.import_pairs))

    samples: dict[str, dict[str, list[float]]] = {n: {} for n in chosen}

    def add(name: str, key: str, value: float) -> None:
        samples[name].setdefault(key, []).append(value)

    snaps: list[tuple[float, float]] = []
    for rep in range(sz.reps):
        # floor and consultfsm back to back (alternating which goes first), so their
        # ratio is taken between measurements close in time; the others rotate
        pair = ["floor", "consultfsm"] if rep % 2 == 0 else ["consultfsm", "floor"]
        others = [n for n in chosen if n not in pair]
        others = others[rep % max(len(others), 1) :] + others[: rep % max(len(others), 1)]
        for name in pair + others:
            peer = peers[name]
            count = sz.legs[name]
            ctxs = [make_ctx(rep * 1_000_000 + i) for i in range(count)]
            t_life = run_lifecycles(peer, ctxs)
            t_create, t_event = run_create_and_events(peer, ctxs)
            add(name, "lifecycle", 1 / t_life)
            add(name, "create", t_create)
            add(name, "event", 1 / t_event)
            add(name, "event_us", t_event)
            add(name, "domain_events", EVENTS_PER_LIFECYCLE / INPUTS_PER_LIFECYCLE / t_event)
            log(
                f"rep {rep + 1}/{sz.reps} {name}: {1 / t_life:,.0f} lifecycles/s, "
                f"{t_create * 1e6:.2f} µs/create, {t_event * 1e6:.2f} µs/input (n={count})"
            )
        snaps.append(run_snapshots(sz.snapshots))
        log(
            f"rep {rep + 1}/{sz.reps} snapshot round trip: {snaps[-1][0] * 1e6:.2f} µs, "
            f"json dumps+loads {snaps[-1][1] * 1e6:.2f} µs"
        )

    rounds = max(*sz.live_reps.values(), *sz.churn_reps.values())
    for rep in range(rounds):
        order = chosen[rep % len(chosen) :] + chosen[: rep % len(chosen)]
        for name in order:
            n = sz.live[name]
            if rep < sz.live_reps[name]:
                t0 = now()
                batches = str(sz.small_batches[name])
                live = run_child(
                    "live", name, ["--n", str(n), "--small", str(sz.small), "--batches", batches]
                )
                if rep == 0:  # tracemalloc counts bytes: one run is exact enough
                    live |= run_child("mem", name, ["--n", str(n)])
                for key, value in live.items():
                    add(name, key, value)
                add(name, "scaling", live["event_live"] / live["event_small"])
                log(
                    f"round {rep + 1}/{rounds} {name} live (N={n:,}, {now() - t0:.0f} s): "
                    f"{samples[name]['traced_per_leg'][0]:,.0f} B/leg traced, "
                    f"{live['rss_per_leg']:,.0f} B/leg RSS, "
                    f"gc.collect {live['gc_full'] * 1e3:.1f} ms, "
                    f"scaling {live['event_live'] / live['event_small']:.2f}"
                )
            if rep < sz.churn_reps[name]:
                t0 = now()
                churn = run_child("churn", name, ["--n", str(n)])
                for key, value in churn.items():
                    add(name, key, value)
                log(
                    f"round {rep + 1}/{rounds} {name} churn (N={n:,}, {now() - t0:.0f} s): "
                    f"{churn['churn_rate']:,.0f} steps/s, "
                    f"worst {churn['churn_worst'] * 1e3:.3f} ms, "
                    f"p99.9 {churn['churn_p999'] * 1e6:.2f} µs, "
                    f"worst without GC {churn['churn_worst_no_gc'] * 1e3:.3f} ms, "
                    f"longest GC {churn['churn_gc_max'] * 1e3:.3f} ms, "
                    f"{churn['churn_gc_runs']:,.0f} collections "
                    f"({churn['churn_gc2']:,.0f} gen-2, {churn['churn_gc_total']:.3f} s)"
                )

    add_model: dict[str, float] | None = None
    if "transitions_shared" in chosen:
        t0 = now()
        add_model = run_child(
            "add_model",
            "transitions_shared",
            ["--at", ",".join(map(str, sz.add_model_at)), "--batches", str(sz.add_model_batch)],
        )
        top = max(sz.add_model_at)
        log(
            f"transitions shared add_model ({now() - t0:.0f} s): "
            + ", ".join(f"{k:,}: {add_model[f'add_{k}'] * 1e6:.1f} µs" for k in sz.add_model_at)
            + f"; {top:,} built in {add_model[f'build_{top}']:.1f} s"
        )

    med = {n: {k: statistics.median(v) for k, v in ks.items()} for n, ks in samples.items()}
    higher = {m.key for m in METRICS if m.higher_is_better}
    ratios = {
        n: {
            k: r
            for k, vs in ks.items()
            if k in samples["floor"]
            and (r := paired_ratio(vs, samples["floor"][k], k in higher)) is not None
        }
        for n, ks in samples.items()
    }
    snap = (
        statistics.median(s for s, _ in snaps),
        statistics.median(j for _, j in snaps),
        statistics.median(s / j for s, j in snaps),
    )
    text = render(med, ratios, sz, snap, add_model, imports, args.quick, now() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    old = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
    args.out.write_text(text, encoding="utf-8")
    if DURABLE_BEGIN in old:  # benchmarks/durable.py's section stays (it runs on its own)
        durable = DURABLE_BEGIN + old.split(DURABLE_BEGIN, 1)[1].split(DURABLE_END, 1)[0]
        args.out.write_text(text.rstrip("\n") + "\n\n" + durable + DURABLE_END + "\n",
                            encoding="utf-8")  # fmt: skip
    log(f"wrote {args.out} in {now() - started:.0f} s")
    for t in targets(med, ratios, snap[2], imports):
        log(f"  {t.issue} {t.what}: {t.measured:.2f} -> {'met' if t.ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
