"""``RemoteGraph`` (``langgraph.pregel.remote``) on a served graph: called directly (invoke,
stream, async stream, state, history, interrupt and resume by a ``Command``) and as a node of
a local graph (the served graph's interrupt pauses the local graph; the remote thread is the
local thread's id, made on first use by ``if_not_exists="create"``)."""

from __future__ import annotations

import operator
import uuid
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AnyMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.pregel.remote import RemoteGraph
from langgraph.types import Command

pytestmark = pytest.mark.slow


class ChatState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    seen: Annotated[list[str], operator.add]


class ApprovalState(TypedDict):
    request: str
    decision: str
    log: Annotated[list[str], operator.add]


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


def contents(messages: list[Any]) -> list[tuple[str, str]]:
    """(type, content) of messages given as dicts (the wire) or message objects."""
    out = []
    for m in messages:
        if isinstance(m, dict):
            out.append((m["type"], m["content"]))
        else:
            out.append((m.type, m.content))
    return out


def local_chat_graph(url: str) -> Any:
    """A local graph: a local node, then the served ``chat`` graph as a node."""

    def before(state: ChatState) -> dict[str, Any]:
        return {"seen": ["local"]}

    builder = StateGraph(ChatState)
    builder.add_node("before", before)
    builder.add_node("chat", RemoteGraph("chat", url=url))
    builder.add_edge(START, "before")
    builder.add_edge("before", "chat")
    builder.add_edge("chat", END)
    return builder.compile(checkpointer=InMemorySaver())


def test_remote_graph_direct_invoke_stream_state(api_url: str) -> None:
    chat = RemoteGraph("chat", url=api_url)
    cfg = thread()
    parts = list(
        chat.stream(
            {"messages": [{"role": "user", "content": "yo"}]},
            cfg,
            stream_mode=["messages", "values"],
        )
    )
    modes = [p.event for p in parts]
    assert modes[0] == "values" and modes[-1] == "values" and "messages" in modes
    tokens = "".join(p.data[0]["content"] for p in parts if p.event == "messages")
    assert tokens == "echo: yo"
    assert contents(parts[-1].data["messages"]) == [("human", "yo"), ("ai", "echo: yo")]
    # invoke on the same thread continues it
    out = chat.invoke({"messages": [{"role": "user", "content": "again"}]}, cfg)
    assert contents(out["messages"])[-1] == ("ai", "echo: again")
    state = chat.get_state(cfg)
    assert len(state.values["messages"]) == 4
    assert state.next == ()
    assert state.config["configurable"]["thread_id"] == cfg["configurable"]["thread_id"]
    history = list(chat.get_state_history(cfg))
    assert history[0].values == state.values
    assert len(history) >= 4
    # no thread: a stateless run
    out = chat.invoke({"messages": [{"role": "user", "content": "no thread"}]})
    assert contents(out["messages"]) == [("human", "no thread"), ("ai", "echo: no thread")]


async def test_remote_graph_async(api_url: str) -> None:
    chat = RemoteGraph("chat", url=api_url)
    cfg = thread()
    values = [
        v
        async for v in chat.astream(
            {"messages": [{"role": "user", "content": "async"}]}, cfg, stream_mode="values"
        )
    ]
    assert contents(values[-1]["messages"]) == [("human", "async"), ("ai", "echo: async")]
    state = await chat.aget_state(cfg)
    assert contents(state.values["messages"])[-1] == ("ai", "echo: async")
    out = await chat.ainvoke({"messages": [{"role": "user", "content": "more"}]}, cfg)
    assert len(out["messages"]) == 4


def test_remote_graph_direct_interrupt_and_resume(api_url: str) -> None:
    approval = RemoteGraph("approval", url=api_url)
    cfg = thread()
    first = approval.invoke({"request": "y"}, cfg)
    assert first["log"] == ["prepared"]
    assert [i["value"] for i in first["__interrupt__"]] == [{"question": "approve y?"}]
    paused = approval.get_state(cfg)
    assert paused.next == ("ask",)
    assert [i.value for t in paused.tasks for i in t.interrupts] == [{"question": "approve y?"}]
    updates = list(approval.stream(Command(resume="ok"), cfg, stream_mode="updates"))
    assert updates == [
        {"ask": {"decision": "ok", "log": ["asked"]}},
        {"finish": {"log": ["finished:ok"]}},
    ]
    done = approval.get_state(cfg)
    assert done.values == {
        "request": "y",
        "decision": "ok",
        "log": ["prepared", "asked", "finished:ok"],
    }
    assert done.next == ()
    assert [s.next for s in approval.get_state_history(cfg)] == [
        (),
        ("finish",),
        ("ask",),
        ("prepare",),
        ("__start__",),
    ]


def test_remote_graph_as_node_invoke_and_stream(api_url: str) -> None:
    graph = local_chat_graph(api_url)
    cfg = thread()
    out = graph.invoke({"messages": [{"role": "user", "content": "hi"}]}, cfg)
    assert out["seen"] == ["local"]
    assert contents(out["messages"]) == [("human", "hi"), ("ai", "echo: hi")]
    # the served thread is the local thread's id, made on first use
    remote_state = RemoteGraph("chat", url=api_url).get_state(cfg)
    assert contents(remote_state.values["messages"]) == [("human", "hi"), ("ai", "echo: hi")]
    # streamed through the local graph with subgraphs: the remote graph's tokens and update
    # under the remote node's namespace, then the local updates
    cfg2 = thread()
    parts = list(
        graph.stream(
            {"messages": [{"role": "user", "content": "stream"}]},
            cfg2,
            stream_mode=["updates", "messages"],
            subgraphs=True,
        )
    )
    local_updates = [data for ns, mode, data in parts if ns == () and mode == "updates"]
    assert [next(iter(u)) for u in local_updates] == ["before", "chat"]
    assert contents(local_updates[1]["chat"]["messages"])[-1] == ("ai", "echo: stream")
    remote_parts = [(ns, mode, data) for ns, mode, data in parts if ns != ()]
    assert {ns[0].split(":")[0] for ns, _, _ in remote_parts} == {"chat"}
    tokens = "".join(data[0]["content"] for _, mode, data in remote_parts if mode == "messages")
    assert tokens == "echo: stream"
    assert [mode for _, mode, _ in remote_parts][-1] == "updates"
    assert contents(graph.get_state(cfg2).values["messages"])[-1] == ("ai", "echo: stream")


def test_remote_graph_as_node_interrupt_then_resume(api_url: str) -> None:
    remote = RemoteGraph("approval", url=api_url)
    builder = StateGraph(ApprovalState)
    builder.add_node("approval", remote)
    builder.add_edge(START, "approval")
    builder.add_edge("approval", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    cfg = thread()
    first = graph.invoke({"request": "x", "log": []}, cfg)
    # the served graph's interrupt pauses the local graph, on the remote node
    assert [i.value for i in first["__interrupt__"]] == [{"question": "approve x?"}]
    local = graph.get_state(cfg)
    assert local.next == ("approval",)
    assert [i.value for t in local.tasks for i in t.interrupts] == [{"question": "approve x?"}]
    # the served thread (the local thread's id) waits on its own interrupt
    assert remote.get_state(cfg).next == ("ask",)
    # resumed through RemoteGraph with a Command on that thread
    done = remote.invoke(Command(resume="yes"), cfg)
    assert done == {"request": "x", "decision": "yes", "log": ["prepared", "asked", "finished:yes"]}
    assert remote.get_state(cfg).next == ()
