"""The core: one leg's machine. Sans-I/O; attrs is its only dependency.

``states`` names things, ``facts`` says what a leg is, ``guards`` and
``table`` say what it does, ``events`` what it tells the world, ``executor``
compiles a table, ``leg`` runs it, ``snapshot`` saves it, and ``_speed`` holds
every speed trick beside the plain path it replaces. Imports go one way, in
that order (docs/architecture.md); this module re-exports the lot.
"""

from consultfsm.core.events import EVENT_CLASSES
from consultfsm.core.executor import Program, compile_table
from consultfsm.core.facts import DEFAULT_CONFIG
from consultfsm.core.guards import Guard
from consultfsm.core.leg import leg_class
from consultfsm.core.states import Region
from consultfsm.core.table import (
    STATE_TIMERS,
    TABLE,
    Emit,
    Row,
    armed_in,
    check_table,
    inputs_of,
    rows_for,
    states_of,
)

__all__ = [
    "DEFAULT_CONFIG",
    "EVENT_CLASSES",
    "STATE_TIMERS",
    "TABLE",
    "Emit",
    "Guard",
    "Program",
    "Region",
    "Row",
    "armed_in",
    "check_table",
    "compile_table",
    "inputs_of",
    "leg_class",
    "rows_for",
    "states_of",
]
