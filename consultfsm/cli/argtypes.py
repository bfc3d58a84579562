"""Argument types the subcommands share: each turns an option's text into
its value, or raises :class:`argparse.ArgumentTypeError` with the reason
(argparse then prints the usage and exits 2)."""

from __future__ import annotations

import argparse


def count(text: str) -> int:
    """A whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of 0 or more")
    return value


def positive(text: str) -> int:
    """A whole number, 1 or more."""
    if count(text) == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return int(text)


def port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    value = count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is no TCP port (0 to 65535)")
    return value


__all__ = ["count", "port", "positive"]
