"""Hypothesis profiles, a printed seed so every CI failure can be replayed, and
the ``slow`` marker.

``HYPOTHESIS_PROFILE`` (or Hypothesis' own ``--hypothesis-profile``) selects the
profile: ``dev`` (fast) or ``ci`` (thousands of steps). Without it, ``ci`` is
used when the ``CI`` environment variable is set (CI runs the README's plain
test command with ``CI=true``), else ``dev`` -- except that a run whose ``-m``
expression deselects the ``slow`` tests always uses ``dev``: the thorough
profile belongs to the slow set. The seed comes from ``HYPOTHESIS_SEED`` or
``--hypothesis-seed``, otherwise it is drawn at random; either way it is
printed in the report header with the profile. Replay a run with
``HYPOTHESIS_SEED=<seed>``.

``@pytest.mark.slow`` marks what a developer does not want on every run: the
benchmark (every test of ``tests/test_benchmarks.py``, marked here by module
name, see :data:`SLOW_MODULES`) and the exhaustive ``consultfsm check`` at its
default depth. Iterate with::

    .venv/bin/python -m pytest -m "not slow"

The plain ``.venv/bin/python -m pytest`` still runs everything.
"""

from __future__ import annotations

import os
import random

import pytest
from _pytest.mark.expression import Expression
from hypothesis import HealthCheck, settings
from hypothesis import core as hypothesis_core

settings.register_profile(
    "ci",
    max_examples=1_000,
    stateful_step_count=50,
    deadline=None,
    print_blob=True,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    print_blob=True,
)

#: Test modules all of whose tests are slow (by module name, without ``.py``).
SLOW_MODULES = frozenset({"test_benchmarks"})

_SEED = pytest.StashKey[str]()
_WHY = pytest.StashKey[str]()


def _deselects_slow(markexpr: str) -> bool:
    """Whether ``-m markexpr`` leaves out a test marked only ``slow``."""
    if not markexpr:
        return False
    try:
        expression = Expression.compile(markexpr)
    except SyntaxError:  # pytest reports the bad -m expression itself
        return False
    return not expression.evaluate(lambda name, /, **_: name == "slow")


def _choose_profile(config: pytest.Config) -> tuple[str | None, str]:
    """The profile to load (None: Hypothesis' option loads it) and why."""
    if os.environ.get("HYPOTHESIS_PROFILE"):
        return os.environ["HYPOTHESIS_PROFILE"], "HYPOTHESIS_PROFILE"
    if config.getoption("hypothesis_profile", default=None):
        return None, "--hypothesis-profile"
    if not os.environ.get("CI"):
        return "dev", "CI unset"
    if _deselects_slow(config.option.markexpr):
        return "dev", "CI set, but -m deselects slow"
    return "ci", "CI set"


def pytest_configure(config: pytest.Config) -> None:
    """Load the profile and force one seed for the whole run (unless
    ``--hypothesis-seed`` was given)."""
    profile, why = _choose_profile(config)
    if profile is not None:
        settings.load_profile(profile)
    config.stash[_WHY] = why
    given = config.getoption("hypothesis_seed", default=None)
    if given is None:
        seed = int(os.environ.get("HYPOTHESIS_SEED") or random.SystemRandom().getrandbits(32))
        hypothesis_core.global_force_seed = seed  # type: ignore[assignment]
        given = seed
    config.stash[_SEED] = str(given)


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of :data:`SLOW_MODULES` ``slow``."""
    for item in items:
        if item.path.stem in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


def pytest_report_header(config: pytest.Config) -> str:
    """Print the profile in use, why, and the seed at the top of every run."""
    seed = config.stash.get(_SEED, "?")
    why = config.stash.get(_WHY, "?")
    profile = settings.get_current_profile_name()
    return f"hypothesis: profile={profile} ({why}) seed={seed} (replay: HYPOTHESIS_SEED={seed})"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat the seed after the failures, where it is needed."""
    seed = terminalreporter.config.stash.get(_SEED, "?")
    if terminalreporter.stats.get("failed"):
        terminalreporter.write_line(
            f"hypothesis seed {seed}: rerun with HYPOTHESIS_SEED={seed} "
            f"HYPOTHESIS_PROFILE={settings.get_current_profile_name()} "
            "(or use the printed @reproduce_failure blob)"
        )
