"""The examples in docstrings run."""

from __future__ import annotations

import doctest

import pytest

import consultfsm
import consultfsm.core.leg


@pytest.mark.parametrize("module", [consultfsm, consultfsm.core.leg], ids=lambda m: m.__name__)
def test_doctests(module: object) -> None:
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert tried > 0 and failures == 0
