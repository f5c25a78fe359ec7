"""A one-node graph on a backend's checkpointer, for the Backend contract suite and the
CheckpointAdmin tests (tests/storage/)."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langgraph.graph import START, StateGraph
from typing_extensions import TypedDict

from graph_sessions.storage import Backend


class State(TypedDict):
    turns: Annotated[list[str], operator.add]


def graph(backend: Backend) -> Any:
    builder = StateGraph(State)
    builder.add_node("turn", lambda s: {"turns": ["t"]})
    builder.add_edge(START, "turn")
    return builder.compile(checkpointer=backend.checkpointer)


def cfg(thread_id: str) -> Any:
    return {"configurable": {"thread_id": thread_id}}


async def turns(backend: Backend, thread_id: str, n: int) -> list[str | None]:
    """Run ``n`` turns of the graph on the thread; the latest checkpoint id after each."""
    g, ids = graph(backend), []
    for _ in range(n):
        await g.ainvoke({"turns": ["u"]}, cfg(thread_id))
        ids.append(await backend.latest_checkpoint_id(thread_id))
    return ids
