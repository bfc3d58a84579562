"""The ``consultfsm`` command line: ``cases``, ``replay``, ``check``, ``diagram``, ``serve``.

The top layer: it parses arguments, prints, and maps outcomes to exit
statuses; what it runs lives below.

Each subcommand lives in its own module ``consultfsm.cli.<name>`` that exposes
``register(subparsers)``; this module only wires them together.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import cases, check, diagram, replay, serve

#: The subcommands, in the order ``--help`` lists them.
COMMANDS = (cases, replay, check, diagram, serve)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="consultfsm",
        description="Consult-call legs as an explicit finite state machine.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("consultfsm")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except BrokenPipeError:  # `consultfsm cases | head` is fine
        sys.stderr.close()
        return 0
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
