"""``delete()``: every row of the session goes, and a re-created session starts clean.

Real parts only: SQLite files under tmp_path and the memory backend (``any_backend`` runs a
test on both). Moved from the numbered section 7 of the former tests/test_flow.py."""

from __future__ import annotations

import pytest
from support.flow import (
    count_rows,
    manager,
    sqlite_path,
)
from support.graphs import approval_graph

from graph_sessions import (
    EventType,
    GraphSession,
    GraphSessionManager,
    SessionNotFound,
    SessionStatus,
)

S = SessionStatus


async def _busy_session(m: GraphSessionManager, sid: str) -> GraphSession:
    """A session with rows everywhere: runs, events, messages, checkpoints, writes."""
    s = await m.create(sid, owner="alice")
    await s.invoke({"user_input": "x"})  # interrupts: pending writes are stored
    await s.invoke({"user_input": "yes"})
    await s.invoke({"user_input": "again"})  # interrupted again
    await s.messages.append("user", f"hello from {sid}")
    return s


async def test_delete_removes_every_row_sqlite(db_url: str) -> None:
    db_file = sqlite_path(db_url)
    async with manager(approval_graph(), db_url) as m:
        await _busy_session(m, "doomed")
        await _busy_session(m, "survivor")
        before_doomed = count_rows(db_file, "doomed")
        before_survivor = count_rows(db_file, "survivor")
        assert all(n > 0 for n in before_doomed.values()), before_doomed
        assert all(n > 0 for n in before_survivor.values()), before_survivor

        assert await m.delete("doomed") is True
        assert count_rows(db_file, "doomed") == dict.fromkeys(before_doomed, 0)
        assert count_rows(db_file, "survivor") == before_survivor

        assert await m.get("doomed") is None
        with pytest.raises(SessionNotFound):
            await m.info("doomed")
        assert await m.delete("doomed") is False
        assert await m.delete("never-existed") is False
        survivor = await m.get("survivor")
        assert survivor is not None and survivor.status == S.INTERRUPTED
    # and still so after the manager closed (the deletes were committed)
    assert count_rows(db_file, "doomed") == dict.fromkeys(before_doomed, 0)


async def test_delete_then_recreate_starts_clean(any_backend: str) -> None:
    async with manager(approval_graph(), any_backend) as m:
        await _busy_session(m, "again")
        await _busy_session(m, "other")
        assert await m.delete("again") is True
        assert await m.delete("unknown-id") is False
        assert await m.delete("other", owner="mallory") is False
        fresh = await m.get_or_create("again")
        assert fresh.status == S.CREATED
        assert await fresh.get_state() == {}
        assert await fresh.checkpoints() == []
        assert await fresh.messages.load() == []
        assert await fresh.runs() == []
        assert [e.type for e in await fresh.events()] == [EventType.CREATED]
        other = await m.get("other")
        assert other is not None
        assert len(await other.messages.load()) == 1
        assert len(await other.runs()) == 3
