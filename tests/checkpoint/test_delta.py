"""LangGraph's ``DeltaChannel`` on our savers: every path that removes or copies checkpoints
keeps a DeltaChannel thread reading exactly what it read before, and the history hook."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from delta_graphs import delta_builder, user_turn
from langgraph.checkpoint.memory import InMemorySaver

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


def _root_checkpoints(path: Path, thread: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM gs_checkpoints WHERE thread_id = ? AND checkpoint_ns = ''",
            (thread,),
        ).fetchone()[0]


# --- the two silent losses of the issue ---------------------------------------------------


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


async def test_checkpoint_retention_after_150_turns_reads_every_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    async with GraphSessionManager(
        delta_builder().compile(), url, checkpoint_retention=5, sweep_interval=None
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
        assert _root_checkpoints(tmp_path / "s.db", "s") < 160
        result = await session.invoke(user_turn(150))
        assert _texts(result.state["messages"]) == _expected(151)
