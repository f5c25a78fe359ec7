"""A session remembers the graph it belongs to and refuses to run under another one
unless explicitly re-bound; the identity is stable across processes, paths and cwd."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from graph_sessions import GraphMismatch, GraphSessionManager, SessionStatus
from graph_sessions.storage.sqlite import MIGRATIONS

GRAPH_A = textwrap.dedent(
    """
    import operator
    from typing import Annotated
    from typing_extensions import TypedDict
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict, total=False):
        user_input: str
        turns: Annotated[list[str], operator.add]

    def reply(state: State) -> dict:
        return {"turns": [state["user_input"]]}

    b = StateGraph(State)
    b.add_node("reply", reply)
    b.add_edge(START, "reply")
    b.add_edge("reply", END)
    graph = b.compile()
    """
)
# An unrelated graph: other nodes, other keys.
GRAPH_B = textwrap.dedent(
    """
    from typing_extensions import TypedDict
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict, total=False):
        user_input: str
        secret_score: int

    def score(state: State) -> dict:
        return {"secret_score": len(state.get("user_input", ""))}

    b = StateGraph(State)
    b.add_node("score", score)
    b.add_edge(START, "score")
    b.add_edge("score", END)
    graph = b.compile()
    """
)


def files(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "a.py").write_text(GRAPH_A)
    (tmp_path / "b.py").write_text(GRAPH_B)
    return f"{tmp_path / 'a.py'}:graph", f"{tmp_path / 'b.py'}:graph"


def manager(graph: str, db: Path) -> GraphSessionManager:
    return GraphSessionManager(graph=graph, backend=f"sqlite:///{db}", sweep_interval=None)


async def test_another_graph_is_refused_naming_both_until_rebound(tmp_path: Path) -> None:
    """Regression: every graph named by a file had graph id ``default``, so
    ``chat b.py:graph --session S`` ran b on a's state and mixed their keys."""
    a, b = files(tmp_path)
    db = tmp_path / "s.db"
    async with manager(a, db) as m:
        s = await m.create("S")
        assert (await s.invoke({"user_input": "hi"})).state["turns"] == ["hi"]
        identity_a = m.graph_identity()
    async with manager(b, db) as m:
        s = await m.get_or_create("S")
        head = await m.backend.latest_checkpoint_id("S")
        with pytest.raises(GraphMismatch) as err:
            await s.invoke({"user_input": "x"})
        message = str(err.value)
        assert "a.py:graph" in message and "b.py:graph" in message and "rebind" in message
        assert err.value.session_id == "S"
        assert await m.backend.latest_checkpoint_id("S") == head  # nothing ran
        assert (await m.info("S")).status == SessionStatus.COMPLETED
        # explicitly re-bound, it runs under b
        info = await s.rebind()
        assert info.graph_identity == m.graph_identity() != identity_a
        result = await s.invoke({"user_input": "four"})
        assert result.state["secret_score"] == 4
    async with manager(a, db) as m:  # and now a is the other graph
        with pytest.raises(GraphMismatch):
            await (await m.get_or_create("S")).invoke({"user_input": "y"})


@pytest.mark.slow
async def test_the_same_graph_from_another_path_and_cwd_keeps_its_sessions(
    tmp_path: Path,
) -> None:
    a, _ = files(tmp_path)
    elsewhere = tmp_path / "moved"
    elsewhere.mkdir()
    (elsewhere / "agent.py").write_text(GRAPH_A)
    db = tmp_path / "s.db"
    async with manager(a, db) as m:
        await (await m.create("S")).invoke({"user_input": "1"})
    # Another process, another working directory, the file under another name and path.
    code = textwrap.dedent(
        f"""
        import asyncio
        from graph_sessions import GraphSessionManager
        async def main():
            m = GraphSessionManager(graph="agent.py:graph", backend="sqlite:///{db}",
                                    sweep_interval=None)
            async with m:
                s = await m.get_or_create("S")
                print((await s.invoke({{"user_input": "2"}})).state["turns"])
        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=elsewhere, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['1', '2']"


async def test_a_session_of_an_old_file_adopts_the_first_graph_that_runs_it(
    tmp_path: Path,
) -> None:
    """A file written before identities (schema version 1) still opens; its sessions have
    no identity and take the first graph that runs them."""
    a, b = files(tmp_path)
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    for statement in MIGRATIONS[0][1].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (1, datetime('now'))")
    conn.execute(
        "INSERT INTO sessions (session_id, graph_id, status, created_at, updated_at) "
        "VALUES ('old', 'default', 'created', '2030-01-01T00:00:00+00:00', '2030-01-01T00:00:00+00:00')"
    )
    conn.commit()
    conn.close()
    async with manager(b, db) as m:
        assert await m.backend.schema_version() >= 2
        s = await m.get_or_create("old")
        assert s.info.graph_identity is None
        assert (await s.invoke({"user_input": "abc"})).state["secret_score"] == 3
        assert (await m.info("old")).graph_identity == m.graph_identity()
    async with manager(a, db) as m:
        with pytest.raises(GraphMismatch):
            await (await m.get_or_create("old")).invoke({"user_input": "x"})
