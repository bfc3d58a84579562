"""The durable CCM publishes, input for input, what the in-memory engine does,
and keeps its promises through retries and crashes (SQLite here; the same
tests run on PostgreSQL in ``tests/test_postgres.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from durable_world import A, B, CODEC, Clocked, apply_durable, apply_reference, inputs, message
from hypothesis import given, settings
from hypothesis import strategies as st

from consultfsm.durable.sqlite import SqliteStore
from consultfsm.wire.cim import MessageIntent

STARTED, ENDED = MessageIntent.CALL_LEG_STARTED, MessageIntent.CALL_LEG_ENDED


@settings(max_examples=150, deadline=None)
@given(inputs)
def test_the_durable_ccm_publishes_what_the_engine_publishes(script: list[Any]) -> None:
    ref, world = None, Clocked(SqliteStore(":memory:"))
    from durable_world import reference

    ref = reference()
    at = 0
    for gap, item in script:
        at += gap
        assert apply_durable(world, item, at) == apply_reference(ref, item, at), item
