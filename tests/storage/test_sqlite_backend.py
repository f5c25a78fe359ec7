"""SQLite storage details: WAL checkpoints happen off the commit path."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from support.graphs import chat_graph

import graph_sessions.storage.sqlite.connection as sqlite_backend
from graph_sessions import GraphSessionManager


async def test_wal_is_checkpointed_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_backend, "_WAL_CHECK_SECONDS", 0.02)
    monkeypatch.setattr(sqlite_backend, "_WAL_CHECKPOINT_BYTES", 32 * 1024)
    db = tmp_path / "wal.db"
    async with GraphSessionManager(
        graph=chat_graph(), backend=f"sqlite:///{db}", sweep_interval=None
    ) as m:
        pages = await m.backend.connection.call(  # type: ignore[attr-defined]
            lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        )
        assert (
            pages == sqlite_backend._INLINE_CHECKPOINT_PAGES
        )  # SQLite's in-commit checkpoint is only a backstop
        size_before = db.stat().st_size
        for i in range(60):
            await (await m.create(f"s{i}", metadata={"pad": "x" * 2000})).invoke(
                {"user_input": "y" * 2000}
            )
        # With SQLite's own limit far away, only the background thread can have copied the
        # WAL's pages into the database file while the manager is still open.
        deadline = time.monotonic() + 10
        while db.stat().st_size <= size_before and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert db.stat().st_size > size_before
        assert await m.count() == 60


async def test_backend_runs_on_the_graph_sessions_saver(tmp_path: Path) -> None:
    """``SqliteBackend(checkpointer="graph-sessions")``: same behaviour, our tables."""
    import sqlite3

    from graph_sessions.checkpoint import AsyncSqliteSaver as SessionsSaver
    from graph_sessions.errors import BackendError
    from graph_sessions.storage.sqlite import SqliteBackend

    with pytest.raises(BackendError):
        SqliteBackend(tmp_path / "x.db", checkpointer="bogus")
    db = tmp_path / "ours.db"
    backend = SqliteBackend(db, checkpointer="graph-sessions")
    async with GraphSessionManager(graph=chat_graph(), backend=backend, sweep_interval=None) as m:
        assert isinstance(backend.checkpointer, SessionsSaver)
        session = await m.create("s1")
        for i in range(25):
            await session.invoke({"user_input": f"hi {i}"})
        state = await session.get_state()
        assert state["turns"] == [f"hi {i}" for i in range(25)]
        assert state["response"] == "turn 25: hi 24"
        page = await session.checkpoints(limit=10)
        assert len(page) == 10
        assert await backend.latest_checkpoint_id("s1") == page[0].checkpoint_id
        other = await m.create("s2")
        await other.invoke({"user_input": "x"})
        await m.delete("s1")
        assert await backend.latest_checkpoint_id("s1") is None
        assert (await other.get_state())["turns"] == ["x"]
    with sqlite3.connect(db) as conn:
        threads = {r[0] for r in conn.execute("SELECT DISTINCT thread_id FROM gs_checkpoints")}
        assert threads == {"s2"}
        assert (
            conn.execute(
                "SELECT COUNT(*) FROM gs_checkpoint_blobs WHERE thread_id = 's1'"
            ).fetchone()[0]
            == 0
        )
        assert conn.execute("PRAGMA synchronous").fetchone()[0] in (1, 2)


async def test_default_saver_is_ours_and_legacy_files_keep_langgraphs(tmp_path: Path) -> None:
    """A new file gets graph_sessions.checkpoint; a file whose sessions are in LangGraph's
    tables (written before our saver was the default) keeps LangGraph's saver, so nothing an
    earlier version stored becomes unreadable."""
    import sqlite3

    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver as LangGraphSaver

    from graph_sessions.checkpoint import AsyncSqliteSaver as SessionsSaver

    def tables(path: Path) -> set[str]:
        with sqlite3.connect(path) as conn:
            return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}

    new = tmp_path / "new.db"
    async with GraphSessionManager(graph=chat_graph(), backend=str(new)) as m:
        assert isinstance(m.backend.checkpointer, SessionsSaver)  # type: ignore[attr-defined]
        await (await m.create("a")).invoke({"user_input": "one"})
    assert "gs_checkpoints" in tables(new) and "checkpoints" not in tables(new)

    legacy = tmp_path / "legacy.db"
    url = f"sqlite:///{legacy}?checkpointer=langgraph"
    async with GraphSessionManager(graph=chat_graph(), backend=url) as m:
        await (await m.create("old")).invoke({"user_input": "one"})
    async with GraphSessionManager(graph=chat_graph(), backend=str(legacy)) as m:
        assert isinstance(m.backend.checkpointer, LangGraphSaver)  # type: ignore[attr-defined]
        session = await m.get("old")
        result = await session.invoke({"user_input": "two"})
        assert result.state["turns"] == ["one", "two"]
    assert "gs_checkpoints" not in tables(legacy)

    with pytest.raises(Exception, match="checkpointer must be"):
        GraphSessionManager(graph=chat_graph(), backend=f"sqlite:///{new}?checkpointer=bogus")


@pytest.mark.slow
async def test_the_wal_stays_bounded_under_sustained_writes_and_shrinks_when_they_pause(
    tmp_path: Path,
) -> None:
    """Regression: under sustained load the WAL grew to 78-129 MB (data 7-9 MB) and stayed
    that size until a clean shutdown. Now: bounded while writing, near zero after a pause,
    with the backend still open."""
    db = tmp_path / "load.db"
    wal = Path(f"{db}-wal")
    url = f"sqlite:///{db}"
    peak = 0
    async with GraphSessionManager(graph=chat_graph(), backend=url, sweep_interval=None) as m:
        sessions = [await m.create(f"s{i}") for i in range(8)]
        payload = "x" * 20_000

        async def writer(session) -> None:  # type: ignore[no-untyped-def]
            for i in range(10_000):
                if loop.time() > end:
                    return
                await session.invoke({"user_input": f"{i}:{payload}"})
                await session.get_state()  # readers too, as a server has

        loop = asyncio.get_running_loop()
        end = loop.time() + 6.0
        tasks = [asyncio.ensure_future(writer(s)) for s in sessions]
        while not all(t.done() for t in tasks):
            peak = max(peak, wal.stat().st_size if wal.exists() else 0)
            await asyncio.sleep(0.05)
        await asyncio.gather(*tasks)
        data = db.stat().st_size
        assert data > 8 * 1024 * 1024, "the load must have written a fair amount"
        # Writers paused: the WAL is cut back while the file is still open.
        for _ in range(100):
            size = wal.stat().st_size if wal.exists() else 0
            if size <= 1024 * 1024:
                break
            await asyncio.sleep(0.1)
        assert size <= 1024 * 1024, f"WAL {size} bytes after the pause (data {data} bytes)"
        assert wal.exists()  # still open: this is not the shutdown checkpoint
    # bounded: the regression's WAL was 10-15x the data; a machine that writes more in the
    # 6 s (bigger data) may hold a WAL up to half of it between two checkpoints
    bound = max(48 * 1024 * 1024, data // 2)
    assert peak < bound, f"WAL peaked at {peak} bytes (data {data} bytes)"
