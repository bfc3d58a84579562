"""The stores and the broker the durable tests run on: SQLite always,
PostgreSQL when ``CONSULTFSM_TEST_POSTGRES`` names a server, ActiveMQ when
``CONSULTFSM_TEST_STOMP`` names one (``.ci/run`` starts both and sets them).
Without them those tests skip, saying so, except under CI, where
a missing server is a failure: CI must never pass by skipping them."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from consultfsm.durable.store import Store

DSN = os.environ.get("CONSULTFSM_TEST_POSTGRES", "")
BROKER = os.environ.get("CONSULTFSM_TEST_STOMP", "")
BACKENDS = ("sqlite", "postgresql")


def _need(value: str, variable: str, what: str, example: str) -> str:
    if not value:
        if os.environ.get("CI"):
            pytest.fail(f"CI=true but {variable} is not set: .ci/run starts {what}")
        pytest.skip(f"no {what}: set {variable}={example} (.ci/run does)")
    return value


def need_postgres() -> str:
    """The test server's DSN, or skip (fail under CI) without one."""
    return _need(DSN, "CONSULTFSM_TEST_POSTGRES", "PostgreSQL", "postgresql://...")


def need_broker() -> str:
    """The test broker's ``stomp://`` address, or skip (fail under CI) without one."""
    return _need(BROKER, "CONSULTFSM_TEST_STOMP", "ActiveMQ", "stomp://127.0.0.1:61613")


class Backend:
    """Fresh databases of one kind: ``new()`` one, ``reopen()`` it as a restarted worker would."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        self.folder = folder
        self.dsn = need_postgres() if kind == "postgresql" else ""

    def new(self) -> str:
        """A new empty database; returns its address (a file, or a DSN with its own schema)."""
        if self.kind == "sqlite":
            return str(self.folder / f"{uuid.uuid4().hex}.db")
        import psycopg

        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in self.dsn else "?"
        return f"{self.dsn}{sep}options={quote(f'-csearch_path={schema}')}"

    def open(self, address: str) -> Store:
        if self.kind == "sqlite":
            from consultfsm.durable.sqlite import SqliteStore

            return SqliteStore(address)
        from consultfsm.durable.postgres import PostgresStore

        return PostgresStore(address)
