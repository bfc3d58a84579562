"""The stores the durable tests run on: SQLite always, PostgreSQL when
``CONSULTFSM_TEST_POSTGRES`` names a server (``.ci/run`` starts one and sets
it). Without it the PostgreSQL tests skip, saying so, except under CI, where
a missing server is a failure: CI must never pass by skipping them."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from consultfsm.durable.store import Store

DSN = os.environ.get("CONSULTFSM_TEST_POSTGRES", "")
BACKENDS = ("sqlite", "postgresql")


def need_postgres() -> str:
    """The test server's DSN, or skip (fail under CI) without one."""
    if not DSN:
        if os.environ.get("CI"):
            pytest.fail(
                "CI=true but CONSULTFSM_TEST_POSTGRES is not set: .ci/run starts the server"
            )
        pytest.skip("no PostgreSQL: set CONSULTFSM_TEST_POSTGRES=postgresql://... (.ci/run does)")
    return DSN


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
