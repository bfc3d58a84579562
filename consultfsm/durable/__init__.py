"""The durable CCM: the CCM engine's decisions kept in a database, exactly once
through crashes.

``store`` is the interface (the rows, the one transaction per input) and
``sqlite`` / ``postgres`` its two implementations; ``engine``
(:class:`~consultfsm.durable.engine.DurableCcm`) runs each input in one
transaction; ``relay`` takes the outbox to a sink (a JSON Lines file, a
callback, ActiveMQ over STOMP). The I/O edge of the library: depends on
``ccm``, ``core`` and ``wire``; nothing depends on it.
"""

from consultfsm.durable.engine import Answer, DurableCcm, Sent
from consultfsm.durable.sqlite import SqliteStore
from consultfsm.durable.store import Store, StoreError

__all__ = ["Answer", "DurableCcm", "Sent", "SqliteStore", "Store", "StoreError"]
