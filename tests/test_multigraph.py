"""One manager serving several graphs: sessions remember their graph id across restarts."""

from __future__ import annotations

import pytest
from support.graphs import approval_graph, chat_graph

from graph_sessions import GraphLoadError, GraphSessionManager, InvalidInput


async def test_sessions_run_their_own_graph_and_keep_it_after_restart(db_url: str) -> None:
    graphs = {"chat": chat_graph(), "approval": approval_graph()}
    async with GraphSessionManager(graphs, db_url, output_key="response") as m:
        assert m.graph_ids == ["chat", "approval"]
        chat = await m.create("c1")
        assert chat.info.graph_id == "chat"
        appr = await m.create("a1", graph_id="approval")
        assert (await chat.invoke({"user_input": "hi"})).output == "turn 1: hi"
        r = await appr.invoke({"user_input": "draft me"})
        assert r.status == "interrupted"
        assert [i.graph_id for i in (await m.list(graph_id="approval")).sessions] == ["approval"]
    # Reopened with the default switched: each session still runs on the graph it was made with.
    async with GraphSessionManager(graphs, db_url, graph_id="approval", output_key="response") as m:
        appr = await m.get_or_create("a1")
        r = await appr.invoke({"user_input": "yes"})
        assert r.status == "complete" and r.output == "sent"
        chat = await m.get_or_create("c1")
        assert (await chat.invoke({"user_input": "again"})).output == "turn 2: again"
        assert (await m.create("new")).info.graph_id == "approval"


async def test_unknown_graph_ids_are_clear_errors(db_url: str) -> None:
    with pytest.raises(InvalidInput, match="not one of the graphs given: chat"):
        GraphSessionManager({"chat": chat_graph()}, db_url, graph_id="nope")
    with pytest.raises(InvalidInput, match="empty"):
        GraphSessionManager({}, db_url)
    async with GraphSessionManager({"chat": chat_graph()}, db_url) as m:
        with pytest.raises(InvalidInput, match="does not serve"):
            await m.create("x", graph_id="other")
        await m.create("c1")
        with pytest.raises(InvalidInput, match="uses graph 'chat', not 'other'"):
            await m.get_or_create("c1", graph_id="other")
    # A session whose graph this manager no longer serves: a typed error, its data kept.
    async with GraphSessionManager({"other": approval_graph()}, db_url) as m:
        s = await m.get("c1")
        assert s is not None
        with pytest.raises(InvalidInput, match="session 'c1' uses graph 'chat'"):
            await s.invoke({"user_input": "hi"})
    async with GraphSessionManager({"chat": chat_graph()}, db_url, output_key="response") as m:
        s = await m.get_or_create("c1")
        assert (await s.invoke({"user_input": "back"})).output == "turn 1: back"


async def test_a_manager_without_a_graph_inspects_lists_and_deletes(db_url: str) -> None:
    async with GraphSessionManager(chat_graph(), db_url, output_key="response") as m:
        s = await m.create("c1", metadata={"k": 1})
        await s.invoke({"user_input": "hi"})
    async with GraphSessionManager(backend=db_url) as m:
        assert m.graph_ids == []
        assert [i.session_id for i in (await m.list()).sessions] == ["c1"]
        s = await m.get("c1")
        assert s is not None
        assert (await s.get_state())["turns"] == ["hi"]
        with pytest.raises(GraphLoadError, match="opened without a graph"):
            await s.invoke({"user_input": "again"})
        with pytest.raises(GraphLoadError, match="opened without a graph"):
            await m.create("c2")
        assert await m.delete("c1")
        assert await m.count() == 0


async def test_a_session_object_read_before_a_rebind_runs_the_new_graph(db_url: str) -> None:
    """Regression: after ``manager.rebind(id, graph_id="approval")`` a session object read
    earlier still ran the chat graph, although the row said approval."""
    graphs = {"chat": chat_graph(), "approval": approval_graph()}
    async with GraphSessionManager(graphs, db_url, output_key="response") as m:
        stale = await m.create("s")
        assert (await stale.invoke({"user_input": "hi"})).output == "turn 1: hi"
        await m.rebind("s", graph_id="approval")
        result = await stale.invoke({"user_input": "draft me"})
        assert result.status == "interrupted"  # the approval graph asks before sending
        assert (await m.info("s")).graph_id == "approval"
