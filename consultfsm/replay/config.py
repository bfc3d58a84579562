"""The settings of a replay, and the parts each setting builds.

A ``config`` trace line changes settings mid-trace, so :class:`SystemConfig`
is frozen and every change makes a new one; :func:`components` builds what
the settings stand for, and is also how a bad value is found before it is
applied.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import attrs

from consultfsm.ccm.correlation import SessionResolver
from consultfsm.core import facts as _facts
from consultfsm.core.errors import ConfigError
from consultfsm.core.facts import LegConfig
from consultfsm.wire.cim import CimCodec, TimestampForm

#: ``serviceIdentifier`` used when neither the consult nor its session names one.
DEFAULT_SERVICE_IDENTIFIER = "consultfsm-replay"


#: How long a finished leg is kept whole, by default (ms): longer than the
#: CCM's ``away`` wait, so a page that comes back within it still reports.
DEFAULT_FORGET_MS = 900_000


def _leg_default(name: str) -> Any:
    # Read when a SystemConfig is made, so it follows consultfsm.core.facts.DEFAULT_CONFIG.
    return attrs.Factory(lambda: getattr(_facts.DEFAULT_CONFIG, name))


@attrs.frozen(slots=True)
class SystemConfig:
    """Settings of a replay. ``ring_ms``, ``grace_ms`` and ``queue_ttl_ms``
    default to the leg's own defaults (:data:`consultfsm.core.facts.DEFAULT_CONFIG`;
    a None ``queue_ttl_ms`` lets a queue consult wait for as long as the queue
    keeps it); a ``direct`` consult has no ring window whatever ``ring_ms`` says
    (:meth:`Components.leg_config_for`); ``service_identifier``
    is the fallback ``serviceIdentifier`` (see :class:`~consultfsm.wire.cim.CimCodec`);
    ``default_region`` drives ANI normalisation; ``epoch_ms`` is the wall time
    of the trace's ``at`` = 0; a finished leg is kept whole for ``forget_ms``
    (later CTI reports of it are still judged by the leg), then forgotten, so
    a replay's memory follows what is live, not what it has seen."""

    ring_ms: int = _leg_default("ring_ms")
    grace_ms: int = _leg_default("grace_ms")
    queue_ttl_ms: int | None = _leg_default("queue_ttl_ms")
    default_region: str | None = None
    service_identifier: str = DEFAULT_SERVICE_IDENTIFIER
    timestamp_form: TimestampForm = TimestampForm.RFC3339
    epoch_ms: int = 0
    forget_ms: int = DEFAULT_FORGET_MS


class Components(NamedTuple):
    """What a :class:`SystemConfig` builds."""

    leg_config: LegConfig  # timer windows of legs created from now on
    resolver: SessionResolver  # finds a consult's channel session
    codec: CimCodec  # every CIM message and conversation event

    def leg_config_for(self, *, direct: bool) -> LegConfig:
        """The timer windows of a new leg: a direct consult, dialled to B's
        extension, has no RONA window (``ring_ms`` None)."""
        return attrs.evolve(self.leg_config, ring_ms=None) if direct else self.leg_config


def components(config: SystemConfig) -> Components:
    """What ``config`` builds; raises a :class:`~consultfsm.core.errors.ConsultFsmError`
    for a bad value."""
    forget = config.forget_ms
    if isinstance(forget, bool) or not isinstance(forget, int) or forget <= 0:
        raise ConfigError("forget_ms", f"must be a positive number of ms, got {forget!r}")
    return Components(
        LegConfig(config.ring_ms, config.grace_ms, config.queue_ttl_ms),
        SessionResolver(config.default_region),
        CimCodec(config.service_identifier, config.timestamp_form, config.epoch_ms),
    )
