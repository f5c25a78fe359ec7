"""Chat graphs whose ``messages`` is LangGraph's ``DeltaChannel`` (stored as writes, not values)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from langgraph.channels.delta import DeltaChannel
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


def concat(state: list[Any], writes: Sequence[Any]) -> list[Any]:
    """A batching-invariant reducer: each write is a list of new items (or one item)."""
    out = list(state)
    for w in writes:
        out.extend(w if isinstance(w, list) else [w])
    return out


class DeltaChat(TypedDict, total=False):
    messages: Annotated[list[Any], DeltaChannel(concat, list)]
    turns: int


class DeltaChatEvery(TypedDict, total=False):
    messages: Annotated[list[Any], DeltaChannel(concat, list, snapshot_frequency=7)]
    turns: int


def delta_builder(*, snapshot_frequency: int | None = None) -> StateGraph:
    """START -> bot -> tool -> END: the input, the bot and the tool each append a message
    (three channel updates a turn, so a turn count rarely lands on a snapshot)."""

    def bot(state: dict[str, Any]) -> dict[str, Any]:
        n = len(state.get("messages") or [])
        return {
            "messages": [{"role": "assistant", "content": f"reply {n}"}],
            "turns": (state.get("turns") or 0) + 1,
        }

    def tool(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": {"role": "tool", "content": f"tool {len(state['messages'])}"}}

    b = StateGraph(DeltaChatEvery if snapshot_frequency == 7 else DeltaChat)
    b.add_node("bot", bot)
    b.add_node("tool", tool)
    b.add_edge(START, "bot")
    b.add_edge("bot", "tool")
    b.add_edge("tool", END)
    return b


def user_turn(i: int) -> dict[str, Any]:
    """One user turn's input."""
    return {"messages": [{"role": "user", "content": f"hello {i}"}]}
