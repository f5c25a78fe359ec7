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


def random_delta_builder(
    snapshot_frequency: int, *, parallel: bool, ask: bool, overwrite: bool, models: bool = False
) -> StateGraph:
    """A DeltaChannel graph for the differential tests: ``items`` is the delta channel
    (plain dicts, no message coercion), parallel branches write it in one superstep (their
    order is ``writes_sort_key``'s), an optional interrupt, an optional ``Overwrite``;
    with ``models`` the bot appends LangChain messages (snapshots of lists of models take
    the saver's element-wise path)."""
    from langchain_core.messages import AIMessage
    from langgraph.types import Overwrite, interrupt

    # functional syntax: the annotation needs this call's snapshot_frequency
    state = TypedDict(  # type: ignore[misc]  # noqa: UP013
        "RandomDelta",
        {
            "items": Annotated[
                list[Any], DeltaChannel(concat, list, snapshot_frequency=snapshot_frequency)
            ],
            "turns": int,
        },
        total=False,
    )

    def bot(s: dict[str, Any]) -> dict[str, Any]:
        n = len(s.get("items") or [])
        item: Any = (
            AIMessage(content=f"bot {n}", id=f"ai-{n}", additional_kwargs={"n": n, "f": n / 2})
            if models
            else {"bot": n}
        )
        return {"items": [item], "turns": (s.get("turns") or 0) + 1}

    def left(s: dict[str, Any]) -> dict[str, Any]:
        return {"items": [{"left": len(s["items"])}]}

    def right(s: dict[str, Any]) -> dict[str, Any]:
        return {"items": {"right": len(s["items"])}}

    def asker(s: dict[str, Any]) -> dict[str, Any]:
        answer = interrupt({"n": len(s.get("items") or [])})
        return {"items": [{"answer": answer}]}

    def reset(s: dict[str, Any]) -> dict[str, Any]:
        items = s.get("items") or []
        if len(items) > 12:
            return {"items": Overwrite(items[-4:])}
        return {}

    b = StateGraph(state)
    b.add_node("bot", bot)
    last = ["bot"]
    b.add_edge(START, "bot")
    if parallel:
        b.add_node("left", left)
        b.add_node("right", right)
        b.add_edge("bot", "left")
        b.add_edge("bot", "right")
        last = ["left", "right"]
    if ask:
        b.add_node("asker", asker)
        for node in last:
            b.add_edge(node, "asker")
        last = ["asker"]
    if overwrite:
        b.add_node("reset", reset)
        for node in last:
            b.add_edge(node, "reset")
        last = ["reset"]
    for node in last:
        b.add_edge(node, END)
    return b
