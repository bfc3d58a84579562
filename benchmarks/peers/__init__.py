"""The implementations the benchmark compares, one module each.

Every module builds the same consult-leg lifecycle (create; alerting; B's
browser disconnects and comes back; B accepts; A drops) and emits the same
domain events with the same information, and exposes it as a :class:`Peer`.
"""
