"""The real Finesse captures, read from ``../shared`` at test time.

They are not committed (``SOURCE.md`` there says where they come from). They
are read from ``$CONSULTFSM_FINESSE_CAPTURES``, by default
``../shared/fixtures/finesse-captures`` beside the repository; tests that need
them skip with instructions when they are absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ENV = "CONSULTFSM_FINESSE_CAPTURES"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO.parent / "shared" / "fixtures" / "finesse-captures"


def captures_dir() -> Path:
    """The captures folder; skips the test when it is not there."""
    folder = Path(os.environ.get(ENV, DEFAULT_DIR))
    if not (folder / "SOURCE.md").is_file():
        pytest.skip(
            f"Finesse captures not found in {folder}: put the fixtures folder of "
            f"../shared beside the repository (CI has it) or point ${ENV} at one."
        )
    return folder


def capture_files() -> list[Path]:
    """Every capture (XML notifications and the simulator's JSON bodies), sorted."""
    folder = captures_dir()
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "SOURCE.md")


def read_capture(path: Path) -> bytes | dict[str, Any]:
    """A capture as the desk would get it: XML bytes, or the JSON object form."""
    raw = path.read_bytes()
    if raw.lstrip().startswith(b"{"):
        data = json.loads(raw)
        assert isinstance(data, dict)
        return data
    return raw


def capture(relative: str) -> bytes | dict[str, Any]:
    """One capture by its path inside the folder."""
    return read_capture(captures_dir() / relative)
