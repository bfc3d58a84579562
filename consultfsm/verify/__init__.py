"""Verification: what the table promises, checked by running it.

``scenarios`` holds the design note's cases as data; ``invariants`` is an
observer that checks every step against the promises (exactly-once, the
existing session, alerts, timers); ``paths`` finds a shortest input path to
every row; ``explore`` searches every interleaving up to a depth. They run
legs of any table through the one executor
(:func:`consultfsm.core.leg.leg_class`), so a broken copy of the table is
caught the same way. Depends on everything below it; nothing depends on it
but ``render`` and ``cli``.
"""
