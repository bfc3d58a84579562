"""The CCM's side (Customer Channel Manager): policy that only the CCM can apply.

``correlation`` finds the customer's *existing* channel session for a consult
(dialog URI, then channel session id, then the customer's ANI), never creating
one. The CCM's engine, driven only by what desks send, will live here.
Depends on ``core``.
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
