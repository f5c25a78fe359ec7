"""Storage behaviour of the savers: deltas, snapshots, garbage collection, queries, pragmas."""

from __future__ import annotations

import asyncio
import operator
import sqlite3
import threading
from pathlib import Path
from typing import Annotated, Any

import aiosqlite
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver as LangGraphSqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver as LangGraphAsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from graph_sessions.checkpoint import AsyncSqliteSaver, SqliteSaver
from graph_sessions.checkpoint.msgpack_list import array_header, split_array


class Chat(TypedDict, total=False):
    messages: Annotated[list[Any], operator.add]
    turn: int


class LCChat(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]


def chat_builder() -> StateGraph:
    def user(state: Chat) -> dict[str, Any]:
        return {"turn": (state.get("turn") or 0) + 1}

    def bot(state: Chat) -> dict[str, Any]:
        return {"messages": [{"role": "assistant", "content": f"reply {state['turn']}"}]}

    b = StateGraph(Chat)
    b.add_node("user", user)
    b.add_node("bot", bot)
    b.add_edge(START, "user")
    b.add_edge("user", "bot")
    b.add_edge("bot", END)
    return b


def lc_builder() -> StateGraph:
    def bot(state: LCChat) -> dict[str, Any]:
        n = len(state["messages"])
        return {"messages": [AIMessage(content=f"reply {n}", id=f"ai-{n}")]}

    b = StateGraph(LCChat)
    b.add_node("bot", bot)
    b.add_edge(START, "bot")
    b.add_edge("bot", END)
    return b


def _turn(i: int) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"hello {i}"}]}


def _blob_kinds(path: Path) -> dict[int, int]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT kind, COUNT(*) FROM gs_checkpoint_blobs GROUP BY kind"))


def _all_states(graph: Any, config: Any) -> list[Any]:
    return [(s.values, s.next, s.metadata.get("step")) for s in graph.get_state_history(config)]


def test_msgpack_array_helpers() -> None:
    import ormsgpack

    for n in (0, 1, 15, 16, 65535, 65536):
        data = ormsgpack.packb(list(range(n)))
        count, header = split_array(data)  # type: ignore[misc]
        assert count == n and data[:header] == array_header(n)
    assert split_array(ormsgpack.packb({"a": 1})) is None
    assert split_array(b"") is None


def test_growing_list_is_stored_as_deltas_with_periodic_snapshots(tmp_path: Path) -> None:
    path = tmp_path / "ours.db"
    with SqliteSaver.from_conn_string(str(path), snapshot_every=10) as saver:
        graph = chat_builder().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "t"}}
        for i in range(60):
            graph.invoke(_turn(i), config)
        final = graph.get_state(config).values
    assert len(final["messages"]) == 120
    kinds = _blob_kinds(path)
    assert kinds.get(1, 0) > 100  # deltas
    # messages: ~2 versions per turn, one full value every 10 of them (+ small channels)
    with sqlite3.connect(path) as conn:
        full_lists = conn.execute(
            "SELECT COUNT(*) FROM gs_checkpoint_blobs WHERE channel = 'messages' AND kind = 0"
        ).fetchone()[0]
        depth = conn.execute("SELECT MAX(depth) FROM gs_checkpoint_blobs").fetchone()[0]
    assert full_lists <= 14
    assert depth <= 9


@pytest.mark.slow
def test_file_is_much_smaller_than_langgraphs(tmp_path: Path) -> None:
    ours_path, theirs_path = tmp_path / "ours.db", tmp_path / "theirs.db"
    config = {"configurable": {"thread_id": "t"}}
    with SqliteSaver.from_conn_string(str(ours_path)) as saver:
        ours = chat_builder().compile(checkpointer=saver)
        for i in range(200):
            ours.invoke(_turn(i), config)
        ours_history = _all_states(ours, config)
        saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with sqlite3.connect(theirs_path, check_same_thread=False) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        theirs = chat_builder().compile(checkpointer=LangGraphSqliteSaver(conn))
        for i in range(200):
            theirs.invoke(_turn(i), config)
        assert _all_states(theirs, config) == ours_history
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert (
        ours_path.stat().st_size * 8 < theirs_path.stat().st_size
    )  # 1/100 at 2,000 turns: benchmark


