"""LangGraph's ``DeltaChannel`` on our savers: every path that removes or copies checkpoints
keeps a DeltaChannel thread reading exactly what it read before, and the history hook."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from support.delta_graphs import delta_builder, user_turn

from graph_sessions import GraphSessionManager, ManualClock
from graph_sessions.checkpoint import AsyncSqliteSaver, SqliteSaver

START = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


def _cfg(thread: str = "t", checkpoint_id: str | None = None) -> Any:
    conf: dict[str, Any] = {"thread_id": thread}
    if checkpoint_id is not None:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


def _expected(turns: int) -> list[str]:
    """The message texts of a delta_builder() thread after ``turns`` turns."""
    out: list[str] = []
    for i in range(turns):
        out.append(f"hello {i}")
        out.append(f"reply {len(out)}")
        out.append(f"tool {len(out)}")
    return out


def _texts(messages: list[Any]) -> list[str]:
    """Contents of messages (LangGraph turns dicts under ``messages`` into message objects)."""
    return [m["content"] if isinstance(m, dict) else m.content for m in messages]


def _states(graph: Any, thread: str = "t") -> list[tuple[str, Any, Any]]:
    return [
        (s.config["configurable"]["checkpoint_id"], s.values, s.next)
        for s in graph.get_state_history(_cfg(thread))
    ]


@pytest.fixture(params=["sqlite", "sqlite-langgraph-tables", "memory", "postgres"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return {
        "sqlite": f"sqlite:///{tmp_path / 's.db'}",
        "sqlite-langgraph-tables": f"sqlite:///{tmp_path / 's.db'}?checkpointer=langgraph",
        "memory": "memory://",
    }[request.param]


def _root_checkpoints(path: Path, thread: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM gs_checkpoints WHERE thread_id = ? AND checkpoint_ns = ''",
            (thread,),
        ).fetchone()[0]


# --- the two silent losses of the issue ---------------------------------------------------


@pytest.mark.slow
async def test_prune_keep_latest_after_150_turns_keeps_every_message(tmp_path: Path) -> None:
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "c.db")) as saver:
        graph = delta_builder().compile(checkpointer=saver)
        for i in range(150):
            await graph.ainvoke(user_turn(i), _cfg())
        before = await graph.aget_state(_cfg())
        # the head is not a snapshot: its messages are rebuilt from ancestors' writes
        assert before.metadata["counters_since_delta_snapshot"]["messages"][0] > 0
        assert _texts(before.values["messages"]) == _expected(150)

        await saver.aprune(["t"], strategy="keep_latest")

        after = await graph.aget_state(_cfg())
        assert after.values == before.values
        assert len(after.values["messages"]) == 450
        # everything older than the snapshot the head needs is gone
        assert _root_checkpoints(tmp_path / "c.db", "t") < 200
        result = await graph.ainvoke(user_turn(150), _cfg())
        assert _texts(result["messages"]) == _expected(151)


@pytest.mark.slow
async def test_checkpoint_retention_after_150_turns_reads_every_message(
    backend_url: str, tmp_path: Path
) -> None:
    async with GraphSessionManager(
        delta_builder().compile(), backend_url, checkpoint_retention=5, sweep_interval=None
    ) as manager:
        session = await manager.create("s")
        for i in range(150):
            result = await session.invoke(user_turn(i))
        assert result.state["turns"] == 150
        assert _texts(result.state["messages"]) == _expected(150)
        state = await session.get_state()
        assert state["turns"] == 150
        assert _texts(state["messages"]) == _expected(150)
        # retention still bounds the thread: the newest 5 plus the chain back to a snapshot
        assert len(await session.checkpoints(limit=1000)) < 160
        result = await session.invoke(user_turn(150))
        assert _texts(result.state["messages"]) == _expected(151)


# --- every other path that removes or copies checkpoints ------------------------------------


def test_sync_prune_keep_latest_stops_at_the_nearest_snapshot(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(str(tmp_path / "c.db")) as saver:
        graph = delta_builder(snapshot_frequency=7).compile(checkpointer=saver)
        for i in range(40):
            graph.invoke(user_turn(i), _cfg())
        before = graph.get_state(_cfg())
        assert before.metadata["counters_since_delta_snapshot"]["messages"][0] > 0
        saver.prune(["t"], strategy="keep_latest")
        after = graph.get_state(_cfg())
        assert after.values == before.values
        assert _texts(after.values["messages"]) == _expected(40)
        # 7 updates between snapshots, 3 a turn: a handful of checkpoints stay, not 160
        assert _root_checkpoints(tmp_path / "c.db", "t") <= 12
        saver.prune(["t"], strategy="delete")
        assert graph.get_state(_cfg()).values == {}


async def test_ttl_keep_latest_revives_with_every_message(backend_url: str) -> None:
    clock = ManualClock(START)
    async with GraphSessionManager(
        delta_builder().compile(),
        backend_url,
        clock=clock,
        ttl=10,
        on_expire="keep_latest",
        sweep_interval=None,
    ) as manager:
        session = await manager.create("s")
        for i in range(20):
            await session.invoke(user_turn(i))
        clock.advance(11)
        assert (await manager.sweep()).archived == 1
        revived = await manager.get_or_create("s")
        assert _texts((await revived.get_state())["messages"]) == _expected(20)
        result = await revived.invoke(user_turn(20))
        assert _texts(result.state["messages"]) == _expected(21)


async def test_rollback_and_delete_checkpoints_after_restore_the_state(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    async with GraphSessionManager(
        delta_builder().compile(), url, checkpoint_retention=4, sweep_interval=None
    ) as manager:
        session = await manager.create("s")
        for i in range(12):
            await session.invoke(user_turn(i))
        head = await manager.backend.latest_checkpoint_id("s")
        before = await session.get_state()
        backend = manager.backend
        mark = await backend.connection.call(  # type: ignore[attr-defined]
            lambda c: backend.admin.writes_mark(c, "s", head)  # type: ignore[attr-defined]
        )
        for i in range(12, 15):
            await session.invoke(user_turn(i))
        await manager.backend.delete_checkpoints_after("s", head, writes_mark=mark)
        assert await manager.backend.latest_checkpoint_id("s") == head
        assert await session.get_state() == before
        result = await session.invoke(user_turn(12))
        assert _texts(result.state["messages"]) == _expected(13)


async def test_copy_thread_copies_delta_history(tmp_path: Path) -> None:
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "c.db")) as saver:
        graph = delta_builder(snapshot_frequency=7).compile(checkpointer=saver)
        for i in range(10):
            await graph.ainvoke(user_turn(i), _cfg("a"))
        await saver.acopy_thread("a", "b")
        source = [(v, n) for _, v, n in _states_async(await _history(graph, "a"))]
        assert [(v, n) for _, v, n in _states_async(await _history(graph, "b"))] == source
        await saver.aprune(["a"], strategy="delete")  # the copy stands on its own
        assert [(v, n) for _, v, n in _states_async(await _history(graph, "b"))] == source
        result = await graph.ainvoke(user_turn(10), _cfg("b"))
        assert _texts(result["messages"]) == _expected(11)


async def test_fork_then_retention_keeps_the_forked_history(backend_url: str) -> None:
    async with GraphSessionManager(
        delta_builder().compile(), backend_url, checkpoint_retention=5, sweep_interval=None
    ) as manager:
        session = await manager.create("s")
        for i in range(30):
            await session.invoke(user_turn(i))
        history = await session.checkpoints(limit=5)
        target = history[-1]  # the oldest of the five kept
        assert 0 < len(target.values["messages"]) < 90
        await session.fork(target.checkpoint_id)
        assert (await session.get_state())["messages"] == target.values["messages"]
        for i in range(3):
            result = await session.invoke(user_turn(100 + i))  # retention runs after each
        texts = _texts(result.state["messages"])
        assert texts[: len(target.values["messages"])] == _texts(target.values["messages"])
        assert len(texts) == len(target.values["messages"]) + 9
        assert _texts((await session.get_state())["messages"]) == texts


async def test_delete_for_runs_keeps_what_later_runs_rebuild_from(tmp_path: Path) -> None:
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "c.db")) as saver:
        graph = delta_builder().compile(checkpointer=saver)
        for i in range(6):
            run = f"00000000-0000-0000-0000-00000000000{i}"
            await graph.ainvoke(user_turn(i), {"configurable": {"thread_id": "t", "run_id": run}})
        before = await graph.aget_state(_cfg())
        await saver.adelete_for_runs(["00000000-0000-0000-0000-000000000001"])
        after = await graph.aget_state(_cfg())
        assert after.values == before.values
        assert _texts(after.values["messages"]) == _expected(6)
        assert _root_checkpoints(tmp_path / "c.db", "t") == 24  # run 1's four are kept
        # a run nothing later depends on is deleted
        await saver.adelete_for_runs(["00000000-0000-0000-0000-000000000005"])
        assert _texts((await graph.aget_state(_cfg())).values["messages"]) == _expected(5)


async def _history(graph: Any, thread: str) -> list[Any]:
    return [s async for s in graph.aget_state_history(_cfg(thread))]


def _states_async(history: list[Any]) -> list[tuple[str, Any, Any]]:
    return [(s.config["configurable"]["checkpoint_id"], s.values, s.next) for s in history]


# --- the history hook ------------------------------------------------------------------------


async def test_async_history_hook_matches_langgraphs_walk_on_every_checkpoint(
    tmp_path: Path,
) -> None:
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "c.db")) as saver:
        graph = delta_builder(snapshot_frequency=7).compile(checkpointer=saver)
        for i in range(8):
            await graph.ainvoke(user_turn(i), _cfg())
        # a fork from an older checkpoint: its reads see only its own ancestors
        history = [s async for s in graph.aget_state_history(_cfg())]
        await graph.ainvoke(user_turn(100), history[9].config)
        checked = 0
        async for snap in graph.aget_state_history(_cfg()):
            fast = await saver.aget_delta_channel_history(config=snap.config, channels=["messages"])
            slow = await BaseCheckpointSaver.aget_delta_channel_history(
                saver, config=snap.config, channels=["messages"]
            )
            assert fast == slow
            checked += bool(fast["messages"]["writes"])
        assert checked > 10
        # the sync bridge, from another thread, gives the same
        head = (await graph.aget_state(_cfg())).config
        bridged = await asyncio.to_thread(
            saver.get_delta_channel_history, config=head, channels=["messages"]
        )
        assert bridged == await saver.aget_delta_channel_history(config=head, channels=["messages"])
        assert "seed" in bridged["messages"]
