"""The examples in docstrings run."""

from __future__ import annotations

import doctest

import pytest

import consultfsm
import consultfsm.ccm.engine
import consultfsm.ccm.machine
import consultfsm.core.leg
import consultfsm.desk.machine
import consultfsm.desk.reading
import consultfsm.wire.legref

MODULES = [
    consultfsm, consultfsm.core.leg, consultfsm.desk.machine, consultfsm.desk.reading,
    consultfsm.wire.legref, consultfsm.ccm.machine, consultfsm.ccm.engine,
]  # fmt: skip


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_doctests(module: object) -> None:
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert tried > 0 and failures == 0
