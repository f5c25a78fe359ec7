"""What a crash of Redis can lose, read from real servers started with each persistence
setting (``storage/redis/durability.py``): CONFIG GET where it answers, INFO persistence
where CONFIG is disabled (as on managed Redis), and the sentence the backend logs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis
from support.redis import RedisServer, provision

from graph_sessions.storage.redis.durability import Durability, parse_save, read_durability


@asynccontextmanager
async def _server(*config: str) -> AsyncIterator[Redis]:
    with provision(*config) as server:
        client = Redis.from_url(server.url())
        try:
            yield client
        finally:
            await client.aclose()


async def _read(*config: str) -> Durability:
    async with _server(*config) as client:
        return await read_durability(client)


@pytest.mark.slow
async def test_appendfsync_always_loses_nothing_acknowledged() -> None:
    d = await _read("--appendonly", "yes", "--appendfsync", "always")
    assert (d.appendonly, d.appendfsync, d.save, d.source) == (True, "always", (), "config")
    assert d.level == "ok"
    assert "appendfsync always: nothing acknowledged is lost" in d.summary()


@pytest.mark.slow
async def test_appendfsync_everysec_loses_up_to_a_second() -> None:
    d = await _read("--appendonly", "yes", "--appendfsync", "everysec")
    assert (d.appendonly, d.appendfsync, d.level) == (True, "everysec", "ok")
    assert "everysec: a crash can lose up to about 1 s of acknowledged writes" in d.summary()


@pytest.mark.slow
async def test_appendfsync_no_is_low() -> None:
    d = await _read("--appendonly", "yes", "--appendfsync", "no")
    assert (d.appendfsync, d.level) == ("no", "low")
    assert "not flushed" in d.summary()


@pytest.mark.slow
async def test_rdb_only_loses_up_to_the_longest_interval() -> None:
    d = await _read("--save", "60 1000 300 10")
    assert (d.appendonly, d.save, d.level) == (False, ((60, 1000), (300, 10)), "low")
    assert d.summary().startswith("Redis has no append-only file: a crash can lose up to 300 s")


async def test_no_persistence_loses_everything(redis_server: RedisServer) -> None:
    if redis_server.process is None:
        pytest.skip("a given server (GRAPH_SESSIONS_TEST_REDIS_URL) keeps its own settings")
    client = Redis.from_url(redis_server.url())  # started with --save "" and no AOF
    try:
        d = await read_durability(client)
    finally:
        await client.aclose()
    assert (d.appendonly, d.save, d.level) == (False, (), "none")
    assert "no persistence" in d.summary() and "loses everything" in d.summary()


@pytest.mark.slow
async def test_config_disabled_falls_back_to_info() -> None:
    async with _server("--appendonly", "yes", "--rename-command", "CONFIG", '""') as client:
        with pytest.raises(Exception, match="unknown command"):
            await client.config_get("appendonly")
        d = await read_durability(client)
    assert (d.appendonly, d.appendfsync, d.save, d.source) == (True, None, None, "info")
    assert d.level == "low"
    assert "appendfsync policy is unknown" in d.summary()
    async with _server("--rename-command", "CONFIG", '""') as client:
        d = await read_durability(client)
    assert (d.appendonly, d.source, d.level) == (False, "info", "low")
    assert "RDB snapshot rules are unknown" in d.summary()


def test_levels_and_sentences_without_a_server() -> None:
    assert parse_save("3600 1 300 100 60 10000") == ((3600, 1), (300, 100), (60, 10000))
    assert parse_save("") == ()
    unknown = Durability(None, None, None, source="unknown")
    assert unknown.level == "low" and "unknown" in unknown.summary()
    assert Durability(True, "everysec", ((60, 1),)).level == "ok"
    assert Durability(False, "always", ((900, 1),)).level == "low"  # fsync of an AOF not on
    assert "up to 900 s" in Durability(False, "always", ((900, 1),)).summary()
