"""Replay: the whole consult system, driven by a trace, on a virtual clock.

``trace`` reads trace lines into typed inputs; ``system`` is the
:class:`~consultfsm.replay.system.System` that applies them, built from one
module per responsibility: ``config`` (the settings and what they build),
``journal`` (the undo log that makes every input all or nothing), ``timers``
(the heap of armed deadlines), ``presence`` (whose desk is down, across
legs), ``desks`` (the AgentDesks fed Finesse), ``cti_desks`` (what the
desks of CTI-driven legs post), ``ccm_answers`` (the real
:class:`~consultfsm.ccm.engine.CcmEngine`'s answers, as records) and
``records`` (the output format). Depends on ``core``, ``wire``, ``desk`` and
``ccm``.
"""

from consultfsm.replay.system import (
    DEFAULT_SERVICE_IDENTIFIER,
    Record,
    ReplayResult,
    System,
    SystemConfig,
    dumps_record,
    replay,
)
from consultfsm.replay.trace import TraceError, TraceInput, parse_input

__all__ = [
    "DEFAULT_SERVICE_IDENTIFIER",
    "Record",
    "ReplayResult",
    "System",
    "SystemConfig",
    "TraceError",
    "TraceInput",
    "dumps_record",
    "parse_input",
    "replay",
]
