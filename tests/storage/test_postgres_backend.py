"""Postgres storage details beyond the contract suite (which runs on Postgres too): replicas
opening one database at once, fencing across two backends on one database, what a deleted
or pruned thread leaves behind, the store's TTLs, URLs and connection failures."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.postgres.aio import AsyncPostgresStore
from support.contract import turns

from graph_sessions.checkpoint.pg_greenlet import await_only
from graph_sessions.errors import BackendError, LeaseLost
from graph_sessions.models import EventType, RunInfo, RunStatus, SessionInfo
from graph_sessions.storage import backend_from_url
from graph_sessions.storage.backend import NewEvent
from graph_sessions.storage.checkpoints import admin_for
from graph_sessions.storage.checkpoints.langgraph_postgres import LangGraphPostgresAdmin
from graph_sessions.storage.checkpoints.sessions_postgres import SessionsPostgresAdmin
from graph_sessions.storage.postgres import MIGRATIONS, PostgresBackend
from graph_sessions.storage.records import RunStart, SessionUpdate
from graph_sessions.storage.urls import describe_backend, sqlite_path_of

T0 = datetime(2026, 1, 1, 12, 0, 0).astimezone()


#: per saver the backend can hold (``?checkpointer=``): its checkpoint, blob and writes tables,
#: its migrations table, its admin adapter
SAVER_TABLES = {
    "graph-sessions": (
        "gs_checkpoints",
        "gs_checkpoint_blobs",
        "gs_checkpoint_writes",
        "gs_checkpoint_migrations",
        SessionsPostgresAdmin,
    ),
    "langgraph": (
        "checkpoints",
        "checkpoint_blobs",
        "checkpoint_writes",
        "checkpoint_migrations",
        LangGraphPostgresAdmin,
    ),
}


def with_saver(url: str, kind: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}checkpointer={kind}"


def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return [tuple(r) for r in conn.execute(sql.encode(), params).fetchall()]


@pytest.fixture(params=sorted(SAVER_TABLES))
def saver_kind(request: pytest.FixtureRequest) -> str:
    """Each saver a Postgres backend can hold its checkpoints in."""
    return str(request.param)


@pytest.fixture
async def pg(postgres_url: str, saver_kind: str) -> AsyncIterator[PostgresBackend]:
    backend = backend_from_url(with_saver(postgres_url, saver_kind))
    assert isinstance(backend, PostgresBackend)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


async def start(backend: PostgresBackend, session_id: str, owner: str) -> int:
    row = await backend.get_session(session_id)
    assert row is not None
    begun = await backend.begin_run(
        session_id,
        RunInfo(
            run_id=f"r-{owner}", session_id=session_id, status=RunStatus.RUNNING, started_at=T0
        ),
        RunStart(lease_owner=owner),
        expect_revision=row.revision,
    )
    assert begun is not None
    return begun.session.lease_epoch


async def test_replicas_opening_at_once_migrate_once(postgres_url: str, saver_kind: str) -> None:
    url = with_saver(postgres_url, saver_kind)
    replicas = [backend_from_url(url) for _ in range(4)]
    await asyncio.gather(*(b.open() for b in replicas))
    try:
        versions = rows(postgres_url, "SELECT version FROM gs_schema_version ORDER BY version")
        assert versions == [(v,) for v, _ in MIGRATIONS]
        migrations = SAVER_TABLES[saver_kind][3]
        saver_versions = rows(postgres_url, f"SELECT v FROM {migrations} ORDER BY v")
        assert len(saver_versions) == len({v for (v,) in saver_versions})  # each once
        for b in replicas:
            assert await b.schema_version() == MIGRATIONS[-1][0]  # type: ignore[attr-defined]
    finally:
        await asyncio.gather(*(b.close() for b in replicas))
    again = backend_from_url(url)  # a restart finds everything in place
    await again.open()
    await again.close()


async def test_a_takeover_by_another_replica_refuses_the_first_ones_writes(
    postgres_url: str, saver_kind: str
) -> None:
    url = with_saver(postgres_url, saver_kind)
    a, b = backend_from_url(url), backend_from_url(url)
    await a.open()
    await b.open()
    try:
        assert await a.create_session(SessionInfo(session_id="s", created_at=T0, updated_at=T0))
        epoch = await start(a, "s", "replica-a")  # type: ignore[arg-type]
        a.fence("s", "replica-a", epoch)
        ids = await turns(a, "s", 2)
        # replica B repairs the session and takes it over (a new lease epoch)
        assert await b.update_session(
            "s", SessionUpdate(lease_owner="replica-b", lease_epoch=epoch + 1)
        )
        with pytest.raises(LeaseLost):  # A, paused past its lease, writes late: refused
            await turns(a, "s", 1)
        with pytest.raises(LeaseLost):
            await a.delete_checkpoints_after("s", ids[0])
        assert await b.latest_checkpoint_id("s") == ids[-1]  # the chain did not fork
        await turns(b, "s", 1)  # the new holder writes (unfenced here)
        history = rows(
            postgres_url,
            f"SELECT checkpoint_id, parent_checkpoint_id FROM {SAVER_TABLES[saver_kind][0]} "
            "WHERE thread_id = 's' AND checkpoint_ns = '' ORDER BY checkpoint_id",
        )
        parents = [p for _, p in history[1:]]
        assert parents == [c for c, _ in history[:-1]]  # one linear chain
    finally:
        await a.close()
        await b.close()


async def test_a_fenced_write_in_flight_holds_off_a_takeover(pg: PostgresBackend) -> None:
    """The lease check share-locks the session row until the write commits: a takeover
    waits for it (the write lands before the takeover, never after)."""
    await pg.create_session(SessionInfo(session_id="s", created_at=T0, updated_at=T0))
    epoch = await start(pg, "s", "me")
    pg.fence("s", "me", epoch)
    saver: Any = pg.checkpointer
    entered, release = asyncio.Event(), asyncio.Event()
    ids = await turns(pg, "s", 1)
    head = {"configurable": {"thread_id": "s", "checkpoint_ns": "", "checkpoint_id": ids[-1]}}

    if isinstance(saver, AsyncPostgresSaver):  # LangGraph's
        write = AsyncPostgresSaver.aput_writes  # its own, unfenced

        async def slow_write(*args: Any, **kwargs: Any) -> None:
            async with saver._cursor() as cur:  # the write's transaction: the check has run
                await cur.execute("SELECT 1")
                await cur.fetchone()
            entered.set()
            await release.wait()
            await write(*args, **kwargs)

        async def fenced_write() -> None:
            await saver._fenced("s", lambda: slow_write(saver, head, [("turns", ["x"])], "t1"))

    else:  # ours: the engine runs in a greenlet inside the fenced transaction
        prepared = saver.engine.prepare_writes(saver.serde, head, [("turns", ["x"])], "t1", "")

        def engine_write(conn: Any) -> None:
            entered.set()
            await_only(release.wait())
            saver.engine.store_writes(conn, prepared, join=True)

        async def fenced_write() -> None:
            await saver._fenced("s", engine_write)

    writer = asyncio.create_task(fenced_write())
    await entered.wait()  # the lease is checked and the row share-locked
    takeover = asyncio.create_task(
        pg.update_session("s", SessionUpdate(lease_owner="thief", lease_epoch=epoch + 1))
    )
    await asyncio.sleep(0.3)
    assert not takeover.done()  # blocked by the write's lock
    release.set()
    await writer
    assert await takeover is not None
    found = await saver.aget_tuple(head)
    assert [w[1] for w in found.pending_writes if w[0] == "t1"] == ["turns"]
    with pytest.raises(LeaseLost):
        await turns(pg, "s", 1)


async def test_delete_and_prune_leave_no_rows_behind(
    pg: PostgresBackend, postgres_url: str, saver_kind: str
) -> None:
    await pg.create_session(SessionInfo(session_id="s", created_at=T0, updated_at=T0))
    await turns(pg, "s", 6)
    checkpoints, blobs, writes = SAVER_TABLES[saver_kind][:3]

    def orphans() -> int:
        if saver_kind == "graph-sessions":  # values are not SQL-readable: count the rows
            return int(rows(postgres_url, f"SELECT COUNT(*) FROM {blobs}")[0][0])
        return int(
            rows(
                postgres_url,
                "SELECT COUNT(*) FROM checkpoint_blobs b WHERE NOT EXISTS (SELECT 1 FROM "
                "checkpoints c WHERE c.thread_id = b.thread_id AND c.checkpoint_ns = "
                "b.checkpoint_ns AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)",
            )[0][0]
        )

    before = orphans()
    assert await pg.prune_checkpoints("s", 2) > 0
    if saver_kind == "graph-sessions":
        assert orphans() < before  # the values only pruned checkpoints held went with them
        kept = [t async for t in pg.checkpointer.alist({"configurable": {"thread_id": "s"}})]
        assert len(kept) == 2 and all(t.checkpoint["channel_values"] for t in kept)
    else:
        assert before == 0
        assert orphans() == 0  # the blobs only pruned checkpoints referred to went with them
    await pg.delete_session("s")
    for table in (checkpoints, blobs, writes):
        assert rows(postgres_url, f"SELECT COUNT(*) FROM {table}") == [(0,)], table


async def test_admin_runs_on_a_given_connection_or_its_own(
    pg: PostgresBackend, postgres_url: str, saver_kind: str
) -> None:
    admin = admin_for(pg.checkpointer)
    assert isinstance(admin, SAVER_TABLES[saver_kind][4])
    ids = await turns(pg, "s", 2)
    with psycopg.connect(postgres_url) as conn:
        assert admin.latest_id(conn, "s") == ids[-1]
        conn.rollback()
    # no connection given: one of its own (blocking; for tools), committed
    await asyncio.to_thread(admin.delete_after, None, "s", ids[0], writes_mark=None)
    assert await pg.latest_checkpoint_id("s") == ids[0]


async def test_change_token_moves_when_another_replica_appends_events(
    postgres_url: str,
) -> None:
    a, b = backend_from_url(postgres_url), backend_from_url(postgres_url)
    await a.open()
    await b.open()
    try:
        await a.create_session(SessionInfo(session_id="s", created_at=T0, updated_at=T0))
        before = await a.change_token()
        assert await a.change_token() == before  # stable while nobody writes
        assert await b.append_events("s", [NewEvent(EventType.RESUMED)], T0)
        assert await a.change_token() != before
        assert await a.ping() and await a.write_problem() is None
    finally:
        await a.close()
        await b.close()


async def test_store_ttls_put_refresh_and_sweep(pg: PostgresBackend, postgres_url: str) -> None:
    store = pg.store
    assert isinstance(store, AsyncPostgresStore) and store.supports_ttl
    await store.aput(("a", "b"), "keep", {"v": 1})
    await store.aput(("a", "b"), "brief", {"v": 2}, ttl=10)
    expiry = "SELECT expires_at FROM store WHERE key = %s"
    assert rows(postgres_url, expiry, "keep") == [(None,)]
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE store SET expires_at = now() - interval '1 day' WHERE key = 'brief'")
    assert await store.aget(("a", "b"), "brief", refresh_ttl=True) is not None  # refreshed
    assert rows(postgres_url, expiry, "brief")[0][0] > datetime.now(T0.tzinfo)
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE store SET expires_at = now() - interval '1 day' WHERE key = 'brief'")
    assert await store.sweep_ttl() == 1
    assert await store.aget(("a", "b"), "brief") is None
    assert await store.aget(("a", "b"), "keep") is not None


def test_urls_name_postgres_and_keep_libpq_options() -> None:
    url = "postgresql://ann:s3cret@db.example:5433/app?sslmode=require&pool_max_size=4&pool_min_size=2"
    backend = backend_from_url(url)
    assert isinstance(backend, PostgresBackend)
    assert backend.conninfo == "postgresql://ann:s3cret@db.example:5433/app?sslmode=require"
    assert (backend.connection.min_size, backend.connection.max_size) == (2, 4)
    assert sqlite_path_of(url) is None
    assert "s3cret" not in describe_backend(url) and "s3cret" not in repr(backend)
    assert isinstance(backend_from_url("postgres://localhost/app"), PostgresBackend)
    spaced = backend_from_url("postgres://h/db?options=-c%20synchronous_commit%3Doff")
    assert spaced.conninfo == "postgres://h/db?options=-c%20synchronous_commit%3Doff"  # type: ignore[attr-defined]
    for bad in (
        "postgres://",
        "postgres://h/db?pool_max_size=lots",
        "postgres://h/db?pool_min_size=5&pool_max_size=2",
        "postgres://h/db?checkpointer=nope",
    ):
        with pytest.raises(BackendError):
            backend_from_url(bad)


async def test_an_unreachable_server_is_a_backend_error_at_open() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = backend_from_url(f"postgresql://nobody@127.0.0.1:{port}/x?pool_timeout=1")
    started = asyncio.get_running_loop().time()
    with pytest.raises(BackendError):
        await backend.open()
    assert asyncio.get_running_loop().time() - started < 10
    assert not await backend.ping()
    await backend.close()


async def test_a_session_update_after_delete_touches_nothing(pg: PostgresBackend) -> None:
    assert await pg.update_session("gone", SessionUpdate(ttl=1.0)) is None
    assert not await pg.append_events("gone", [NewEvent(EventType.RESUMED)], T0 + timedelta(1))


async def test_a_manager_on_postgres_through_checkpointer_config(postgres_url: str) -> None:
    from support.graphs import chat_graph

    from graph_sessions import GraphSessionManager

    async with GraphSessionManager(
        graph=chat_graph(),
        checkpointer_config={"type": "postgres", "url": postgres_url},
        sweep_interval=None,
    ) as m:
        assert isinstance(m.backend, PostgresBackend)
        session = await m.create("s")
        await session.invoke({"user_input": "hi"})
        await session.invoke({"user_input": "again"})
        assert (await session.get_state())["turns"] == ["hi", "again"]
    async with GraphSessionManager(graph=chat_graph(), backend=postgres_url) as reopened:
        info = await reopened.info("s")  # another process would see the same
        assert info.run_count == 2


async def test_a_missing_migration_is_applied_even_below_the_highest(postgres_url: str) -> None:
    backend = backend_from_url(postgres_url)
    await backend.open()
    await backend.close()
    with psycopg.connect(postgres_url) as conn:  # as if a build without migration 2 ran
        conn.execute("DROP FUNCTION gs_check_fence(text, text, integer)")
        conn.execute("DELETE FROM gs_schema_version WHERE version = 2")
    await backend.open()
    try:
        assert rows(postgres_url, "SELECT version FROM gs_schema_version ORDER BY version") == [
            (v,) for v, _ in MIGRATIONS
        ]
        found = "SELECT COUNT(*) FROM pg_proc WHERE proname = 'gs_check_fence'"
        assert rows(postgres_url, found) == [(1,)]
    finally:
        await backend.close()
