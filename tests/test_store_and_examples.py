"""Long-term memory (LangGraph store on the session database) and the runnable examples."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore
from typing_extensions import TypedDict

from graph_sessions import GraphSessionManager

ROOT = Path(__file__).resolve().parent.parent


class MemoryState(TypedDict, total=False):
    user_input: str
    owner: str
    remembered: list[str]


def memory_graph() -> StateGraph:
    """Stores each input under the owner's namespace and returns everything remembered."""

    async def remember(state: MemoryState, *, store: BaseStore) -> dict[str, Any]:
        namespace = ("memories", state["owner"])
        n = len(await store.asearch(namespace))
        await store.aput(namespace, f"m{n}", {"text": state["user_input"]})
        items = await store.asearch(namespace, limit=100)
        return {"remembered": sorted(i.value["text"] for i in items)}

    b = StateGraph(MemoryState)
    b.add_node("remember", remember)
    b.add_edge(START, "remember")
    b.add_edge("remember", END)
    return b


async def test_store_is_shared_across_sessions_and_lives_in_the_session_db(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with GraphSessionManager(graph=memory_graph(), backend=f"sqlite:///{db}") as manager:
        a1 = await manager.create("a1", owner="alice")
        await a1.invoke({"user_input": "likes tea", "owner": "alice"})
        b1 = await manager.create("b1", owner="bob")
        await b1.invoke({"user_input": "likes coffee", "owner": "bob"})
    # A new manager, a new session of alice: the memory of her first session is there.
    async with GraphSessionManager(graph=memory_graph(), backend=f"sqlite:///{db}") as manager:
        a2 = await manager.create("a2", owner="alice")
        result = await a2.invoke({"user_input": "lives in Lyon", "owner": "alice"})
        assert result.state["remembered"] == ["likes tea", "lives in Lyon"]
    rows = (
        sqlite3.connect(db).execute("SELECT prefix, key FROM store ORDER BY prefix, key").fetchall()
    )
    assert rows == [("memories.alice", "m0"), ("memories.alice", "m1"), ("memories.bob", "m0")]


async def test_store_on_memory_backend() -> None:
    async with GraphSessionManager(graph=memory_graph(), backend="memory://") as manager:
        s = await manager.create(owner="carol")
        await s.invoke({"user_input": "x", "owner": "carol"})
        r = await (await manager.create(owner="carol")).invoke(
            {"user_input": "y", "owner": "carol"}
        )
        assert r.state["remembered"] == ["x", "y"]


@pytest.mark.slow
def test_quickstart_run_twice_continues_the_same_session(tmp_path: Path) -> None:
    """What the quickstart's docstring promises: the second run continues the session."""
    db = tmp_path / "q.db"

    def quickstart(*extra: str) -> str:
        return subprocess.run(
            [sys.executable, str(ROOT / "examples" / "quickstart.py"), str(db), *extra],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout

    for ticket, before, history in ((1, "created, 0 run(s)", 2), (2, "completed, 2 run(s)", 4)):
        out = quickstart()
        assert f"session user-123: {before}" in out
        assert "invoke -> interrupted" in out
        assert "after restart: interrupted" in out
        assert (
            "resume -> complete; reply: Thanks for writing about "
            f"'my invoice is wrong (ticket {ticket})'" in out
        )
        assert f"history: {history} entries" in out
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM sessions").fetchone() == (1,)
    assert "deleted user-123: True" in quickstart("--reset")
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,)


@pytest.mark.slow
def test_a_manager_left_open_does_not_keep_the_process_alive(tmp_path: Path) -> None:
    """Regression: aiosqlite's worker thread kept the interpreter from exiting."""
    script = f"""
import asyncio
from graph_sessions import GraphSessionManager
async def main():
    m = GraphSessionManager(graph={str(ROOT / "examples" / "support_bot.py") + ":graph"!r},
                            backend={"sqlite:///" + str(tmp_path / "open.db")!r})
    await m.open()
    s = await m.get_or_create("left-open")
    await s.invoke({{"user_input": "hi"}})
    print("done")
asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"
    row = (
        sqlite3.connect(tmp_path / "open.db")
        .execute("SELECT status FROM sessions WHERE session_id = 'left-open'")
        .fetchone()
    )
    assert row == ("interrupted",)
