"""A database opened once with a key records that it is encrypted (and the key ids seen);
a manager without the key is then refused at open with a ``ConfigError`` naming them, on
every backend that persists, before it could write anything in the clear."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_encryption_at_rest import graph
from test_rekey import NEW, OLD, rekey

from graph_sessions import GraphSessionManager
from graph_sessions.errors import ConfigError
from graph_sessions.storage.encryption import ENCRYPTION_SETTING
from graph_sessions.storage.urls import backend_from_url


async def recorded(url: str) -> Any:
    backend = backend_from_url(url)
    await backend.open()
    try:
        value = await backend.read_setting(ENCRYPTION_SETTING)
    finally:
        await backend.close()
    return None if value is None else json.loads(value)


async def marker_cycle(url: str) -> None:
    async with GraphSessionManager(graph(), url) as manager:  # no key: nothing recorded
        await (await manager.get_or_create("s1")).invoke({"messages": ["plain"]})
    assert await recorded(url) is None
    async with GraphSessionManager(graph(), url, encryption_key=OLD) as manager:
        await (await manager.get("s1")).invoke({"messages": ["sealed"]})
    assert await recorded(url) == {"on": True, "key_ids": ["old"]}
    async with GraphSessionManager(graph(), url, encryption_key=f"{NEW},{OLD}"):
        pass
    assert await recorded(url) == {"on": True, "key_ids": ["old", "new"]}
    with pytest.raises(ConfigError, match="'old', 'new'.*pass its encryption keys"):
        async with GraphSessionManager(graph(), url):
            pass
    async with GraphSessionManager(graph(), url, encryption_key=NEW) as manager:
        assert (await manager.info("s1")).run_count == 2  # the key opens it again


async def test_sqlite_records_that_it_is_encrypted(tmp_path: Path) -> None:
    await marker_cycle(f"sqlite:///{tmp_path / 'sessions.db'}")


async def test_postgres_records_that_it_is_encrypted(postgres_url: str) -> None:
    await marker_cycle(postgres_url)


async def test_redis_records_that_it_is_encrypted(redis_server: Any) -> None:
    await marker_cycle(f"{redis_server.url()}?prefix={redis_server.new_prefix()}")


async def test_the_memory_backend_records_nothing() -> None:
    async with GraphSessionManager(graph(), "memory://", encryption_key=OLD) as manager:
        assert await manager.backend.read_setting(ENCRYPTION_SETTING) is None


async def test_rekey_of_a_plaintext_database_marks_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    async with GraphSessionManager(graph(), url) as manager:
        await (await manager.get_or_create("s1")).invoke({"messages": ["plain"]})
    done = await rekey(url, NEW)
    assert done.exit_code == 0, done.stderr
    assert await recorded(url) == {"on": True, "key_ids": ["new"]}
    with pytest.raises(ConfigError, match="'new'"):
        async with GraphSessionManager(graph(), url):
            pass