def test_langchain_messages_round_trip_with_deltas(tmp_path: Path) -> None:
    path = tmp_path / "lc.db"
    config = {"configurable": {"thread_id": "lc"}}
    with SqliteSaver.from_conn_string(str(path), snapshot_every=5) as saver:
        graph = lc_builder().compile(checkpointer=saver)
        for i in range(20):
            graph.invoke({"messages": [HumanMessage(content=f"q{i}", id=f"h{i}")]}, config)
        history = _all_states(graph, config)
    with SqliteSaver.from_conn_string(str(path)) as saver:  # a fresh process: nothing cached
        graph = lc_builder().compile(checkpointer=saver)
        assert _all_states(graph, config) == history
    messages = history[0][0]["messages"]
    assert [type(m).__name__ for m in messages[:2]] == ["HumanMessage", "AIMessage"]
    assert _blob_kinds(path).get(1, 0) > 10


def test_returned_state_can_be_mutated_without_corrupting_storage(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(str(tmp_path / "m.db")) as saver:
        graph = chat_builder().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "t"}}
        graph.invoke(_turn(0), config)
        tup = saver.get_tuple(config)
        assert tup is not None
        tup.checkpoint["channel_values"]["messages"].append("garbage")
        tup.checkpoint["channel_values"]["messages"][0]["content"] = "changed"
        again = saver.get_tuple(config)
        assert again is not None
        assert again.checkpoint["channel_values"]["messages"][0]["content"] == "hello 0"
        assert len(again.checkpoint["channel_values"]["messages"]) == 2
        graph.invoke(_turn(1), config)
        values = graph.get_state(config).values["messages"]
        assert [m["content"] for m in values] == ["hello 0", "reply 1", "hello 1", "reply 2"]


def test_prune_and_delete_for_runs_keep_survivors_readable(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with SqliteSaver.from_conn_string(str(path), snapshot_every=4) as saver:
        graph = chat_builder().compile(checkpointer=saver)
        for t in ("a", "b", "c"):
            for i in range(12):
                graph.invoke(_turn(i), {"configurable": {"thread_id": t, "run_id": f"{t}-{i}"}})
        cfg = {"configurable": {"thread_id": "a"}}
        before = _all_states(graph, cfg)
        # delete two runs in the middle of thread a: the rest still reads the same
        saver.delete_for_runs(["a-5", "a-6"])
        after = _all_states(graph, cfg)
        assert len(after) < len(before)
        surviving = [s for s in before if s in after]
        assert surviving == after
        latest_b = graph.get_state({"configurable": {"thread_id": "b"}}).values
        blobs_before = sum(_blob_kinds(path).values())
        saver.prune(["b"], strategy="keep_latest")
        assert graph.get_state({"configurable": {"thread_id": "b"}}).values == latest_b
        assert len(list(saver.list({"configurable": {"thread_id": "b"}}))) == 1
        assert sum(_blob_kinds(path).values()) < blobs_before
        # the next turn on the pruned thread still works (its delta bases may be gone)
        graph.invoke(_turn(99), {"configurable": {"thread_id": "b"}})
        assert graph.get_state({"configurable": {"thread_id": "b"}}).values["messages"][-1] == {
            "role": "assistant",
            "content": "reply 13",
        }
        saver.prune(["c"], strategy="delete")
        assert list(saver.list({"configurable": {"thread_id": "c"}})) == []
        with pytest.raises(ValueError):
            saver.prune(["a"], strategy="bogus")


def test_copy_thread_then_diverge(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(str(tmp_path / "c.db"), snapshot_every=3) as saver:
        graph = chat_builder().compile(checkpointer=saver)
        for i in range(7):
            graph.invoke(_turn(i), {"configurable": {"thread_id": "src"}})
        saver.copy_thread("src", "dst")
        src, dst = {"configurable": {"thread_id": "src"}}, {"configurable": {"thread_id": "dst"}}
        assert _all_states(graph, src) == _all_states(graph, dst)
        graph.invoke(_turn(100), dst)
        saver.delete_thread("src")
        assert graph.get_state(dst).values["messages"][-2]["content"] == "hello 100"
        assert len(graph.get_state(dst).values["messages"]) == 16


def test_delete_thread_gives_space_back(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    with SqliteSaver.from_conn_string(str(path), snapshot_every=1) as saver:
        graph = chat_builder().compile(checkpointer=saver)
        for i in range(150):
            graph.invoke(_turn(i), {"configurable": {"thread_id": "big"}})
        conn = saver.conn
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages_before = conn.execute("PRAGMA page_count").fetchone()[0]
        saver.delete_thread("big")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
        assert conn.execute("PRAGMA page_count").fetchone()[0] < pages_before / 4


def test_list_page_runs_a_constant_number_of_queries(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(str(tmp_path / "q.db"), snapshot_every=5) as saver:
        graph = chat_builder().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "t"}}
        for i in range(30):
            graph.invoke(_turn(i), config)
        statements: list[str] = []
        saver.conn.set_trace_callback(statements.append)
        page = list(saver.list(config, limit=10))
        saver.conn.set_trace_callback(None)
        assert len(page) == 10
        selects = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
        assert len(selects) <= 3, statements
        all_rows = list(saver.list(config))
        assert len(all_rows) == 30 * 4 + 0 or len(all_rows) > 100
        assert [t.config for t in saver.list(config, before=page[4].config, limit=3)] == [
            t.config for t in page[5:8]
        ]
        assert all(
            t.metadata["source"] == "input" for t in saver.list(config, filter={"source": "input"})
        )


@pytest.mark.parametrize("level,expected", [("NORMAL", 1), ("FULL", 2)])
def test_synchronous_option(tmp_path: Path, level: str, expected: int) -> None:
    with SqliteSaver.from_conn_string(str(tmp_path / "s.db"), synchronous=level) as saver:
        saver.setup()
        assert saver.conn.execute("PRAGMA synchronous").fetchone()[0] == expected
        assert saver.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(ValueError):
        SqliteSaver(sqlite3.connect(":memory:"), synchronous="SOMETIMES")


def test_small_cache_alternating_threads(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(
        str(tmp_path / "lru.db"), cache_threads=1, snapshot_every=4
    ) as saver:
        graph = chat_builder().compile(checkpointer=saver)
        for i in range(10):
            for t in ("x", "y", "z"):
                graph.invoke(_turn(i), {"configurable": {"thread_id": t}})
        for t in ("x", "y", "z"):
            msgs = graph.get_state({"configurable": {"thread_id": t}}).values["messages"]
            assert [m["content"] for m in msgs[-2:]] == ["hello 9", "reply 10"]
            assert len(msgs) == 20


async def test_async_saver_matches_langgraph(tmp_path: Path) -> None:
    config = {"configurable": {"thread_id": "t"}}
    results = []
    for cls, name in ((AsyncSqliteSaver, "ours"), (LangGraphAsyncSqliteSaver, "theirs")):
        async with aiosqlite.connect(tmp_path / f"{name}.db") as conn:
            saver = cls(conn)
            graph = lc_builder().compile(checkpointer=saver)
            for i in range(15):
                await graph.ainvoke(
                    {"messages": [HumanMessage(content=f"q{i}", id=f"h{i}")]}, config
                )
            history = [
                (s.values, s.next, s.metadata.get("step"))
                async for s in graph.aget_state_history(config)
            ]
            page = [s.values async for s in graph.aget_state_history(config, limit=10)]
            results.append((history, page))
    assert results[0] == results[1]


async def test_async_saver_sync_bridge(tmp_path: Path) -> None:
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "b.db")) as saver:
        graph = chat_builder().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "t"}}
        await graph.ainvoke(_turn(0), config)
        with pytest.raises(asyncio.InvalidStateError):
            saver.get_tuple(config)
        box: dict[str, Any] = {}
        thread = threading.Thread(
            target=lambda: box.update(t=saver.get_tuple(config), l=list(saver.list(config)))
        )
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.01)
        assert box["t"].checkpoint["channel_values"]["messages"][0]["content"] == "hello 0"
        assert len(box["l"]) == 4
        await saver.adelete_thread("t")
        assert await saver.aget_tuple(config) is None


