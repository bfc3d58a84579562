"""``consultfsm serve``: the durable CCM as an HTTP service (the ``serve`` extra).

``worker`` runs the durable CCM with its sweeper and relay loops, metrics and
structured logs; ``app`` is the HTTP interface (Starlette, served by
uvicorn). The top of the I/O edge: depends on ``durable``; the CLI depends
on it.
"""
