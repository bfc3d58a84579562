"""A generator of long, realistic replay traces, streamed line by line.

    python benchmarks/traces.py --lines 1000000 --live 1000 > trace.jsonl

Each consult is one customer's call: the customer's session starts, A
consults B, something happens, the session ends. What happens is drawn from
a mix of the outcomes a contact center sees (see :data:`OUTCOMES`), and the
consult names the customer's session in one of the three ways the CCM must
handle: the customer's ANI (UCCX, queue consults), the UCCE
``associatedDialogUri``, or the channel session id. About ``live`` consults
overlap at any time: consult ``i`` starts at ``i * gap`` and lasts about a
minute (at most about 150 s), so the generator holds only the lines of the
consults still going (a heap), never the whole trace. Agents come round from a
pool of ``4 * live`` (so an agent's desk serves many consults over the run),
never in two consults at once.

Deterministic for a seed: the same arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import sys
from collections.abc import Iterator
from typing import Any

#: Outcome -> weight (per 100 consults).
OUTCOMES: dict[str, int] = {
    "answered": 40,  # B answers, A or B hangs up
    "held": 10,  # answered, held and retrieved once or twice
    "rona": 8,  # B never answers: the ring window runs out
    "a_gave_up": 5,  # A hangs up while it rings
    "transfer": 8,
    "conference": 4,
    "b_refresh": 8,  # B's browser reloads on the call
    "b_away_at_end": 5,  # B's page is gone when A hangs up; it comes back later
    "customer_left": 4,  # the customer hangs up first; the consult goes on
    "queue": 8,  # to a queue: offered to B, answered
}
#: How a consult names the customer's session -> weight.
EVIDENCE: dict[str, int] = {"ani": 40, "dialog_uri": 30, "session_id": 30}
#: The mean length of a consult (ms): consult i starts at i * (this / live).
CONSULT_MS = 60_000


def _ani(i: int) -> str:
    return f"+92300{i % 10_000_000:07d}"  # a valid Pakistani mobile number, unique per call


def _initiated(i: int, at: int, a: str, b: str, *, outcome: str, evidence: str) -> dict[str, Any]:
    """The consult's start, naming the customer's session by ``evidence``."""
    line: dict[str, Any] = {"at": at, "input": "consult_initiated", "leg": f"L{i}",
                            "agent_a": a, "call_id": f"D{i}"}  # fmt: skip
    if evidence == "ani" or outcome == "queue":
        line["customer_ani"] = _ani(i)
    elif evidence == "dialog_uri":
        line["associated_dialog_uri"] = f"/finesse/api/Dialog/CD{i}"
    else:
        line["channel_session_id"] = f"S{i}"
    if outcome == "queue":
        line.update(agent_b=None, queue=True)
    else:
        line["agent_b"] = b
    return line


def consult(i: int, start: int, rng: random.Random, agents: int) -> list[dict[str, Any]]:
    """The trace lines of consult ``i`` (its customer's call included), from ``start``."""
    a, b = f"A{i % agents}", f"B{i % agents}"  # free again by the time they come round
    leg, session = f"L{i}", f"S{i}"
    outcome = rng.choices(list(OUTCOMES), weights=list(OUTCOMES.values()))[0]
    evidence = rng.choices(list(EVIDENCE), weights=list(EVIDENCE.values()))[0]
    t = start
    out: list[dict[str, Any]] = [{
        "at": t, "input": "customer_session_started", "session": session,
        "conversation": f"C{i}", "customer_ani": _ani(i), "dialog": f"CD{i}", "agents": [a],
    }]  # fmt: skip

    def at(step: int) -> int:
        nonlocal t
        t += step
        return t

    out.append(
        _initiated(i, at(rng.randint(1_000, 20_000)), a, b, outcome=outcome, evidence=evidence)
    )
    if outcome == "queue":
        out.append({"at": at(rng.randint(500, 5_000)), "input": "offered", "leg": leg,
                    "agent": b})  # fmt: skip
    out.append({"at": at(rng.randint(50, 300)), "input": "alerting", "leg": leg})
    if outcome == "rona":
        out.append({"at": at(16_000), "input": "tick"})  # the ring window (15 s) runs out
        out.append({"at": at(500), "input": "rona", "leg": leg})  # and the router gives up
    elif outcome == "a_gave_up":
        out.append({"at": at(rng.randint(1_000, 10_000)), "input": "dropped", "leg": leg,
                    "by": a})  # fmt: skip
    else:
        out.append({"at": at(rng.randint(1_000, 10_000)), "input": "accepted", "leg": leg})
        talk = rng.randint(10_000, 60_000)
        if outcome == "held":
            for _ in range(rng.randint(1, 2)):
                out.append({"at": at(talk // 4), "input": "held", "leg": leg})
                out.append({"at": at(talk // 4), "input": "retrieved", "leg": leg})
        if outcome in ("transfer", "conference"):
            kind = "transferred" if outcome == "transfer" else "conferenced"
            out.append({"at": at(talk), "input": kind, "leg": leg})
        elif outcome == "b_refresh":
            out.append({"at": at(talk // 2), "input": "browser_disconnected", "agent": b})
            out.append({"at": at(rng.randint(500, 3_000)), "input": "browser_restored",
                        "agent": b})  # fmt: skip
            out.append({"at": at(talk // 2), "input": "dropped", "leg": leg, "by": b})
        elif outcome == "b_away_at_end":
            out.append({"at": at(talk), "input": "browser_disconnected", "agent": b})
            out.append({"at": at(1_000), "input": "dropped", "leg": leg, "by": a})
            out.append({"at": at(rng.randint(1_000, 20_000)), "input": "browser_restored",
                        "agent": b})  # fmt: skip
        elif outcome == "customer_left":
            out.append({"at": at(talk // 2), "input": "customer_session_ended",
                        "session": session})  # fmt: skip
            out.append({"at": at(talk // 2), "input": "dropped", "leg": leg, "by": b})
            return out
        else:
            out.append({"at": at(talk), "input": "dropped", "leg": leg,
                        "by": rng.choice((a, b))})  # fmt: skip
    out.append({"at": at(rng.randint(1_000, 30_000)), "input": "customer_session_ended",
                "session": session})  # fmt: skip
    return out


def generate(lines: int, *, live: int = 1_000, seed: int = 1) -> Iterator[str]:
    """``lines`` trace lines, about ``live`` consults overlapping, in time order."""
    rng = random.Random(seed)
    gap = max(1, CONSULT_MS // live)
    agents = 4 * live
    pending: list[tuple[int, int, str]] = []  # (at, order, line): what is still to come
    order = emitted = i = 0
    while emitted < lines:
        start = i * gap
        while pending and pending[0][0] < start and emitted < lines:
            yield heapq.heappop(pending)[2]
            emitted += 1
        for line in consult(i, start, rng, agents):
            heapq.heappush(pending, (line["at"], order, json.dumps(line)))
            order += 1
        i += 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--lines", type=int, default=1_000_000, help="how many lines (default 1e6)")
    ap.add_argument("--live", type=int, default=1_000, help="consults going at once (default 1000)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    write = sys.stdout.write
    for line in generate(args.lines, live=args.live, seed=args.seed):
        write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
