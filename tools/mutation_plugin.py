"""A pytest plugin that runs the test suite against one mutant of the table or a guard.

Loaded by ``tools/mutation.py`` as ``-p mutation_plugin`` with the mutant in
the environment (``CONSULTFSM_MUTANT``, JSON). It patches the already imported
package before any test module is collected: every module attribute bound to
the real ``TABLE`` now holds the mutated rows, ``compile_table``'s default
table too (the leg compiles on its first step, so it runs the mutant), and a
mutated guard replaces its predicate in the shared ``GUARDS`` dict. Nothing in
the package knows about mutation.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest

ENV = "CONSULTFSM_MUTANT"


def pytest_configure(config: pytest.Config) -> None:
    spec = os.environ.get(ENV)
    if spec:
        apply(json.loads(spec))


def apply(spec: dict[str, Any]) -> None:
    """Install the mutant ``spec`` (see ``tools/mutation.py``) into the imported package."""
    from consultfsm.core import executor, guards, table

    if spec["kind"] == "guard":
        guards.GUARDS[guards.Guard(spec["guard"])] = GUARD_MUTANTS[spec["op"]](
            guards.GUARDS[guards.Guard(spec["guard"])], spec
        )
        return
    original = table.TABLE
    mutated = mutate_rows(original, spec)
    for name, module in list(sys.modules.items()):
        if name.startswith("consultfsm") and getattr(module, "TABLE", None) is original:
            module.TABLE = mutated  # type: ignore[attr-defined]
    defaults = executor.compile_table.__defaults__
    assert defaults is not None and defaults[0] is original
    executor.compile_table.__defaults__ = (mutated, *defaults[1:])


def mutate_rows(rows: tuple[Any, ...], spec: dict[str, Any]) -> tuple[Any, ...]:
    """The rows with the one change ``spec`` names (by row key)."""
    import attrs

    from consultfsm.core import events as ev
    from consultfsm.core.table import Disposition

    out = list(rows)
    (i,) = (n for n, r in enumerate(out) if r.key == spec["row"])
    row = out[i]
    op = spec["op"]
    if op == "delete":
        del out[i]
    elif op == "no_move":
        out[i] = attrs.evolve(row, target=row.source)
    elif op == "target":
        states = type(row.source)
        out[i] = attrs.evolve(row, target=states(spec["target"]))
    elif op == "drop_emit":
        out[i] = attrs.evolve(
            row, emits=tuple(e for j, e in enumerate(row.emits) if j != spec["at"])
        )
    elif op == "swap_reporter":
        flip = {ev.Reporter.AGENTDESK: ev.Reporter.CCM, ev.Reporter.CCM: ev.Reporter.AGENTDESK}
        emits = list(row.emits)
        e = emits[spec["at"]]
        emits[spec["at"]] = attrs.evolve(e, params=tuple((k, flip.get(v, v)) for k, v in e.params))
        out[i] = attrs.evolve(row, emits=tuple(emits))
    elif op == "disposition":
        out[i] = attrs.evolve(row, disposition=Disposition(spec["to"]))
    elif op == "swallow":  # an applied row becomes an absorbing one
        out[i] = attrs.evolve(row, target=row.source, emits=(), disposition=Disposition.ABSORBED)
    elif op == "drop_guard":
        out[i] = attrs.evolve(row, guards=tuple(g for g in row.guards if g.value != spec["guard"]))
    else:
        raise ValueError(f"unknown row mutation {op!r}")
    return tuple(out)


def _negate(fn: Any, spec: dict[str, Any]) -> Any:
    return lambda v: not fn(v)


def _always(fn: Any, spec: dict[str, Any]) -> Any:
    value = bool(spec["value"])
    return lambda v: value


def _narrow(fn: Any, spec: dict[str, Any]) -> Any:
    # The guard also requires one more state of its region to be excluded.
    region, state = spec["region"], spec["state"]
    return lambda v: fn(v) and getattr(v, region).value != state


def _widen(fn: Any, spec: dict[str, Any]) -> Any:
    region, state = spec["region"], spec["state"]
    return lambda v: fn(v) or getattr(v, region).value == state


GUARD_MUTANTS = {"negate": _negate, "always": _always, "narrow": _narrow, "widen": _widen}
