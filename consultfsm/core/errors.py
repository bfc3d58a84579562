"""Typed errors. Every error a leg raises leaves the leg exactly as it was."""

from __future__ import annotations


class ConsultFsmError(Exception):
    """Base class of every error consultfsm raises on purpose."""


class InputRejected(ConsultFsmError):
    """An input the leg refused. The leg is unchanged.

    ``leg``, ``state`` (``call/desk_a/desk_b``) and ``input`` name exactly what
    was refused, so a log line is enough to find the cause.
    """

    def __init__(self, leg: str, state: str, input: str, at: int, why: str) -> None:
        self.leg = leg
        self.state = state
        self.input = str(input)
        self.at = at
        self.why = why
        super().__init__(
            f"leg {leg!r} in state {state} rejected input {self.input!r} at {at} ms: {why}"
        )


class IllegalInput(InputRejected):
    """No row of the transition table accepts this input in this state."""


class TimeWentBackwards(InputRejected):
    """The input's time is earlier than the leg's last applied input."""


class InvalidTime(InputRejected):
    """The input's time is not an integer number of milliseconds."""


class SnapshotError(ConsultFsmError):
    """A snapshot could not be read: says which field is wrong and why."""

    def __init__(self, field: str, why: str) -> None:
        self.field = field
        self.why = why
        super().__init__(f"bad snapshot field {field!r}: {why}")


class InvalidLeg(ConsultFsmError, ValueError):
    """A leg was given identifying facts that cannot be right. ``field`` names
    the fact (``agent_b`` when A and B are the same agent)."""

    def __init__(self, field: str, why: str) -> None:
        self.field = field
        self.why = why
        super().__init__(why)


class ConfigError(ConsultFsmError, ValueError):
    """A leg configuration value is out of range (``field`` names it)."""

    def __init__(self, field: str, why: str) -> None:
        self.field = field
        self.why = why
        super().__init__(why)
