"""Fixtures every folder shares: a fresh SQLite file, both embedded backends, and an opened
chat-graph manager on each. The Backend contract fixture is in tests/storage/conftest.py,
the shared server in tests/server/conftest.py."""

from __future__ import annotations

import os

# Wide CLI tables in every test, whatever module first imports the CLI: its console takes
# its width from COLUMNS when created, and pytest-xdist's workers run with COLUMNS=80 (a
# table squeezed to 80 columns wraps "interrupted": a test passed alone, failed in CI order)
os.environ["COLUMNS"] = "200"

from collections.abc import AsyncIterator, Iterator  # noqa: E402
from pathlib import Path

import pytest
from support.graphs import chat_graph
from support.postgres import ENV_URL, NoPostgres, PostgresServer, provision
from support.redis import NoRedis, RedisServer
from support.redis import provision as provision_redis

from graph_sessions import GraphSessionManager

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'sessions.db'}"


@pytest.fixture(params=["sqlite", "memory", "postgres", "redis"])
def any_backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a test on each backend: both embedded ones, Postgres (a fresh database on the
    test run's server, ``postgres_url``) and Redis (a fresh key prefix on ``redis_server``)."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        return f"{server.url()}?prefix={server.new_prefix()}"
    return f"sqlite:///{tmp_path / 'sessions.db'}" if request.param == "sqlite" else "memory://"


@pytest.fixture
async def chat_manager(any_backend: str) -> AsyncIterator[GraphSessionManager]:
    """An opened manager of ``support.graphs.chat_graph`` on ``any_backend`` (so on both
    embedded backends), without the background sweeper; closed after the test."""
    async with GraphSessionManager(
        graph=chat_graph(), backend=any_backend, sweep_interval=None
    ) as manager:
        yield manager


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole run (``support/postgres.py``: started
    from Debian's binaries on 127.0.0.1, or the server ``GRAPH_SESSIONS_TEST_POSTGRES_URL``
    names). No server fails the tests that need one, loudly: they never skip."""
    try:
        with provision() as server:
            yield server
    except NoPostgres as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def own_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for one test only, which it may stop and start
    (``support/pg_restart.py``); never the shared one, even when
    ``GRAPH_SESSIONS_TEST_POSTGRES_URL`` names a server."""
    monkeypatch.delenv(ENV_URL, raising=False)
    try:
        with provision() as server:
            yield server
    except NoPostgres as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh empty database for one test, dropped after it."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One throwaway Redis server (plain, no modules) for the whole run
    (``support/redis.py``: Debian's ``redis-server`` on 127.0.0.1, or the server
    ``GRAPH_SESSIONS_TEST_REDIS_URL`` names). No server fails the tests that need one."""
    try:
        with provision_redis() as server:
            yield server
    except NoRedis as exc:
        pytest.fail(str(exc), pytrace=False)
