"""Write the example traces that drive AgentDesks from Finesse XML, for the
design note's cases on UCCE and UCCX (``examples/traces/finesse/``).

    python tools/finesse_traces.py            # write the traces and their expected output
    python tools/finesse_traces.py --check    # write nothing; exit 1 if any is stale

Each case is a script of world events (A rings B, B answers, a page goes
away...). The XML each page receives is built by ``tests/finesse_builder.py``
from Cisco's documented dialog mapping in the real captures' shapes, so the
traces and the desk tests share one source. The expected output is what
``consultfsm replay`` prints for the trace; ``tests/test_finesse_traces.py``
checks both, and what each desk shows against the note's Agent Desk column.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from finesse_builder import (  # noqa: E402
    A_EXT,
    A_USER,
    B_EXT,
    B_USER,
    CUSTOMER,
    CUSTOMER_DIALOG,
    Consult,
)

from consultfsm.replay.system import replay  # noqa: E402

OUT = ROOT / "examples" / "traces" / "finesse"
PLATFORMS = ("ucce", "uccx")
#: The settle window of a desk (``consultfsm.desk.table.DEFAULT_SETTLE_MS``)
#: has passed by this long after the last event.
QUIET = 3_000

Script = list[tuple[int, str, dict[str, Any]]]
RING: Script = [(0, "dial", {}), (100, "ring", {})]
ANSWERED: Script = [*RING, (2_000, "answer", {})]

#: The design note's cases (its list and its failover table), as world events.
CASES: dict[str, Script] = {
    "a-dropped-before-accept": [*RING, (3_000, "cancel", {})],
    "a-dropped-after-accept": [*ANSWERED, (9_000, "hang_up", {"by": A_EXT})],
    "b-never-accepted-rona": [*RING, (15_000, "rona", {})],
    "b-dropped-after-accept": [*ANSWERED, (9_000, "hang_up", {"by": B_EXT})],
    "a-restored-still-ringing": [*RING, (1_000, "away", {"desk": "a"}),
                                 (3_000, "back", {"desk": "a"})],
    "a-restored-after-rona": [*RING, (1_000, "away", {"desk": "a"}), (15_000, "rona", {}),
                              (16_000, "back", {"desk": "a"})],
    "a-restored-b-on-call": [*RING, (1_000, "away", {"desk": "a"}), (2_000, "answer", {}),
                             (3_000, "back", {"desk": "a"})],
    "a-restored-after-end": [*ANSWERED, (4_000, "away", {"desk": "a"}),
                             (5_000, "hang_up", {"by": B_EXT}), (6_000, "back", {"desk": "a"})],
    "b-disconnected-still-ringing": [*RING, (1_000, "away", {"desk": "b"}),
                                     (3_000, "back", {"desk": "b"})],
    "b-disconnected-rona": [*RING, (1_000, "away", {"desk": "b"}), (15_000, "rona", {}),
                            (20_000, "back", {"desk": "b"})],
    "b-disconnected-a-dropped": [*RING, (1_000, "away", {"desk": "b"}), (4_000, "cancel", {}),
                                 (20_000, "back", {"desk": "b"})],
    "b-refresh-call-active": [*ANSWERED, (4_000, "away", {"desk": "b"}),
                              (5_000, "back", {"desk": "b"})],
    "b-refresh-call-dropped": [*ANSWERED, (4_000, "away", {"desk": "b"}),
                               (4_500, "hang_up", {"by": A_EXT}), (6_000, "back", {"desk": "b"})],
    "consult-transfer": [*ANSWERED, (9_000, "transfer", {"post_first": False})],
    "consult-conference": [*ANSWERED, (9_000, "conference", {"post_first": True})],
    "consult-hold-retrieve": [*ANSWERED, (3_000, "hold", {"by": B_EXT}),
                              (4_000, "retrieve", {"by": B_EXT}),
                              (9_000, "hang_up", {"by": B_EXT})],
}  # fmt: skip

AGENTS = {"a": ("A", A_EXT, A_USER), "b": ("B", B_EXT, B_USER)}


def trace(platform: str, script: Script) -> list[dict[str, Any]]:
    """The trace lines of one case on one platform."""
    consult = Consult(platform)
    # The customer's call reached A: the CCM has the session the consult joins.
    session = {"at": 0, "input": "customer_session_started", "session": "S1",
               "conversation": "C1", "customer_ani": CUSTOMER,
               "dialog": CUSTOMER_DIALOG}  # fmt: skip
    lines: list[dict[str, Any]] = [session] + [
        {"at": 0, "input": "agent_desk", "agent": agent, "extension": ext, "agent_id": user}
        for agent, ext, user in AGENTS.values()
    ]
    up = {"a": True, "b": True}
    for t, what, kw in script:
        if what in ("away", "back"):
            desk = kw["desk"]
            agent = AGENTS[desk][0]
            if what == "away":
                lines.append({"at": t, "input": "browser_disconnected", "agent": agent})
            else:
                lines.append({"at": t, "input": "browser_restored", "agent": agent})
                lines.append({"at": t, "input": "dialogs", "agent": agent,
                              "xml": consult.listing(desk)})  # fmt: skip
            up[desk] = what == "back"
            continue
        for desk, xmls in getattr(consult, what)(t, **kw).items():
            if up[desk]:  # a page that is down receives nothing
                lines += [{"at": t, "input": "finesse", "agent": AGENTS[desk][0], "xml": x}
                          for x in xmls]  # fmt: skip
    lines.append({"at": script[-1][0] + QUIET, "input": "tick"})
    return lines


def files() -> dict[Path, str]:
    """Every file to write: each trace and its expected output."""
    out: dict[Path, str] = {}
    for platform in PLATFORMS:
        for name, script in CASES.items():
            text = "".join(json.dumps(line) + "\n" for line in trace(platform, script))
            result = replay(text.splitlines())
            if result.rejected:
                raise SystemExit(f"{platform}/{name}: the replay rejected an input")
            out[OUT / platform / f"{name}.jsonl"] = text
            out[OUT / platform / f"{name}.expected.jsonl"] = "".join(
                line + "\n" for line in result.lines()
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args()
    stale = []
    for path, text in files().items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'} {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
