"""The upstream CIM JSON Schemas, for validating what consultfsm emits.

The schemas are not committed (upstream asks consumers to pin a version, not to
copy the files). They are read from ``$CONSULTFSM_CIM_SCHEMAS``, by default
``../shared/schemas/cim-v1`` next to the repository, and the tests that need
them skip with instructions when they are absent.
"""

from __future__ import annotations

import functools
import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ENV = "CONSULTFSM_CIM_SCHEMAS"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO.parent / "shared" / "schemas" / "cim-v1"
BASE = "https://github.com/expertflow/object-model/schemas/v1/"

HOW_TO_GET = (
    f"CIM schemas not found in {{dir}}. Copy `schemas/v1` of expertflow/object-model at the "
    f"commit named in SOURCE.md (CI has it at {DEFAULT_DIR}) and point ${ENV} at it."
)

# jsonschema only checks "date-time" when an optional package is installed;
# this checker makes the check explicit and independent of consultfsm's parser.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII
)
FORMATS = FormatChecker()


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # format applies to strings only
    if not _RFC3339.match(value):
        raise ValueError(f"not RFC 3339: {value!r}")
    datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return True


FORMATS.checks("date-time", raises=ValueError)(_date_time)


def schema_dir() -> Path:
    """Where the schemas are read from."""
    return Path(os.environ.get(ENV) or DEFAULT_DIR)


class CimSchemas:
    """Validators for the files we emit against, sharing one registry keyed by ``$id``."""

    def __init__(self, root: Path) -> None:
        resources = []
        for path in sorted(root.rglob("*.json")):
            contents = json.loads(path.read_text(encoding="utf-8"))
            resources.append((contents["$id"], Resource.from_contents(contents, DRAFT202012)))
        self.registry: Registry[Any] = Registry().with_resources(resources)

    def validator(self, name: str) -> Draft202012Validator:
        """A validator for the schema file ``name`` (relative to ``schemas/v1``)."""
        schema = self.registry.contents(BASE + name)
        return Draft202012Validator(schema, registry=self.registry, format_checker=FORMATS)

    def errors(self, name: str, instance: Any) -> list[str]:
        """Every validation error of ``instance`` against ``name``, as text."""
        return [
            f"{name} at {'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}"
            for e in self.validator(name).iter_errors(instance)
        ]

    def check_message(self, message: Any) -> None:
        """A CIM message: the envelope, and the body against its own subtype
        (``message-body.json`` is a bare oneOf that hides the real cause)."""
        problems = self.errors("cim-message.json", message)
        problems += self.errors("voice-message-body.json", message.get("body"))
        assert not problems, "\n".join(problems)

    def check_conversation_event(self, event: Any) -> None:
        """A CimEvent on the conversation topic: its message, session and emitter."""
        problems = self.errors("channel-session.json", event["channelSession"])
        problems += self.errors("sender.json", event["eventEmitter"])
        problems += self.errors("message-header.json", {"timestamp": event["timestamp"]})
        assert not problems, "\n".join(problems)
        self.check_message(event["data"])


@functools.cache
def _load(root: str) -> CimSchemas | None:
    path = Path(root)
    if not (path / "cim-message.json").is_file():
        return None
    return CimSchemas(path)


def cim_schemas() -> CimSchemas:
    """The loaded schemas, or skip the calling test with instructions."""
    root = schema_dir()
    loaded = _load(str(root))
    if loaded is None:
        pytest.skip(HOW_TO_GET.format(dir=root))
    return loaded


def check_record(schemas: CimSchemas, record: dict[str, Any]) -> int:
    """Validate the CIM JSON a replay record carries; returns how many objects were checked."""
    if record.get("event") == "cim_message":
        schemas.check_message(record["message"])
        return 1
    if record.get("to") == "conversation":
        schemas.check_conversation_event(record["message"])
        assert not schemas.errors("channel-session.json", record["channel_session"])
        return 1
    return 0