async def test_async_durability_with_in_place_mutation(tmp_path: Path) -> None:
    """With ``durability="async"`` LangGraph stores checkpoints while the graph runs on, and
    nodes here mutate lists in place: intermediate checkpoints may then show a later
    mutation (LangGraph's own saver does the same), but the state after each run is exact,
    and what a fresh process reads equals what the saver that wrote it returns."""
    from support.saver_graphs import build

    kinds = ["mutate_items", "mutate_log_in_place", "mutate_items", "replace_item", "pop_item"]
    config = {"configurable": {"thread_id": "t"}}
    finals: dict[str, list[Any]] = {}
    for cls, name, durability in (
        (AsyncSqliteSaver, "ours", "async"),
        (LangGraphAsyncSqliteSaver, "theirs", "sync"),
    ):
        async with aiosqlite.connect(tmp_path / f"{name}.db") as conn:
            graph = build(kinds).compile(
                checkpointer=cls(conn, snapshot_every=4) if cls is AsyncSqliteSaver else cls(conn)
            )
            finals[name] = []
            for i in range(6):
                await graph.ainvoke({"log": [f"in-{i}"]}, config, durability=durability)
                finals[name].append((await graph.aget_state(config)).values)
            if name == "ours":
                written = [s.values async for s in graph.aget_state_history(config)]
    assert finals["ours"] == finals["theirs"]
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "ours.db")) as fresh:
        graph = build(kinds).compile(checkpointer=fresh)
        assert [s.values async for s in graph.aget_state_history(config)] == written
