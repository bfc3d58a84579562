"""The CCM's side (Customer Channel Manager), driven only by what desks send.

``table`` is the CCM's own table, ``machine`` runs it for one consult leg,
``engine`` (:class:`~consultfsm.ccm.engine.CcmEngine`) runs every leg of a CCM,
indexed; ``sessions`` finds the customer's *existing* channel session in O(1)
and ``correlation`` is the same policy as a plain scan (dialog URI, then
channel session id, then the customer's ANI), never creating one.
Depends on ``core`` and ``wire``.
"""

from consultfsm.ccm.correlation import (
    AmbiguousSession,
    ChannelSession,
    ConsultEvidence,
    CorrelationError,
    NoUsableEvidence,
    Resolution,
    SessionNotFound,
    SessionResolver,
    normalise_ani,
)

__all__ = [
    "AmbiguousSession",
    "ChannelSession",
    "ConsultEvidence",
    "CorrelationError",
    "NoUsableEvidence",
    "Resolution",
    "SessionNotFound",
    "SessionResolver",
    "normalise_ani",
]
