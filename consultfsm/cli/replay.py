"""``consultfsm replay TRACE.jsonl``: run a trace through the whole system.

The only module of the replay that does I/O: it reads the trace (a file or
stdin), hands the lines to :func:`consultfsm.replay.system.replay`, and prints the
records as JSON Lines. Diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from consultfsm.core.errors import ConsultFsmError
from consultfsm.replay.system import DEFAULT_SERVICE_IDENTIFIER, System, SystemConfig, replay
from consultfsm.wire.cim import TimestampForm

EPILOG = f"""\
The trace's `config` inputs override these options from where they appear.
The format of traces and of the output is described in docs/trace-format.md.

exit status:
  0  every input was accepted
  1  at least one input was rejected (see its `input_rejected` line)
  2  usage error, or the trace could not be read

serviceIdentifier: taken from the consult, else its customer session, else
--service-identifier (default {DEFAULT_SERVICE_IDENTIFIER!r}).
"""


def register(sub: Any) -> None:
    """Add the ``replay`` subcommand to the CLI."""
    parser = sub.add_parser(
        "replay",
        help="replay a JSON Lines trace through desks, CCM and routing; print the events",
        description=(
            "Replay a trace (JSON Lines, one input per line, `at` in ms, non-decreasing) "
            "through AgentDesk A and B, the CCM, the Routing Engine and Agent Manager, on a "
            "virtual clock, and print every emitted event as JSON Lines. Illegal or "
            "malformed inputs print an `input_rejected` line and the replay goes on."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("trace", metavar="TRACE.jsonl", help="the trace file, or - for stdin")
    parser.add_argument(
        "--service-identifier",
        default=DEFAULT_SERVICE_IDENTIFIER,
        metavar="DN",
        help="fallback CIM serviceIdentifier (default: %(default)s)",
    )
    parser.add_argument(
        "--region",
        default=None,
        metavar="CC",
        help="default region for national-format ANIs, e.g. PK (default: none)",
    )
    parser.add_argument(
        "--timestamps",
        choices=[f.value for f in TimestampForm],
        default=TimestampForm.RFC3339.value,
        help="CIM header.timestamp form (default: %(default)s, as the schema says)",
    )
    parser.set_defaults(run=run)


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def run(args: argparse.Namespace) -> int:
    """Run the replay; returns the exit status (0 ok, 1 rejected inputs, 2 error)."""
    try:
        config = SystemConfig(
            default_region=args.region,
            service_identifier=args.service_identifier,
            timestamp_form=TimestampForm(args.timestamps),
        )
        System(config)  # checks the settings before reading anything
    except ConsultFsmError as exc:
        print(f"consultfsm replay: {exc}", file=sys.stderr)
        return 2
    try:
        text = _read(args.trace)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"consultfsm replay: cannot read {args.trace}: {exc}", file=sys.stderr)
        return 2
    # Split on newlines only: JSON strings may hold U+2028, which splitlines() breaks on.
    result = replay(text.split("\n"), config)
    out = sys.stdout
    for line in result.lines():
        out.write(line + "\n")
    out.flush()
    if result.rejected:
        print(f"consultfsm replay: {result.rejected} input(s) rejected", file=sys.stderr)
        return 1
    return 0
