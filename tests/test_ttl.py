"""TTL, expiry strategies, the sweeper and checkpoint retention.

Time is a ``ManualClock`` and the background sweeper is off (``sweep_interval=None``) unless
a test is about the background sweeper itself; tests drive ``await manager.sweep()``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.db_tables import checkpoint_table, session_rows
from support.graphs import approval_graph, chat_graph, slow_graph
from support.lifecycle_graphs import flaky_graph, mode_graph

from graph_sessions import (
    GraphSessionManager,
    ManualClock,
    RunFailed,
    SessionExpired,
    SessionStatus,
    SweepReport,
)

START = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
# Every table that holds a session's rows, with the column naming the session.


def db_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def rows_of(url: str, session_id: str) -> dict[str, int]:
    """How many rows each table holds for ``session_id``, read with plain sqlite3."""
    with sqlite3.connect(db_path(url)) as conn:
        return session_rows(conn, session_id)


def no_rows(url: str) -> dict[str, int]:
    """``rows_of`` of a session that left nothing behind."""
    with sqlite3.connect(db_path(url)) as conn:
        return dict.fromkeys(session_rows(conn, "-"), 0)


def root_checkpoints(url: str, session_id: str) -> int:
    with sqlite3.connect(db_path(url)) as conn:
        table = checkpoint_table(conn, "checkpoints")
        return conn.execute(
            f"SELECT COUNT(*) FROM {table} WHERE thread_id = ? AND checkpoint_ns = ''",
            (session_id,),
        ).fetchone()[0]


def manager_for(graph, url: str, clock: ManualClock | None = None, **kwargs) -> GraphSessionManager:
    kwargs.setdefault("sweep_interval", None)
    return GraphSessionManager(graph, url, clock=clock, **kwargs)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


# --- expiry -----------------------------------------------------------------------------


async def test_expired_session_reads_as_gone_then_sweep_deletes_every_row(
    db_url: str, clock: ManualClock
) -> None:
    async with manager_for(chat_graph(), db_url, clock, ttl=10) as manager:
        session = await manager.create("old")
        await session.invoke({"user_input": "hello"})
        await session.messages.append("user", "hello")
        await manager.create("young", ttl=100)
        before = rows_of(db_url, "old")
        assert before["sessions"] == 1 and before["checkpoints"] > 0 and before["runs"] == 1
        assert before["session_events"] > 0 and before["messages"] == 1

        clock.advance(9)
        assert await manager.get("old") is not None  # not yet
        clock.advance(2)  # 11 s after the last activity

        assert await manager.get("old") is None
        assert [i.session_id for i in await manager.list()] == ["young"]
        shown = {i.session_id for i in await manager.list(include_expired=True)}
        assert shown == {"old", "young"}
        assert await manager.count() == 1
        assert await manager.count(include_expired=True) == 2
        stats = await manager.stats()
        assert stats.expired == 1 and stats.total == 2
        with pytest.raises(SessionExpired) as err:
            await session.invoke({"user_input": "again"})
        assert err.value.session_id == "old"
        # Nothing is deleted before the sweeper runs, and the refused invoke wrote nothing.
        assert rows_of(db_url, "old") == before

        report = await manager.sweep()
        assert isinstance(report, SweepReport)
        assert (report.deleted, report.archived, report.skipped_running) == (1, 0, 0)
        assert report.expired == 1
        assert rows_of(db_url, "old") == no_rows(db_url)
        assert await manager.count(include_expired=True) == 1
        assert (await manager.stats()).expired == 0
        assert await manager.get("young") is not None
        assert rows_of(db_url, "young")["sessions"] == 1
        # A second sweep finds nothing.
        assert (await manager.sweep()).expired == 0


async def test_status_filter_expired_finds_unswept_expired_sessions(
    db_url: str, clock: ManualClock
) -> None:
    async with manager_for(chat_graph(), db_url, clock, ttl=10) as manager:
        session = await manager.create("old")
        await session.invoke({"user_input": "hello"})
        clock.advance(11)
        assert (await manager.stats()).expired == 1
        assert await manager.count(status="expired") == 1
        assert [i.session_id for i in await manager.list(status="expired")] == ["old"]


async def test_expiry_boundary_is_exactly_ttl(db_url: str, clock: ManualClock) -> None:
    async with manager_for(chat_graph(), db_url, clock, ttl=10) as manager:
        session = await manager.create("s")
        assert session.info.expires_at == START + timedelta(seconds=10)
        clock.advance(9.999)
        assert await manager.get("s") is not None
        clock.advance(0.001)
        assert await manager.get("s") is None


# --- sliding and absolute TTL -------------------------------------------------------------


async def test_sliding_ttl_each_run_pushes_expires_at(any_backend: str, clock: ManualClock) -> None:
    async with manager_for(chat_graph(), any_backend, clock, ttl=10) as manager:
        session = await manager.create("s")
        assert session.info.ttl == 10 and session.info.ttl_mode == "sliding"
        assert session.info.expires_at == START + timedelta(seconds=10)
        for i in range(4):
            now = clock.advance(7)  # each step is inside the TTL renewed by the previous run
            await session.invoke({"user_input": f"m{i}"})
            assert session.info.expires_at == now + timedelta(seconds=10)
            stored = await manager.get("s")
            assert stored is not None and stored.info.expires_at == now + timedelta(seconds=10)
        # 28 s after creation the session is alive only because it was renewed.
        assert clock.now == START + timedelta(seconds=28)
        assert (await session.get_state())["turns"] == ["m0", "m1", "m2", "m3"]
        clock.advance(10)
        assert await manager.get("s") is None


async def test_sliding_ttl_is_renewed_by_a_failed_run_too(
    any_backend: str, clock: ManualClock
) -> None:
    async with manager_for(mode_graph(), any_backend, clock, ttl=10) as manager:
        session = await manager.create("s")
        now = clock.advance(8)
        with pytest.raises(RunFailed):
            await session.invoke({"user_input": "fail"})
        info = await session.refresh()
        assert info.status == SessionStatus.FAILED
        assert info.expires_at == now + timedelta(seconds=10)


async def test_absolute_ttl_is_not_renewed(any_backend: str, clock: ManualClock) -> None:
    async with manager_for(
        chat_graph(), any_backend, clock, ttl=10, ttl_mode="absolute"
    ) as manager:
        session = await manager.create("s")
        assert session.info.ttl_mode == "absolute"
        fixed = START + timedelta(seconds=10)
        for i in range(3):
            clock.advance(3)
            await session.invoke({"user_input": f"m{i}"})
            assert session.info.expires_at == fixed
        clock.advance(1)  # 10 s after creation, despite a run 1 s ago
        assert await manager.get("s") is None
        with pytest.raises(SessionExpired):
            await session.invoke({"user_input": "late"})


# --- per-session TTL -------------------------------------------------------------------------


async def test_per_session_ttl_overrides_manager_default(
    any_backend: str, clock: ManualClock
) -> None:
    async with manager_for(chat_graph(), any_backend, clock, ttl=100) as manager:
        default = await manager.create("default")
        short = await manager.create("short", ttl=5)
        forever = await manager.create("forever", ttl=None)
        assert default.info.ttl == 100 and default.info.expires_at == START + timedelta(seconds=100)
        assert short.info.ttl == 5 and short.info.expires_at == START + timedelta(seconds=5)
        assert forever.info.ttl is None and forever.info.expires_at is None

        now = clock.advance(3)
        await short.invoke({"user_input": "x"})
        await forever.invoke({"user_input": "x"})
        assert short.info.expires_at == now + timedelta(seconds=5)  # renews with its own ttl
        assert forever.info.expires_at is None

        clock.advance(6)
        assert await manager.get("short") is None
        assert await manager.get("default") is not None
        clock.advance(10_000_000)  # ~4 months
        assert await manager.get("default") is None
        assert await manager.get("forever") is not None
        report = await manager.sweep()
        assert report.deleted == 2
        assert [i.session_id for i in await manager.list(include_expired=True)] == ["forever"]
        result = await forever.invoke({"user_input": "still here"})
        assert result.state["turns"] == ["x", "still here"]


async def test_manager_without_ttl_never_expires(any_backend: str, clock: ManualClock) -> None:
    async with manager_for(chat_graph(), any_backend, clock) as manager:
        session = await manager.create("s")
        assert session.info.expires_at is None
        clock.advance(10**9)
        assert await manager.get("s") is not None
        assert (await manager.sweep()).expired == 0


# --- get_or_create after expiry ---------------------------------------------------------------


async def test_get_or_create_on_expired_id_gives_a_fresh_session(
    any_backend: str, clock: ManualClock
) -> None:
    async with manager_for(chat_graph(), any_backend, clock, ttl=10) as manager:
        session = await manager.get_or_create("user-1", metadata={"plan": "pro"})
        await session.invoke({"user_input": "remember me"})
        assert session.info.run_count == 1
        now = clock.advance(11)

        fresh = await manager.get_or_create("user-1", metadata={"plan": "free"})
        assert fresh.info.status == SessionStatus.CREATED
        assert fresh.info.run_count == 0
        assert fresh.info.metadata == {"plan": "free"}
        assert fresh.info.created_at == now
        assert fresh.info.expires_at == now + timedelta(seconds=10)
        assert await fresh.get_state() == {}
        assert await fresh.checkpoints() == []
        assert [e.type for e in await fresh.events()] == ["created"]
        result = await fresh.invoke({"user_input": "hi"})
        assert result.state["turns"] == ["hi"]
        # The old session's rows are gone, so nothing is left for the sweeper.
        assert (await manager.sweep()).expired == 0


# --- keep_latest ----------------------------------------------------------------------------


async def test_keep_latest_archives_and_get_or_create_revives(
    any_backend: str, clock: ManualClock
) -> None:
    async with manager_for(
        approval_graph(), any_backend, clock, ttl=10, on_expire="keep_latest"
    ) as manager:
        session = await manager.create("s")
        result = await session.invoke({"user_input": "draft it"})
        assert result.status == "interrupted"
        interrupt_id = result.interrupts[0]["id"]
        assert len(await session.checkpoints(limit=100)) > 1
        clock.advance(11)

        report = await manager.sweep()
        assert (report.deleted, report.archived) == (0, 1)
        assert await manager.get("s") is None
        archived = await manager.list(include_expired=True)
        assert [(i.session_id, i.status) for i in archived] == [("s", SessionStatus.EXPIRED)]
        assert await manager.count() == 0
        assert (await manager.sweep()).expired == 0  # archived ones are not swept again

        now = clock.advance(100)
        revived = await manager.get_or_create("s")
        assert revived.info.status == SessionStatus.INTERRUPTED
        assert revived.info.expires_at == now + timedelta(seconds=10)
        history = await revived.checkpoints(limit=100)
        assert len(history) == 1
        state = await revived.get_state()
        assert state["log"] == ["draft:draft it"] and state["user_input"] == "draft it"
        snapshot = await revived.snapshot()
        assert snapshot is not None
        assert [i["id"] for i in snapshot.interrupts] == [interrupt_id]
        assert snapshot.next == ["approve"]

        done = await revived.resume("yes")
        assert done.status == "complete"
        assert done.state["response"] == "sent"
        assert done.state["log"] == ["draft:draft it", "answer:yes", "respond"]
        assert (await manager.get("s")).info.status == SessionStatus.COMPLETED


async def test_keep_latest_revives_a_completed_session_with_its_state(
    any_backend: str, clock: ManualClock
) -> None:
    async with manager_for(
        chat_graph(), any_backend, clock, ttl=10, on_expire="keep_latest"
    ) as manager:
        session = await manager.create("s")
        for text in ("a", "b", "c"):
            await session.invoke({"user_input": text})
        clock.advance(11)
        assert (await manager.sweep()).archived == 1
        revived = await manager.get_or_create("s")
        assert revived.info.status == SessionStatus.COMPLETED
        assert len(await revived.checkpoints(limit=100)) == 1
        result = await revived.invoke({"user_input": "d"})
        assert result.state["turns"] == ["a", "b", "c", "d"]
        assert result.state["response"] == "turn 4: d"


async def test_keep_latest_revives_a_failed_session_that_can_continue(
    any_backend: str, clock: ManualClock
) -> None:
    switch = {"broken": True}
    async with manager_for(
        flaky_graph(switch), any_backend, clock, ttl=10, on_expire="keep_latest"
    ) as manager:
        session = await manager.create("s")
        with pytest.raises(RunFailed):
            await session.invoke({"user_input": "x"})
        clock.advance(11)
        assert (await manager.sweep()).archived == 1
        with pytest.raises(SessionExpired):  # the held object sees the archived session as gone
            await session.invoke(None)

        revived = await manager.get_or_create("s")
        assert revived.info.status == SessionStatus.FAILED
        assert len(await revived.checkpoints(limit=100)) == 1
        assert (await revived.snapshot()).next == ["second"]
        switch["broken"] = False
        result = await revived.invoke(None)
        assert result.status == "complete"
        assert result.state["log"] == ["first:x", "second:x"]


async def test_keep_latest_suspended_session_keeps_its_status_before_suspension(
    any_backend: str, clock: ManualClock
) -> None:
    async with manager_for(
        mode_graph(), any_backend, clock, ttl=10, on_expire="keep_latest"
    ) as manager:
        session = await manager.create("s")
        assert (await session.invoke({"user_input": "interrupt"})).status == "interrupted"
        await session.suspend("review")
        clock.advance(11)
        assert (await manager.sweep()).archived == 1

        revived = await manager.get_or_create("s")
        assert revived.info.status == SessionStatus.SUSPENDED
        assert await revived.resume() is None
        # The checkpoint still waits at the interrupt, so the registry must say so.
        assert (await revived.snapshot()).interrupts
        assert revived.info.status == SessionStatus.INTERRUPTED
        result = await revived.resume({"ok": True})
        assert result.status == "complete" and result.state["answer"] == {"ok": True}


# --- the sweeper ----------------------------------------------------------------------------


async def test_sweeper_works_in_bounded_batches(any_backend: str, clock: ManualClock) -> None:
    async with manager_for(chat_graph(), any_backend, clock, ttl=10, sweep_batch=100) as manager:
        for i in range(250):
            await manager.create(f"old-{i:03d}")
        clock.advance(5)
        young = [await manager.create(f"young-{i}") for i in range(3)]  # expire at +15
        forever = await manager.create("forever", ttl=None)
        await young[0].invoke({"user_input": "keep"})
        clock.advance(6)  # +11: the 250 are expired, the others are not

        assert await manager.count() == 4
        assert await manager.count(include_expired=True) == 254
        report = await manager.sweep()
        assert report.deleted == 250
        assert report.batches >= 3
        assert report.archived == 0 and report.skipped_running == 0
        remaining = {i.session_id for i in await manager.list(include_expired=True)}
        assert remaining == {"young-0", "young-1", "young-2", "forever"}
        assert (await manager.get("young-0")).info.run_count == 1
        assert (await young[0].get_state())["turns"] == ["keep"]
        assert forever.info.expires_at is None


async def test_sweep_with_explicit_time(any_backend: str, clock: ManualClock) -> None:
    async with manager_for(chat_graph(), any_backend, clock, ttl=10) as manager:
        await manager.create("a")
        await manager.create("b", ttl=30)
        assert (await manager.sweep(START + timedelta(seconds=20))).deleted == 1
        assert await manager.get("a") is None
        assert await manager.get("b") is not None


async def _wait_for_status(
    manager: GraphSessionManager, session_id: str, status: SessionStatus
) -> None:
    deadline = time.monotonic() + 10
    while True:
        info = await manager.backend.get_session(session_id)
        if info is not None and info.status == status:
            return
        assert time.monotonic() < deadline, f"session {session_id} never became {status}"
        await asyncio.sleep(0.005)


@pytest.mark.slow
async def test_sweep_spares_a_running_session(any_backend: str, clock: ManualClock) -> None:
    async with manager_for(slow_graph(3), any_backend, clock, ttl=10) as manager:
        session = await manager.create("busy")
        await manager.create("idle")
        run = asyncio.create_task(session.invoke({"user_input": "go", "delay": 0.2}))
        await _wait_for_status(manager, "busy", SessionStatus.RUNNING)
        clock.advance(11)  # both are past their TTL; only "idle" is not running

        report = await manager.sweep()  # while the run is in flight (3 steps of 0.2 s)
        assert report.deleted == 1  # the idle one
        assert await manager.backend.get_session("idle") is None
        assert await manager.backend.get_session("busy") is not None
        assert not run.done()

        result = await run
        assert result.status == "complete"
        assert result.state["steps"] == ["s0:go", "s1:go", "s2:go"]
        # The run's end renewed the sliding TTL, so the session is alive again.
        alive = await manager.get("busy")
        assert alive is not None
        assert alive.info.status == SessionStatus.COMPLETED
        assert alive.info.expires_at == clock.now + timedelta(seconds=10)
        assert (await manager.sweep()).expired == 0


@pytest.mark.slow
@pytest.mark.parametrize("first_ttl", [None, 3600])
async def test_a_ttl_set_during_a_run_counts_from_the_runs_end(
    any_backend: str, clock: ManualClock, first_ttl: int | None
) -> None:
    """Regression: ``set_ttl(2)`` during a 6 s run was ignored at the run's end (the end
    slid the TTL the run started with, or none), so the session was swept right after its
    acknowledged result."""
    async with manager_for(slow_graph(2), any_backend, clock, ttl=first_ttl) as manager:
        session = await manager.create("s")
        run = asyncio.create_task(session.invoke({"user_input": "go", "delay": 0.2}))
        await _wait_for_status(manager, "s", SessionStatus.RUNNING)
        await manager.set_ttl("s", 2)
        clock.advance(6)  # the run ends 6 s after the TTL was set
        result = await run
        assert result.state["steps"] == ["s0:go", "s1:go"]
        info = await manager.info("s")
        assert info.ttl == 2
        assert info.expires_at == clock.now + timedelta(seconds=2)
        assert (await manager.sweep()).expired == 0  # the acknowledged result stays
        assert await manager.get("s") is not None
        clock.advance(2)
        assert (await manager.sweep()).deleted == 1


async def test_a_ttl_removed_during_a_run_stays_removed(
    any_backend: str, clock: ManualClock
) -> None:
    """Regression: ``set_ttl(None)`` during a run was undone at the run's end (the end wrote
    the expiry computed from the TTL the run started with), so the session was swept."""
    async with manager_for(slow_graph(2), any_backend, clock, ttl=60) as manager:
        session = await manager.create("s")
        run = asyncio.create_task(session.invoke({"user_input": "go", "delay": 0.2}))
        await _wait_for_status(manager, "s", SessionStatus.RUNNING)
        await manager.set_ttl("s", None)
        await run
        info = await manager.info("s")
        assert info.ttl is None and info.expires_at is None
        clock.advance(3600)
        assert (await manager.sweep()).expired == 0
        assert await manager.get("s") is not None


async def test_running_session_past_its_ttl_does_not_read_as_gone(
    any_backend: str, clock: ManualClock
) -> None:
    async with manager_for(slow_graph(2), any_backend, clock, ttl=10) as manager:
        session = await manager.create("busy")
        run = asyncio.create_task(session.invoke({"user_input": "go", "delay": 0.15}))
        await _wait_for_status(manager, "busy", SessionStatus.RUNNING)
        clock.advance(11)
        try:
            assert (await manager.get_or_create("busy")).info.status == SessionStatus.RUNNING
            assert await manager.get("busy") is not None
            assert await manager.count() == 1
        finally:
            await run


# --- checkpoint retention -----------------------------------------------------------------


async def test_checkpoint_retention_keeps_the_newest_n(db_url: str, clock: ManualClock) -> None:
    async with manager_for(chat_graph(), db_url, clock, checkpoint_retention=3) as manager:
        session = await manager.create("long")
        other = await manager.create("other")
        for i in range(10):
            result = await session.invoke({"user_input": f"t{i}"})
            assert result.state["response"] == f"turn {i + 1}: t{i}"
            assert root_checkpoints(db_url, "long") <= 3
        assert root_checkpoints(db_url, "long") == 3
        assert (await session.get_state())["turns"] == [f"t{i}" for i in range(10)]
        history = await session.checkpoints(limit=100)
        assert len(history) == 3
        assert history[0].checkpoint_id == result.checkpoint_id

        result = await session.invoke({"user_input": "t10"})
        assert result.state["turns"] == [f"t{i}" for i in range(11)]
        assert result.state["response"] == "turn 11: t10"
        assert root_checkpoints(db_url, "long") == 3
        with sqlite3.connect(db_path(db_url)) as conn:
            cps, writes = checkpoint_table(conn, "checkpoints"), checkpoint_table(conn, "writes")
            (orphans,) = conn.execute(
                f"SELECT COUNT(*) FROM {writes} w WHERE thread_id = ? AND NOT EXISTS "
                f"(SELECT 1 FROM {cps} c WHERE c.thread_id = w.thread_id AND c.checkpoint_id = w.checkpoint_id)",
                ("long",),
            ).fetchone()
        assert orphans == 0
        # Other sessions are not pruned by someone else's runs.
        await other.invoke({"user_input": "x"})
        assert root_checkpoints(db_url, "other") == 3  # one invoke of the chat graph writes 3


async def test_checkpoint_retention_on_memory_backend(clock: ManualClock) -> None:
    async with manager_for(chat_graph(), "memory://", clock, checkpoint_retention=2) as manager:
        session = await manager.create("long")
        for i in range(6):
            await session.invoke({"user_input": f"t{i}"})
        assert len(await session.checkpoints(limit=100)) == 2
        result = await session.invoke({"user_input": "t6"})
        assert result.state["turns"] == [f"t{i}" for i in range(7)]


async def test_checkpoint_retention_keeps_a_pending_interrupt(
    any_backend: str, clock: ManualClock
) -> None:
    async with manager_for(approval_graph(), any_backend, clock, checkpoint_retention=1) as manager:
        session = await manager.create("s")
        result = await session.invoke({"user_input": "x"})
        assert result.status == "interrupted"
        assert len(await session.checkpoints(limit=100)) == 1
        done = await session.invoke({"user_input": "yes"})
        assert done.state["response"] == "sent"
        assert done.state["log"] == ["draft:x", "answer:yes", "respond"]


# --- the background sweeper ------------------------------------------------------------------


async def test_background_sweeper_deletes_expired_sessions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    async with GraphSessionManager(chat_graph(), url, ttl=0.2, sweep_interval=0.05) as manager:
        session = await manager.create("short")
        await session.invoke({"user_input": "hi"})
        keeper = await manager.create("keeper", ttl=None)
        deadline = time.monotonic() + 5
        while await manager.backend.get_session("short") is not None:
            assert time.monotonic() < deadline, "the background sweeper never deleted the session"
            await asyncio.sleep(0.02)
        assert rows_of(url, "short") == no_rows(url)
        assert await manager.get("keeper") is not None
        assert keeper.info.expires_at is None
    # Closing the manager stopped the sweeper task.
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "graph-sessions-sweeper"]


# --- regressions from review --------------------------------------------------------------


async def test_keep_latest_revive_before_the_sweep_keeps_the_pending_interrupt(
    any_backend: str, clock: ManualClock
) -> None:
    """Regression: reviving a session expired by time only (not yet swept) made an
    interrupted session 'completed', so the next input started a new turn."""
    async with manager_for(
        approval_graph(), any_backend, clock, ttl=10, on_expire="keep_latest"
    ) as m:
        s = await m.create("unswept")
        await s.invoke({"user_input": "x"})
        clock.advance(11)
        revived = await m.get_or_create("unswept")
        assert revived.status == SessionStatus.INTERRUPTED
        assert revived.info.interrupts
        done = await revived.invoke({"user_input": "yes"})
        assert done.status == "complete" and done.state["approved"] is True
