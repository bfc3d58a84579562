"""``consultfsm replay TRACE.jsonl``: run a trace through the whole system.

The only module of the replay that does I/O: it reads the trace (a file or
stdin) line by line, feeds each line to one :class:`consultfsm.replay.system.System`,
and prints each line's records as JSON Lines at once, so nothing of the trace
or the output is held. Diagnostics go to stderr; a trace that turns out not to
be UTF-8 part way stops there, with exit status 2, after the records of the
lines before it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import Any

from consultfsm.core.errors import ConsultFsmError
from consultfsm.replay.system import (
    DEFAULT_SERVICE_IDENTIFIER,
    System,
    SystemConfig,
    dumps_record,
)
from consultfsm.wire.cim import TimestampForm

EPILOG = f"""\
The trace's `config` inputs override these options from where they appear.
The format of traces and of the output is described in docs/trace-format.md.

exit status:
  0  every input was accepted
  1  at least one input was rejected (see its `input_rejected` line)
  2  usage error, the trace could not be read (or is not UTF-8), or the
     output could not be written

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
    parser.add_argument(
        "--states",
        action="store_true",
        help=(
            "after each input, add a `states` record per leg it touched: the state of the "
            "leg model, the CCM and each AgentDesk for that leg, and the rows they took "
            "(for the design-review page; default: off, the output is unchanged)"
        ),
    )
    parser.set_defaults(run=run)


class _Unreadable(Exception):
    """The trace could not be read (any further); ``why`` says how."""

    def __init__(self, why: str) -> None:
        self.why = why
        super().__init__(why)


def _raw_lines(path: str) -> Iterator[bytes | str]:
    if path == "-":
        if sys.stdin is None:  # started with stdin closed (``<&-``)
            raise OSError("stdin is closed")
        binary = getattr(sys.stdin, "buffer", None)
        if binary is None:  # a text stream given as stdin (tests, embedding)
            yield from sys.stdin
            return
        yield from binary
        return
    with open(path, "rb") as handle:
        yield from handle


def _lines(path: str) -> Iterator[str]:
    """The trace's lines, decoded one by one. Bytes split on newlines only
    (JSON strings may hold U+2028, which splitlines() breaks on), so a bad
    byte stops the replay at its own line, after everything before it was
    written; a UTF-8 byte order mark before the first line is skipped. Every
    failure to read, from a file or stdin alike, is :class:`_Unreadable`."""
    lineno = 0
    try:
        for raw in _raw_lines(path):
            lineno += 1
            if isinstance(raw, str):
                yield raw.removeprefix("\ufeff") if lineno == 1 else raw
                continue
            yield raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise _Unreadable(
            f"line {lineno} is not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    except (OSError, ValueError) as exc:  # ValueError: a stream closed under us
        raise _Unreadable(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """Run the replay; returns the exit status (0 ok, 1 rejected inputs, 2 error)."""
    try:
        config = SystemConfig(
            default_region=args.region,
            service_identifier=args.service_identifier,
            timestamp_form=TimestampForm(args.timestamps),
        )
        system = System(config, states=args.states)  # checks the settings before reading anything
    except ConsultFsmError as exc:
        print(f"consultfsm replay: {exc}", file=sys.stderr)
        return 2
    out = sys.stdout
    try:
        try:
            for lineno, line in enumerate(_lines(args.trace), 1):
                if line.strip():
                    for record in system.feed_line(line, lineno):
                        out.write(dumps_record(record) + "\n")
        finally:
            out.flush()  # what was written before a failure still goes out
    except _Unreadable as exc:
        print(f"consultfsm replay: cannot read {args.trace}: {exc.why}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, as other commands
        _quiet_stdout()
        return 0
    except OSError as exc:  # the output cannot be written (a full disk, a closed file)
        _quiet_stdout()
        print(f"consultfsm replay: cannot write the output: {exc}", file=sys.stderr)
        return 2
    if system.rejected:
        print(f"consultfsm replay: {system.rejected} input(s) rejected", file=sys.stderr)
        return 1
    return 0


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's own flush at exit does
    not fail on the same broken output and print a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (tests, embedding): nothing will flush it at exit
