"""Bridges to other state-machine ecosystems, built from the same table.

``transitions_machine`` gives a ``transitions`` HierarchicalMachine whose
parallel regions and transitions come from the table and whose every step is
decided by a :class:`~consultfsm.core.leg.Leg`. Depends on ``core`` only.
"""
