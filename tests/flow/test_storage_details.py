"""Storage details: SQLite WAL mode and schema version, aware UTC timestamps, stale session
objects, filter validation, concurrent metadata merges, values that cannot be stored.

Real parts only: SQLite files under tmp_path and the memory backend (``any_backend`` runs a
test on both). Moved from the numbered section 12 of the former tests/test_flow.py."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from support.flow import (
    is_utc,
    manager,
    sqlite_path,
)
from support.graphs import approval_graph, chat_graph, failing_graph

from graph_sessions import (
    GraphSessionManager,
    InvalidInput,
    InvalidTransition,
    RunFailed,
    SessionInfo,
    SessionStatus,
)
from graph_sessions.storage.sqlite import MIGRATIONS

S = SessionStatus


APPLIED = [(version,) for version, _ in MIGRATIONS]  # every migration, once, in order


async def test_sqlite_wal_mode_and_schema_version(db_url: str) -> None:
    db_file = sqlite_path(db_url)
    async with manager(chat_graph(), db_url) as m:
        await m.create("wal")
        con = sqlite3.connect(db_file)
        try:
            assert con.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
            assert con.execute("SELECT version FROM schema_version").fetchall() == APPLIED
        finally:
            con.close()
        assert await m.backend.schema_version() == MIGRATIONS[-1][0]  # type: ignore[attr-defined]
    # reopening does not migrate again
    async with manager(chat_graph(), db_url) as m:
        assert (await m.info("wal")).session_id == "wal"
    con = sqlite3.connect(db_file)
    try:
        assert con.execute("SELECT version FROM schema_version").fetchall() == APPLIED
        assert con.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
        raw = con.execute(
            "SELECT created_at, updated_at FROM sessions WHERE session_id = 'wal'"
        ).fetchone()
        assert all(text.endswith("+00:00") for text in raw)
    finally:
        con.close()


async def test_session_info_timestamps_are_aware_utc(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend, ttl=120) as m:
        s = await m.create("tz")
        await s.invoke({"user_input": "a"})
        for info in (s.info, await m.info("tz"), (await m.list()).sessions[0]):
            assert isinstance(info, SessionInfo)
            assert is_utc(info.created_at)
            assert is_utc(info.updated_at)
            assert is_utc(info.expires_at)
            assert info.updated_at >= info.created_at
            assert info.expires_at is not None and info.expires_at > info.updated_at
        stats = await m.stats()
        assert is_utc(stats.oldest_created_at) and is_utc(stats.newest_created_at)
        assert abs(datetime.now(UTC) - (await m.info("tz")).created_at) < timedelta(minutes=5)


async def test_session_object_shows_failed_status_after_a_failed_run(any_backend: str) -> None:
    """Regression: after RunFailed the held object still showed the status before the run."""
    async with manager(failing_graph(), any_backend) as m:
        s = await m.create("shown")
        with pytest.raises(RunFailed):
            await s.invoke({"user_input": "fail"})
        assert s.status == S.FAILED
        assert s.info.last_error is not None and "boom" in s.info.last_error


async def test_resume_through_a_stale_object_after_another_answered(any_backend: str) -> None:
    """resume() trusts a cached 'interrupted'; the run must still refuse when another
    session object answered the interrupt in between (no plain value fed as graph input)."""
    async with manager(approval_graph(), any_backend) as m:
        a = await m.create("stale-resume")
        await a.invoke({"user_input": "x"})
        b = await m.get("stale-resume")
        assert b is not None
        await b.resume("yes")
        with pytest.raises(InvalidTransition):
            await a.resume("no")
        assert (await b.get_state())["approved"] is True


async def test_list_and_count_refuse_unknown_filters_and_bad_dates(
    chat_manager: GraphSessionManager,
) -> None:
    await chat_manager.create("f1", owner="a")
    with pytest.raises(InvalidInput, match="unknown filter"):
        await chat_manager.list(ownr="a")  # type: ignore[call-arg]
    with pytest.raises(InvalidInput, match="unknown filter"):
        await chat_manager.count(colour="red")  # type: ignore[call-arg]
    with pytest.raises(InvalidInput, match="created_after must be a datetime"):
        await chat_manager.list(created_after="yesterday")  # type: ignore[arg-type]
    assert await chat_manager.count(owner="a") == 1


async def test_concurrent_metadata_merges_keep_every_key(chat_manager: GraphSessionManager) -> None:
    """Regression: update_metadata read, merged in Python and wrote the whole dict back, so
    concurrent merges of different keys lost all but one."""
    await chat_manager.create("meta", metadata={"base": 0})
    await asyncio.gather(*(chat_manager.update_metadata("meta", {f"k{i}": i}) for i in range(20)))
    info = await chat_manager.info("meta")
    assert info.metadata == {"base": 0, **{f"k{i}": i for i in range(20)}}


async def test_metadata_and_ids_that_cannot_be_stored_are_invalid_input(
    chat_manager: GraphSessionManager,
) -> None:
    """Regression: a lone surrogate in metadata or an id raised TypeError/UnicodeEncodeError
    from the storage layer instead of a typed InvalidInput (and the server answered 500)."""
    with pytest.raises(InvalidInput, match="JSON-serializable"):
        await chat_manager.create("s1", metadata={"a": "\ud800"})
    with pytest.raises(InvalidInput, match="not valid Unicode"):
        await chat_manager.create("\ud800")
    s = await chat_manager.create("s1", metadata={"a": 1})
    with pytest.raises(InvalidInput, match="JSON-serializable"):
        await chat_manager.update_metadata("s1", {"b": "\udfff"})
    assert (await chat_manager.info("s1")).metadata == {"a": 1}
    assert [i.session_id for i in (await chat_manager.list()).sessions] == [s.session_id]
