"""``share_values=True``: reads hand out the kept list elements (no copies), puts skip the
elements that are the very objects kept, and everything reads as with copies; what the
saver knows of stored DeltaChannel snapshots survives another process pruning."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated, Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from support.checkpoint_values import typed
from support.delta_graphs import delta_builder, user_turn
from typing_extensions import TypedDict

from graph_sessions.checkpoint import SqliteSaver
from graph_sessions.checkpoint.elements import decode_list, encode_list

SERDE = JsonPlusSerializer()


def _cfg(thread: str = "t") -> Any:
    return {"configurable": {"thread_id": thread}}


def test_shared_reads_hand_out_the_same_elements_in_new_lists() -> None:
    value = [HumanMessage(content="a", id="1"), AIMessage(content="b", id="2")]
    encoded = encode_list(SERDE, value, None, 0, None, share=True)
    assert encoded is not None
    data, elems = encoded
    assert data == SERDE.dumps_typed(value)[1]
    first = decode_list(SERDE, data, 1, elems, share=True)
    second = decode_list(SERDE, data, 1, elems, share=True)
    assert first is not second
    assert all(a is b for a, b in zip(first, second, strict=True))
    # what is handed out reads as a fresh decode does (every field set), not as the
    # object put
    assert value[0].model_fields_set != first[0].model_fields_set
    assert typed(first) == typed(SERDE.loads_typed(("msgpack", data)))
    assert decode_list(SERDE, data, 1, elems, share=True, count=1) == [first[0]]


def test_a_kept_element_is_reused_by_identity_and_a_replaced_one_is_encoded() -> None:
    value = [HumanMessage(content="a", id="1"), AIMessage(content="b", id="2")]
    data, elems = encode_list(SERDE, value, None, 0, None, share=True) or (b"", None)
    assert elems is not None
    read = decode_list(SERDE, data, 1, elems, share=True)
    # the next turn: the objects read, one replaced by an equal-looking new one, one new
    grown = [read[0], AIMessage(content="b2", id="2"), HumanMessage(content="c", id="3")]
    data2, elems2 = encode_list(SERDE, grown, data, 1, elems, share=True) or (b"", None)
    assert elems2 is not None
    assert data2 == SERDE.dumps_typed(grown)[1]
    again = decode_list(SERDE, data2, 1, elems2, share=True)
    assert again[0] is read[0]
    assert [m.content for m in again] == ["a", "b2", "c"]


class Chat(TypedDict):
    messages: Annotated[list[Any], add_messages]


def chat_graph() -> StateGraph:
    """LangChain messages under ``add_messages``: the user's, then a reply."""

    def bot(state: Chat) -> dict[str, Any]:
        n = len(state["messages"])
        return {"messages": [AIMessage(content=f"reply {n}", id=f"ai-{n}")]}

    builder = StateGraph(Chat)
    builder.add_node("bot", bot)
    builder.add_edge(START, "bot")
    builder.add_edge("bot", END)
    return builder


def _chat_turns(saver: SqliteSaver, turns: int) -> Any:
    graph = chat_graph().compile(checkpointer=saver)
    for i in range(turns):
        graph.invoke({"messages": [HumanMessage(content=f"hi {i}", id=f"h-{i}")]}, _cfg())
    return graph


def test_a_shared_thread_reads_as_a_copying_one(tmp_path: Path) -> None:
    with (
        SqliteSaver.from_conn_string(str(tmp_path / "copy.db")) as copying,
        SqliteSaver.from_conn_string(str(tmp_path / "share.db"), share_values=True) as sharing,
    ):
        plain, shared = _chat_turns(copying, 30), _chat_turns(sharing, 30)
        assert typed(shared.get_state(_cfg()).values) == typed(plain.get_state(_cfg()).values)
        history = [typed(s.values) for s in shared.get_state_history(_cfg(), limit=12)]
        assert history == [typed(s.values) for s in plain.get_state_history(_cfg(), limit=12)]
        one, two = shared.get_state(_cfg()).values, shared.get_state(_cfg()).values
        assert one["messages"] is not two["messages"]
        assert all(a is b for a, b in zip(one["messages"], two["messages"], strict=True))
        expected = typed(plain.get_state(_cfg()).values)
    # a new process reads what the sharing one wrote
    with SqliteSaver.from_conn_string(str(tmp_path / "share.db")) as reopened:
        graph = chat_graph().compile(checkpointer=reopened)
        assert typed(graph.get_state(_cfg()).values) == expected
        assert len(graph.get_state(_cfg()).values["messages"]) == 60


def test_delta_reads_survive_another_process_pruning(tmp_path: Path) -> None:
    """One process remembers which checkpoints hold a DeltaChannel snapshot; another adds
    snapshots and prunes the older ones away: the first still reads every message."""
    path = str(tmp_path / "c.db")
    with SqliteSaver.from_conn_string(path, share_values=True) as first:
        graph = delta_builder(snapshot_frequency=7).compile(checkpointer=first)
        for i in range(20):
            graph.invoke(user_turn(i), _cfg())
        assert len(graph.get_state(_cfg()).values["messages"]) == 60
        with SqliteSaver.from_conn_string(path) as other:
            elsewhere = delta_builder(snapshot_frequency=7).compile(checkpointer=other)
            for i in range(20, 30):
                elsewhere.invoke(user_turn(i), _cfg())
            other.prune(["t"], strategy="keep_latest")
            expected = typed(elsewhere.get_state(_cfg()).values)
        with sqlite3.connect(path) as conn:
            left = conn.execute("SELECT COUNT(*) FROM gs_checkpoints").fetchone()[0]
        assert left < 30  # the snapshots `first` knew of are gone
        assert typed(graph.get_state(_cfg()).values) == expected
        assert len(graph.get_state(_cfg()).values["messages"]) == 90
        result = graph.invoke(user_turn(30), _cfg())
        assert len(result["messages"]) == 93
