"""The one fixture the Backend contract suite needs: ``backend``, an opened Backend.

A new backend (Postgres, Redis…) joins the suite by adding a parameter here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph_sessions.crypto import generate_key, parse_keys
from graph_sessions.storage import Backend, backend_from_url
from graph_sessions.storage.encrypted import with_encryption

BACKENDS = {
    "memory": lambda tmp: "memory://",
    "sqlite": lambda tmp: f"sqlite:///{tmp / 'contract.db'}",
    # LangGraph's own saver and tables (files written by earlier versions)
    "sqlite-langgraph": lambda tmp: f"sqlite:///{tmp / 'contract.db'}?checkpointer=langgraph",
    # our saver handing out the messages it keeps instead of copies
    "sqlite-shared": lambda tmp: f"sqlite:///{tmp / 'contract.db'}?share_values=true",
    # a fresh database on the test run's PostgreSQL server (tests/conftest.py: postgres_url)
    "postgres": lambda tmp: "postgres",
    # LangGraph's AsyncPostgresSaver and tables instead of ours
    "postgres-langgraph": lambda tmp: "postgres?checkpointer=langgraph",
    # encryption at rest (storage/encrypted.py) in front of SQLite: the suite unchanged
    "sqlite-encrypted": lambda tmp: f"sqlite:///{tmp / 'contract.db'}#encrypted",
    # a fresh key prefix on the test run's Redis server (tests/conftest.py: redis_server)
    "redis": lambda tmp: "redis",
    # encryption at rest in front of Redis (its saver seals through serde)
    "redis-encrypted": lambda tmp: "redis#encrypted",
}
#: the metadata keys the suite filters by, readable under encryption
INDEXABLE = ("team", "tag")


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """An opened backend of each kind; closed after the test."""
    url = BACKENDS[request.param](tmp_path)
    if url.startswith("postgres"):
        base, _, query = url.partition("?")
        url = str(request.getfixturevalue("postgres_url"))
        if query:
            url += ("&" if "?" in url else "?") + query
    if url.startswith("redis"):
        server = request.getfixturevalue("redis_server")
        url = f"{server.url()}?prefix={server.new_prefix()}" + url[len("redis") :]
    url, encrypted, _ = url.partition("#encrypted")
    opened = backend_from_url(url)
    if encrypted:
        opened = with_encryption(opened, parse_keys(generate_key("contract")), INDEXABLE)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
