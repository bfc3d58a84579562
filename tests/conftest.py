"""Hypothesis profiles and a printed seed, so every CI failure can be replayed.

``HYPOTHESIS_PROFILE`` selects the profile: ``dev`` (fast) or ``ci`` (thousands
of steps). Without it, ``ci`` is used when the ``CI`` environment variable is
set (CI runs the README's plain test command with ``CI=true``), else ``dev``.
The seed comes from ``HYPOTHESIS_SEED`` or ``--hypothesis-seed``, otherwise it
is drawn at random; either way it is printed in the report header. Replay a
run with ``HYPOTHESIS_SEED=<seed>``.
"""

from __future__ import annotations

import os
import random

import pytest
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
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)


def pytest_configure(config: pytest.Config) -> None:
    """Force one seed for the whole run (unless ``--hypothesis-seed`` was given)."""
    given = config.getoption("hypothesis_seed", default=None)
    if given is None:
        seed = int(os.environ.get("HYPOTHESIS_SEED") or random.SystemRandom().getrandbits(32))
        hypothesis_core.global_force_seed = seed  # type: ignore[assignment]
        given = seed
    config.stash[_SEED] = str(given)


_SEED = pytest.StashKey[str]()


def pytest_report_header(config: pytest.Config) -> str:
    """Print the profile and the seed at the top of every run."""
    seed = config.stash.get(_SEED, "?")
    return f"hypothesis: profile={PROFILE} seed={seed} (replay: HYPOTHESIS_SEED={seed})"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat the seed after the failures, where it is needed."""
    seed = terminalreporter.config.stash.get(_SEED, "?")
    if terminalreporter.stats.get("failed"):
        terminalreporter.write_line(
            f"hypothesis seed {seed}: rerun with HYPOTHESIS_SEED={seed} "
            f"HYPOTHESIS_PROFILE={PROFILE} (or use the printed @reproduce_failure blob)"
        )
